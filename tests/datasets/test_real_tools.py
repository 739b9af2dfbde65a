"""The importers on real tool output: ``inspect eval`` and ``lm_eval`` run for real against
``routerlab serve``, which answers from data the test writes; the logs are then imported and checked
against the logs themselves (counts, scores, answers, tokens)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from routerlab import datasets

pytestmark = pytest.mark.slow

# three models answer four arithmetic questions in plain text; acme-* are unknown to the catalog
QUESTIONS = [("q1", "What is 2 + 3?", "5"), ("q2", "What is 7 * 6?", "42"), ("q3", "What is 10 - 4?", "6"),
             ("q4", "What is 9 + 9?", "18")]
ANSWERS = {
    "acme-small": ["The answer is 5", "I think 48", "6", "It is 17"],
    "acme-large": ["2 + 3 = 5. ANSWER: 5", "ANSWER: 42", "10 - 4 = 6", "9 + 9 = 18"],
    "gpt-4o-mini": ["5", "42", "The result is 6.", "18"],
}


def _write_data(root: Path) -> Path:
    rows = [{"prompt_id": pid, "task": "arith", "prompt": q, "reference": ref, "model": m, "response": ANSWERS[m][i]}
            for i, (pid, q, ref) in enumerate(QUESTIONS) for m in ANSWERS]
    path = root / "served.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("served")
    data = _write_data(root)
    proc = subprocess.Popen([sys.executable, "-m", "routerlab.cli", "serve", "--port", "0", "--dataset", str(data),
                             "--latency-scale", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line, proc.stderr.read() if proc.stderr else "routerlab serve printed nothing"
        yield root, int(json.loads(line)["port"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


INSPECT_TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

@task
def arith():
    return Task(dataset=[Sample(id=i, input=q, target=t) for i, q, t in {questions!r}],
                solver=generate(), scorer=match(numeric=True))
'''


@pytest.fixture(scope="module")
def inspect_logs(served: tuple[Path, int]) -> Path:
    root, port = served
    (root / "arith_task.py").write_text(INSPECT_TASK.format(questions=QUESTIONS))
    env = {**os.environ, "LOCAL_BASE_URL": f"http://127.0.0.1:{port}/d/P1/v1", "LOCAL_API_KEY": "dummy",
           "INSPECT_LOG_DIR": str(root / "logs"), "HOME": str(root)}
    models = ",".join(f"openai-api/local/{m}" for m in ANSWERS)
    proc = subprocess.run(["inspect", "eval", "arith_task.py", "--model", models, "--epochs", "2",
                           "--log-dir", str(root / "logs"), "--no-log-realtime", "--display", "none"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = sorted((root / "logs").glob("*.eval"))
    assert len(logs) == 3
    # one log in inspect's JSON format too, written by inspect's own writer
    from inspect_ai.log import read_eval_log, write_eval_log

    write_eval_log(read_eval_log(str(logs[0])), str(root / "logs" / "as_json.json"))
    logs[0].unlink()
    return root / "logs"


def test_inspect_logs_import_with_counts_scores_answers_and_tokens(inspect_logs: Path) -> None:
    from inspect_ai.log import read_eval_log

    ds = datasets.load(inspect_logs, scorers={"arith": "numeric"})
    assert ds.info["format"] == "inspect" and sorted(ds.models) == sorted(ANSWERS)
    assert len(ds) == 4 and ds.outcomes.n_samples == 2 and len(ds.outcomes) == 3 * 4 * 2
    out = ds.outcomes.df.set_index(["prompt_id", "model", "sample"])
    checked = 0
    for f in sorted(inspect_logs.iterdir()):
        log = read_eval_log(str(f))
        model = log.eval.model.rsplit("/", 1)[-1]
        for s in log.samples:
            row = out.loc[(f"arith/{s.id}", model, s.epoch - 1)]
            assert row["score"] == {"C": 1.0, "I": 0.0}[s.scores["match"].value]
            assert row["prediction"] == s.scores["match"].answer
            assert row["response"] == s.output.completion
            usage = s.model_usage[log.eval.model]
            assert (row["input_tokens"], row["output_tokens"]) == (usage.input_tokens, usage.output_tokens)
            checked += 1
    assert checked == 24
    # the served answers, as the test wrote them, came back through inspect
    assert out.loc[("arith/q2", "acme-small", 0), "response"] == "I think 48"
    assert ds.summary().loc["acme-small", "quality"] == 0.5 and ds.summary().loc["acme-large", "quality"] == 1.0
    # recorded tokens x list price for the model the catalog knows; unknown cost for the others
    src = ds.outcomes.df.groupby("model")["cost_source"].agg(lambda s: set(s.astype(str)))
    assert src["gpt-4o-mini"] == {"catalog"} and src["acme-small"] == {"unknown"}


def test_plain_text_agreement_cascade_on_imported_logs(inspect_logs: Path) -> None:
    from routerlab.harness import Experiment
    from routerlab.routers import Agreement, CascadeRouter

    ds = datasets.load(inspect_logs, scorers={"arith": "numeric"})
    cascade = CascadeRouter([("acme-small", "acme-large"), "gpt-4o-mini"], Agreement(), name="agree")
    res = Experiment(ds, {"agree": cascade}).run(progress=False)
    rows = res.df[res.df["sample"] == 0].set_index("prompt_id")
    # acme-small and acme-large agree (plain-text answers, read by the numeric scorer) on q1 and q3 only
    assert rows.loc["arith/q1", "final_model"] == "acme-small" and rows.loc["arith/q3", "final_model"] == "acme-small"
    assert rows.loc["arith/q2", "final_model"] == "gpt-4o-mini" and rows.loc["arith/q4", "final_model"] == "gpt-4o-mini"
    assert rows.loc["arith/q2", "models_called"] == "acme-small|acme-large|gpt-4o-mini"


LM_EVAL_TASK = """task: arith
dataset_path: json
dataset_kwargs:
  data_files:
    test: {docs}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  do_sample: false
