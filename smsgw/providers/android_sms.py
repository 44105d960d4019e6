"""An Android phone as the SMS gateway: "SMS Gateway for Android" (capcom6/android-sms-gateway,
Apache-2.0) in its Local Server mode, through its official Python client.

With no internet, a cooperative's laptop reaches an old Android phone with a SIM card, over a
USB cable (`adb reverse`/`adb forward`, docs/offline-sms.md) or the local Wi-Fi. The phone
runs an HTTP server (basic auth) that sends SMS, and posts what it receives to our webhook.
Facts below are from the app's source at release v1.68.0 (see tests/fakes/android_phone.py).

- Sending: `POST /messages` through `android_sms_gateway.APIClient`, with our own message id
  (`smsgw-<outbox id>`). A repeated id answers 409 (app v1.58.0+): the phone already has
  that message, so after a crash between its answer and our commit, sending again is safe
  and is recorded as sent without a second SMS.
- Rate: a phone sends a few hundred SMS an hour before Android or the operator slows it, so
  the rate is per hour (`max_per_hour`), not per second.
- Receiving: `POST /webhooks/android` takes the app's events. Each is signed: `X-Signature`
  is the hex HMAC-SHA256, keyed with the app's signing key, of the raw body followed by
  `X-Timestamp` (unix seconds); a request unsigned, wrongly signed, or stamped further than
  `timestamp_skew_seconds` from our clock is refused (403). The app retries a webhook that
  did not get a 2xx for about 45 hours (5 s doubling, 15 retries), which is also how
  messages received while our server was down reach us once it is back.
- De-duplication: the app's `messageId` of a received SMS is a 32-bit hash of its sender,
  date, SIM and text, so two messages can share it; we key a received SMS on the hash, the
  sender and the time it was received, which a retry or a second registered webhook
  repeats exactly and a different message does not.
- Missed messages: `POST /inbox/refresh` (app v1.59.0+) makes the app read Android's own
  SMS store for a period and post, as webhooks, the messages it never recorded (for example
  while the app was not running). The client (4.3.3) cannot ask for the webhooks, so that
  call is made directly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import requests
from android_sms_gateway import APIClient, Message, TextMessage, Webhook, WebhookEvent, errors
from android_sms_gateway.http import RequestsHttpClient
from flask import Blueprint, Response, abort, jsonify, request

from db.outbox import OutboxMessage, OutboxStatus
from handlers.messages import InboundMessage
from smsgw.context import connection, services
from smsgw.errors import MalformedRequest, PermanentSendError, TransientSendError
from smsgw.phone import InvalidNumber, to_e164
from smsgw.providers.base import OneAtATime, Provider, apply_report, region, require_enabled
from smsgw.settings import Setting

PROVIDER = "android"
ID_PREFIX = "smsgw-"
MAX_TEXT = 1600
EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "system:ping")
# The app's states (and events) -> ours. Pending/Processed: on the phone, not yet sent.
STATUS_MAP: dict[str, OutboxStatus | None] = {
    "Pending": OutboxStatus.SENT, "Processed": OutboxStatus.SENT, "Sent": OutboxStatus.SENT,
    "Delivered": OutboxStatus.DELIVERED, "Failed": OutboxStatus.FAILED,
    "sms:sent": OutboxStatus.SENT, "sms:delivered": OutboxStatus.DELIVERED,
    "sms:failed": OutboxStatus.FAILED,
}
log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ signing


def signature_of(signing_key: str, body: bytes, timestamp: str) -> str:
    """What the app puts in X-Signature: hex HMAC-SHA256 of the body bytes + the timestamp."""
    return hmac.new(signing_key.encode("utf-8"), body + timestamp.encode("ascii", "replace"),
                    hashlib.sha256).hexdigest()


def verify(signing_key: str, body: bytes, signature: str | None, timestamp: str | None, *,
           now: float, skew_seconds: float) -> str | None:
    """None when the request is the phone's and fresh; else why it is refused."""
    if not signature or not timestamp:
        return "missing X-Signature or X-Timestamp"
    try:
        stamped = int(timestamp)
    except ValueError:
        return "X-Timestamp is not unix seconds"
    if abs(now - stamped) > skew_seconds:
        return (f"X-Timestamp is {int(now - stamped)} s off our clock (more than"
                f" providers.android.timestamp_skew_seconds)")
    expected = signature_of(signing_key, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode("ascii",
                                                                                  "replace")):
        return "wrong X-Signature"
    return None


