"""Every route fails closed: a matrix generated from app.url_map, for each way a deployment
can be configured (issue 12). A route added without a credential check fails this test:
without credentials, or with wrong ones, nothing is stored and the answer is 401, 403 or 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from support import (
    ANDROID_KEY,
    AT_TOKEN,
    LOCAL_TOKEN,
    PUBLIC_URL,
    concrete_path,
    make_config,
    twilio_inbound,
    twilio_signature,
)

import db
from smsgw.app import create_app

# Routes anyone may call: they read nothing private and change nothing.
PUBLIC = {("GET", "/healthz")}
REFUSED = {401, 403, 404}

# A valid body for each route, as its provider sends it.
BODIES = {
    "/webhooks/twilio/sms": ("form", twilio_inbound("HELP")),
    "/webhooks/twilio/status": ("form", {"MessageSid": "SM0000", "MessageStatus": "delivered",
                                          "To": "+254722123456", "AccountSid": "AC00"}),
    "/webhooks/africastalking/sms": ("form", {"id": "at-1", "from": "+254722123456",
                                              "to": "21512", "text": "HELP",
                                              "date": "2026-11-22 11:30:00"}),
    "/webhooks/africastalking/delivery": ("form", {"id": "ATXid_1", "status": "Success",
                                                   "phoneNumber": "+254722123456"}),
    "/webhooks/africastalking/ussd": ("form", {"sessionId": "ATUid_1", "serviceCode": "*384#",
                                               "phoneNumber": "+254722123456",
                                               "networkCode": "63902", "text": ""}),
    "/webhooks/africastalking/ussd/events": ("form", {
        "sessionId": "ATUid_1", "serviceCode": "*384#", "phoneNumber": "+254722123456",
        "networkCode": "63902", "status": "Success", "date": "2026-11-22 11:30:00"}),
    "/webhooks/local/sms": ("json", {"from": "0722123456", "to": "local", "text": "HELP",
                                     "id": "m1"}),
    "/webhooks/android": ("json", {"id": "ev1", "webhookId": "w1", "deviceId": "d1",
                                   "event": "sms:received",
                                   "payload": {"messageId": "a1b2", "message": "HELP",
                                               "sender": "+254722123456",
                                               "receivedAt": "2026-11-23T12:00:00.000+03:00"}}),
}
BODIES["/webhooks/android/phone"] = BODIES["/webhooks/android"]   # the first phone by name

# Deployments: which provider is the default and which others are enabled.
DEPLOYMENTS = {
    "offline": {"providers.twilio.enabled": False, "providers.africastalking.enabled": False,
                "providers.android.enabled": False, "providers.local.token": ""},
    "twilio": {"providers.default": "twilio", "providers.africastalking.enabled": False,
               "providers.android.enabled": False, "providers.local.token": ""},
    "africastalking": {"providers.default": "africastalking", "providers.twilio.enabled": False,
                       "providers.android.enabled": False, "providers.local.token": ""},
    "android": {"providers.default": "android", "providers.twilio.enabled": False,
                "providers.africastalking.enabled": False, "providers.local.token": ""},
    "everything": {"providers.local.enabled": True},
}


def provider_of(path: str) -> str:
    return path.split("/")[2] if path.startswith("/webhooks/") else ""


def credentials(path: str, kind: str, body: dict[str, str], *, right: bool) -> dict:
    """Request arguments carrying right (or wrong) credentials for a route's provider."""
    provider = provider_of(path)
    if provider == "twilio":
        token = None if right else "0" * 32
        signature = twilio_signature(PUBLIC_URL + path, body, **({"token": token} if token else {}))
        return {"path": PUBLIC_URL + path, "headers": {"X-Twilio-Signature": signature}}
    if provider == "africastalking":
        return {"path": f"{PUBLIC_URL}{path}?token={AT_TOKEN if right else 'guess'}"}
    if provider == "local":
        return {"path": path,
                "headers": {"Authorization": f"Bearer {LOCAL_TOKEN if right else 'guess'}"}}
    if provider == "android":
        raw = json.dumps(body).encode()
        stamp = str(int(time.time()))
        key = ANDROID_KEY if right else "guess"
        signature = hmac.new(key.encode(), raw + stamp.encode(), hashlib.sha256).hexdigest()
        return {"path": path, "data": raw,
                "headers": {"X-Signature": signature, "X-Timestamp": stamp,
                            "Content-Type": "application/json"}}
    raise AssertionError(f"{path}: a new route; add its credentials and body to this matrix")


def send(client, method: str, path: str, kind: str, body: dict, *, headers=None,
         environ=None, data: bytes | None = None):
    if data is not None:   # signed over these exact bytes
        return client.open(path, method=method, data=data, headers=headers or {},
                           environ_base=environ or {})
    if kind == "json":
        return client.open(path, method=method, json=body, headers=headers or {},
                           environ_base=environ or {})
    return client.open(path, method=method, data=body, headers=headers or {},
                       environ_base=environ or {})


def stored(config) -> int:
    conn = db.connect(config["database.path"])
    try:
        return sum(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                   for table in ("inbound", "ussd_sessions", "ussd_events", "status_events"))
    finally:
        conn.close()


def routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        # The console's routes need a logged-in session instead of a provider's credential:
        # tests/test_console_security.py holds every one of them to that, generated the same
        # way from app.url_map.
        if rule.endpoint == "static" or rule.endpoint.startswith("console."):
            continue
        path = concrete_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_every_route_refuses_callers_without_credentials(tmp_path, clock, deployment):
    config = make_config(tmp_path, **DEPLOYMENTS[deployment])
    app = create_app(config, clock=clock)
    client = app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.9"}   # another machine on the network
    for method, path in routes(app):
        if (method, path) in PUBLIC:
            continue
        kind, body = BODIES.get(path, ("form", {}))
        wrong = credentials(path, kind, body, right=False)
        for creds in ({"path": path}, wrong):
            response = send(client, method, creds["path"], kind, body,
                            headers=creds.get("headers"), environ=outside,
                            data=creds.get("data"))
            assert response.status_code in REFUSED, (deployment, method, path, creds,
                                                     response.status_code)
        assert stored(config) == 0, (deployment, path)


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_every_route_of_an_enabled_provider_answers_its_credentials(tmp_path, clock,
                                                                    deployment):
    config = make_config(tmp_path, **DEPLOYMENTS[deployment])
    app = create_app(config, clock=clock)
    client = app.test_client()
    for method, path in routes(app):
        if (method, path) in PUBLIC:
            continue
        kind, body = BODIES[path]
        creds = credentials(path, kind, body, right=True)
        if provider_of(path) == "local" and not config["providers.local.token"]:
            creds = {"path": path}   # the offline default: this machine, no token
        response = send(client, method, creds["path"], kind, body,
                        headers=creds.get("headers"), data=creds.get("data"))
        enabled = config.provider_enabled(provider_of(path))
        expected = 200 if enabled else 404
        assert response.status_code == expected, (deployment, path, response.get_data()[:200])


def test_the_public_routes_are_the_ones_listed(tmp_path, clock):
    app = create_app(make_config(tmp_path), clock=clock)
    assert PUBLIC <= set(routes(app))
    assert set(BODIES) == {path for method, path in routes(app)} - {p for _, p in PUBLIC}
