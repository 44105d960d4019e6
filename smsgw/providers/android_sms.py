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
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import requests
from android_sms_gateway import APIClient, Message, TextMessage, Webhook, WebhookEvent, errors
from android_sms_gateway.http import RequestsHttpClient
from flask import Blueprint, Response, abort, jsonify, request

from db import health as health_db
from db import transaction
from db.outbox import OutboxMessage, OutboxStatus
from db.timeutil import iso
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


# ------------------------------------------------------------------------------ phones

# A deployment may run several phones, or one phone's two SIMs (one per operator, so that
# each farmer is answered on-net and from the number they texted). The phone set by the
# [providers.android] keys comes first; each [providers.android.phones.NAME] table adds one
# and inherits every key it leaves out, so a second SIM in the same phone needs only its
# `sim_number`. Phones at the same `url` are one device: one app, one signing key, one
# set of webhooks, and its received SMS say which SIM they came in on.
PHONE_FIELDS = ("url", "username", "password", "signing_key", "webhook_url", "max_per_hour",
                "sim_number", "prefixes")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Phone:
    name: str
    url: str
    username: str
    password: str
    signing_key: str
    webhook_url: str
    max_per_hour: int
    sim_number: int              # 0: the phone's default SIM
    prefixes: tuple[str, ...]    # E.164 starts this phone sends to; empty: any number
    device: str                  # the name of the first phone at this url (its webhook)

    def takes(self, number: str) -> bool:
        """Whether this phone sends to that number by its prefixes."""
        return not self.prefixes or number.startswith(self.prefixes)


def _prefixes(raw: str) -> tuple[str, ...]:
    return tuple(p.strip().replace(" ", "") for p in str(raw).split(",") if p.strip())


def phones(settings: Mapping[str, Any]) -> list[Phone]:
    """Every phone configured, the [providers.android] one first."""
    top = {field: settings[f"providers.android.{field}"] for field in PHONE_FIELDS}
    named = {str(settings["providers.android.name"]): {}}
    named.update(settings["providers.android.phones"])
    found: list[Phone] = []
    devices: dict[str, Phone] = {}
    for name, table in named.items():
        values = {**top, **table}
        url = str(values["url"]).rstrip("/")
        device = devices.get(url)
        webhook = str(values["webhook_url"]) if "webhook_url" in table or not found else \
            f"{str(top['webhook_url']).rstrip('/')}/{name}"
        phone = Phone(name, url, str(values["username"]), str(values["password"]),
                      str(values["signing_key"]), device.webhook_url if device else webhook,
                      int(values["max_per_hour"]), int(values["sim_number"]),
                      _prefixes(values["prefixes"]), device.name if device else name)
        devices.setdefault(url, phone)
        found.append(phone)
    return found


def check_phones(config: Any) -> None:
    """Names usable in a URL, one phone per SIM, and one app's keys per device."""
    from smsgw.settings import ConfigError

    seen: dict[tuple[str, int], str] = {}
    by_device: dict[str, Phone] = {}
    for phone in phones(config):
        if not NAME_PATTERN.match(phone.name):
            raise ConfigError(f"providers.android.phones.{phone.name}: a phone's name is"
                              " lower-case letters, digits, - and _ (at most 32)")
        if (phone.url, phone.sim_number) in seen:
            raise ConfigError(f"providers.android.phones.{phone.name}: same url and"
                              f" sim_number as {seen[phone.url, phone.sim_number]}")
        seen[phone.url, phone.sim_number] = phone.name
        first = by_device.setdefault(phone.device, phone)
        if (first.username, first.password, first.signing_key) != \
                (phone.username, phone.password, phone.signing_key):
            raise ConfigError(f"providers.android.phones.{phone.name}: at the same url as"
                              f" {first.name}, so the same app: its username, password and"
                              " signing_key must be the same")
        if config.provider_enabled(PROVIDER) and not (phone.password and phone.signing_key):
            raise ConfigError(f"providers.android.phones.{phone.name}: password and"
                              " signing_key are required")