# ------------------------------------------------------------------------------ parsing


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    event: str
    payload: Mapping[str, Any]


def parse_event(body: bytes) -> Event:
    """The app's webhook envelope `{id, webhookId, event, deviceId, payload}`."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedRequest("body is not UTF-8") from None
    except RecursionError:
        raise MalformedRequest("body is JSON nested too deeply") from None
    except ValueError:
        raise MalformedRequest("body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise MalformedRequest("body must be an object with event and payload")
    event, event_id = data.get("event"), data.get("id")
    if not isinstance(event, str) or not isinstance(event_id, str) or not event_id.strip():
        raise MalformedRequest("missing field event or id")
    return Event(event_id[:100], event, data["payload"])


def _text(payload: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = payload.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise MalformedRequest(f"payload.{name} must be a string")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise MalformedRequest(f"payload.{name} holds a lone surrogate, not text")
    return value


def parse_received(event: Event, *, region: str, now: datetime) -> InboundMessage:
    """An `sms:received` event as a neutral message, keyed so that a repeat is one message."""
    payload = event.payload
    text = _text(payload, "message")
    if len(text) > MAX_TEXT:
        raise MalformedRequest(f"payload.message longer than {MAX_TEXT} characters")
    sender = _text(payload, "sender", required=False) or _text(payload, "phoneNumber")
    received = _text(payload, "receivedAt", required=False)[:40]
    key = f"{_text(payload, 'messageId', required=False)[:40]}|{sender[:32]}|{received}"
    try:
        e164 = to_e164(sender, region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"payload.sender is not a phone number: {exc}") from None
    recipient = _text(payload, "recipient", required=False)[:32]
    return InboundMessage(PROVIDER, key, e164, recipient, text, now)


# ------------------------------------------------------------------------------ sending


class _Session(requests.Session):
    """requests with a timeout on every call: a phone that hangs must not hang the worker."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.trust_env = False   # the phone is on the LAN or a cable: never via a proxy
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def client(settings: Mapping[str, Any]) -> APIClient:
    """The official client, pointed at the phone's local server."""
    session = _Session(float(settings["providers.android.timeout_seconds"]))
    return APIClient(settings["providers.android.username"],
                     settings["providers.android.password"],
                     base_url=str(settings["providers.android.url"]).rstrip("/"),
                     http=RequestsHttpClient(session))


class AndroidSender(OneAtATime):
    """Sends outbox messages through the phone, at most max_per_hour an hour."""

    provider = PROVIDER

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._client = client(settings)
        self._sim = int(settings["providers.android.sim_number"]) or None
        self.max_per_second = float(settings["providers.android.max_per_hour"]) / 3600

    def send(self, message: OutboxMessage) -> str:
        """Hand one message to the phone; return our id for it, or raise a SendError."""
        our_id = f"{ID_PREFIX}{message.id}"
        try:
            self._client.send(Message(phone_numbers=[message.to_number],
                                      text_message=TextMessage(text=message.text), id=our_id,
                                      sim_number=self._sim, with_delivery_report=True),
                              skip_phone_validation=True)
        except errors.APIError as exc:
            if exc.status_code == 409:   # the phone has it already (a send before a crash)
                log.info("android: message %d was already on the phone", message.id)
                return our_id
            raise _classify(exc) from exc
        except (requests.RequestException, OSError, ValueError) as exc:
            raise TransientSendError(f"android: {type(exc).__name__}: {exc}") from exc
        return our_id


def _classify(exc: errors.APIError) -> Exception:
    detail = f"android {exc.status_code}: {str(exc)[:200]}"
    if exc.status_code == 400:
        return PermanentSendError(detail)
    if exc.status_code in (401, 403):
        return TransientSendError(detail + " (check providers.android.username/password)")
    return TransientSendError(detail)


# ------------------------------------------------------------------------------ routes

bp = Blueprint("android", __name__)


