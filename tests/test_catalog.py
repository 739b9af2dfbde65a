from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from routerlab.catalog import CAPABILITIES, Catalog, ModelDeprecationWarning
from routerlab.errors import ConfigError, UnknownModelError

from helpers import catalog_entry as _entry

# the raw measurements live in ../shared beside the checkout (a worktree sits one level deeper)
SHARED = next((p / "shared" / "datasets" / "llmperf_latency" / "individual" for p in Path(__file__).resolve().parents
               if (p / "shared" / "datasets" / "llmperf_latency").is_dir()), Path("/nonexistent"))
WRITE_UP_MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-opus", "claude-3.5-sonnet", "claude-3-haiku",
                   "gemini-1.5-flash", "llama-3.1-70b", "llama-3.1-8b", "gemma-2-2b"]


def test_every_bundled_and_write_up_model_is_complete():
    cat = Catalog.default()
    for name in WRITE_UP_MODELS + ["gpt-4-1106-preview", "mixtral-8x7b"]:
        spec = cat[name]
        assert spec.price.input > 0 and spec.price.output > 0
        assert spec.price.as_of and spec.price.source
        assert spec.context_window >= 8192
        assert set(spec.capabilities) == set(CAPABILITIES)
        assert spec.latency.ttft_p50 > 0 and spec.latency.tps_p50 > 0
    assert cat["llama-3.1-70b"].provider == "groq" and cat["llama-3.1-8b"].provider == "groq"
    assert cat["gemma-2-2b"].price.estimated  # no first-party list price exists: said so


def test_cost_matches_list_price_by_hand():
    spec = Catalog.default()["gpt-4o"]
    assert spec.cost(1_000_000, 0) == pytest.approx(2.50)
    assert spec.cost(1_000, 2_000) == pytest.approx((1_000 * 2.50 + 2_000 * 10.00) / 1e6)
    arr = spec.cost(np.array([1, 2]), np.array([3, 4]))
    assert arr.shape == (2,)


def test_aliases_and_case_resolve():
    cat = Catalog.default()
    assert cat["Meta-Llama-3.1-70B-Instruct"].name == "llama-3.1-70b"
    assert cat["GPT-4O-2024-08-06"].name == "gpt-4o"
    assert "claude-3-5-sonnet-20240620" in cat


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownModelError) as err:
        Catalog.default()["gpt4o-mini"]
    msg = str(err.value)
    assert "'gpt-4o-mini'" in msg and "Did you mean" in msg
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


def test_environment_overrides_model_name(monkeypatch):
    cat = Catalog.default()
    monkeypatch.setenv("ROUTERLAB_MODEL_GPT_4O", "gpt-4o-2024-11-20")
    assert cat["gpt-4o"].api_name == "gpt-4o-2024-11-20"
    monkeypatch.setenv("ROUTERLAB_MODEL_GPT_4O", "gpt-4o-mini")  # point the name at another entry
    assert cat["gpt-4o"].name == "gpt-4o-mini"


def test_deprecated_model_warns_with_replacement():
    cat = Catalog.default()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cat.get("claude-3.5-sonnet")
    assert any(issubclass(w.category, ModelDeprecationWarning) and "claude-sonnet-4-5" in str(w.message)
               for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cat.get("gpt-4o-mini")  # not deprecated: no warning


def test_user_catalog_file_and_bad_field(tmp_path):
    good = {"models": {"my-model": {"provider": "openai", "context": 32000,
                                    "price": {"input": 1, "output": 2, "as_of": "2026-01-01", "source": "me"},
                                    "capabilities": {c: 5 for c in CAPABILITIES},
                                    "latency": {"ttft_p50": 0.3, "ttft_sigma": 0.2, "tps_p50": 50, "tps_sigma": 0.1}}}}
    f = tmp_path / "cat.yaml"
    f.write_text(yaml.safe_dump(good))
    merged = Catalog.default().merge(Catalog.from_file(f))
    assert merged["my-model"].cost(1e6, 1e6) == pytest.approx(3.0)
    bad = json.loads(json.dumps(good))
    del bad["models"]["my-model"]["context"]
    f.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"models\.my-model\.context: is required"):
        Catalog.from_file(f)
    bad["models"]["my-model"]["context"] = 1
    bad["models"]["my-model"]["capabilities"]["telepathy"] = 3
    f.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="telepathy"):
        Catalog.from_file(f)