def device_phones(settings: Mapping[str, Any]) -> dict[str, list[Phone]]:
    """The phones of each device (app), by the device's name."""
    found: dict[str, list[Phone]] = {}
    for phone in phones(settings):
        found.setdefault(phone.device, []).append(phone)
    return found


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


def parse_received(event: Event, *, region: str, now: datetime,
                   device: Sequence[Phone] = (), first_device: bool = True) -> InboundMessage:
    """An `sms:received` event as a neutral message, keyed so that a repeat is one message.
    Its recipient is the name of the phone (SIM) it came in on, which the reply goes from."""
    payload = event.payload
    text = _text(payload, "message")
    if len(text) > MAX_TEXT:
        raise MalformedRequest(f"payload.message longer than {MAX_TEXT} characters")
    sender = _text(payload, "sender", required=False) or _text(payload, "phoneNumber")
    received = _text(payload, "receivedAt", required=False)[:40]
    key = f"{_text(payload, 'messageId', required=False)[:40]}|{sender[:32]}|{received}"
    if device and not first_device:    # two devices can hash two messages alike
        key = f"{device[0].device}|{key}"
    try:
        e164 = to_e164(sender, region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"payload.sender is not a phone number: {exc}") from None
    sim = payload.get("simNumber")
    on = next((p for p in device if isinstance(sim, int) and p.sim_number == sim), None) or \
        next((p for p in device if p.sim_number == 0), None) or (device[0] if device else None)
    recipient = on.name if on else _text(payload, "recipient", required=False)[:32]
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


def client(phone: Phone, timeout: float) -> APIClient:
    """The official client, pointed at one phone's local server."""
    return APIClient(phone.username, phone.password, base_url=phone.url,
                     http=RequestsHttpClient(_Session(timeout)))