@bp.post("/webhooks/android")
def webhook() -> tuple[Response, int] | Response:
    """The phone's events: a received SMS is answered through the outbox; sent, delivered
    and failed move our message forward; a ping is acknowledged."""
    from smsgw.gateway import Delivery

    require_enabled(PROVIDER)
    found = services()
    config = found.config
    body = request.get_data(cache=False)
    refused = verify(config["providers.android.signing_key"], body,
                     request.headers.get("X-Signature"), request.headers.get("X-Timestamp"),
                     now=time.time(), skew_seconds=config["providers.android.timestamp_skew_seconds"])
    if refused:
        log.warning("403 on %s: %s", request.path, refused)
        abort(403, description=refused)
    event = parse_event(body)
    if event.event == "sms:received":
        message = parse_received(event, region=region(), now=found.clock())
        received = found.gateway.receive(connection(), message, delivery=Delivery.QUEUE,
                                         reply_provider=PROVIDER)
        return jsonify(duplicate=received.duplicate), 200
    if event.event in ("sms:sent", "sms:delivered", "sms:failed"):
        message_id = _text(event.payload, "messageId")
        reason = _text(event.payload, "reason", required=False)[:200] or None
        apply_report(PROVIDER, message_id, STATUS_MAP[event.event], event.event, reason,
                     False, None)
        return jsonify(ok=True), 200
    log.debug("android event %s acknowledged", event.event[:40])
    return jsonify(ok=True), 200


# ------------------------------------------------------------------------------ the phone


def register_webhooks(settings: Mapping[str, Any]) -> list[str]:
    """Register our webhook for every event on the phone (same ids: re-running replaces)."""
    api = client(settings)
    url = str(settings["providers.android.webhook_url"])
    done = []
    for event in EVENTS:
        api.create_webhook(Webhook(id=f"smsgw-{event.replace(':', '-')}", url=url,
                                   event=WebhookEvent(event)))
        done.append(event)
    return done


def refresh_inbox(settings: Mapping[str, Any], *, since: datetime, until: datetime) -> None:
    """Ask the phone to post, as webhooks, the SMS it received between two moments but never
    recorded (app v1.59.0+). The client cannot ask for the webhooks, so this is direct."""
    session = _Session(float(settings["providers.android.timeout_seconds"]))
    url = str(settings["providers.android.url"]).rstrip("/") + "/inbox/refresh"
    body = {"since": _java_date(since), "until": _java_date(until), "triggerWebhooks": True,
            "webhookDelivery": "Individual"}
    response = session.post(url, json=body, auth=(settings["providers.android.username"],
                                                   settings["providers.android.password"]))
    response.raise_for_status()


def _java_date(moment: datetime) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSSXXX: the app refuses more than three decimals."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Health:
    status: str
    version: str
    battery: str
    charging: str
    internet: str
    clock_skew_seconds: float | None


def health(settings: Mapping[str, Any]) -> Health:
    """The phone's own health report. With no internet the app says "fail" (HTTP 500) even
    when it can send SMS, so the body is read whatever the status."""
    session = _Session(float(settings["providers.android.timeout_seconds"]))
    response = session.get(str(settings["providers.android.url"]).rstrip("/") + "/health")
    data = response.json()
    checks = data.get("checks", {}) if isinstance(data, dict) else {}

    def check(name: str) -> str:
        found = checks.get(name) or {}
        value, unit = found.get("observedValue"), found.get("observedUnit") or ""
        if value is None:
            return "not reported"
        shown = f"{value} %" if unit == "percent" else ("yes" if value else "no")
        return f"{shown} ({found.get('status', '?')})"

    skew = None
    if response.headers.get("Date"):
        from email.utils import parsedate_to_datetime

        skew = (parsedate_to_datetime(response.headers["Date"]) - datetime.now(UTC)
                ).total_seconds()
    return Health(str(data.get("status", "?")), str(data.get("version", "?")),
                  check("battery:level"), check("battery:charging"),
                  check("connection:status"), skew)


# ------------------------------------------------------------------------------ commands


def refresh_since_start(settings: Mapping[str, Any]) -> None:
    """When the worker starts: ask the phone for what it received but never posted."""
    hours = int(settings["providers.android.refresh_hours"])
    if hours > 0:
        now = datetime.now(UTC)
        refresh_inbox(settings, since=now - timedelta(hours=hours), until=now)
        log.info("android: asked the phone for SMS of the last %d h it never posted", hours)


