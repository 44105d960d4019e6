"""What tests share that is not a fixture: test secrets, the test configuration, a clock
tests can move, and helpers that post as each provider does. Tests import these from here
(`from support import ...`); fixtures live in conftest.py and are never imported."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator

import db
from smsgw import config as configuration

PUBLIC_URL = "https://gateway.example.com"
TWILIO_TOKEN = "f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
AT_TOKEN = "s3cret-callback-token"
AT_KEY = "atsk_0123456789abcdef"
LOCAL_TOKEN = "local-webhook-token-0123456789"
LOCAL_AUTH = {"Authorization": f"Bearer {LOCAL_TOKEN}"}
ANDROID_PASSWORD = "Xq7pL2vA"
ANDROID_KEY = "android-signing-key-0123456789"


class Clock:
    """A clock tests can move."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_config(tmp_path: Path, **overrides: Any) -> configuration.Config:
    """A configuration with every provider enabled and known test secrets."""
    values = {
        "app.public_url": PUBLIC_URL,
        "database.path": str(tmp_path / "test.db"),
        "providers.twilio.enabled": True,
        "providers.twilio.account_sid": TWILIO_SID,
        "providers.twilio.auth_token": TWILIO_TOKEN,
        "providers.twilio.from_number": "+15005550006",
        "providers.africastalking.enabled": True,
        "providers.africastalking.api_key": AT_KEY,
        "providers.africastalking.callback_token": AT_TOKEN,
        "providers.local.token": LOCAL_TOKEN,
        "providers.android.enabled": True,
        "providers.android.password": ANDROID_PASSWORD,
        "providers.android.signing_key": ANDROID_KEY,
        "logging.level": "WARNING",
    }
    values.update(overrides)
    return configuration.load(None, environ={}, overrides=values)


def kenya_config(kenya_db: Path, tmp_path: Path, **overrides: Any) -> configuration.Config:
    """The test configuration on this test's copy of the session's Kenya price database
    (the `kenya_db` fixture)."""
    shutil.copy(kenya_db, tmp_path / "test.db")
    return make_config(tmp_path, **overrides)


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """Sign as Twilio does, with the SDK's own validator."""
    return str(RequestValidator(token).compute_signature(url, params))


def twilio_inbound(body: str, sid: str = "SM0123456789abcdef0123456789abcdef",
                   sender: str = "+254722123456") -> dict[str, str]:
    """The form of a real Twilio inbound SMS webhook (reference 1.4)."""
    return {
        "ToCountry": "KE", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
        "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
        "Body": body, "FromCountry": "KE", "To": "+254711000000", "ToZip": "",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": TWILIO_SID, "From": sender,
        "ApiVersion": "2010-04-01",
    }


def post_twilio(client: FlaskClient, path: str, params: dict[str, str], *,
                url: str | None = None, signature: str | None = None) -> Any:
    """POST a form to the full public URL, signed over `url` (default: that same URL)."""
    full = PUBLIC_URL + path
    sig = signature if signature is not None else twilio_signature(url or full, params)
    return client.post(full, data=params, headers={"X-Twilio-Signature": sig})


def post_at(client: FlaskClient, path: str, params: dict[str, str], *,
            token: str | None = AT_TOKEN) -> Any:
    """POST an Africa's Talking callback form with (or without) the callback token."""
    query = f"?token={token}" if token is not None else ""
    return client.post(PUBLIC_URL + path + query, data=params)


def post_local(client: FlaskClient, text: str, msg_id: str = "m1",
               sender: str = "0712345678") -> Any:
    """POST a message to the offline provider's JSON webhook."""
    return client.post("/webhooks/local/sms", headers=LOCAL_AUTH,
                       json={"from": sender, "to": "local", "text": text, "id": msg_id})


def outbox_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every outbox row, oldest first."""
    return [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY id")]


def sent_message(conn: sqlite3.Connection, provider: str, provider_message_id: str) -> int:
    """An outbox message the provider has accepted under an id (for delivery-report tests)."""
    from db import outbox, transaction
    from db.outbox import OutboxStatus
    from db.timeutil import utcnow

    with transaction(conn):
        message_id = outbox.enqueue(conn, to_number="+254722123456", text="hi", provider=provider,
                                    kind="reply", encoding="GSM-7", segments=1, now=utcnow(),
                                    status=OutboxStatus.SENDING)
        outbox.mark_sent(conn, message_id, provider_message_id=provider_message_id, now=utcnow())
    return message_id


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20) -> object:
    """Poll `condition` until it is true (and return it), failing after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# A value for each variable part of a webhook route (the first Android phone's default name).
ROUTE_VALUES = {"device": "phone"}


def concrete_path(rule) -> str:
    """A Flask rule's path with each variable part given its value from ROUTE_VALUES."""
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<{name}>", ROUTE_VALUES[name])
    return path


def e164(local: str) -> str:
    """A Kenyan number written locally (0712345678) in E.164 (+254712345678)."""
    return "+254" + local[1:]


def market_id(conn: sqlite3.Connection, name: str) -> int:
    """The id of the market of that exact name."""
    return conn.execute("SELECT id FROM markets WHERE name = ?", (name,)).fetchone()[0]


# ------------------------------------------------------------------------- the web console

CONSOLE_PASSWORD = "correct horse battery"  # noqa: S105 - a test password
CHROMIUM = "/usr/bin/chromium"
# The flags that let Chromium start quietly on a machine with no network (and as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def console_user(conn: sqlite3.Connection, username: str, role: str = "admin", *,
                 group: str | None = None, password: str = CONSOLE_PASSWORD,
                 contact_id: int | None = None) -> None:
    """A console user, made as `smsgw users add` makes one."""
    from db import groups as groups_db
    from db import users
    from smsgw.console import passwords

    group_id = groups_db.by_code(conn, group).id if group else None
    with db.transaction(conn):
        users.add(conn, username=username, password_hash=passwords.hashed(password, minimum=0),
                  role=role, group_id=group_id, contact_id=contact_id,
                  now=datetime.now(UTC))


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = _CSRF.search(html)
    assert found, "no csrf_token in the page"
    return found.group(1) or found.group(2)


def console_login(client: Any, username: str, password: str = CONSOLE_PASSWORD) -> Any:
    """Log a Flask test client in through the login form; the response to the POST."""
    page = client.get("/console/login")
    return client.post("/console/login", data={
        "username": username, "password": password,
        "csrf_token": csrf_token(page.get_data(as_text=True))})


def browser_login(page: Any, base: str, username: str, password: str = CONSOLE_PASSWORD,
                  then: str = "/console/") -> None:
    """Log a Playwright page in through the login form and open `then`."""
    page.goto(f"{base}/console/login?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/console/login" not in url)
