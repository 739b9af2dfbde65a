"""Exports: LiteLLM loads ours and routes through the local provider server, Portkey's validates, no key leaks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from routerlab import export
from routerlab.errors import ConfigError
from routerlab.runtime import Router, RoutingTableError, validate
from routerlab.server import ProviderServer

pytestmark = pytest.mark.timeout(120)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CANARY = "sk-canary-7f3e9b21d4c8a6e5"
MINI, BIG, HAIKU = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "claude-3-haiku-20240307"


@pytest.fixture(scope="module")
def litellm():
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no price-map download
    return pytest.importorskip("litellm")  # ~5 s: once per module


@pytest.fixture(scope="module")
def srv():
    with ProviderServer(["P1", "P2", "P3"], latency_scale=0, answers={"What is 2+2?": "4"}) as s:
        yield s


@pytest.fixture(autouse=True)
def _canary(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY + "-anthropic")


def table(srv=None, **extra):
    doc = {
        "name": "t", "tasks": [{"task": "math", "patterns": [r"\d+\s*[-+*/]\s*\d+"]}],
        "routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o",
        "fallbacks": {"gpt-4o-mini": ["gpt-4o"], "gpt-4o": ["claude-3-haiku"]},
        "context_window_fallbacks": {"gpt-4o-mini": ["claude-3-haiku"]},
        "retry": {"num_retries": 1, "timeout": 10.0}, "balancer": {"allowed_fails": 5, "cooldown_time": 1.0},
        **extra,
    }
    base = None if srv is None else {"gpt-4o-mini": srv.base_url("P1"), "gpt-4o": srv.base_url("P2"),
                                     "claude-3-haiku": srv.base_url("P3", "anthropic")}
    return export.document(doc, api_base=base)


def exported(tmp_path, doc):
    paths = export.write(doc, tmp_path)
    for p in paths.values():
        assert CANARY not in p.read_text(), f"a key leaked into {p}"
    return paths


# --- LiteLLM itself loads the export -------------------------------------------------------------
def test_litellm_routes_and_follows_fallback(litellm, srv, tmp_path):
    srv.clear_log()
    srv.clear_faults()
    for dep in ("P1", "P2", "P3"):
        srv.set_api_key(dep, CANARY)  # the server checks LiteLLM resolved os.environ/OPENAI_API_KEY
    try:
        cfg = yaml.safe_load(exported(tmp_path, table(srv))["litellm"].read_text())
        router = litellm.Router(model_list=cfg["model_list"], **cfg["router_settings"])
        msgs = [{"role": "user", "content": "What is 2+2?"}]
        r = router.completion(model="math", messages=msgs)
        assert r.choices[0].message.content == "4"
        assert [(e["model"], e["status"]) for e in srv.log("P1")] == [(MINI, 200)]
        assert srv.log("P2") == []

        srv.set_faults("P1", status=500)  # the primary fails: the exported fallback takes over
        r = router.completion(model="math", messages=msgs)
        assert r.choices[0].message.content == "4"
        assert all(e["status"] == 500 for e in srv.log("P1")[1:]) and len(srv.log("P1")) >= 2
        assert [(e["model"], e["status"]) for e in srv.log("P2")] == [(BIG, 200)]
    finally:
        srv.set_api_key("*", None)
        srv.clear_faults()


def test_litellm_config_shape(srv):
    cfg = export.to_litellm(table(srv))
    names = [m["model_name"] for m in cfg["model_list"]]
    assert names == ["math", "default", "gpt-4o", "gpt-4o-mini", "claude-3-haiku"]
    first = cfg["model_list"][0]["litellm_params"]
    assert first == {"model": f"openai/{MINI}", "api_key": "os.environ/OPENAI_API_KEY", "api_base": srv.base_url("P1")}
    assert cfg["model_list"][-1]["litellm_params"]["model"] == f"anthropic/{HAIKU}"
    rs = cfg["router_settings"]
    assert rs["fallbacks"] == [{"math": ["gpt-4o"]}, {"default": ["claude-3-haiku"]},
                               {"gpt-4o-mini": ["gpt-4o"]}, {"gpt-4o": ["claude-3-haiku"]}]
    assert rs["context_window_fallbacks"] == [{"math": ["claude-3-haiku"]}, {"gpt-4o-mini": ["claude-3-haiku"]}]
    assert (rs["num_retries"], rs["timeout"], rs["allowed_fails"], rs["cooldown_time"]) == (1, 10.0, 5, 1.0)


def test_deployments_become_balanced_entries():
    doc = export.document({"default": "gpt-4o", "models": {"gpt-4o": {
        **export.model_entry("gpt-4o"), "deployments": [{"name": "east", "weight": 3},
                                                         {"name": "west", "api_key_env": "OPENAI_WEST_KEY", "weight": 1}]}}})
    cfg = export.to_litellm(doc)
    entries = [m for m in cfg["model_list"] if m["model_name"] == "gpt-4o"]
    assert [e["litellm_params"]["weight"] for e in entries] == [3, 1]
    assert entries[1]["litellm_params"]["api_key"] == "os.environ/OPENAI_WEST_KEY"
    lb = export.to_portkey(doc)["targets"][0]["targets"][0]
    assert lb["strategy"] == {"mode": "loadbalance"}
    assert [t["provider"] for t in lb["targets"]] == ["@east", "@west"]


# --- Portkey ---------------------------------------------------------------------------------------
def test_portkey_export_validates_against_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((FIXTURES / "portkey_config.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    cfg = json.loads(exported(tmp_path, table())["portkey"].read_text())
    jsonschema.validate(cfg, schema)
    assert cfg["strategy"]["conditions"] == [{"query": {"metadata.task": {"$eq": "math"}}, "then": "math"}]
    math = cfg["targets"][0]
    assert math["strategy"]["mode"] == "fallback"
    assert [t["override_params"]["model"] for t in math["targets"]] == [MINI, BIG]
    # the fixture is strict enough to catch a broken config
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**cfg, "strategy": {"mode": "conditional", "conditions": []}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"strategy": {"mode": "fallback"}}, schema)


# --- env and JSON ------------------------------------------------------------------------------------
def test_env_file(tmp_path):
    text = exported(tmp_path, table())["env"].read_text()
    assert "MATH_MODEL=gpt-4o-mini" in text.splitlines()
    assert "DEFAULT_MODEL=gpt-4o" in text.splitlines()
    assert "MATH_FALLBACKS=gpt-4o" in text.splitlines()
    assert "OPENAI_API_KEY" in text and CANARY not in text


def test_json_round_trips_through_the_runtime(tmp_path):
    path = exported(tmp_path, table())["json"]
    router = Router.load(path)
    assert router.route("what is 17 * 3?") == "gpt-4o-mini"
    assert router.route("tell me a story") == "gpt-4o"
    assert router.decide("2+2").chain == ("gpt-4o-mini", "gpt-4o")


def test_schema_file_is_valid_and_agrees_with_the_stdlib_validator():
    jsonschema = pytest.importorskip("jsonschema")
    from routerlab.runtime import schema

    jsonschema.Draft202012Validator.check_schema(schema())
    doc = table()
    jsonschema.validate(doc, schema())
    bad = {**doc, "retry": {"num_retries": -1}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())
    with pytest.raises(RoutingTableError, match=r"retry\.num_retries: must be at least 0"):
        validate(bad)


def test_write_refuses_a_leaked_key(tmp_path, monkeypatch):
    doc = table()
    doc["name"] = CANARY  # a key pasted into a field by mistake
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        export.write(doc, tmp_path)
    assert not list(tmp_path.iterdir())


def test_task_named_like_a_model_is_rejected():
    with pytest.raises(ConfigError, match="also model names"):
        export.to_litellm({"routes": {"gpt-4o": "gpt-4o-mini"}, "default": "gpt-4o"})


def test_export_main(tmp_path, capsys):
    src = tmp_path / "t.json"
    src.write_text(json.dumps(table()))
    assert export.export_main([str(src), "--to", "litellm", "--to", "env", "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["litellm_config.yaml", "routing.env"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**table(), "default": "nope"}))
    assert export.export_main([str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "default: 'nope' is not a model" in capsys.readouterr().err


# --- tables from results ----------------------------------------------------------------------------
def test_document_from_results_reproduces_the_strategy(tmp_path):
    from routerlab import Experiment, datasets
    from routerlab.routers.task import TaskRouter

    ds = datasets.load("zeroeval")
    train, test = ds.split(0.5, seed=0)
    router = TaskRouter(task_field="task").fit(train)
    res = Experiment(test, {"task": router}, models=["gpt-4o", "gpt-4o-mini", "claude-3-haiku"],
                     store=None).run(progress=False)
    doc = export.document_from_results(res, "task")
    assert doc["routes"] == router.routing_table.routes  # per task, the model the strategy used most
    for model, chain in doc["fallbacks"].items():
        assert model not in chain and 0 < len(chain) <= 2
    metrics = doc["provenance"]["metrics"]
    row = res.summary().loc["task"]
    assert metrics["quality_lo"] <= metrics["quality"] <= metrics["quality_hi"]
    assert metrics["quality"] == pytest.approx(row["quality"]) and isinstance(metrics["n"], int)
    assert set(doc["provenance"]["per_task"]) == {"gsm", "crux", "math-l5"}
    assert doc["provenance"]["dataset"] and doc["provenance"]["routerlab_version"]
    runtime = Router.load(export.write(doc, tmp_path)["json"])
    rows = res.df[res.df["strategy"] == "task"]
    prompts = test.prompts.set_index("prompt_id")["prompt"]
    got = [runtime.route(prompts[pid], task=t) for pid, t in zip(rows["prompt_id"], rows["task"])]
    assert got == rows["final_model"].tolist()
    with pytest.raises(ConfigError, match="unknown strategy"):
        export.document_from_results(res, "nope")
    # the same through the CLI, from a saved results file
    from routerlab.cli import main

    saved = res.to_parquet(tmp_path / "run.parquet")
    assert main(["export", "--results", str(saved), "--strategy", "task", "-o", str(tmp_path / "cli")]) == 0
    assert Router.load(tmp_path / "cli" / "routing_table.json").routes == doc["routes"]
    for p in (tmp_path / "cli").iterdir():
        assert CANARY not in p.read_text()


def test_gateway_config_supplies_balancer_retry_and_deployments(litellm, srv, tmp_path):
    from routerlab.live.config import GatewayConfig

    gw = GatewayConfig.from_dict({
        "strategy": "weighted", "retry": {"attempts": 3, "timeout": 5.0},
        "breaker": {"window": 20, "minimum_calls": 10, "failure_rate": 0.5, "open_duration": 2.0},
        "models": {"gpt-4o-mini": {"deployments": [
            {"name": "P1", "provider": "openai", "model": "gpt-4o-mini", "base_url": srv.base_url("P1"), "rpm": 600},
            {"name": "P2", "provider": "openai", "model": "gpt-4o-mini", "base_url": srv.base_url("P2"),
             "api_key_env": "OPENAI_KEY_2", "weight": 2}]},
            "gpt-4o": {"deployments": [{"name": "P3", "provider": "openai", "model": "gpt-4o",
                                        "base_url": srv.base_url("P3")}]}},
        "fallbacks": {"gpt-4o-mini": ["gpt-4o"]}})
    doc = export.document({"routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o"}, gateway=gw)
    assert doc["retry"] == {"num_retries": 2, "timeout": 5.0}
    assert doc["balancer"] == {"strategy": "weighted", "cooldown_time": 2.0, "allowed_fails": 5}
    assert doc["fallbacks"] == {"gpt-4o-mini": ["gpt-4o"]}
    deps = doc["models"]["gpt-4o-mini"]["deployments"]
    assert [(d["name"], d["api_name"], d["api_key_env"]) for d in deps] == [
        ("P1", MINI, "OPENAI_API_KEY"), ("P2", MINI, "OPENAI_KEY_2")]
    cfg = export.to_litellm(doc)
    math = [m["litellm_params"] for m in cfg["model_list"] if m["model_name"] == "math"]
    assert [(p["api_base"], p.get("rpm"), p["weight"]) for p in math] == [(srv.base_url("P1"), 600, 1.0),
                                                                          (srv.base_url("P2"), None, 2.0)]
    portkey = export.to_portkey(doc)
    assert portkey["targets"][0]["targets"][0]["strategy"] == {"mode": "loadbalance"}
    # LiteLLM balances the two deployments of the role and the requests land on P1/P2 only
    srv.clear_log()
    os.environ["OPENAI_KEY_2"] = CANARY
    try:
        router = litellm.Router(model_list=cfg["model_list"], **cfg["router_settings"])
        for _ in range(6):
            router.completion(model="math", messages=[{"role": "user", "content": "What is 2+2?"}])
    finally:
        del os.environ["OPENAI_KEY_2"]
    assert len(srv.log("P1")) + len(srv.log("P2")) == 6 and srv.log("P3") == []
    for p in export.write(doc, tmp_path).values():
        assert CANARY not in p.read_text()


# --- RoutingTable additions: full documents, from_results, from_router ----------------------------------
def test_routing_table_reads_and_writes_full_documents(tmp_path):
    from routerlab.routers import RoutingTable

    doc = table()
    t = RoutingTable.from_dict(doc)
    assert t.retry == doc["retry"] and t.balancer == doc["balancer"] and t.endpoints == doc["models"]
    again = t.to_document()
    assert again["models"] == doc["models"] and again["routes"] == doc["routes"]
    assert Router(again).route("2 + 2") == Router(doc).route("2 + 2")
    t.save(tmp_path / "t.json")
    assert RoutingTable.load(tmp_path / "t.json") == t
    # a hand-made table's dict has only the core fields, as before
    assert set(RoutingTable(default="gpt-4o").to_dict()) == {"version", "tasks", "routes", "default", "fallbacks",
                                                               "context_window_fallbacks", "provenance"}
    with pytest.raises(ConfigError, match=r"retry.num_retries: must be at least 0"):
        RoutingTable.from_dict({"default": "gpt-4o", "retry": {"num_retries": -2}})
    with pytest.raises(ConfigError, match=r"models.gpt-4o.api_key: unknown field"):
        RoutingTable.from_dict({**doc, "models": {**doc["models"], "gpt-4o": {**doc["models"]["gpt-4o"],
                                                                               "api_key": CANARY}}})
    with pytest.raises(ConfigError, match=r"routes.math: 'nope' is not a model of this table"):
        RoutingTable.from_dict({**doc, "routes": {"math": "nope"}})


def test_routing_table_from_router_and_results():
    from routerlab import Experiment, datasets
    from routerlab.routers import FixedRouter, RoutingTable
    from routerlab.routers.task import TaskRouter

    ds = datasets.load("zeroeval").filter(tasks=["gsm"])
    router = TaskRouter(RoutingTable(default="gpt-4o", routes={"gsm": "gemini-1.5-flash"}), task_field="task")
    t = RoutingTable.from_router(router)
    assert t.routes == {"gsm": "gemini-1.5-flash"} and t.router == "task" and t.default_task == "chat"
    res = Experiment(ds, {"task": router, "fixed": FixedRouter("gpt-4o-mini")}, store=None).run(progress=False)
    t = res.routing_table("task")
    assert t.routes == {"gsm": "gemini-1.5-flash"}
    assert t.provenance["metrics"]["quality_lo"] <= t.provenance["metrics"]["quality"]
    assert t.fallbacks["gemini-1.5-flash"] == ["gpt-4o-mini"]


def test_litellm_follows_exported_context_window_fallback(litellm, srv, tmp_path):
    """P1 answers the provider's 400 context-length error: LiteLLM moves to the exported larger-context
    model (claude-3-haiku, served on P3 in Anthropic's wire format)."""
    srv.clear_log()
    srv.set_faults("P1", context_marker="<<LONG DOCUMENT>>")
    try:
        cfg = export.to_litellm(table(srv))
        router = litellm.Router(model_list=cfg["model_list"], **cfg["router_settings"])
        r = router.completion(model="math", messages=[{"role": "user", "content": "<<LONG DOCUMENT>> 2+2?"}])
        assert r.choices[0].message.content
        assert [e["status"] for e in srv.log("P1")] == [400]
        assert [(e["api"], e["model"], e["status"]) for e in srv.log("P3")] == [("anthropic", HAIKU, 200)]
    finally:
        srv.clear_faults()


# --- exports retry and fail over where the Gateway does ----------------------------------------------
STATUSES = (400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529)


def _gateway_behaviour(srv, status, monkeypatch):
    """What the real Gateway does when a deployment answers ``status``: (fell back to the next model?,
    retried the same deployment when it had nothing else to try?)."""
    from routerlab.live import Gateway
    from routerlab.errors import ProviderError
    from routerlab.types import Request

    monkeypatch.setenv("RL_EXPORT_KEY", "local-key-0001")
    srv.clear_faults()
    srv.clear_log()
    srv.set_faults("P1", status=status)
    gw = Gateway.from_config({
        "retry": {"attempts": 3, "timeout": 5.0, "backoff_base": 0.0, "backoff_cap": 0.0},
        "models": {"gpt-4o-mini": [{"name": "P1", "provider": "openai", "model": "gpt-4o-mini",
                                    "base_url": srv.base_url("P1"), "api_key_env": "RL_EXPORT_KEY"}],
                   "claude-3-haiku": [{"name": "Q1", "provider": "anthropic", "model": "claude-3-haiku",
                                       "base_url": srv.base_url("P3", "anthropic"), "api_key_env": "RL_EXPORT_KEY"}]},
        "fallbacks": {"gpt-4o-mini": ["claude-3-haiku"]}})
    import asyncio

    async def one(fallback):
        try:
            return (await gw.complete(Request.from_prompt("What is 2+2?"), "gpt-4o-mini", fallback=fallback)).deployment
        except ProviderError:
            return None

    async def both():
        answered_by = await one(True)
        gw.restore("P1")  # a fresh breaker, back in rotation
        srv.clear_log()
        await one(False)
        await gw.aclose()
        return answered_by == "Q1", len(srv.log("P1")) > 1

    return asyncio.run(both())


def test_exports_fail_over_and_retry_on_the_statuses_the_gateway_does(srv, monkeypatch):
    """Portkey's fallback and retry status codes and LiteLLM's retry policy come from the same table of
    error kinds as the Gateway: checked against what the Gateway does with each status, through the real
    SDKs (an Anthropic overload, 529, and a request timeout, 408, must fail over)."""
    doc = table()
    pk = export.to_portkey(doc)
    fallback_codes = set(pk["targets"][0]["strategy"]["on_status_codes"])
    retry_codes = set(pk["retry"]["on_status_codes"])
    policy = export.to_litellm(doc)["router_settings"]["retry_policy"]
    litellm_status = {"BadRequestError": 400, "AuthenticationError": 401, "NotFoundError": 404,
                      "TimeoutError": 408, "RateLimitError": 429, "InternalServerError": 500,
                      "ServiceUnavailableError": 503}
    for status in STATUSES:
        fell_back, retried = _gateway_behaviour(srv, status, monkeypatch)
        assert (status in fallback_codes) == fell_back, status
        assert (status in retry_codes) == retried, status
        for name, s in litellm_status.items():
            if s == status:
                assert (policy[f"{name}Retries"] > 0) == retried, (name, status)
    assert {408, 429, 500, 502, 503, 504, 529} <= fallback_codes and 400 not in fallback_codes
    srv.clear_faults()
