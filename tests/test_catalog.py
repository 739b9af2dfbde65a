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

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "llmperf_latency" / "individual"
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
    with pytest.raises(ConfigError, match="'context'"):
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