class AndroidSender(OneAtATime):
    """Sends outbox messages through the phones, each at most its max_per_hour an hour.

    The worker's limit is the phones' sum. Each message goes from the phone the farmer
    texted (a reply), else from a phone whose prefixes take the number (its operator's
    SIM: cheaper, and delivered more reliably), else from any phone. Among those allowed the
    choice follows the message's id, weighted by the phones' rates, so that it is the same
    phone every time: after a crash the message is sent again to the phone that has its id
    already, which answers 409 instead of sending a second SMS. A phone given more than its
    share waits for its own rate."""

    provider = PROVIDER

    def __init__(self, settings: Mapping[str, Any], *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        timeout = float(settings["providers.android.timeout_seconds"])
        self.phones = phones(settings)
        self._clients = {phone.name: client(phone, timeout) for phone in self.phones}
        self._free_at = {phone.name: 0.0 for phone in self.phones}
        self.max_per_second = sum(phone.max_per_hour for phone in self.phones) / 3600
        self.monotonic, self.sleep = monotonic, sleep

    def pick(self, message: OutboxMessage) -> Phone:
        """The phone a message goes from."""
        by_name = {phone.name: phone for phone in self.phones}
        if message.reply_from in by_name:
            return by_name[message.reply_from]
        allowed = [p for p in self.phones if p.prefixes and p.takes(message.to_number)] or \
            [p for p in self.phones if not p.prefixes] or self.phones
        if len(allowed) == 1:
            return allowed[0]
        # Knuth's multiplicative hash spreads consecutive ids (a bulletin's) over the phones.
        point = (message.id * 2654435761 % 2**32) / 2**32 * sum(p.max_per_hour for p in allowed)
        for phone in allowed:
            point -= phone.max_per_hour
            if point < 0:
                return phone
        return allowed[-1]

    def _pace(self, phone: Phone, segments: int) -> None:
        """Keep one phone within its own rate (the worker keeps all of them within the sum)."""
        if len(self.phones) == 1:
            return
        now = self.monotonic()
        start = max(now, self._free_at[phone.name])
        if start > now:
            self.sleep(start - now)
        self._free_at[phone.name] = start + segments * 3600 / phone.max_per_hour

    def send(self, message: OutboxMessage) -> str:
        """Hand one message to a phone; return our id for it, or raise a SendError."""
        our_id = f"{ID_PREFIX}{message.id}"
        phone = self.pick(message)
        self._pace(phone, message.segments)
        try:
            self._clients[phone.name].send(
                Message(phone_numbers=[message.to_number],
                        text_message=TextMessage(text=message.text), id=our_id,
                        sim_number=phone.sim_number or None, with_delivery_report=True),
                skip_phone_validation=True)
        except errors.APIError as exc:
            if exc.status_code == 409:   # the phone has it already (a send before a crash)
                log.info("android: message %d was already on phone %s", message.id, phone.name)
                return our_id
            raise _classify(exc, phone) from exc
        except (requests.RequestException, OSError, ValueError) as exc:
            raise TransientSendError(f"android {phone.name}: {type(exc).__name__}: {exc}"
                                     ) from exc
        return our_id


def _classify(exc: errors.APIError, phone: Phone) -> Exception:
    detail = f"android {phone.name} {exc.status_code}: {str(exc)[:200]}"
    if exc.status_code == 400:
        return PermanentSendError(detail)
    if exc.status_code in (401, 403):
        return TransientSendError(detail + " (check providers.android.username/password)")
    return TransientSendError(detail)


# ------------------------------------------------------------------------------ routes

bp = Blueprint("android", __name__)


@bp.post("/webhooks/android")
@bp.post("/webhooks/android/<device>")
def webhook(device: str | None = None) -> tuple[Response, int] | Response:
    """A phone's events: a received SMS is answered through the outbox; sent, delivered
    and failed move our message forward; a ping is acknowledged. /webhooks/android is the
    first phone's; /webhooks/android/NAME the device (app) whose first phone is NAME."""
    from smsgw.gateway import Delivery

    require_enabled(PROVIDER)
    found = services()
    config = found.config
    devices = device_phones(config)
    first = next(iter(devices))
    on = devices.get(device or first)
    if on is None:
        abort(404, description="no such phone")
    body = request.get_data(cache=False)
    refused = verify(on[0].signing_key, body,
                     request.headers.get("X-Signature"), request.headers.get("X-Timestamp"),
                     now=time.time(), skew_seconds=config["providers.android.timestamp_skew_seconds"])
    if refused:
        log.warning("403 on %s: %s", request.path, refused)
        abort(403, description=refused)
    event = parse_event(body)
    if event.event == "sms:received":
        message = parse_received(event, region=region(), now=found.clock(), device=on,
                                 first_device=on[0].device == first)
        received = found.gateway.receive(connection(), message, delivery=Delivery.QUEUE,
                                         reply_provider=PROVIDER)
        return jsonify(duplicate=received.duplicate), 200
    if event.event in ("sms:sent", "sms:delivered", "sms:failed"):
        message_id = _text(event.payload, "messageId")
        reason = _text(event.payload, "reason", required=False)[:200] or None
        apply_report(PROVIDER, message_id, STATUS_MAP[event.event], event.event, reason,
                     False, None)
        return jsonify(ok=True), 200
    if event.event == "system:ping":   # the app's health, at the interval set in the app
        reading = reading_of(event.payload.get("health"), device=on[0].device, source="ping",
                             now=found.clock())
        if reading is not None:
            with transaction(connection()):
                health_db.record_reading(connection(), reading)
    log.debug("android event %s acknowledged", event.event[:40])
    return jsonify(ok=True), 200


# ------------------------------------------------------------------------------ the phone


def register_webhooks(phone: Phone, timeout: float) -> list[str]:
    """Register our webhook for every event on a device (same ids: re-running replaces)."""
    api = client(phone, timeout)
    done = []
    for event in EVENTS:
        api.create_webhook(Webhook(id=f"smsgw-{event.replace(':', '-')}", url=phone.webhook_url,
                                   event=WebhookEvent(event)))
        done.append(event)
    return done


def refresh_inbox(phone: Phone, timeout: float, *, since: datetime, until: datetime) -> None:
    """Ask a device to post, as webhooks, the SMS it received between two moments but never
    recorded (app v1.59.0+). The client cannot ask for the webhooks, so this is direct."""
    body = {"since": _java_date(since), "until": _java_date(until), "triggerWebhooks": True,
            "webhookDelivery": "Individual"}
    response = _Session(timeout).post(phone.url + "/inbox/refresh", json=body,
                                      auth=(phone.username, phone.password))
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
    body: Any = None     # the app's answer as read, for `reading_of`


def reading_of(body: Any, *, device: str, source: str, now: datetime) -> health_db.Reading | None:
    """The app's health report (a /health answer, or a system:ping's payload.health) as the
    reading the console shows: battery, charging, network; None when it is not one. The app
    reports its network type (Wi-Fi, 2G..5G), not signal strength."""
    if not isinstance(body, dict) or not isinstance(body.get("checks"), dict):
        return None
    checks = body["checks"]

    def value(name: str) -> int | None:
        found = checks.get(name)
        observed = found.get("observedValue") if isinstance(found, dict) else None
        if isinstance(observed, bool) or not isinstance(observed, int | float) or \
                not math.isfinite(observed) or abs(observed) >= 2**31:
            return None
        return int(observed)

    status = body.get("status") if body.get("status") in ("pass", "warn", "fail") else "?"
    version = body.get("version")
    version = re.sub(r"[^0-9A-Za-z.+-]", "", version)[:20] if isinstance(version, str) else None
    return health_db.Reading(
        PROVIDER, device, iso(now), source, str(status), value("battery:level"),
        value("battery:charging"), value("connection:transport"),
        value("connection:cellular"), value("connection:status"), value("messages:failed"),
        version or None)


def health(phone: Phone, timeout: float) -> Health:
    """A device's own health report. With no internet the app says "fail" (HTTP 500) even
    when it can send SMS, so the body is read whatever the status."""
    response = _Session(timeout).get(phone.url + "/health")
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
                  check("connection:status"), skew, data)


