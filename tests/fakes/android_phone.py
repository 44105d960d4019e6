"""A fake phone running "SMS Gateway for Android" in Local Server mode, over real loopback HTTP.

Written from the app's own source at release tag v1.68.0 of capcom6/android-sms-gateway
(commit 0cdc5d86c6f3, 2026-07-14; Apache-2.0), not from our adapter. Paths are under
app/src/main/java/me/capcom/smsgateway/ unless they start with app/ or .github/:

- Routes, auth, error bodies: modules/localserver/WebService.kt. `/health` needs no auth; the
  rest takes basic auth (user default "sms", password from the app) or a JWT (not faked here:
  a Bearer token gets 401). `/message` = `/messages`, `/webhook` = `/webhooks`. A failed check
  answers 401 with an empty body; errors are `{"message": ...}` (StatusPages).
- Send, read, list: modules/localserver/routes/MessagesRoutes.kt, domain/messages/*.kt,
  data/entities/MessageWithRecipients.kt (aggregate state), modules/messages/MessagesService.kt
  (a repeated id raises ConflictException -> 409, since v1.58.0). The 202 body is the freshly
  built entity, so its `states` is `{}`; later GETs list every state reached.
- Inbox: modules/localserver/routes/InboxRoutes.kt, domain/InboxRefreshRequest.kt,
  modules/receiver/ReceiverService.kt, modules/incoming/IncomingMessagesService.kt.
  `/inbox/refresh` (v1.59.0+) re-reads the Android SMS inbox between `since` and `until` and
  processes only messages the app has NOT recorded yet (dedup since v1.65.2), sending
  `sms:received` only if `triggerWebhooks` is true (default false; `/messages/inbox/export`
  defaults to true). So `receive(..., missed=True)` puts an SMS where only refresh finds it.
- Webhooks: modules/localserver/routes/WebhooksRoutes.kt, modules/webhooks/WebHooksService.kt
  (URL rule), modules/webhooks/EventsReceiver.kt and payload/*.kt (events and payloads),
  modules/webhooks/domain/WebHookEventDTO.kt (envelope), plugins/PayloadSingingPlugin.kt
  (X-Signature = hex HMAC-SHA256, key = signing key, message = body text + X-Timestamp),
  workers/WebhookQueueProcessorWorker.kt and db/WebhookQueueRepository.kt (queue: only 2xx
  succeeds; retry n waits 5 s * 2**(n-1); after retry_count=15 retries, permanently failed).
- Health: domain/HealthResponse.kt, modules/health/*, modules/connection/ConnectionService.kt:
  battery level and charging flags, internet (validated network), transport, cellular type
  and failed messages; no signal strength. Any "fail" answers HTTP 500.
- JSON: extensions/GsonBuilder.kt. Gson leaves out nulls, escapes < > & = ' as \\u00XX, and
  writes dates as yyyy-MM-dd'T'HH:mm:ss.SSSXXX in the phone's zone. `messageId` of
  `sms:received` is the unsigned hex of a Java hashCode of (sender, date, subscription, text);
  the inbox id is "text:" + the signed decimal of the same hash (receiver/data/InboxMessage.kt).

Deliberate simplifications: webhooks are posted synchronously (by the call that causes them,
or right after the HTTP answer when a request causes them; `wait_idle()` waits for those),
where the app queues them to a WorkManager worker; retries run when `retry_webhooks()` is
called, due per `clock`; `webhooks_down` stands for the app's "internet required" constraint
with no validated network (events wait in the queue, no attempt counted). MMS, data SMS,
cancel, JWT, listing /messages, /, /logs, /settings, /device and /docs are not faked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

APP_VERSION = "1.68.0"
RELEASE_ID = 1490  # versionCode: days from 2022-06-15 to the build (workflows/build-apk.yml)
EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "system:ping",
          "sms:data-received", "mms:received", "mms:downloaded", "app:started", "sms:cancelled")
STATE_EVENTS = {"Sent": "sms:sent", "Delivered": "sms:delivered", "Failed": "sms:failed"}
BASE_DELAY = 5.0  # WebhookQueueProcessorWorker.MIN_BACKOFF_DELAY_MS, in seconds
REALM = 'Basic realm="Access to SMS Gateway", charset=UTF-8'
_NANOID = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_GSON_ESCAPES = {c: f"\\u{ord(c):04x}" for c in "<>&='\u2028\u2029"}
_QUERY_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?(Z|[+-]\d\d:\d\d)")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def nanoid(size: int = 21) -> str:
    return "".join(secrets.choice(_NANOID) for _ in range(size))


def gson_dumps(value: Any) -> str:
    """JSON as the app's Gson writes it: compact, raw UTF-8, HTML-safe escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&='\u2028\u2029]", lambda m: _GSON_ESCAPES[m.group()], text)


