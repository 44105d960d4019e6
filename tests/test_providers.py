"""A provider is one module, registered in one list (smsgw/providers/__init__.py): taking it
out of the list removes its routes, its settings and its sender, and nothing else knows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_config

from smsgw.app import create_app
from smsgw.config import ConfigError, load
from smsgw.providers import PROVIDERS
from smsgw.providers.base import Provider
from smsgw.settings import Setting
from smsgw.worker import build_senders

ROOT = Path(__file__).resolve().parent.parent
WITHOUT_AT = tuple(p for p in PROVIDERS if p.name != "africastalking")


def test_taking_a_provider_out_of_the_list_removes_its_routes_settings_and_sender(tmp_path):
    config = load(None, environ={}, providers=WITHOUT_AT, overrides={
        "database.path": str(tmp_path / "x.db")})
    assert not any(key.startswith("providers.africastalking.") for key in config)
    assert not config.provider_enabled("africastalking")
    with pytest.raises(ConfigError, match="unknown setting 'providers.africastalking.api_key'"):
        load(None, environ={}, providers=WITHOUT_AT,
             overrides={"providers.africastalking.api_key": "x"})
    with pytest.raises(ConfigError, match="providers.default must be one of local, twilio"):
        load(None, environ={}, providers=WITHOUT_AT,
             overrides={"providers.default": "africastalking"})
    rules = {rule.rule for rule in create_app(config).url_map.iter_rules()}
    assert "/webhooks/local/sms" in rules
    assert not any(rule.startswith("/webhooks/africastalking") for rule in rules)
    assert set(build_senders(config)) == {"local"}


def test_with_every_provider_each_has_its_routes_and_sender(tmp_path):
    config = make_config(tmp_path, **{"providers.local.enabled": True})
    rules = {rule.rule for rule in create_app(config).url_map.iter_rules()}
    for provider in PROVIDERS:
        assert any(rule == f"/webhooks/{provider.name}" or
                   rule.startswith(f"/webhooks/{provider.name}/") for rule in rules), provider
    assert set(build_senders(config)) == {p.name for p in PROVIDERS}
    for sender in build_senders(config).values():
        assert sender.max_recipients >= 1 and callable(sender.send_many)


def test_a_declaration_keeps_to_its_own_settings():
    def sender(settings):  # pragma: no cover - never built
        raise AssertionError

    with pytest.raises(ValueError, match="starts with providers.fake."):
        Provider("fake", (Setting("providers.fake.enabled", bool, False, "on"),
                          Setting("limits.other", int, 1, "not its own")), sender=sender)
    with pytest.raises(ValueError, match="declares no providers.fake.enabled"):
        Provider("fake", (), sender=sender)


def test_provider_knowledge_lives_only_in_the_providers_package():
    """The gateway, the worker, the config and the app name no provider."""
    for module in ("gateway.py", "worker.py", "config.py", "app.py", "webhooks.py",
                   "ussd_gateway.py"):
        text = (ROOT / "smsgw" / module).read_text()
        for name in ("twilio", "africastalking", "at_sms", "android", "gammu"):
            assert name not in text.lower(), f"smsgw/{module} names {name}"
