"""Issue 16: stored failures outside the prompt are retried by the next run; the rest are kept."""

from __future__ import annotations

import pytest

from routerlab.errors import AuthError, ContextTooLong, ServerError, Timeout, Unavailable
from routerlab.harness.experiment import Experiment, caller_fingerprint, retryable_failure
from routerlab.harness.store import MemoryStore, ResultStore
from routerlab.providers.replay import ReplayCaller
from routerlab.routers import FixedRouter


class Flaky:
    """A user's Caller: replays the data set, but raises ``error`` for the prompts in ``failing``."""

    def __init__(self, dataset, failing, error):
        self.replay = ReplayCaller(dataset)
        self.failing, self.error, self.calls = set(failing), error, 0

    async def complete(self, request, model, **kw):
        self.calls += 1
        if request.prompt_id in self.failing:
            raise self.error
        return await self.replay.complete(request, model, **kw)


def _exp(ds, caller, store, **kw):
    return Experiment(ds, {"mini": FixedRouter("gpt-4o-mini")}, caller=caller, store=store, **kw)


@pytest.mark.parametrize("error, retried", [
    (AuthError("HTTP 401: key missing"), True), (Unavailable("no deployment"), True),
    (Timeout("attempt timed out"), True), (ServerError("HTTP 503"), True),
    (ContextTooLong("prompt too long"), False),
])
@pytest.mark.parametrize("durable", [True, False])
def test_failures_outside_the_prompt_are_retried(gsm_small, tmp_path, error, retried, durable):
    ds = gsm_small.filter(prompt_ids=gsm_small.prompts["prompt_id"].iloc[:20])
    failing = ds.prompts["prompt_id"].iloc[:5]
    store = ResultStore(tmp_path / "s.sqlite") if durable else MemoryStore()
    first = _exp(ds, Flaky(ds, failing, error), store).run(progress=False)
    assert (first.df["error_type"] == type(error).__name__).sum() == 5

    healed = Flaky(ds, [], error)
    exp = _exp(ds, healed, store)
    again = exp.run(progress=False)
    assert healed.calls == (5 if retried else 0)
    assert exp.last_run == {"reused": 20 - 5 * retried, "retried": 5 * retried, "computed": 5 * retried,
                            "stored_failures": 0}
    assert again.meta["run"]["retried"] == 5 * retried
    assert (again.df["error_type"] != "").sum() == (0 if retried else 5)
    assert len(again.df) == 20  # a retried unit replaces its failure: one row per unit
    if retried:  # successes are final: a later failure never overwrites them
        third = _exp(ds, Flaky(ds, ds.prompts["prompt_id"], error), store).run(progress=False)
        assert (third.df["error_type"] == "").all()


def test_retry_failed_false_reproduces_the_stored_rows(gsm_small, tmp_path, capsys):
    ds = gsm_small.filter(prompt_ids=gsm_small.prompts["prompt_id"].iloc[:10])
    store = tmp_path / "s.sqlite"
    before = _exp(ds, Flaky(ds, ds.prompts["prompt_id"].iloc[:3], AuthError("401")), store).run(progress=False)
    healed = Flaky(ds, [], AuthError("401"))
    exp = _exp(ds, healed, store, retry_failed=False)
    after = exp.run(progress=True)
    assert healed.calls == 0
    assert after.df.equals(before.df)
    err = capsys.readouterr().err
    assert "reused 10 stored row(s)" in err and "retried 0" in err
    assert "3 stored failure(s) replayed as they are (retry_failed=False)" in err


def test_retryable_failure_kinds():
    assert retryable_failure("RateLimited") and retryable_failure("ConnectionFailed")
    assert not retryable_failure("BadRequest") and not retryable_failure("ContextTooLong")
    assert not retryable_failure("MissingOutcomeError")  # replay: the same data set fails the same way
    assert not retryable_failure("ValueError") and not retryable_failure("")


def test_the_live_configuration_is_part_of_the_unit_key(gsm_small):
    """Two gateways that call different endpoints never share rows; a changed retry policy does not
    make a resumed (paid) run start again; a local server's port (new at each start) is not part of it."""
    from routerlab.live.gateway import Gateway

    def gw(base_url, attempts=3):
        return Gateway.from_config({"models": {"gpt-4o-mini": {"deployments": [
            {"name": "P1", "provider": "openai", "model": "gpt-4o-mini", "base_url": base_url,
             "api_key_env": "FACE_UNSET_KEY"}]}}, "retry": {"attempts": attempts}})

    a = gw("https://api.example.com/v1")
    assert caller_fingerprint(a) != caller_fingerprint(gw("https://other.example.com/v1"))
    assert caller_fingerprint(a) == caller_fingerprint(gw("https://api.example.com/v1", attempts=5))
    assert caller_fingerprint(gw("http://127.0.0.1:8001/d/P1/v1")) == caller_fingerprint(gw("http://127.0.0.1:9/d/P1/v1"))
    exp_a, exp_b = _exp(gsm_small, a, None), _exp(gsm_small, gw("https://other.example.com/v1"), None)
    assert exp_a.config_hash("mini") != exp_b.config_hash("mini")
