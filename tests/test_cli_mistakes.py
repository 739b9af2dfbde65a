"""QA pass from a fresh clone (issue 16 item 5, issue 12 item 11): every user mistake on the command line
is one line on stderr naming what is wrong and how to fix it, exit 2, no traceback, found before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 120, cwd: Path = ROOT, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "routerlab.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def one_line_error(proc: subprocess.CompletedProcess, *words: str, code: int = 2) -> str:
    """Exit ``code``, one line on stderr containing every word, no traceback, no usage block."""
    assert proc.returncode == code, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "usage:" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ 1: export --results of something else
def _not_results(tmp: Path) -> dict[str, Path]:
    png = tmp / "frontier.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    binary = tmp / "blob.bin"
    binary.write_bytes(bytes((i * 7919) % 256 for i in range(4096)))
    fake_parquet = tmp / "results.parquet"
    fake_parquet.write_bytes(b"\x89PNG\r\n\x1a\n")
    truncated = tmp / "cut.parquet"
    truncated.write_bytes(b"PAR1" + b"\x00" * 100)
    folder = tmp / "folder"
    folder.mkdir()
    return {"png": png, "binary": binary, "parquet-suffix png": fake_parquet, "truncated parquet": truncated,
            "directory": folder}


@pytest.mark.parametrize("kind", ["png", "binary", "parquet-suffix png", "truncated parquet", "directory"])
def test_export_of_a_file_that_is_not_results_is_one_line(tmp_path, kind):
    """QA: `export --results frontier.png` was a UnicodeDecodeError traceback, exit 1."""
    path = _not_results(tmp_path)[kind]
    proc = run_cli("export", "--results", str(path), "--strategy", "task", "-o", str(tmp_path / "out"))
    line = one_line_error(proc, str(path))
    assert "results" in line and ("results.parquet" in line or "run --out" in line)
    assert not (tmp_path / "out").exists()


def test_export_of_a_missing_results_file_says_no_such_file(tmp_path):
    """QA: `export --results /nonexistent.parquet` said 'cannot read X: X'."""
    missing = tmp_path / "nonexistent.parquet"
    line = one_line_error(run_cli("export", "--results", str(missing), "--strategy", "task"), str(missing))
    assert "no such file" in line.lower() and line.count(str(missing)) == 1


# ------------------------------------------------------------------ 2: numeric ranges checked at parse time
def _parsers() -> dict[str, object]:
    from routerlab.cli import _parser
    from routerlab.export import _export_parser
    from routerlab.server.serve import _serve_parser

    return {"run": _parser()[1], "serve": _serve_parser(), "export": _export_parser()}


def test_no_numeric_flag_takes_an_unchecked_int_or_float():
    """One rule for every command: a numeric flag's type checks its range (routerlab._args), so a bad
    value is refused by the parser, never found mid-run as an 'unexpected ValueError (a bug)'."""
    from routerlab._args import NUMBER_TYPES

    for name, parser in _parsers().items():
        for action in parser._actions:  # type: ignore[attr-defined]
            assert action.type not in (int, float), f"routerlab {name} {action.option_strings}: bare {action.type}"
            if action.type is not None:  # every typed flag is checked by one of routerlab._args's types
                assert action.type.__module__ == "routerlab._args", (name, action.option_strings, action.type)
    numeric = {a.type for p in _parsers().values() for a in p._actions if a.type in NUMBER_TYPES}  # type: ignore[attr-defined]
    assert len(numeric) == len(NUMBER_TYPES)  # each checked numeric type is in use


@pytest.mark.parametrize("args, words", [
    (("run", "--seed", "-1"), ("--seed", "-1", "0 to 4294967295")),
    (("run", "--seed", str(2**32)), ("--seed", "0 to 4294967295")),
    (("run", "--concurrency", "-3"), ("--concurrency", ">= 1")),
    (("run", "--test-size", "nan"), ("--test-size", "between 0 and 1")),
    (("serve", "--seed", "-5"), ("--seed", "0 to 4294967295")),
    (("serve", "--port", "-1"), ("--port", "0-65535")),
    (("serve", "--latency-scale", "-1"), ("--latency-scale", ">= 0")),
    (("serve", "--latency-scale", "nan"), ("--latency-scale", "finite")),
    (("serve", "--latency-scale", "inf"), ("--latency-scale", "finite")),
    (("export", "x.json", "--fallbacks", "-1"), ("--fallbacks", ">= 1")),
])
def test_numeric_flags_out_of_range_are_refused_at_parse_time(args, words):
    """QA: `run --seed -1` ran, then died with 'unexpected ValueError ... (a bug)', exit 1; `serve
    --latency-scale -1` / `nan` started a server."""
    one_line_error(run_cli(*args), *words)


# ------------------------------------------------------------------ 3: a store that is no store
def _valid_store(tmp: Path) -> Path:
    from routerlab.harness.schema import make_row
    from routerlab.harness.store import ResultStore

    path = tmp / "good.sqlite"
    store = ResultStore(path)
    rows = [make_row({"strategy": "s", "prompt_id": f"p{i}", "task": "t", "sample": 0, "split": "all"},
                     answer="x" * 200, score=1.0, final_model="m", cost=0.001, latency=0.1) for i in range(400)]
    store.put_many("cfg", rows)
    store.close()
    assert path.stat().st_size > 9000 + 4096
    return path


def _damaged_copies(tmp: Path) -> dict[str, Path]:
    good = _valid_store(tmp)
    data = good.read_bytes()
    flipped = bytearray(data)
    for i in range(9000, 9000 + 4096):
        flipped[i] ^= 0xA5
    out = {"bit-flipped": bytes(flipped), "truncated": data[:len(data) // 3 + 17],
           "csv": b"strategy,quality\ngpt-4o,0.8\n", "png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20}
    paths = {}
    for name, blob in out.items():
        paths[name] = tmp / f"{name}.sqlite"
        paths[name].write_bytes(blob)
    return paths


@pytest.mark.parametrize("kind", ["bit-flipped", "truncated", "csv", "png"])
def test_a_damaged_store_is_a_store_error_naming_the_file_and_left_untouched(tmp_path, kind):
    """QA: a bit-flipped store escaped as sqlite3.DatabaseError 'database disk image is malformed'."""
    from routerlab.errors import StoreError
    from routerlab.harness.store import ResultStore

    path = _damaged_copies(tmp_path)[kind]
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        store = ResultStore(path)
        try:
            store.snapshot("cfg", "s")
            store.rows()
            store.count()
        finally:
            store.close()
    text = str(info.value)
    assert str(path) in text and "move it aside" in text and "store= path" not in text
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind", ["bit-flipped", "csv"])
def test_run_with_a_damaged_store_is_exit_2_naming_the_store_flag(tmp_path, kind):
    """QA: `run --store summary.csv` exited 4 ('every call failed') saying 'pass another store= path';
    a bit-flipped store was an 'unexpected DatabaseError (a bug)', exit 1."""
    path = _damaged_copies(tmp_path)[kind]
    before = path.read_bytes()
    proc = run_cli("run", "--no-progress", "--tasks", "crux", "--strategies", "gpt-4o", "--store", str(path))
    line = one_line_error(proc, str(path), "--store", "move it aside")
    assert "store= path" not in line and "a bug" not in line
    assert path.read_bytes() == before


# ------------------------------------------------------------------ 4: summaries cut at sentences, not quotes
@pytest.mark.parametrize("text, limit, expected", [
    ("Key 'X' is not set (see docs). Export it. Then retry.", 32, "Key 'X' is not set (see docs)."),
    ("It failed (reason: the key. Export it, or pass api_key_env='A'.) Then more text here.", 40,
     "It failed (reason: the key. Export it, or pass api_key_env='A'.) Then more text here."),
    ("Say 'stop. now' please. Next one.", 20, "Say 'stop. now' please. Next one."),
    ("Don't panic. It's fine [see a. b]. Last.", 36, "Don't panic. It's fine [see a. b]."),
    ("short", 300, "short"),
])
def test_clip_sentences_never_ends_inside_a_quote_or_parenthesis(text, limit, expected):
    from routerlab._text import clip_sentences

    assert clip_sentences(text, limit) == expected


def test_clip_sentences_marks_a_cut_of_a_huge_text():
    from routerlab._text import clip_sentences

    page = "<html>" + "x " * 5000 + "</html>"
    out = clip_sentences(page, 300, hard_limit=1000)
    head, rest = out.split(" … [")
    assert len(head) <= 1000 and page.startswith(head) and rest == f"{len(page) - len(head):,} more characters]"


def test_every_call_failed_summary_keeps_whole_sentences(tmp_path):
    """QA: with no keys the summary ended "...Export it, or pass api_key_env='. Fix the keys..." and
    "none of them returns by itself (. Fix": the error text was cut at 300 characters."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = run_cli("run", "--live", "--config", str(ROOT / "examples" / "gateway.yaml"), "--strategies",
                   "gpt-4o-mini,claude-3-haiku", "--tasks", "crux", "--no-progress", "--store",
                   str(tmp_path / "s.sqlite"), cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 4, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if "every call failed" in x)
    first = line.split("First ", 1)[1].split(" Fix the keys or endpoints")[0]
    assert first.endswith((".", "!", "?")), first
    assert "='." not in line and "(." not in line and "='OTHER_VARIABLE'" in first
    assert first.count("(") == first.count(")") and first.count("'") % 2 == 0, first


