"""Issue 15 part 3 (RELIABILITY.md scenario 16): four Gateway processes sharing one Redis and one local provider
server have one budget, one rate limit, one breaker per deployment and one response cache; Redis going away
mid-run leaves each on its own state with a warning, never an error. Each shared-state test runs the same
workload with each process's own memory as the control, so the check that holds with Redis is shown to fail
without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from routerlab.catalog import Catalog
from routerlab.server import ProviderServer
from routerlab.tokens import count_message_tokens

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KEY_ENV = "SHARED_STATE_TEST_KEY"
pytestmark = pytest.mark.slow


@pytest.fixture
def server():
    srv = ProviderServer(["P1", "P2"], latency_scale=0).start()
    yield srv
    srv.close()


def _config(server, redis_url, backend, *, deployments=("P1",), **sections):
    state = {"backend": "memory"} if backend == "memory" else {"backend": "redis", "url": redis_url,
                                                                "namespace": f"t{time.monotonic_ns()}", "cache": True}
    deps = [{"name": d, "provider": "openai", "model": "gpt-4o-mini", "base_url": server.base_url(d),
             "api_key_env": KEY_ENV, **sections.pop(f"{d}_fields", {})} for d in deployments]
    return {"models": {"gpt-4o-mini": deps}, "state": state, "retry": {"backoff_base": 0.01, "backoff_cap": 0.02},
            **sections}


def _run(tmp_path, config, per_process, *, processes=4, concurrency=1, kill_after=None, redis=None):
    """Run ``processes`` Gateway processes (each its own ``per_process(k)`` requests) to the end; returns
    their results and stderr. ``kill_after``: SIGKILL Redis once that many requests finished in all."""
    go, progress = tmp_path / f"go{time.monotonic_ns()}", tmp_path / f"progress{time.monotonic_ns()}"
    env = {**os.environ, KEY_ENV: "local-server-needs-no-key",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    procs, outs = [], []
    for k in range(processes):
        out = tmp_path / f"out{k}-{time.monotonic_ns()}.json"
        spec = tmp_path / f"spec{k}-{time.monotonic_ns()}.json"
        spec.write_text(json.dumps({"config": config, "requests": per_process(k), "concurrency": concurrency,
                                    "go": str(go), "progress": str(progress), "out": str(out)}))
        procs.append(subprocess.Popen([sys.executable, str(HERE / "state_worker.py"), str(spec)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs.append(out)
    at_kill = None
    try:
        go.write_text("go")
        if kill_after is not None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (not progress.exists() or len(progress.read_text().split()) < kill_after):
                time.sleep(0.005)
            redis.kill()
            at_kill = len(progress.read_text().split())
        errs = []
        for p in procs:
            _, err = p.communicate(timeout=180)
            assert p.returncode == 0, err[-3000:]
            errs.append(err)
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    return [json.loads(o.read_text()) for o in outs], errs, at_kill


def _prompt(i):
    return f"Request {i}: " + "please repeat these words back to me in full " * 6


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_four_processes_spend_one_budget(tmp_path, server, redis_server, backend):
    estimate = Catalog.default()["gpt-4o-mini"].cost(count_message_tokens([{"role": "user", "content": _prompt(0)}]), 20)
    cap = 5.5 * estimate
    config = _config(server, redis_server.url, backend, budgets={"total": cap, "on_exceeded": "refuse"})
    results, _, _ = _run(tmp_path, config, lambda k: [{"prompt": _prompt(100 * k + i), "model": "gpt-4o-mini",
                                                       "max_tokens": 20} for i in range(8)], concurrency=2)
    spent = sum(r["own_spend"] for r in results)
    answered = sum(x["ok"] for r in results for x in r["results"])
    refused = [x for r in results for x in r["results"] if not x["ok"]]
    calls = len(server.log("P1"))
    if backend == "redis":
        assert spent <= cap + estimate, (spent, cap)  # the cap holds across processes (RELIABILITY.md scenario 15)
        assert answered == calls and answered <= 6
        assert refused and all(x["error"] == "BudgetExceeded" and f"cap ${cap:g}" in x["message"] for x in refused)
        assert "every replica" in refused[0]["message"]
    else:  # each process spends the whole cap by itself
        assert spent > cap + estimate and answered >= 4 * 5


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_a_dead_deployment_is_benched_for_all_after_the_shared_failure_threshold(tmp_path, server, redis_server,
                                                                                  backend):
    server.set_faults("P1", status=500)
    config = _config(server, redis_server.url, backend, deployments=("P1", "P2"), strategy="round-robin",
                     breaker={"window": 20, "minimum_calls": 10, "failure_rate": 0.5, "open_duration": 60.0})
    results, _, _ = _run(tmp_path, config, lambda k: [{"prompt": f"p{k}-{i}", "model": "gpt-4o-mini"} for i in range(15)])
    assert all(x["ok"] for r in results for x in r["results"])  # P2 answers every request
    to_dead = len(server.log("P1"))
    if backend == "redis":
        assert to_dead <= 10 + 3, to_dead  # 10 failures open it for all; at most the other 3 had one in flight
    else:
        assert to_dead >= 4 * 10  # every process learns by itself


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_an_rpm_limit_holds_across_processes(tmp_path, server, redis_server, backend):
    config = _config(server, redis_server.url, backend, P1_fields={"rpm": 12}, retry={"max_wait": 0.3})
    started = time.monotonic()
    results, _, _ = _run(tmp_path, config, lambda k: [{"prompt": f"r{k}-{i}", "model": "gpt-4o-mini"} for i in range(6)])
    elapsed = time.monotonic() - started
    sent = len(server.log("P1"))
    answered = sum(x["ok"] for r in results for x in r["results"])
    assert sent == answered
    if backend == "redis":
        assert sent <= 12 + 12 / 60 * elapsed + 1e-9, (sent, elapsed)  # the burst, then the refill
        refused = [x for r in results for x in r["results"] if not x["ok"]]
        assert refused and all(x["error"] == "Unavailable" and "rate or concurrency limit" in x["message"]
                               for x in refused)
    else:
        assert sent == 24  # four processes, four limits


def test_an_answer_cached_by_one_process_is_a_hit_in_the_others(tmp_path, server, redis_server):
    config = _config(server, redis_server.url, "redis")
    prompts = [{"prompt": f"What is {i} + {i}?", "model": "gpt-4o-mini"} for i in range(10)]
    first, _, _ = _run(tmp_path, config, lambda k: prompts, processes=1)
    assert not any(x["cached"] for x in first[0]["results"])
    later, _, _ = _run(tmp_path, config, lambda k: prompts, processes=3, concurrency=2)
    assert all(x["ok"] and x["cached"] for r in later for x in r["results"])
    assert set(Counter(r["prompt_hash"] for r in server.log("P1")).values()) == {1} and len(server.log("P1")) == 10


def test_redis_going_away_mid_run_leaves_each_process_on_its_own_state(tmp_path, server, redis_server):
    server.set_faults("P1", delay=0.03)
    server.set_faults("P2", delay=0.03)
    config = _config(server, redis_server.url, "redis", deployments=("P1", "P2"),
                     P1_fields={"rpm": 6000, "tpm": 10_000_000}, budgets={"total": 100.0})
    results, errs, at_kill = _run(tmp_path, config, lambda k: [{"prompt": f"k{k}-{i}", "model": "gpt-4o-mini"}
                                                               for i in range(30)], concurrency=2, kill_after=30,
                                  redis=redis_server)
    assert at_kill is not None and at_kill < 4 * 30  # Redis died while requests were being answered
    assert all(x["ok"] for r in results for x in r["results"]), [x for r in results for x in r["results"] if not x["ok"]][:3]
    for err in errs:
        assert "is unreachable" in err and "carries on with its own" in err and err.count("is unreachable") == 1
    assert "local-server-needs-no-key" not in "".join(errs)


def test_a_gateway_whose_redis_never_answers_starts_and_serves_on_its_own_state(server, caplog, monkeypatch):
    from routerlab.live.gateway import Gateway
    from routerlab.types import Request

    monkeypatch.setenv(KEY_ENV, "local-server-needs-no-key")
    pytest.importorskip("redis")
    config = _config(server, "redis://:s3cret@127.0.0.1:1/0", "redis", P1_fields={"rpm": 2}, budgets={"total": 1.0},
                     retry={"max_wait": 0.3})
    with caplog.at_level("WARNING", logger="routerlab.gateway"):
        gw = Gateway.from_config(config)
        answers = [gw.complete_sync(Request.from_prompt(f"q{i}"), "gpt-4o-mini") for i in range(2)]
    assert all(a.text for a in answers) and gw.total_spend > 0
    assert "redis://127.0.0.1:1/0 is unreachable" in caplog.text and "s3cret" not in caplog.text
    assert caplog.text.count("is unreachable") == 1
    from routerlab.errors import Unavailable

    with pytest.raises(Unavailable, match="rate or concurrency limit"):  # the local RPM limit still holds
        gw.complete_sync(Request.from_prompt("q3"), "gpt-4o-mini")
