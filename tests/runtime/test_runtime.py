"""The production runtime: stdlib-only imports, validation that names the field, and round trips.

A round trip: for every prompt of the bundled zeroeval data, the runtime loaded from the export makes
the same decision as the notebook router it came from.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from routerlab import export
from routerlab.errors import ConfigError
from routerlab.runtime import NoModelFitsError, Router, RoutingTableError, estimate_tokens, validate

pytestmark = pytest.mark.timeout(120)

BLOCKED = ("pandas", "numpy", "IPython", "matplotlib", "ipywidgets", "scipy", "pyarrow")


def test_runtime_imports_nothing_heavy(tmp_path):
    path = tmp_path / "table.json"
    path.write_text(json.dumps({
        "format": "routerlab.routing_table", "version": 1,
        "tasks": [{"task": "math", "patterns": [r"\d\s*[-+*/]\s*\d"], "flags": ["IGNORECASE"]}],
        "routes": {"math": "gpt-4o-mini"}, "default": "gpt-4o",
        "models": {"gpt-4o": {"provider": "openai", "api_name": "gpt-4o-2024-08-06", "context_window": 128000},
                   "gpt-4o-mini": {"provider": "openai", "api_name": "gpt-4o-mini-2024-07-18",
                                   "context_window": 100, "api_key_env": "OPENAI_API_KEY"}},
        "context_window_fallbacks": {"gpt-4o-mini": ["gpt-4o"]}}))
    code = textwrap.dedent(f"""
        import sys
        BLOCKED = {BLOCKED!r}
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked import of {{name}}")
                return None
        sys.meta_path.insert(0, Block())
        from routerlab.runtime import Router
        r = Router.load({str(path)!r})
        assert r.route("what is 2 + 2?") == "gpt-4o-mini", r.decide("what is 2 + 2?")
        assert r.route("hello") == "gpt-4o"
        assert r.route("2 + 2 " * 200) == "gpt-4o"                        # too long for mini's 100 tokens
        assert r.endpoint("gpt-4o-mini")["api_key_env"] == "OPENAI_API_KEY"
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        print("ok", sorted(m for m in sys.modules if m.startswith("routerlab")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


# --- validation ---------------------------------------------------------------------------------------
BASE = {"format": "routerlab.routing_table", "version": 1, "default": "a",
        "models": {"a": {"provider": "openai", "api_name": "x"}, "b": {"provider": "openai", "api_name": "y"}}}


@pytest.mark.parametrize("change, path", [
    ({"version": 2}, "version: 2 is newer"),
    ({"routes": {"math": "zzz"}}, "routes.math: 'zzz' is not a model"),
    ({"fallbacks": {"a": ["b", 3]}}, r"fallbacks.a\[1\]: must be string"),
    ({"fallbacks": {"a": ["a"]}}, r"fallbacks.a\[0\]: a model cannot fall back to itself"),
    ({"tasks": [{"task": "m", "patterns": ["(unclosed"]}]}, r"tasks\[0\].patterns\[0\]: not a valid regular"),
    ({"models": {"a": {"provider": "openai", "api_name": "x", "api_key": "sk-1"}}}, "models.a.api_key: unknown field"),
    ({"models": {"a": {"provider": "openai", "api_name": "x", "api_key_env": "sk-live 1"}}},
     r"models.a.api_key_env: does not match \^\[A-Za-z_\]\[A-Za-z0-9_\]\*\$$"),
    ({"retry": {"timeout": 0}}, "retry.timeout: must be a positive number, got 0"),
    ({"models": {}}, "models: must not be empty"),
    ({"balancer": {"strategy": "fastest"}}, "balancer.strategy: 'fastest' is not one of"),
    ({"cascade": {"stages": [{"models": ["b"], "threshold": "high"}]}}, r"cascade.stages\[0\].threshold: must be number"),
    ({"cascade": {"stages": [{"models": ["b"]}], "per_task": {"m": [{"models": ["q"]}]}}},
     r"cascade.per_task.m\[0\].models\[0\]: .q. is not a model"),
    ({"surprise": 1}, "surprise: unknown field"),
])
def test_validation_names_the_field(change, path):
    with pytest.raises(RoutingTableError, match=path):
        validate({**BASE, **change})


CANARY = "sk-proj-CANARY-7f3a9c1e5b2d4f60a8c7e9b1d3f5a7c9"


@pytest.mark.parametrize("where", [
    ("models", "a", "api_key_env"),                      # a key pasted where its variable's name goes
    ("models", "a", "deployments", 0, "api_key_env"),
])
def test_a_key_pasted_into_a_table_is_never_echoed(tmp_path, where):
    """The validator names the field and the pattern; the value, which may be a key, is in no message
    (nor in the error's args, its repr or a traceback a log would record)."""
    import traceback

    doc = json.loads(json.dumps(BASE))
    doc["models"]["a"]["deployments"] = [{"name": "east"}]
    node = doc
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = CANARY
    path = ".".join(str(p) for p in where).replace(".0.", "[0].")
    with pytest.raises(RoutingTableError, match=f"{re.escape(path)}: does not match ") as err:
        validate(doc)
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.args)
    assert CANARY not in "".join(traceback.format_exception(err.value))
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(RoutingTableError) as err:
        Router.load(p)
    assert str(p) in str(err.value) and CANARY not in str(err.value)
    for value in ([CANARY], {"k": CANARY}, 12345):  # a wrong type at a secret's field: not quoted either
        node[where[-1]] = value
        with pytest.raises(RoutingTableError) as err:
            validate(doc)
        assert CANARY not in str(err.value) and "12345" not in str(err.value)


def test_load_names_the_file(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps({**BASE, "default": "nope"}))
    with pytest.raises(RoutingTableError, match=f"{p}: default: 'nope'"):
        Router.load(p)
    p.write_text("{not json")
    with pytest.raises(RoutingTableError, match="not valid JSON"):
        Router.load(p)


# --- decisions ----------------------------------------------------------------------------------------
def test_task_order_default_task_and_explicit_task():
    r = Router({**BASE, "tasks": [{"task": "code", "patterns": [r"\bdef\b"]}, {"task": "math", "patterns": [r"\d"]}],
                "default_task": "chat", "routes": {"math": "b", "chat": "b"}})
    assert r.decide("def f(): return 1").task == "code"      # first task in order wins
    assert r.route("def f(): return 1") == "a"                # code has no route: default
    assert r.route("2") == "b"
    assert r.decide("hi").task == "chat" and r.route("hi") == "b"
    assert r.route("def f", task="math") == "b"


def test_context_window_fallbacks_and_messages():
    doc = {**BASE, "models": {**BASE["models"], "a": {"provider": "openai", "api_name": "x", "context_window": 50},
                              "c": {"provider": "openai", "api_name": "z", "context_window": 200}},
           "context_window_fallbacks": {"a": ["b", "c"]}, "output_reserve": 10}
    doc["models"]["b"] = {"provider": "openai", "api_name": "y", "context_window": 100}
    r = Router(doc)
    assert r.route("short") == "a"
    assert r.route("word " * 60) in ("b", "c")
    assert r.route("word " * 150) == "c"
    with pytest.raises(NoModelFitsError, match="do not fit"):
        r.route("word " * 400)
    msgs = [{"role": "system", "content": "word " * 60}, {"role": "user", "content": "hi"}]
    assert r.route(msgs) in ("b", "c")   # every message counts toward the window
    assert estimate_tokens("") == 0


# --- round trips on the bundled data ------------------------------------------------------------------
@pytest.fixture(scope="module")
def zeroeval():
    from routerlab import datasets

    ds = datasets.load("zeroeval")
    train, _ = ds.split(0.5, seed=0)
    return ds, train


def _round_trip(router, ds, tmp_path, *, use_task=False):
    path = export.write(export.document_from_router(router), tmp_path, ["json"])["json"]
    runtime = Router.load(path)
    expected = np.asarray(router.route_many(ds.prompts), dtype=object)
    tasks = ds.prompts["task"].tolist() if use_task else [None] * len(ds.prompts)
    got = np.array([runtime.route(p, task=t) for p, t in zip(ds.prompts["prompt"], tasks)], dtype=object)
    diff = np.flatnonzero(got != expected)
    assert diff.size == 0, f"{diff.size} of {len(got)} differ, e.g. {ds.prompts['prompt'].iloc[diff[0]][:80]!r}: " \
                           f"runtime {got[diff[0]]}, notebook {expected[diff[0]]}"
    return runtime


def test_round_trip_task_router_patterns(zeroeval, tmp_path):
    from routerlab.routers.task import TaskRouter

    ds, train = zeroeval
    router = TaskRouter().fit(train)
    runtime = _round_trip(router, ds, tmp_path)
    assert runtime.default_task == router.default_task
    assert [t for t, _ in runtime._tasks] == list(router._patterns())


def test_round_trip_task_router_labels(zeroeval, tmp_path):
    from routerlab.routers.task import TaskRouter

    ds, train = zeroeval
    router = TaskRouter(task_field="task").fit(train)
    assert len(set(router.routing_table.routes.values())) >= 2
    _round_trip(router, ds, tmp_path, use_task=True)


def test_round_trip_fixed_router(zeroeval, tmp_path):
    from routerlab.routers import FixedRouter

    ds, _ = zeroeval
    _round_trip(FixedRouter("claude-3-haiku"), ds, tmp_path)


def test_round_trip_context_window_router(zeroeval, tmp_path):
    """gemma-2-2b's 8,192 tokens minus a 7,900-token output budget: longer prompts go to the fallback."""
    from routerlab.routers import ContextWindowRouter, FixedRouter

    ds, _ = zeroeval
    router = ContextWindowRouter(FixedRouter("gemma-2-2b"), max_output_tokens=7900, fallbacks=["gemini-1.5-flash"])
    runtime = Router(export.document_from_router(router))
    expected = np.asarray(router.route_many(ds.prompts), dtype=object)
    assert 0 < (expected == "gemini-1.5-flash").sum() < len(expected)   # the window bites on some prompts
    got = [runtime.route(r.messages_as_dicts()) for r in ds.requests()]
    assert got == expected.tolist()


def test_learned_router_exports_its_per_task_table(zeroeval):
    from routerlab.routers import LearnedRouter

    ds, train = zeroeval
    router = LearnedRouter(k=16, lam=0.2).fit(train)
    with pytest.raises(ConfigError, match="not exportable"):
        export.document_from_router(router)
    doc = export.document_from_router(router, data=train)
    assert doc["learned"]["exportable"] is False and doc["learned"]["thresholds"]["lam"] == 0.2
    assert "kNN" in doc["learned"]["note"]
    runtime = Router(doc)
    picks = np.asarray(router.route_many(train.prompts), dtype=object)
    got = np.array([runtime.route(p, task=t) for p, t in zip(train.prompts["prompt"], train.prompts["task"])])
    # the per-task table is what the router reduces to: it agrees where the router is per-task constant
    assert (got == picks).mean() == pytest.approx(doc["provenance"]["agreement"])
    for task in doc["routes"]:
        sel = (train.prompts["task"] == task).to_numpy()
        values, counts = np.unique(picks[sel], return_counts=True)
        assert doc["routes"][task] == values[np.argmax(counts)]


def test_round_trip_cascade_first_stage(zeroeval, tmp_path):
    """Each task's first stage (what the runtime routes to) and every stage, as the fitted cascade has them;
    and in a replayed run every prompt's calls include the runtime's first-stage choice."""
    from routerlab import Experiment
    from routerlab.routers import CascadeRouter

    ds, _ = zeroeval
    small_train, test = ds.split(0.8, seed=1)
    cascade = CascadeRouter().fit(small_train)
    doc = export.document_from_router(cascade)
    assert doc["cascade"]["signal"] == "agreement" and doc["cascade"]["min_votes"] == 2
    runtime = Router.load(export.write(doc, tmp_path, ["json"])["json"])
    for task in ds.tasks:
        assert runtime.cascade(task) == [tuple(g) for g in cascade.stages_for(task)]
    got = [runtime.route(p, task=t) for p, t in zip(ds.prompts["prompt"], ds.prompts["task"])]
    assert got == [cascade.stages_for(t)[0][0] for t in ds.prompts["task"]]
    res = Experiment(test, {"cascade": cascade}, store=None).run(progress=False)
    prompts = test.prompts.set_index("prompt_id")["prompt"]
    for pid, task, called in zip(res.df["prompt_id"], res.df["task"], res.df["models_called"]):
        assert set(runtime.cascade(task)[0]) <= set(called.split("|"))
        assert runtime.route(prompts[pid], task=task) in called.split("|")