# ------------------------------------------------------------------------------ commands


def _timeout(settings: Mapping[str, Any]) -> float:
    return float(settings["providers.android.timeout_seconds"])


def refresh_since_start(settings: Mapping[str, Any]) -> None:
    """When the worker starts: ask each device for what it received but never posted."""
    hours = int(settings["providers.android.refresh_hours"])
    if hours <= 0:
        return
    now = datetime.now(UTC)
    for name, on in device_phones(settings).items():
        try:
            refresh_inbox(on[0], _timeout(settings), since=now - timedelta(hours=hours),
                          until=now)
        except requests.RequestException as exc:   # one phone off must not stop the others
            log.warning("android: phone %s did not take the inbox refresh: %s", name,
                        type(exc).__name__)
            continue
        log.info("android: asked phone %s for SMS of the last %d h it never posted", name, hours)


def _devices(config: Any, phone: str | None) -> dict[str, list[Phone]]:
    devices = device_phones(config)
    if phone is None:
        return devices
    chosen = {name: on for name, on in devices.items() if phone in {p.name for p in on}}
    if not chosen:
        raise click.ClickException(f"no phone named {phone!r}; the phones are"
                                   f" {', '.join(p.name for p in phones(config))}")
    return chosen


def _keep_reading(config: Any, device: str, body: Any) -> None:
    """Keep what `check` read for the console's overview (it never calls a phone itself)."""
    import db

    reading = reading_of(body, device=device, source="check", now=datetime.now(UTC))
    if reading is None:
        return
    conn = db.connect(config["database.path"])
    try:
        db.migrate(conn)
        with transaction(conn):
            health_db.record_reading(conn, reading)
    finally:
        conn.close()


@click.group("android")
def commands() -> None:
    """The Android phone gateway: check the phones, register our webhooks, recover missed
    SMS."""


