"""A provider is one module, registered in one list (smsgw/providers/__init__.py): taking it
out of the list removes its routes, its settings and its sender, and nothing else knows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_config

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
    config = make_config(tmp_path, **{"providers.local.enabled": True,
                                      "providers.modem.enabled": True})
    rules = {rule.rule for rule in create_app(config).url_map.iter_rules()}
    for provider in PROVIDERS:
        if provider.blueprint is None:   # polled by the worker (the modem): no webhook
            assert provider.poll is not None, provider
            continue
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


def test_a_polled_provider_hands_its_messages_and_reports_to_the_worker(tmp_path):
    """A provider that does not call our webhooks (a modem's spool folder) is polled by the
    worker; what it received is answered like a webhook's message, once."""
    from db.outbox import OutboxStatus
    from handlers.messages import InboundMessage
    from smsgw.providers.local_sms import LocalSender
    from smsgw.worker import Worker

    import db

    spool = [("in", "m1", "+254712345678", "HELP"), ("in", "m1", "+254712345678", "HELP")]

    def poll(settings, inbox):
        handled = 0
        while spool:
            kind, *rest = spool.pop(0)
            if kind == "in":
                message_id, sender, text = rest
                inbox.receive(InboundMessage("polled", message_id, sender, "", text,
                                             db.timeutil.utcnow()))
            else:
                inbox.report(rest[0], OutboxStatus.DELIVERED, "delivered")
            handled += 1
        return handled

    polled = Provider("polled", (Setting("providers.polled.enabled", bool, True, "on"),),
                      sender=LocalSender, poll=poll)
    config = load(None, environ={}, providers=(*PROVIDERS, polled),
                  overrides={"database.path": str(tmp_path / "p.db")})
    create_app(config)
    conn = db.connect(config["database.path"])
    worker = Worker(config, build_senders(config))
    assert worker.collect(conn) == 2
    rows = conn.execute("SELECT provider, kind, status FROM outbox").fetchall()
    assert [tuple(r) for r in rows] == [("polled", "reply", "queued")]   # one reply, not two
    worker.run_once(conn)
    sent_id = conn.execute("SELECT provider_message_id FROM outbox").fetchone()[0]
    spool.append(("report", sent_id))
    assert worker.collect(conn) == 1
    assert conn.execute("SELECT status FROM outbox").fetchone()[0] == "delivered"


def test_worker_once_collects_what_a_polled_provider_received_and_sends_the_reply(tmp_path,
                                                                                 monkeypatch):
    from click.testing import CliRunner

    from handlers.messages import InboundMessage
    from smsgw.cli import main
    from smsgw.providers import local_sms

    import db

    received = [InboundMessage("local", "spool-1", "+254712345678", "", "HELP",
                               db.timeutil.utcnow())]

    def poll(settings, inbox):
        while received:
            inbox.receive(received.pop())
        return 0

    polled = local_sms.DECLARATION.__class__(**{**local_sms.DECLARATION.__dict__, "poll": poll})
    providers = tuple(polled if p.name == "local" else p for p in PROVIDERS)
    import smsgw.config as configuration

    original = configuration.load
    monkeypatch.setattr(configuration, "load",
                        lambda *a, **k: original(*a, **{**k, "providers": providers}))
    result = CliRunner(env={"SMSGW_DATABASE_PATH": str(tmp_path / "o.db")}).invoke(
        main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert '"sent": 1' in result.output
