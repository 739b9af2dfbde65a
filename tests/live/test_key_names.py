"""A key pasted where the NAME of its environment variable belongs is refused, and never echoed.

Before: `api_key_env` was any string; a pasted key was accepted by the gateway config, then quoted by
the provider ("environment variable 'sk-...' is not set"), and the Gateway logged that message.
"""

from __future__ import annotations

import logging

import pytest

from routerlab.errors import ConfigError
from routerlab.live import Gateway, GatewayConfig
from routerlab.providers import make_provider

CANARY = "sk-live-CANARY-0123456789abcdef"


def _config(env: str) -> dict:
    return {"models": {"gpt-4o-mini": {"deployments": [
        {"name": "P1", "provider": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1",
         "api_key_env": env}]}}}


def test_the_gateway_config_refuses_a_key_in_place_of_its_variable_without_quoting_it():
    with pytest.raises(ConfigError) as err:
        GatewayConfig.from_dict(_config(CANARY), source="gateway.yaml")
    assert "gateway.yaml: models.gpt-4o-mini.deployments[0].api_key_env" in str(err.value)
    assert CANARY not in str(err.value) and CANARY not in repr(err.value.args)


def test_a_provider_refuses_it_too_and_says_what_to_do(caplog):
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as err:
        make_provider("openai", api_key_env=CANARY, deployment="P1")
    assert "not an environment variable name" in str(err.value) and "api_key_env='OPENAI_API_KEY'" in str(err.value)
    assert CANARY not in str(err.value) and CANARY not in caplog.text


def test_a_valid_name_that_is_not_set_is_named(monkeypatch, caplog):
    monkeypatch.delenv("ROUTERLAB_TEST_UNSET_KEY", raising=False)
    with caplog.at_level(logging.WARNING):
        gw = Gateway.from_config(_config("ROUTERLAB_TEST_UNSET_KEY"))
    assert "ROUTERLAB_TEST_UNSET_KEY" in caplog.text  # the deployment leaves rotation, and says why
    assert not gw.balancer.status("P1")[0]