def sign(signing_key: str, body: str, timestamp: str) -> str:
    """X-Signature as PayloadSingingPlugin computes it."""
    message = (body + timestamp).encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()


def java_date(millis: int, tz: timezone) -> str:
    moment = datetime.fromtimestamp(millis / 1000, tz)
    offset = moment.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}" + zone


def _java_string_hash(text: str) -> int:
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


class BadRequest(Exception):
    pass


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class ReceivedSms:
    """One SMS as the phone holds it (InboxMessage.Text)."""

    sender: str
    text: str
    received_ms: int
    sim_number: int | None = None  # also used as the Android subscription id

    @property
    def java_hash(self) -> int:
        h = _java_string_hash(self.sender)
        h = 31 * h + _signed32(self.received_ms ^ (self.received_ms >> 32))
        h = 31 * h + (self.sim_number or 0)
        return _signed32(31 * h + _java_string_hash(self.text))

    @property
    def message_id(self) -> str:  # the webhook's payload.messageId
        return format(self.java_hash & 0xFFFFFFFF, "x")

    @property
    def inbox_id(self) -> str:  # the id GET /inbox shows
        return f"text:{self.java_hash}"


@dataclass
class OutMessage:
    id: str
    content: dict[str, Any]  # {"textMessage": {...}} or {"dataMessage": {...}}
    recipients: dict[str, dict[str, Any]]  # phone -> {"state", "error"}
    sim_number: int | None = None
    with_delivery_report: bool = True
    is_encrypted: bool = False
    parts_count: int | None = None
    states: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        return self.content.get("textMessage", {}).get("text")

    @property
    def state(self) -> str:  # MessageWithRecipients.state
        states = [r["state"] for r in self.recipients.values()]
        for s in ("Pending", "Cancelling", "Cancelled", "Processed"):
            if s in states:
                return s
        for s in ("Failed", "Delivered"):
            if all(x == s for x in states):
                return s
        return "Sent"


@dataclass
class QueuedWebhook:
    event_id: str
    url: str
    event: str
    body: str
    next_attempt: float
    retry_count: int = 0
    status: str = "pending"  # pending, failed, completed, permanently_failed (WebhookStatus)