# ------------------------------------------------------------------ 5: serve refuses what could never work
@pytest.mark.parametrize("args, words", [
    (("--fault", "P1:start=10,end=5,status=500"), ("--fault", "end=5", "after start=10")),
    (("--fault", "P2:start=3,end=3,status=503"), ("--fault", "never active")),
    (("--fault", "*:start=-2,status=503"), ("--fault", "start=-2", ">= 0")),
    (("--api-key-env", "P1"), ("--api-key-env", "DEP=VARIABLE")),
    (("--api-key-env", "=OPENAI_API_KEY"), ("--api-key-env", "DEP=VARIABLE")),
    (("--api-key-env", "P1="), ("--api-key-env", "DEP=VARIABLE")),
])
def test_serve_refuses_a_fault_window_never_active_and_a_malformed_key_flag(args, words):
    """QA: `serve --fault P1:start=10,end=5,...` started with a window never active; `--api-key-env P1`
    said "environment variable '' is not set"."""
    line = one_line_error(run_cli("serve", "--port", "0", *args, timeout=60), *words)
    assert "''" not in line


def test_a_window_ending_before_it_starts_is_refused_by_the_python_api_and_admin_too():
    """The same rule wherever a window comes from (Window(...), set_faults, POST /_admin/faults)."""
    import json
    import urllib.error
    import urllib.request

    from routerlab.errors import ConfigError
    from routerlab.server import ProviderServer, Window

    with pytest.raises(ConfigError, match="after start"):
        Window(30, 10, status=503)
    with ProviderServer(["P1"], port=0, admin_token="t" * 24) as srv:
        body = json.dumps({"windows": [{"start": 5, "end": 1, "status": 500}]}).encode()
        req = urllib.request.Request(f"{srv.url}/_admin/faults/P1", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + "t" * 24,
                                              "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code in (400, 422) and b"after start" in info.value.read()
        assert srv.faults("P1").windows == ()


# ------------------------------------------------------------------ 6: empty or ignored values
@pytest.mark.parametrize("args, words", [
    (("run", "--strategies", ""), ("--strategies", "is empty", "such as")),
    (("run", "--strategies", ", ,"), ("--strategies", "is empty")),
    (("run", "--tasks", ""), ("--tasks", "is empty")),
    (("run", "--tasks", " , "), ("--tasks", "is empty")),
    (("serve", "--deployments", ","), ("--deployments", "is empty")),
    (("run", "--server", "--config", "x.yaml"), ("--config x.yaml", "only with --live", "drop --config")),
    (("run", "--config", "x.yaml"), ("--config x.yaml", "only with --live")),
    (("export", "t.json", "--api-base", "notaurl"), ("--api-base", "'notaurl'", "http(s) URL")),
    (("export", "t.json", "--api-base", "ftp://host/v1"), ("--api-base", "http(s) URL")),
    (("export", "t.json", "--api-base", "http://"), ("--api-base", "http(s) URL")),
])
def test_empty_or_ignored_values_are_refused(args, words):
    """QA: `--strategies ""`, `", ,"` and `--tasks ""` silently ran everything; `--server --config x.yaml`
    ignored the config; `export --api-base notaurl` went into the LiteLLM config."""
    one_line_error(run_cli(*args), *words)


def test_api_base_url_reaches_the_litellm_config(tmp_path):
    """The sibling that must keep working: a real URL is accepted and written, without a trailing slash."""
    import yaml

    path = tmp_path / "table.json"
    from routerlab.export import to_json

    path.write_text(to_json({"name": "t", "tasks": [{"task": "math", "patterns": [r"\d+\s*[-+*/]\s*\d+"]}],
                             "routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o"}))
    proc = run_cli("export", str(path), "--to", "litellm", "--api-base", "http://127.0.0.1:8000/v1/",
                   "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load((tmp_path / "out" / "litellm_config.yaml").read_text())
    bases = {m["litellm_params"].get("api_base") for m in cfg["model_list"]}
    assert bases == {"http://127.0.0.1:8000/v1"}


# ------------------------------------------------------------------ 7: help is plain text
@pytest.mark.parametrize("cmd", [(), ("run",), ("serve",), ("export",)])
def test_help_has_no_restructuredtext_markup(cmd):
    """QA: `export --help` started with "``routerlab export``:" (the docstring's RST)."""
    import re

    proc = run_cli(*cmd, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "``" not in proc.stdout and not re.search(r":[a-z]+:`", proc.stdout), proc.stdout
    assert not re.search(r"\S::$", proc.stdout, re.MULTILINE)
    name = " ".join(("routerlab", *cmd))
    assert name in proc.stdout


def test_plain_text_strips_roles_and_literals():
    from routerlab._args import plain_text

    assert plain_text("``routerlab export``: see :class:`~routerlab.runtime.Router` and :func:`load <a.load>`."
                      "\nExample::") == "routerlab export: see routerlab.runtime.Router and load.\nExample:"


# ------------------------------------------------------------------ 8: output checked before the work
@pytest.mark.parametrize("cmd", [("run", "--no-progress", "--out"), ("export", "t.json", "-o")])
def test_an_unwritable_output_directory_is_refused_before_any_work(tmp_path, cmd):
    """QA: `run --out /proc/forbidden` did the whole run before failing to write."""
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    for target in ("/proc/forbidden", str(a_file), str(a_file / "sub")):
        proc = run_cli(*cmd, target)
        one_line_error(proc, "--out", target, "cannot write")
        assert proc.stdout == ""  # no results table: refused before the run, not after it


def test_a_new_output_directory_is_not_left_behind_by_a_refused_command(tmp_path):
    out = tmp_path / "new" / "deep"
    proc = run_cli("run", "--no-progress", "--out", str(out), "--seed", "-1")
    one_line_error(proc, "--seed")
    assert not (tmp_path / "new").exists()


# ------------------------------------------------------------------ warnings are lines for the user
def test_an_export_warning_is_one_plain_line_not_a_source_location(tmp_path, zeroeval):
    """Exporting a strategy that does not route by task alone warns that the table differs from it; the CLI
    printed it as 'routerlab/cli.py:273: UserWarning: ...' followed by a line of source code."""
    import numpy as np

    from routerlab.harness.experiment import Experiment
    from routerlab.routers import FixedRouter, RandomRouter

    ids = np.concatenate([zeroeval.prompts.loc[zeroeval.prompts["task"] == t, "prompt_id"].to_numpy()[:20]
                          for t in ("gsm", "crux")])
    ds = zeroeval.filter(prompt_ids=ids)
    models = ["gpt-4o", "gpt-4o-mini"]
    res = Experiment(ds, {m: FixedRouter(m) for m in models} | {"random": RandomRouter(models, seed=3)}).run(
        progress=False)
    res.to_parquet(tmp_path / "r.parquet")
    proc = run_cli("export", "--results", str(tmp_path / "r.parquet"), "--strategy", "random", "--labels-only",
                   "-o", str(tmp_path / "out"), "--to", "json")
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "reproduces" in line]
    assert len(warned) == 1 and warned[0].startswith("routerlab: warning: the routing table exported from 'random'")
    assert "UserWarning" not in proc.stderr and ".py:" not in proc.stderr