@pytest.mark.skipif(not SHARED.is_dir(), reason="raw llmperf measurements are not beside this checkout")
def test_measured_latency_profiles_match_llmperf():
    """Profiles that claim an llmperf basis must reproduce its medians and spread (log-normal fit)."""
    for spec in Catalog.default():
        basis = spec.latency.basis
        if spec.latency.estimated or not basis.startswith("llmperf_latency/"):
            continue
        rows = [r for r in json.loads((SHARED / (basis.split("/")[1] + ".json")).read_text()) if not r["error_code"]]
        ttft = np.array([r["ttft_s"] for r in rows])
        tps = np.array([r["request_output_throughput_token_per_s"] for r in rows])
        assert spec.latency.ttft_p50 == pytest.approx(np.median(ttft), rel=0.05)
        assert spec.latency.tps_p50 == pytest.approx(np.median(tps), rel=0.05)
        sigma = math.log(np.quantile(ttft, 0.9) / np.median(ttft)) / 1.2816
        assert spec.latency.ttft_sigma == pytest.approx(sigma, abs=0.05)


@pytest.mark.parametrize("path, value, expected", [
    ("price.input", -0.5, "price.input: must be at least 0, got -0.5"),
    ("price.output", "free", "price.output: must be a number, got 'free'"),
    ("price.cached_input", -1, "price.cached_input: must be at least 0, got -1"),
    ("context", -128000, "context: must be a positive number, got -128000"),
    ("context", "128 thousand", "context: must be a whole number, got '128 thousand'"),
    ("max_output", 0, "max_output: must be a positive number, got 0"),
    ("latency.tps_p50", 0, "latency.tps_p50: must be a positive number, got 0"),
    ("latency.ttft_p50", -0.1, "latency.ttft_p50: must be a positive number, got -0.1"),
    ("latency.ttft_sigma", float("nan"), "latency.ttft_sigma: must be a finite number, got nan"),
    ("price.input", True, "price.input: must be a number, not true/false"),
    ("capabilities.reasoning", 11, "capabilities.reasoning: must be at most 10, got 11"),
    ("deprecated", "someday", "deprecated: 'someday' is not a date: write it as YYYY-MM-DD"),
    ("price.as_of", "yesterday", "price.as_of: 'yesterday' is not a date: write it as YYYY-MM-DD"),
    ("price.as_of", "2024-13-01", "price.as_of: '2024-13-01' is not a date"),
    ("price.as_of", 20240901, "price.as_of: must be"),
    ("provider", "", "provider: must not be empty"),
    ("provider", "opneai", "provider: 'opneai' is not a provider routerlab knows; did you mean 'openai'?"),
    ("provider", "acme", "provider: 'acme' is not a provider routerlab knows; known providers: openai,"),
    ("pricing", {"input": 1}, ": unknown field(s) ['pricing']; known fields: ['aliases', 'api_name', 'capabilities'"),
    ("price.usd", 1, "price: unknown field(s) ['usd']; known fields: ['as_of', 'cache_write', 'cached_input',"),
])
def test_bad_catalog_field_names_file_and_field_path(tmp_path, path, value, expected):
    """One line per problem, in the words of every routerlab configuration: ``file: models.<name>.<path>: <what>``
    (an unknown field at the object holding it, with the known ones)."""
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({"models": {"good": _entry(), "acme-1": _entry(**{path: value})}}))
    with pytest.raises(ConfigError) as err:
        Catalog.from_file(f)
    msg = str(err.value)
    assert msg.startswith(f"{f}: models.acme-1"), msg
    assert f"{f}: models.acme-1{'' if expected.startswith(':') else '.'}{expected}" in msg, msg
    assert "models.good" not in msg  # only the bad entry is reported


def test_every_bad_field_is_reported_at_once(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({"models": {"m": _entry(**{"price.input": -1, "context": -2})}}))
    with pytest.raises(ConfigError) as err:
        Catalog.from_file(f)
    assert "models.m.price.input" in str(err.value) and "models.m.context" in str(err.value)