@dataclass
class Delivery:
    url: str
    event: str
    body: bytes
    headers: dict[str, str]
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (a worker killed on purpose) is no error."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class FakePhone:
    def __init__(self, *, username: str = "sms", password: str = "Xq7pL2vA",
                 signing_key: str = "k3yS1gn8", device_id: str | None = None,
                 tz: timezone = timezone(timedelta(hours=3)),
                 clock: Callable[[], float] = time.time,
                 retry_count: int = 15, insecure: bool = False,
                 own_number: str | None = None) -> None:
        self.username, self.password, self.signing_key = username, password, signing_key
        self.device_id = device_id or nanoid()
        self.tz, self.clock, self.retry_count = tz, clock, retry_count
        self.insecure, self.own_number = insecure, own_number
        # Knobs a test turns.
        self.battery_level, self.charging, self.internet = 80, False, True
        self.webhooks_down = False
        self.fail_sends: str | None = None  # accept (202), then fail with this reason
        self.reject_sends: int | None = None  # answer sends with this HTTP status instead
        # What the phone holds.
        self.messages: dict[str, OutMessage] = {}
        self.webhooks: dict[str, dict[str, str]] = {}
        self.system_inbox: list[ReceivedSms] = []  # Android's SMS store
        self.inbox: dict[str, ReceivedSms] = {}  # the app's incoming_messages table
        self.queue: list[QueuedWebhook] = []
        self.deliveries: list[Delivery] = []
        self.calls: list[tuple[str, str, bytes]] = []  # (method, path with query, body)
        self._lock = threading.RLock()
        self._idle = threading.Condition()
        self._busy = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"phone": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request (nor the webhooks it caused) is still being handled."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- acting as the phone ----------------------------------------------------------------
    def receive(self, sender: str, text: str, *, received_at: datetime | None = None,
                sim_number: int | None = None, missed: bool = False) -> ReceivedSms:
        """An SMS arrives. Unless `missed` (the app was not running), the app records it and
        posts a signed sms:received to every webhook registered for that event."""
        ms = int(received_at.timestamp() * 1000) if received_at else self._now_ms()
        sms = ReceivedSms(sender, text, ms, sim_number)
        with self._lock:
            self.system_inbox.append(sms)
        if not missed:
            self._process(sms, trigger=True)
        return sms

    def advance(self, message_id: str, state: str, *, phone_number: str | None = None,
                reason: str | None = None, parts_count: int = 1) -> list[Delivery]:
        """Move one recipient (or all) to Processed/Sent/Delivered/Failed, posting
        sms:sent / sms:delivered / sms:failed once per recipient."""
        if state not in ("Processed", "Sent", "Delivered", "Failed"):
            raise ValueError(state)
        with self._lock:
            msg = self.messages[message_id]
            if state == "Delivered" and not msg.with_delivery_report:
                raise ValueError("sent with withDeliveryReport=false: no delivery report comes")
            phones = [phone_number] if phone_number else list(msg.recipients)
            for phone in phones:
                msg.recipients[phone] = {"state": state,
                                         "error": reason if state == "Failed" else None}
            msg.parts_count = parts_count
            msg.states.setdefault(msg.state, self._now_ms())
        if state not in STATE_EVENTS:
            return []
        stamp = java_date(self._now_ms(), self.tz)
        head = {"Sent": {"partsCount": parts_count, "sentAt": stamp},
                "Delivered": {"deliveredAt": stamp},
                "Failed": {"failedAt": stamp, "reason": reason or "Unknown"}}[state]
        sender = self.own_number if msg.sim_number else None
        results = []
        for phone in phones:
            payload = _drop_none({**head, "messageId": msg.id, "sender": sender, "recipient": phone,
                                  "simNumber": msg.sim_number, "phoneNumber": phone})
            results += self._emit(STATE_EVENTS[state], payload)
        return results

    def ping(self) -> list[Delivery]:
        return self._emit("system:ping", {"health": self.health()[1]})

    def retry_webhooks(self, *, force: bool = False) -> list[Delivery]:
        """Attempt queued webhooks that are due (all of them with force), as the queue worker."""
        if self.webhooks_down:
            return []
        now = self.clock()
        with self._lock:
            due = [q for q in self.queue if q.status in ("pending", "failed")
                   and (force or q.next_attempt <= now)]
        return [self._attempt(q) for q in due]

    def health(self) -> tuple[int, dict[str, Any]]:
        hour_ago = self._now_ms() - 3600_000
        recent = [m for m in self.messages.values() if max(m.states.values()) >= hour_ago]
        failed = sum(1 for m in recent if m.state == "Failed")
        done = sum(1 for m in recent if m.state in ("Processed", "Sent", "Delivered"))
        level = self.battery_level
        checks = {
            "messages:failed": ("fail" if failed and not done else "warn" if failed else "pass",
                                failed, "messages", "Failed messages for last hour"),
            "connection:status": ("pass" if self.internet else "fail", int(self.internet),
                                  "boolean", "Internet connection status"),
            "connection:transport": ("pass", 4, "flags", "Network transport type"),  # Wi-Fi
            "connection:cellular": ("pass", 0, "index", "Cellular network type"),  # None
            "battery:level": ("fail" if level < 10 else "warn" if level < 25 else "pass",
                              int(level), "percent", "Battery level in percent"),
            "battery:charging": ("pass", 3 if self.charging else 0, "flags",
                                 "Is the phone charging?"),  # 2 = AC, +1 = charging
        }
        statuses = {c[0] for c in checks.values()}
        status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
        body = {"version": APP_VERSION, "releaseId": RELEASE_ID, "status": status, "checks": {
            name: {"status": s, "observedValue": v, "observedUnit": u, "description": d}
            for name, (s, v, u, d) in checks.items()}}
        return (500 if status == "fail" else 200), body

    # -- webhooks out -----------------------------------------------------------------------
    def _process(self, sms: ReceivedSms, trigger: bool,
                 later: list[Callable[[], Any]] | None = None) -> None:
        """ReceiverService.process: record once, then (maybe) emit sms:received."""
        with self._lock:
            if sms.inbox_id in self.inbox:
                return
            self.inbox[sms.inbox_id] = sms
        if not trigger:
            return
        payload = _drop_none({
            "message": sms.text, "receivedAt": java_date(sms.received_ms, self.tz),
            "messageId": sms.message_id, "sender": sms.sender,
            "recipient": self.own_number if sms.sim_number else None,
            "simNumber": sms.sim_number, "phoneNumber": sms.sender})
        if later is None:
            self._emit("sms:received", payload)
        else:
            later.append(lambda: self._emit("sms:received", payload))

    def _emit(self, event: str, payload: dict[str, Any]) -> list[Delivery]:
        with self._lock:
            hooks = [h for h in self.webhooks.values() if h["event"] == event]
            queued = []
            for hook in hooks:
                event_id = nanoid()
                body = gson_dumps({"id": event_id, "webhookId": hook["id"], "event": event,
                                   "deviceId": self.device_id, "payload": payload})
                queued.append(QueuedWebhook(event_id, hook["url"], event, body, self.clock()))
            self.queue += queued
        return [] if self.webhooks_down else [self._attempt(q) for q in queued]

    def _attempt(self, q: QueuedWebhook) -> Delivery:
        timestamp = str(int(self.clock()))
        headers = {"Content-Type": "application/json; charset=UTF-8",
                   "User-Agent": f"me.capcom.smsgateway/{APP_VERSION}",
                   "X-Signature": sign(self.signing_key, q.body, timestamp),
                   "X-Timestamp": timestamp}
        body = q.body.encode()
        status = error = None
        request = urllib.request.Request(q.url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=5) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as e:
            status = e.code
            e.close()
        except OSError as e:  # URLError, refused, timeout
            error = str(e)
        delivery = Delivery(q.url, q.event, body, headers, status, error)
        with self._lock:
            self.deliveries.append(delivery)
            if delivery.ok:
                q.status = "completed"
            elif q.retry_count < self.retry_count:
                q.retry_count += 1
                q.status = "failed"
                q.next_attempt = self.clock() + BASE_DELAY * 2 ** (q.retry_count - 1)
            else:
                q.status = "permanently_failed"
        return delivery

    # -- the Local Server API ---------------------------------------------------------------
    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (hmac.compare_digest(user.encode(), self.username.encode())
                and hmac.compare_digest(password.encode(), self.password.encode()))

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes,
               auth: str | None, later: list[Callable[[], Any]]) -> tuple[int, Any, dict]:
        if method == "GET" and path == "/health":
            return (*self.health(), {})
        if not self._authorized(auth):
            return 401, None, {"WWW-Authenticate": REALM}
        head, *rest = path.strip("/").split("/")
        if head in ("message", "messages"):
            if not rest and method == "POST":
                return self._send(raw, later)
            if rest == ["inbox", "export"] and method == "POST":
                return self._refresh(raw, True, later)
            if len(rest) == 1 and method == "GET":
                msg = self.messages.get(rest[0])
                return (200, self._message_json(msg, True), {}) if msg else (404, None, {})
        if head == "inbox" and not rest and method == "GET":
            return self._list_inbox(query)
        if head == "inbox" and rest == ["refresh"] and method == "POST":
            return self._refresh(raw, False, later)
        if head in ("webhook", "webhooks"):
            if not rest and method == "GET":
                return 200, [dict(h, source="Local") for h in self.webhooks.values()], {}
            if not rest and method == "POST":
                return self._register_webhook(raw)
            if len(rest) == 1 and method == "DELETE":
                with self._lock:
                    self.webhooks.pop(rest[0], None)
                return 204, None, {}
        return 404, None, {}

    def _send(self, raw: bytes, later: list[Callable[[], Any]]) -> tuple[int, Any, dict]:
        if self.reject_sends:
            return self.reject_sends, {"message": "rejected by the fake phone"}, {}
        req = _json_object(raw)
        kinds = [k for k in ("textMessage", "dataMessage", "message") if req.get(k) is not None]
        if not kinds:
            raise BadRequest("Must specify exactly one of: textMessage, dataMessage, or message")
        if len(kinds) > 1:
            raise BadRequest("Cannot specify multiple message types simultaneously")
        content = ({"textMessage": {"text": req["message"]}} if kinds == ["message"]
                   else {kinds[0]: req[kinds[0]]})
        if content.get("textMessage", {}).get("text", None) == "":
            raise BadRequest("Text message is empty")
        if not req.get("phoneNumbers"):
            raise BadRequest("Empty phone numbers list")
        if req.get("simNumber") is not None and req["simNumber"] < 1:
            raise BadRequest("SIM number cannot be less than 1")
        if req.get("deviceId") not in (None, self.device_id):
            raise BadRequest("Invalid device ID")
        now = self._now_ms()
        msg = OutMessage(req.get("id") or nanoid(), content,
                         {p: {"state": "Pending", "error": None} for p in req["phoneNumbers"]},
                         req.get("simNumber"), req.get("withDeliveryReport") is not False,
                         bool(req.get("isEncrypted")), states={"Pending": now})
        with self._lock:
            if msg.id in self.messages:
                return 409, {"message": "Message with the same ID already exists"}, {}
            self.messages[msg.id] = msg
        if self.fail_sends is not None:
            reason = self.fail_sends
            later.append(lambda: self.advance(msg.id, "Failed", reason=reason))
        return 202, self._message_json(msg, True, fresh=True), {}

    def _message_json(self, msg: OutMessage, content: bool, fresh: bool = False) -> dict:
        return {"id": msg.id, "deviceId": self.device_id, "state": msg.state, "isHashed": False,
                "isEncrypted": msg.is_encrypted, **(msg.content if content else {}),
                "recipients": [_drop_none({"phoneNumber": p, **r})
                               for p, r in msg.recipients.items()],
                "states": {} if fresh else {
                    s: java_date(t, self.tz) for s, t in msg.states.items()}}

    def _list_inbox(self, query: dict[str, str]) -> tuple[int, Any, dict]:
        kind = query.get("type") or None
        if kind not in (None, "SMS", "DATA_SMS", "MMS", "MMS_DOWNLOADED"):
            raise BadRequest("Invalid type")
        limit, offset = _int(query.get("limit"), 50), _int(query.get("offset"), 0)
        if not 1 <= limit <= 500:
            raise BadRequest("limit must be between 1 and 500")
        if offset < 0:
            raise BadRequest("offset must be >= 0")
        since = _query_date(query.get("from"), "from", 0)
        until = _query_date(query.get("to"), "to", self._now_ms())
        if query.get("deviceId") not in (None, self.device_id):
            raise BadRequest("Invalid device ID")
        if since > until:
            raise BadRequest("Start date cannot be after end date")
        rows = sorted((s for s in self.inbox.values() if kind in (None, "SMS")
                       and since <= s.received_ms <= until),
                      key=lambda s: (s.received_ms, s.inbox_id), reverse=True)
        page = [_drop_none({"id": s.inbox_id, "type": "SMS", "sender": s.sender,
                            "recipient": self.own_number if s.sim_number else None,
                            "simNumber": s.sim_number, "contentPreview": s.text,
                            "createdAt": java_date(s.received_ms, self.tz), "attachments": []})
                for s in rows[offset:offset + limit]]
        return 200, page, {"X-Total-Count": str(len(rows))}

    def _refresh(self, raw: bytes, default_trigger: bool,
                 later: list[Callable[[], Any]]) -> tuple[int, Any, dict]:
        req = _json_object(raw)
        since, until = _body_date(req.get("since"), "since"), _body_date(req.get("until"), "until")
        if since > until:
            raise BadRequest("since must be before until")
        types = req.get("messageTypes")
        if types is not None and not types:
            raise BadRequest("messageTypes must not be empty")
        unsupported = [str(t) for t in types or () if t not in ("SMS", "MMS")]
        if unsupported:
            raise BadRequest("messageTypes contains unsupported values: " + ",".join(unsupported))
        trigger = req.get("triggerWebhooks")
        trigger = default_trigger if trigger is None else bool(trigger)
        if "SMS" in (types or ["SMS"]):
            for sms in sorted(self.system_inbox, key=lambda s: s.received_ms):
                if since <= sms.received_ms <= until:
                    self._process(sms, trigger, later)
        return 202, None, {}

    def _register_webhook(self, raw: bytes) -> tuple[int, Any, dict]:
        req = _json_object(raw)
        if req.get("deviceId") not in (None, self.device_id):
            raise BadRequest("Device ID mismatch")
        url = req.get("url") or ""
        https, http = url.lower().startswith("https://"), url.lower().startswith("http://")
        if not (https or (http and (self.insecure or urlsplit(url).hostname == "127.0.0.1"))):
            raise BadRequest("url must start with https:// or http://127.0.0.1")
        if req.get("event") not in EVENTS:
            raise BadRequest("Unsupported event")
        hook = {"id": req.get("id") or nanoid(), "url": url, "event": req["event"]}
        with self._lock:
            self.webhooks.pop(hook["id"], None)  # Room REPLACE: delete, then insert
            self.webhooks[hook["id"]] = hook
        return 201, dict(hook, source="Local"), {}


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"null")
    except ValueError as e:
        raise BadRequest(f"Failed to convert request body: {e}") from None
    if not isinstance(value, dict):
        raise BadRequest("Invalid request body")
    return value


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _query_date(text: str | None, name: str, default: int) -> int:
    """DateTimeParser: yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX; anything else is a 400 on /inbox."""
    if text is None:
        return default
    if not _QUERY_DATE.fullmatch(text):
        raise BadRequest(f"Invalid {name} datetime")
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _body_date(value: Any, name: str) -> int:
    """Gson's ISO 8601 reading: any fraction, but the zone is required."""
    if value is None:
        raise BadRequest(f"{name} is required")
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadRequest("Invalid request body") from None
    if moment.tzinfo is None:
        raise BadRequest("Invalid request body")
    return int(moment.timestamp() * 1000)


class _Handler(BaseHTTPRequestHandler):
    phone: FakePhone

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        phone = self.phone
        with phone._idle:
            phone._busy += 1
        later: list[Callable[[], Any]] = []
        try:
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with phone._lock:
                phone.calls.append((method, self.path, raw))
            try:
                status, body, headers = phone._route(method, split.path.rstrip("/") or "/", query,
                                                     raw, self.headers.get("Authorization"), later)
            except BadRequest as e:
                status, body, headers = 400, {"message": str(e)}, {}
            except Exception as e:  # noqa: BLE001 - StatusPages: anything else is a 500
                status, body, headers = 500, {"message": repr(e)}, {}
            payload = b"" if body is None else gson_dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            for work in later:  # webhooks the request caused go out after its answer
                work()
        finally:
            with phone._idle:
                phone._busy -= 1
                phone._idle.notify_all()
