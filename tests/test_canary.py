"""The canary: full flows with canary secrets and canary phone numbers written every way
people write them, then a search of the logs, the errors stored in the outbox and the
command line's output for any of them (issue 12). None may be found."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from click.testing import CliRunner
from support import twilio_inbound
from test_senders import FakeTwilioHttp
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

import db
from db.export import EXPORTABLE
from smsgw import logsafe
from smsgw.app import create_app
from smsgw.cli import main
from smsgw.config import SETTINGS
from smsgw.config import load as load_config
from smsgw.providers.twilio_sms import TwilioSender
from smsgw.worker import Worker, build_senders

PUBLIC_URL = "https://canary.example.org"
SECRETS = {
    "providers.twilio.account_sid": "ACca9a7c0ffee0ca9a7c0ffee0ca9a7c0f",
    "providers.twilio.auth_token": "canaryTwilioToken0123456789abcdef",
    "providers.africastalking.api_key": "atsk_canaryApiKey0123456789",
    "providers.africastalking.callback_token": "canary-at-callback-token",
    "providers.local.token": "canary-local-bearer-token",
}
# Each canary number (its national digits) and how it is written where it comes in.
NUMBERS = {
    "799111222": "+254799111222",       # leader, added by an admin
    "799111333": "0799 111 333",        # buyer, added by an admin
    "799111444": "0799-111-444",        # member, joins by Twilio SMS
    "799111555": "(0799) 111-555",      # farmer, by Africa's Talking
    "799111666": "+254 799 111 666",    # farmer, by the local webhook
    "799111777": "254799111777",        # farmer, by USSD
}


def written_anyhow(digits: str) -> re.Pattern[str]:
    """The national digits with any separators between them (spaces, dashes, dots...)."""
    return re.compile(r"[\s\-.()]*".join(digits))


@pytest.fixture
def canary(tmp_path):
    values = {setting.key: setting.default for setting in SETTINGS} | SECRETS | {
        "app.public_url": PUBLIC_URL, "database.path": str(tmp_path / "canary.db"),
        "providers.default": "twilio", "providers.twilio.from_number": "+15005550006",
        "providers.africastalking.enabled": True, "providers.local.enabled": True,
        "logging.level": "DEBUG", "limits.confirm_above_segments": 1000,
    }
    return load_config(None, environ={}, overrides=values)


@pytest.fixture
def log_text():
    """Everything logged, through the service's own redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def cli(canary, *args: str) -> str:
    env = {s.env: ("true" if v is True else "false" if v is False else str(v))
           for s in SETTINGS if (v := canary[s.key]) != s.default}
    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    return result.output