@commands.command("check")
@click.option("--no-register", is_flag=True, help="Only look; do not register our webhooks.")
@click.option("--phone", default=None, help="Only this phone (default: every phone).")
def check(config: Any, no_register: bool, phone: str | None) -> None:
    """Reach each phone, show its health and clock, and register our webhooks on it."""
    failed = []
    for name, on in _devices(config, phone).items():
        sims = ", ".join(f"{p.name} (SIM {p.sim_number or 'default'}, {p.max_per_hour}/h"
                         f"{', to ' + ' '.join(p.prefixes) if p.prefixes else ''})" for p in on)
        try:
            found = health(on[0], _timeout(config))
        except (requests.RequestException, ValueError) as exc:
            click.echo(f"phone {name} does not answer at {on[0].url}: {exc} (is the app's local"
                       " server on, and `adb forward tcp:8080 tcp:8080` done?)", err=True)
            failed.append(name)
            continue
        click.echo(f"phone {name} at {on[0].url}: app {found.version}, health {found.status}")
        _keep_reading(config, name, found.body)
        click.echo(f"  sends as {sims}")
        click.echo(f"  battery {found.battery}, charging {found.charging},"
                   f" internet {found.internet}")
        if found.clock_skew_seconds is not None:
            skew = found.clock_skew_seconds
            limit = config["providers.android.timestamp_skew_seconds"]
            verdict = "ok" if abs(skew) <= limit else "TOO FAR: webhooks will be refused"
            click.echo(f"  the phone's clock is {skew:+.0f} s from ours ({verdict};"
                       f" limit {limit} s)")
        if found.status == "fail":
            click.echo("  (the app says \"fail\" when it has no internet; SMS still work)")
        if no_register:
            continue
        try:
            events = register_webhooks(on[0], _timeout(config))
        except (errors.APIError, requests.RequestException) as exc:
            click.echo(f"phone {name} refused our webhooks: {exc} (check its username and"
                       " password)", err=True)
            failed.append(name)
            continue
        click.echo(f"  webhooks registered for {', '.join(events)} -> {on[0].webhook_url}")
    if failed:
        raise click.ClickException(f"not ready: {', '.join(failed)}")


@commands.command("refresh")
@click.option("--hours", type=int, default=24, show_default=True,
              help="How far back to look.")
@click.option("--phone", default=None, help="Only this phone (default: every phone).")
def refresh(config: Any, hours: int, phone: str | None) -> None:
    """Ask each phone to post the SMS it received in the last HOURS but never posted."""
    now = datetime.now(UTC)
    for name, on in _devices(config, phone).items():
        try:
            refresh_inbox(on[0], _timeout(config), since=now - timedelta(hours=hours), until=now)
        except requests.RequestException as exc:
            raise click.ClickException(f"phone {name} did not take the request: {exc}") from None
        click.echo(f"asked phone {name} for the SMS of the last {hours} h; they arrive as"
                   " webhooks")


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
        Setting("providers.android.name", str, "phone",
                "This phone's name (in logs, `smsgw android check --phone`, and the route"
                " /webhooks/android/NAME besides /webhooks/android)"),
        Setting("providers.android.prefixes", str, "",
                "Number starts this phone sends to, comma-separated (+25470,+25471: its"
                " operator's numbers); empty = any number"),
        Setting("providers.android.phones", dict, {},
                "More phones or SIMs, one [providers.android.phones.NAME] table each; every"
                " key left out is taken from [providers.android] (a second SIM of the same"
                " phone needs only sim_number)",
                fields=(Setting("url", str, "", "The phone's local server"),
                        Setting("username", str, "", "Its local server user name"),
                        Setting("password", str, "", "Its local server password", secret=True),
                        Setting("signing_key", str, "", "Its webhook signing key", secret=True),
                        Setting("webhook_url", str, "",
                                "Where it posts (default: webhook_url + /NAME)"),
                        Setting("max_per_hour", int, 240, "Its SMS per hour", minimum=1),
                        Setting("sim_number", int, 0, "Its SIM (1, 2...)"),
                        Setting("prefixes", str, "", "Number starts it sends to"))),
    ),
    required=("providers.android.password", "providers.android.signing_key"),
    check=check_phones,
    blueprint=bp,
    sender=AndroidSender,
    cli=commands,
    on_worker_start=refresh_since_start,
)