@click.group("android")
def commands() -> None:
    """The Android phone gateway: check it, register our webhooks, recover missed SMS."""


@commands.command("check")
@click.option("--no-register", is_flag=True, help="Only look; do not register our webhooks.")
def check(config: Any, no_register: bool) -> None:
    """Reach the phone, show its health and clock, and register our webhooks on it."""
    try:
        found = health(config)
    except (requests.RequestException, ValueError) as exc:
        raise click.ClickException(
            f"the phone does not answer at {config['providers.android.url']}: {exc}"
            " (is the app's local server on, and `adb forward tcp:8080 tcp:8080` done?)"
        ) from None
    click.echo(f"phone at {config['providers.android.url']}: app {found.version},"
               f" health {found.status}")
    click.echo(f"  battery {found.battery}, charging {found.charging},"
               f" internet {found.internet}")
    if found.clock_skew_seconds is not None:
        skew = found.clock_skew_seconds
        limit = config["providers.android.timestamp_skew_seconds"]
        verdict = "ok" if abs(skew) <= limit else "TOO FAR: webhooks will be refused"
        click.echo(f"  the phone's clock is {skew:+.0f} s from ours ({verdict}; limit {limit} s)")
    if found.status == "fail":
        click.echo("  (the app says \"fail\" when it has no internet; SMS still work)")
    if no_register:
        return
    try:
        events = register_webhooks(config)
    except errors.APIError as exc:
        raise click.ClickException(f"the phone refused our webhooks: {exc}"
                                   " (check providers.android.username/password)") from None
    click.echo(f"webhooks registered for {', '.join(events)} ->"
               f" {config['providers.android.webhook_url']}")


@commands.command("refresh")
@click.option("--hours", type=int, default=24, show_default=True,
              help="How far back to look.")
def refresh(config: Any, hours: int) -> None:
    """Ask the phone to post the SMS it received in the last HOURS but never posted."""
    now = datetime.now(UTC)
    try:
        refresh_inbox(config, since=now - timedelta(hours=hours), until=now)
    except requests.RequestException as exc:
        raise click.ClickException(f"the phone did not take the request: {exc}") from None
    click.echo(f"asked the phone for the SMS of the last {hours} h; they arrive as webhooks")


DECLARATION = Provider(
    name=PROVIDER,
    settings=(
        Setting("providers.android.enabled", bool, False,
                "Send and receive through an Android phone running SMS Gateway for Android"
                " (on by itself when android is the default provider)"),
        Setting("providers.android.url", str, "http://127.0.0.1:8080",
                "The phone's local server (with `adb forward tcp:8080 tcp:8080` over a USB"
                " cable, or http://<phone's address>:8080 on the Wi-Fi)"),
        Setting("providers.android.username", str, "sms", "The app's local server user name"),
        Setting("providers.android.password", str, "", "The app's local server password",
                secret=True),
        Setting("providers.android.signing_key", str, "",
                "The app's webhook signing key (Settings > Webhooks)", secret=True),
        Setting("providers.android.webhook_url", str, "http://127.0.0.1:8000/webhooks/android",
                "Where the phone posts what it receives (over the cable, `adb reverse tcp:8000"
                " tcp:8000` makes the phone's 127.0.0.1:8000 this laptop)"),
        Setting("providers.android.max_per_hour", int, 240,
                "SMS the phone sends per hour at most (operators and Android slow a phone that"
                " sends more)", minimum=1),
        Setting("providers.android.sim_number", int, 0,
                "The SIM to send from (1, 2...); 0 = the phone's default"),
        Setting("providers.android.timestamp_skew_seconds", int, 300,
                "Largest difference allowed between the phone's clock and ours when a webhook"
                " is signed (`smsgw android check` shows the difference)", minimum=1),
        Setting("providers.android.timeout_seconds", float, 20.0,
                "How long a call to the phone may take", minimum=1),
        Setting("providers.android.refresh_hours", int, 24,
                "When the worker starts, ask the phone for SMS of this many past hours it"
                " never posted to us (0 = never)"),
    ),
    required=("providers.android.password", "providers.android.signing_key"),
    blueprint=bp,
    sender=AndroidSender,
    cli=commands,
    on_worker_start=refresh_since_start,
)