def test_context_written_with_a_k_or_m_suffix_is_thousands_or_millions():
    cat = Catalog.from_dict({"models": {"a": _entry(context="128k"), "b": _entry(context="1M"),
                                        "c": _entry(context="1.5k")}})
    assert cat["a"].context_window == 128_000 and cat["b"].context_window == 1_000_000
    assert cat["c"].context_window == 1_500
    with pytest.raises(ConfigError, match="models.d.context"):
        Catalog.from_dict({"models": {"d": _entry(context="0.0001k")}})


def test_yaml_dates_are_kept_as_text():
    cat = Catalog.default()
    assert cat["gpt-4o"].price.as_of == "2024-10-01" and cat["claude-3-opus"].deprecated == "2026-01-05"


def test_cached_input_price_and_cost_signature():
    """Cached and cache-write tokens are counted inside input_tokens (OpenAI's convention)."""
    cat = Catalog.from_dict({"models": {
        "mini": _entry(**{"price.input": 0.15, "price.output": 0.60, "price.cached_input": 0.075}),
        "plain": _entry(**{"price.input": 0.15, "price.output": 0.60})}})
    # gpt-4o-mini's published prices: 2,006 prompt tokens of which 1,920 cached, 300 output
    assert cat["mini"].cost(2006, 300, cached_tokens=1920) == pytest.approx(0.0003369, abs=1e-12)
    # no cached price published: the input price applies
    assert cat["plain"].cost(2006, 300, cached_tokens=1920) == pytest.approx(cat["plain"].cost(2006, 300))
    with_write = Catalog.from_dict({"models": {"w": _entry(**{"price.input": 3.0, "price.output": 15.0,
                                                             "price.cached_input": 0.3,
                                                             "price.cache_write": 3.75})}})["w"]
    assert with_write.cost(1000, 0, cached_tokens=200, cache_write_tokens=300) == pytest.approx(
        (500 * 3.0 + 200 * 0.3 + 300 * 3.75) / 1e6)
    arr = with_write.cost(np.array([1000, 10]), np.array([0, 5]), cached_tokens=np.array([200, 0]))
    assert arr.shape == (2,)


def test_top_level_shape_is_checked(tmp_path):
    for data in ({}, {"models": {}}, {"models": []}, [1, 2]):
        with pytest.raises(ConfigError, match="models"):
            Catalog.from_dict(data, "x.yaml")
    with pytest.raises(ConfigError, match=r"x.yaml: unknown field\(s\) \['extra'\]; known fields: \['models', 'version'\]"):
        Catalog.from_dict({"models": {"m": _entry()}, "extra": 1}, "x.yaml")


def test_require_names_model_field_and_feature():
    cat = Catalog.default()
    assert cat.require("gpt-4o", "price", "list-price cost").name == "gpt-4o"
    with pytest.raises(UnknownModelError) as err:
        cat.require("acme-1", "latency", "simulated latency")
    assert err.value.model == "acme-1" and err.value.field == "latency"
    assert "'acme-1'" in str(err.value) and "'latency'" in str(err.value) and "simulated latency" in str(err.value)
    assert cat.canonical("acme-1", strict=False) == "acme-1"
    assert cat.canonical("GPT-4O", strict=False) == "gpt-4o"


def test_docstring_examples_run():
    import doctest

    import routerlab.catalog

    result = doctest.testmod(routerlab.catalog, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0


def test_catalog_and_gateway_config_share_one_known_provider_rule(tmp_path):
    """The catalog file and the gateway config check providers against the kinds routerlab has adapters for."""
    from routerlab._validation import PROVIDER_KINDS
    from routerlab.live.config import GatewayConfig
    from routerlab.providers import provider_kinds

    assert set(provider_kinds()) == set(PROVIDER_KINDS)
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({"models": {"acme-1": _entry(provider="opneai")}}))
    with pytest.raises(ConfigError) as in_catalog:
        Catalog.from_file(f)
    with pytest.raises(ConfigError) as in_gateway:
        GatewayConfig.from_dict({"models": {"gpt-4o": {"deployments": [{"provider": "opneai"}]}}})
    rule = "'opneai' is not a provider routerlab knows; did you mean 'openai'? known providers: "
    assert rule in str(in_catalog.value) and rule in str(in_gateway.value)
    for kind in PROVIDER_KINDS:  # every kind the gateway accepts is a valid catalog provider
        f.write_text(yaml.safe_dump({"models": {"acme-1": _entry(provider=kind)}}))
        assert Catalog.from_file(f)["acme-1"].provider == kind
