"""The semantic cache is safe by construction: scope, what it stores, the meaning check, the measured threshold."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from routerlab.errors import ConfigError
from routerlab.live.cache import DEFAULT_THRESHOLD, SemanticCache, context_key, unstorable
from routerlab.live.config import CacheSettings, GatewayConfig
from routerlab.types import Completion, Message, Request

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
PAIRS = ROOT / "benchmarks" / "data" / "semantic_pairs.jsonl.gz"


def _c(text: str = "Paris is the capital of France.", **kw: object) -> Completion:
    return Completion(text=text, model="gpt-4o-mini", provider="openai", input_tokens=12, output_tokens=9,
                      cost=2e-6, latency=0.8, **kw)  # type: ignore[arg-type]


# scope -------------------------------------------------------------------------------------------
def test_context_key_covers_every_field_that_changes_the_answer() -> None:
    base = Request.from_prompt("Tell me about Paris", system="Be brief.", max_tokens=200)
    ref = context_key(base)
    variants = {
        "max_tokens": base.with_(max_tokens=2), "no max_tokens": base.with_(max_tokens=None),
        "stop": base.with_(stop=("\n",)), "seed": base.with_(seed=7), "temperature": base.with_(temperature=0.2),
        "top_p": base.with_(top_p=0.5), "tools": base.with_(tools='[{"type":"function","function":{"name":"f"}}]'),
        "response_format": base.with_(response_format='{"type":"json_object"}'),
        "system": Request.from_prompt("Tell me about Paris", system="Be thorough.", max_tokens=200),
        "no system": Request.from_prompt("Tell me about Paris", max_tokens=200),
        "earlier turns": base.with_(messages=(Message("user", "Hi"), Message("assistant", "Hello!"),
                                              *base.messages)),
        "prefill after the prompt": base.with_(messages=(*base.messages, Message("assistant", "Paris"))),
    }
    keys = {name: context_key(r) for name, r in variants.items()}
    assert ref not in keys.values() and len(set(keys.values())) == len(keys), keys
    # what does not change the answer: the prompt text itself (the similarity part) and metadata
    assert context_key(base.with_(messages=(base.messages[0], Message("user", "Tell me about Rome")))) == ref
    assert context_key(base.with_(prompt_id="p1", task="qa", metadata={"user": "u1"}, sample=3)) == ref
    hot = base.with_(temperature=0.7)
    assert context_key(hot.with_(sample=1)) != context_key(hot)  # samples differ only when sampling


def test_only_whole_answers_are_stored() -> None:
    assert unstorable(_c()) is None
    for reason in ("length", "content_filter", "tool_calls", None, "recitation"):
        assert unstorable(_c(finish_reason=reason)) is not None, reason
    assert unstorable(_c(text="  ")) == "an empty answer"
    sc = SemanticCache()
    req = Request.from_prompt("Tell me about Paris", max_tokens=2)
    assert sc.put(req, "gpt-4o-mini", _c("Paris is", finish_reason="length")) is False
    assert len(sc) == 0 and sc.not_stored == 1
    assert sc.put(req.with_(temperature=0.8), "gpt-4o-mini", _c()) is False  # sampled: a fresh answer each time
    assert sc.get(req.with_(temperature=0.8), "gpt-4o-mini") is None
    assert sc.put(req.with_(max_tokens=200), "gpt-4o-mini", _c()) is True
    assert sc.get(req, "gpt-4o-mini") is None  # max_tokens=2 is another scope
    hit = sc.get(Request.from_prompt("tell me about paris", max_tokens=200), "gpt-4o-mini")
    assert hit is not None and hit.cached and hit.text == _c().text and hit.attempts[0][0] == "cache:semantic"


def test_a_refused_best_match_does_not_hide_a_good_second_one() -> None:
    sc = SemanticCache(threshold=0.5)
    sc.add("What is 17 * 24?", "408", model="m")
    sc.add("what is 17*23", "391", model="m")
    hit = sc.lookup("What is 17 * 23?", model="m")
    assert hit is not None and hit.value == "391"
    assert sc.refused == 1 and "numbers differ" in (sc.last_refusal or "")
    assert sc.lookup("What is 17 * 25?", model="m") is None and sc.misses == 1


def test_kept_features_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import routerlab.live.cache as cache_module

    monkeypatch.setattr(cache_module, "_FEATURES_KEPT", 3)
    sc = SemanticCache(threshold=0.3)
    for i in range(8):
        sc.add(f"How many apples does basket number {i} hold?", i, model="m")
    for i in range(8):
        assert sc.lookup(f"how many apples does basket number {i} hold", model="m").value == i
    assert len(sc._features) <= 3  # memory stays bounded however many entries were candidates


def test_meaning_check_can_be_turned_off_and_candidates_are_validated() -> None:
    plain = SemanticCache(threshold=0.5, check_meaning=False)
    plain.add("What is the capital of France?", "Paris", model="m")
    assert plain.lookup("What is the capital of Spain?", model="m").value == "Paris"  # what the check prevents
    with pytest.raises(ConfigError, match="candidates"):
        SemanticCache(candidates=0)
    assert "check_meaning=True" in repr(SemanticCache())


# the measured threshold ------------------------------------------------------------------------------
def _load() -> list[dict[str, object]]:
    with gzip.open(PAIRS, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_the_default_threshold_is_the_measured_one() -> None:
    rows = _load()
    kinds = {str(r["kind"]).split(":")[0] for r in rows}
    assert len(rows) >= 600 and kinds == {"paraphrase", "perturb", "distinct"}
    tune = [r for r in rows if r["split"] == "tune"]
    test = [r for r in rows if r["split"] == "test"]
    sc = SemanticCache()
    chosen = sc.calibrate([(r["query"], r["cached"]) for r in tune], [r["label"] for r in tune])
    assert chosen == DEFAULT_THRESHOLD == sc.threshold
    assert CacheSettings().threshold == DEFAULT_THRESHOLD
    cfg = GatewayConfig.from_dict({"models": {"m": [{"name": "P1", "provider": "openai", "model": "gpt-4o-mini"}]},
                                   "cache": {"semantic": True}})
    assert cfg.cache.threshold == DEFAULT_THRESHOLD
    held_out = sc.evaluate([(r["query"], r["cached"]) for r in test], [r["label"] for r in test]).iloc[0]
    assert (held_out["hits"], held_out["false_hits"], round(held_out["recall"], 3)) == (96, 0, 0.768)  # docstring
    plain = SemanticCache(check_meaning=False).evaluate([(r["query"], r["cached"]) for r in test],
                                                        [r["label"] for r in test]).iloc[0]
    assert plain["false_hit_rate"] > 0.3  # the same threshold without the check serves wrong answers


def test_calibrate_raises_when_no_threshold_is_safe() -> None:
    pairs = [("What is the capital of France?", "What is the capital of France?")] * 3
    with pytest.raises(ConfigError, match="no threshold keeps the false-hit rate .* and serves any"):
        SemanticCache().calibrate(pairs, [False, False, False])


@pytest.mark.slow
def test_the_labelled_pairs_are_what_the_build_script_makes(tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl.gz"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "semantic_pairs.py"), "--out", str(out)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(PAIRS.read_bytes())
