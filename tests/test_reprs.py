"""Issue 16: compact reprs (text and HTML) for Dataset, Outcomes, Results, Gateway and Catalog. Before:
``Dataset`` printed two pandas dumps (a frozen dataclass's default repr)."""

from __future__ import annotations

from pathlib import Path

import pytest

from routerlab import datasets
from routerlab.catalog import Catalog
from routerlab.harness.experiment import Experiment

ROOT = Path(__file__).resolve().parents[1]


def test_dataset_and_outcomes(zeroeval):
    assert repr(zeroeval) == "zeroeval: 2,840 prompts, 3 tasks, 9 models, 25,560 outcomes"
    one = zeroeval.filter(tasks=["gsm"], models=["gpt-4o"])
    assert repr(one) == "zeroeval: 1,319 prompts, 1 task, 1 model, 1,319 outcomes"
    out = repr(zeroeval.outcomes)
    assert out.startswith("Outcomes: 25,560 (2,840 prompts × 9 models), mean score 0.")
    html = zeroeval._repr_html_()
    assert html.count("<table") == 1 and "zeroeval: 2,840 prompts" in html
    assert all(t in html for t in zeroeval.tasks) and all(m in html for m in zeroeval.models)
    assert len(html) < 5_000 and "\n" not in repr(zeroeval)


def test_user_dataset_repr():
    ds = datasets.load(ROOT / "examples" / "support_data")
    assert repr(ds) == "support_data: 24 prompts, 2 tasks, 3 models, 72 outcomes"


def test_catalog():
    text = repr(Catalog.default())
    assert text.startswith("Catalog: 11 models, 5 providers (anthropic, gemini, groq, openai, openai-compatible)")
    assert "prices as of" in text and "\n" not in text
    html = Catalog.default()._repr_html_()
    assert "gpt-4o" in html and html.count("<tr") == 12 + 1  # header rows + one per model


def test_results(gsm_small):
    res = Experiment(gsm_small, models=["gpt-4o", "gpt-4o-mini"]).run(progress=False)
    text = repr(res)
    assert text.startswith("Results(zeroeval: 2 strategies × 120 prompts (240 rows), split all; best quality ")
    assert "\n" not in text
    assert "Results(" not in res._repr_html_() and "2 strategies × 120 prompts" in res._repr_html_()


def test_gateway_over_the_local_server(gsm_small):
    from routerlab.harness.local import local_gateway

    gw, srv = local_gateway(gsm_small, models=["gpt-4o-mini", "claude-3-haiku"])
    try:
        assert repr(gw) == "Gateway: 2 models, 2 deployments (anthropic 1, openai 1), weighted; all available"
        html = gw._repr_html_()
        assert "claude-3-haiku" in html and "<table" in html
    finally:
        srv.close()


def test_gateway_without_keys_says_which_deployments_are_out(monkeypatch):
    from routerlab.live.gateway import Gateway

    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "GROQ_API_KEY_2"):
        monkeypatch.delenv(var, raising=False)
    gw = Gateway.from_config(ROOT / "examples" / "gateway.yaml")
    text = repr(gw)
    assert text.startswith("Gateway: 6 models, 7 deployments (anthropic 2, groq 3, openai 2), weighted; 7 not available")
    assert "openai-4o" in text