filter_list:
  - name: "last-number"
    filter:
      - function: "regex"
        regex_pattern: "(-?[0-9]+)(?!.*[0-9])"
      - function: "take_first"
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def test_lm_eval_samples_from_a_real_run(served: tuple[Path, int]) -> None:
    root, port = served
    tasks = root / "lm_tasks"
    tasks.mkdir()
    (tasks / "docs.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n"
                                              for _, q, a in QUESTIONS))
    (tasks / "arith.yaml").write_text(LM_EVAL_TASK.format(docs=tasks / "docs.jsonl"))
    env = {**os.environ, "HF_HOME": str(root / "hf"), "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    runs = [subprocess.Popen(
        ["lm_eval", "--model", "local-chat-completions", "--model_args",
         f"base_url=http://127.0.0.1:{port}/d/P1/v1/chat/completions,model={m},num_concurrent=1,max_retries=1,"
         "tokenized_requests=False", "--tasks", "arith", "--include_path", str(tasks), "--apply_chat_template",
         "--log_samples", "--output_path", str(root / "lm_out")], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for m in ("acme-small", "acme-large")]
    for proc in runs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    ds = datasets.load(root / "lm_out", scorers="numeric")
    assert ds.info["format"] == "lm-eval" and ds.models == ["acme-large", "acme-small"]
    assert len(ds) == 4 and len(ds.outcomes) == 8
    out = ds.outcomes.df.set_index(["prompt_id", "model"])
    for f in sorted((root / "lm_out").rglob("samples_*.jsonl")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            model = f.parent.name
            row = out.loc[(f"arith/{rec['doc_id']}", model)]
            assert row["score"] == rec["exact_match"] and row["response"] == rec["resps"][0][0]
            assert row["prediction"] == rec["filtered_resps"][0]
    assert out.loc[("arith/1", "acme-small"), "score"] == 0.0 and out.loc[("arith/1", "acme-large"), "score"] == 1.0
    # lm-eval records no usage: tokens are counted when first needed, cost unknown for unknown models
    assert ds.outcomes.df["input_tokens"].isna().all() and (ds.token_counts()[0] > 0).all()
    assert np.isnan(ds.outcomes.df["cost"]).all()