def test_no_secret_and_no_number_leaks(canary, log_text, clock):
    app = create_app(canary, clock=clock)   # installs the filter on every root handler
    logsafe.setup("DEBUG", canary.secrets())
    client = app.test_client()
    outputs = [cli(canary, "groups", "add", "KIMA", "Kima Farmers", "--products", "maize",
                   "--approval", "--share-leader-numbers"),
               cli(canary, "groups", "leader", "KIMA", NUMBERS["799111222"]),
               cli(canary, "buyers", "add", NUMBERS["799111333"], "Unga Millers")]

    # Twilio: a member asks to join (leaders get the request), signed as Twilio signs.
    form = twilio_inbound("JOIN KIMA", sender="+254799111444")
    url = PUBLIC_URL + "/webhooks/twilio/sms"
    signature = RequestValidator(SECRETS["providers.twilio.auth_token"]).compute_signature(
        url, form)
    assert client.post(url, data=form, headers={"X-Twilio-Signature": signature}).status_code \
        == 200
    # Africa's Talking: a message, and a report naming a number for an id never sent.
    token = SECRETS["providers.africastalking.callback_token"]
    at = {"id": "at-1", "from": NUMBERS["799111555"], "to": "21512", "text": "HELP",
          "date": "2026-11-22 11:30:00"}
    assert client.post(f"{PUBLIC_URL}/webhooks/africastalking/sms?token={token}",
                       data=at).status_code == 200
    report = {"id": "ATXid_unknown", "status": "Failed", "phoneNumber": "+254799111555",
              "failureReason": "UserInBlackList"}
    assert client.post(f"{PUBLIC_URL}/webhooks/africastalking/delivery?token={token}",
                       data=report).status_code == 200
    # Wrong tokens are logged as refusals: the attempt, never the value.
    assert client.post(f"{PUBLIC_URL}/webhooks/africastalking/sms?token={token}x",
                       data=at).status_code == 403
    # The local webhook, with an id that tries to forge a log line naming a number.
    bearer = {"Authorization": f"Bearer {SECRETS['providers.local.token']}"}
    local = {"from": NUMBERS["799111666"], "to": "local", "text": "PRICE MAIZE NAKURU",
             "id": "x\n2026-12-01 ERROR forged +254799111666"}
    for _ in range(2):   # the repeat is logged as a duplicate, with its id
        assert client.post("/webhooks/local/sms", json=local, headers=bearer).status_code == 200
    # USSD, and the leader approving the member by the number as they would type it.
    ussd = {"sessionId": "ATUid_canary", "serviceCode": "*384#", "networkCode": "63902",
            "phoneNumber": NUMBERS["799111777"], "text": ""}
    assert client.post(f"{PUBLIC_URL}/webhooks/africastalking/ussd?token={token}",
                       data=ussd).status_code == 200
    approve = {"from": "+254799111222", "to": "local", "text": "APPROVE KIMA 0799-111-444",
               "id": "approve-1"}
    assert client.post("/webhooks/local/sms", json=approve, headers=bearer).status_code == 200
    order = {"from": "+254799111333", "to": "local", "id": "order-1",
             "text": "ORDER 100 BAGS MAIZE @3400"}
    assert client.post("/webhooks/local/sms", json=order, headers=bearer).status_code == 200

    # The worker sends through the real Twilio SDK; Twilio refuses, quoting the number.
    refusal = Response(400, json.dumps({
        "code": 21211, "status": 400, "more_info": "https://www.twilio.com/docs/errors/21211",
        "message": "The 'To' number +254799111222 is not a valid phone number."}))
    senders = build_senders(canary, twilio=TwilioSender(
        canary, http_client=FakeTwilioHttp(refusal)))
    conn = db.connect(canary["database.path"])
    worker = Worker(canary, senders, clock=clock)
    while worker.run_once(conn):
        pass
    errors = [row[0] for row in conn.execute("SELECT error FROM outbox WHERE error IS NOT NULL")]
    assert errors, "the fake provider refused nothing: the test would prove nothing"

    code = conn.execute("SELECT code FROM orders").fetchone()[0]
    outputs += [cli(canary, "config"), cli(canary, "outbox", "list"),
                cli(canary, "outbox", "list", "--json"), cli(canary, "groups", "list"),
                cli(canary, "groups", "list", "--json"), cli(canary, "buyers", "list"),
                cli(canary, "orders", "list"), cli(canary, "orders", "show", code),
                cli(canary, "bulletins", "runs"), cli(canary, "prune", "--dry-run"),
                *(cli(canary, "export", table, "--format", form)
                  for table in EXPORTABLE for form in ("csv", "json")),
                cli(canary, "contacts", "forget", NUMBERS["799111555"], "--yes")]

    logged = log_text.getvalue()
    assert "forged" in logged and "\n2026-12-01 ERROR forged" not in logged
    assert "403" in logged                      # the refusal was logged, without its token
    places = {"log": logged, "stored errors": "\n".join(errors),
              "command line": "\n".join(outputs)}
    for where, text in places.items():
        for key, secret in SECRETS.items():
            assert secret not in text, f"{key} in {where}"
        for digits in NUMBERS:
            found = written_anyhow(digits).search(text)
            assert found is None, f"{digits} in {where}: ...{text[max(0, found.start() - 60):found.end() + 20]}"
