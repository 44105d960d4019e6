"""The local webhook fails closed, and the simulator acts only as simulated contacts whose
every message goes to the local provider (issue 12: nobody acts as someone else)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from support import LOCAL_AUTH, LOCAL_TOKEN, make_config, outbox_rows

import db
from db import contacts
from db import groups as groups_db
from smsgw.app import create_app
from smsgw.cli import main
from smsgw.config import SETTINGS, ConfigError
from smsgw.gateway import queue_message

BODY = {"from": "0712345678", "to": "local", "text": "HELP", "id": "m1"}


def local_only(tmp_path, **overrides):
    """The offline defaults: local is the default provider and nothing else is enabled."""
    values = {"providers.twilio.enabled": False, "providers.africastalking.enabled": False,
              "providers.android.enabled": False, "providers.local.token": ""}
    values.update(overrides)
    return make_config(tmp_path, **values)


def post(app, **kwargs):
    return app.test_client().post("/webhooks/local/sms", json=BODY, **kwargs)


def inbound_count(config) -> int:
    conn = db.connect(config["database.path"])
    try:
        return conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0]
    finally:
        conn.close()


def test_with_twilio_as_default_the_local_route_does_not_exist(tmp_path):
    config = make_config(tmp_path, **{"providers.default": "twilio",
                                      "providers.local.token": ""})
    response = post(create_app(config))
    assert response.status_code == 404
    assert inbound_count(config) == 0


def test_with_another_provider_enabled_and_no_token_the_route_refuses_even_loopback(tmp_path):
    config = make_config(tmp_path, **{"providers.local.token": ""})  # local default, AT + Twilio on
    response = post(create_app(config))
    assert response.status_code == 403
    assert b"providers.local.token" in response.data
    assert inbound_count(config) == 0


def test_enabling_local_beside_a_paying_default_without_a_token_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match="providers.local.token"):
        make_config(tmp_path, **{"providers.default": "twilio", "providers.local.enabled": True,
                                 "providers.local.token": ""})


@pytest.mark.parametrize("headers,status", [
    ({}, 403),
    ({"Authorization": "Bearer wrong-token"}, 403),
    ({"Authorization": f"Basic {LOCAL_TOKEN}"}, 403),
    ({"Authorization": f"Bearer {LOCAL_TOKEN}x"}, 403),
    (LOCAL_AUTH, 200),
])
def test_with_a_token_every_caller_needs_it(tmp_path, headers, status):
    config = make_config(tmp_path, **{"providers.default": "twilio",
                                      "providers.local.enabled": True})
    response = post(create_app(config), headers=headers,
                    environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == status
    assert inbound_count(config) == (1 if status == 200 else 0)


def test_offline_defaults_answer_this_machine(tmp_path):
    config = local_only(tmp_path)
    response = post(create_app(config))
    assert response.status_code == 200
    assert "PRICE" in response.get_json()["replies"][0]["text"]


@pytest.mark.parametrize("environ,headers", [
    ({"REMOTE_ADDR": "192.0.2.10"}, {}),
    ({"REMOTE_ADDR": "127.0.0.1"}, {"X-Forwarded-For": "127.0.0.1"}),
    ({"REMOTE_ADDR": "127.0.0.1"}, {"X-Real-IP": "198.51.100.3"}),
    ({"REMOTE_ADDR": "127.0.0.1"}, {"Forwarded": "for=198.51.100.3"}),
    ({"REMOTE_ADDR": "::ffff:10.0.0.4"}, {}),
])
def test_offline_defaults_refuse_other_machines_and_proxied_requests(tmp_path, environ, headers):
    config = local_only(tmp_path)
    response = post(create_app(config), headers=headers, environ_base=environ)
    assert response.status_code == 403
    assert b"only" in response.data
    assert inbound_count(config) == 0


def test_ipv6_loopback_counts_as_this_machine(tmp_path):
    response = post(create_app(local_only(tmp_path)), environ_base={"REMOTE_ADDR": "::1"})
    assert response.status_code == 200


@pytest.mark.parametrize("body,reason", [
    ("[" * 30_000 + "]" * 30_000, "nested too deeply"),
    ('{"a":' * 5_000 + "1" + "}" * 5_000, "nested too deeply"),
    ('{"from": "0712345678", "text": "\\ud800", "id": "x"}', "lone surrogate"),
    ('{"from": "0712345678", "text": "HELP", "id": "\\udfff"}', "lone surrogate"),
    ('{"from": "0712345678", "text": "HELP", "id": "x"', "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    ('{"from": "0712345678", "text": "HELP", "id": "' + "x" * 101 + '"}', "at most 100"),
])
def test_malformed_json_of_any_kind_is_a_400_with_its_reason(tmp_path, body, reason):
    config = local_only(tmp_path)
    response = create_app(config).test_client().post(
        "/webhooks/local/sms", data=body, content_type="application/json")
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert inbound_count(config) == 0


# ---------------------------------------------------------------------------- the simulator


def paying_config(tmp_path):
    """Twilio is the default: anything not meant for the simulator would cost money."""
    return make_config(tmp_path, **{"providers.default": "twilio",
                                    "limits.confirm_above_segments": 1000})


def sim(config, *args: str):
    """Run an smsgw command on this configuration (given as environment variables)."""
    env = {setting.env: _env(config[setting.key]) for setting in SETTINGS
           if config[setting.key] != setting.default}
    return CliRunner(env=env).invoke(main, list(args))


def _env(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_sim_flags_its_contact_and_its_reply_goes_to_the_local_provider(tmp_path):
    config = paying_config(tmp_path)
    result = sim(config, "sim", "HELP", "--from", "0799000001", "--json")
    assert result.exit_code == 0, result.output
    conn = db.connect(config["database.path"])
    contact = contacts.find(conn, "+254799000001")
    assert contact is not None and contact.simulated
    assert {row["provider"] for row in outbox_rows(conn)} == {"local"}


def test_sim_refuses_to_act_as_a_real_contact(tmp_path):
    config = paying_config(tmp_path)
    create_app(config)
    conn = db.connect(config["database.path"])
    with db.transaction(conn):
        contacts.get_or_create(conn, "+254799000002")
    result = sim(config, "sim", "STOP", "--from", "0799000002")
    assert result.exit_code != 0
    assert "real contact" in result.output
    assert not contacts.find(conn, "+254799000002").opted_out
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0
    result = sim(config, "ussd", "4", "--from", "0799000002")
    assert result.exit_code != 0 and "real contact" in result.output


def test_a_simulated_leaders_broadcast_reaches_real_members_only_through_local(tmp_path):
    config = paying_config(tmp_path)
    assert sim(config, "sim", "HELP", "--from", "0799000003").exit_code == 0  # now simulated
    conn = db.connect(config["database.path"])
    with db.transaction(conn):
        group = groups_db.create(conn, code="KIMA", name="Kima", market_id=None, region=None,
                                 products=["MAIZE"])
        leader = contacts.find(conn, "+254799000003")
        groups_db.set_member(conn, group.id, leader.id, role="leader")
        for n in range(3):
            real = contacts.get_or_create(conn, f"+25471100000{n}")
            groups_db.set_member(conn, group.id, real.id)
    result = sim(config, "sim", "BCAST Meeting Friday", "--from", "0799000003")
    assert result.exit_code == 0, result.output
    rows = [r for r in outbox_rows(conn) if r["kind"] == "broadcast"]
    assert len(rows) == 3
    assert {r["provider"] for r in rows} == {"local"}


def test_anything_queued_for_a_simulated_contact_goes_to_the_local_provider(tmp_path):
    config = paying_config(tmp_path)
    create_app(config)
    conn = db.connect(config["database.path"])
    with db.transaction(conn):
        contacts.simulated(conn, "+254799000004")
        to_sim = queue_message(conn, to_number="+254799000004", text="bulletin", kind="bulletin",
                               provider="twilio", now=db.timeutil.utcnow())
        to_real = queue_message(conn, to_number="+254799000005", text="bulletin",
                                kind="bulletin", provider="twilio", now=db.timeutil.utcnow())
    providers = dict(conn.execute("SELECT id, provider FROM outbox"))
    assert providers == {to_sim: "local", to_real: "twilio"}


def test_the_readme_demo_still_works_on_the_offline_defaults(tmp_path):
    config = local_only(tmp_path)
    result = sim(config, "sim", "HELP", "--from", "0712345678")
    assert result.exit_code == 0 and "PRICE" in result.output
    result = sim(config, "ussd", "1", "--from", "0712345678")
    assert result.exit_code == 0 and result.output.startswith("CON ")


def test_refusals_say_why_as_json(tmp_path):
    app = create_app(local_only(tmp_path))
    refused = post(app, headers={"X-Forwarded-For": "198.51.100.3"})
    assert refused.status_code == 403 and refused.is_json
    assert "only this machine" in refused.get_json()["error"]
    missing = app.test_client().post("/webhooks/twilio/sms", data={})
    assert missing.status_code == 404 and "twilio is not enabled" in missing.get_json()["error"]
