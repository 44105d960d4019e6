"""The fake phone speaks SMS Gateway for Android's Local Server API (app v1.68.0).

Driven through the app's official Python client (PyPI android-sms-gateway, pinned in
requirements.lock) wherever the client covers a call, and checked against an independent
HMAC for webhook signatures, so the fake is held to the app's protocol and not to our
adapter. Where client 4.3.3 and app v1.68.0 disagree (inbox refresh), the test says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from android_sms_gateway import APIClient, Message, TextMessage, Webhook, WebhookEvent, errors
from android_sms_gateway.domain import InboxQueryFilter, InboxRefreshRequest
from android_sms_gateway.enums import WebhookDelivery
from android_sms_gateway.http import RequestsHttpClient
from android_sms_gateway.webhooks import SmsReceivedPayload
from fakes.android_phone import FakePhone

PASSWORD = "Xq7pL2vA"
KEY = "k3yS1gn8"


class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that keeps each request's raw bytes."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.hits: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.hits]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def phone(clock: Clock) -> Iterator[FakePhone]:
    with FakePhone(password=PASSWORD, signing_key=KEY, clock=clock) as fake:
        yield fake


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def make_client(phone: FakePhone, password: str = PASSWORD) -> tuple[APIClient, requests.Session]:
    session = requests.Session()
    session.trust_env = False  # loopback, never through a proxy from the environment
    return APIClient("sms", password, base_url=phone.url, http=RequestsHttpClient(session)), session


@pytest.fixture
def client(phone: FakePhone) -> Iterator[APIClient]:
    api, session = make_client(phone)
    with api:
        yield api
    session.close()


def verified(headers: dict[str, str], body: bytes, key: str = KEY) -> bool:
    """The app's scheme, computed here without the fake's code: hex HMAC-SHA256 of raw body
    bytes followed by the X-Timestamp text."""
    expected = hmac.new(key.encode(), body + headers["X-Timestamp"].encode(), hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), headers["X-Signature"])


def sms(text: str = "MAIZE 3400", to: str = "+254700000001", id: str = "outbox-1") -> Message:
    return Message(phone_numbers=[to], text_message=TextMessage(text=text), id=id)


def hook(client: APIClient, url: str, event: WebhookEvent, id: str | None = "wh") -> Webhook:
    return client.create_webhook(Webhook(id=id, url=url, event=event))


def raw_post(phone: FakePhone, path: str, body: dict) -> requests.Response:
    """A request the client cannot make as app v1.68.0 wants it."""
    with requests.Session() as session:
        session.trust_env = False
        return session.post(f"{phone.url}{path}", json=body, auth=("sms", PASSWORD))


def test_send_then_read_the_state_back(client: APIClient, phone: FakePhone) -> None:
    state = client.send(sms())
    assert (state.id, state.state.value) == ("outbox-1", "Pending")
    assert state.device_id == phone.device_id
    assert [(r.phone_number, r.state.value) for r in state.recipients] == [
        ("+254700000001", "Pending")]
    assert state.states == {}  # the app answers with the entity it just built
    sent = json.loads(phone.calls[-1][2])
    assert sent["textMessage"] == {"text": "MAIZE 3400"}
    assert sent["phoneNumbers"] == ["+254700000001"]
    assert phone.calls[-1][:2] == ("POST", "/messages")

    phone.advance("outbox-1", "Sent")
    later = client.get_state("outbox-1")
    assert later.state.value == "Sent" and set(later.states) == {"Pending", "Sent"}
    assert later.states["Sent"] == "2026-12-01T12:00:00.000+03:00"  # Gson date, phone's zone
    phone.advance("outbox-1", "Delivered")
    assert client.get_state("outbox-1").state.value == "Delivered"
    with pytest.raises(errors.NotFoundError):
        client.get_state("nope")


def test_wrong_or_missing_credentials_answer_401(phone: FakePhone) -> None:
    api, session = make_client(phone, password="wrong")
    with api, pytest.raises(errors.UnauthorizedError):
        api.send(sms())
    session.close()
    with requests.Session() as session:
        session.trust_env = False
        bare = session.post(f"{phone.url}/messages", json={})
    assert bare.status_code == 401 and bare.content == b""
    assert bare.headers["WWW-Authenticate"].startswith('Basic realm="Access to SMS Gateway"')
    assert phone.messages == {}


def test_a_repeated_id_answers_409_and_is_not_sent_twice(
    client: APIClient, phone: FakePhone
) -> None:
    client.send(sms())
    with pytest.raises(errors.APIError) as caught:
        client.send(sms(text="another text"))
    assert caught.value.status_code == 409
    assert caught.value.response == {"message": "Message with the same ID already exists"}
    assert list(phone.messages) == ["outbox-1"] and phone.messages["outbox-1"].text == "MAIZE 3400"


def test_bad_requests_answer_400_with_a_message(client: APIClient, phone: FakePhone) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        client.send(Message(phone_numbers=[], text_message=TextMessage(text="x")))
    assert caught.value.response == {"message": "Empty phone numbers list"}
    # Builds before textMessage took {"message": text} on /message; v1.68.0 still does.
    legacy = raw_post(phone, "/message", {"message": "old style", "phoneNumbers": ["+2547"]})
    assert legacy.status_code == 202 and legacy.json()["textMessage"] == {"text": "old style"}


def test_webhooks_register_list_delete(client: APIClient, receiver: Receiver) -> None:
    made = hook(client, receiver.url, WebhookEvent.SMS_RECEIVED, id="wh-in")
    assert (made.id, made.url, made.event) == ("wh-in", receiver.url, WebhookEvent.SMS_RECEIVED)
    hook(client, "https://gw.example/sent", WebhookEvent.SMS_SENT, id=None)
    hooks = client.get_webhooks()
    assert [h.event for h in hooks] == [WebhookEvent.SMS_RECEIVED, WebhookEvent.SMS_SENT]
    assert len(hooks[1].id) == 21  # a nanoid when we give none
    # Plain http is for 127.0.0.1 only, unless the phone runs the "insecure" build.
    with pytest.raises(errors.BadRequestError) as caught:
        hook(client, "http://192.168.1.10/hook", WebhookEvent.SMS_RECEIVED)
    assert caught.value.response == {"message": "url must start with https:// or http://127.0.0.1"}
    client.delete_webhook("wh-in")
    client.delete_webhook("wh-in")  # deleting twice is still 204
    assert [h.event for h in client.get_webhooks()] == [WebhookEvent.SMS_SENT]


def test_health_reports_battery_and_fails_with_500_without_internet(
    client: APIClient, phone: FakePhone
) -> None:
    health = client.health_check()
    assert health.status.value == "pass" and health.version == "1.68.0"
    assert health.checks["battery:level"].observed_value == 80
    assert "signal" not in " ".join(health.checks)  # the app reports no signal strength
    phone.battery_level = 20
    assert client.health_check().status.value == "warn"
    phone.internet = False  # e.g. a LAN with no internet: "connection:status" fails
    with pytest.raises(errors.InternalServerError) as caught:
        client.health_check()
    assert caught.value.response["status"] == "fail"


def test_receive_posts_a_signed_sms_received(
    client: APIClient, phone: FakePhone, receiver: Receiver
) -> None:
    hook(client, receiver.url, WebhookEvent.SMS_RECEIVED, id="wh-in")
    text = "PRICE maize=3400 <Nairobi> & Kisumu"
    got = phone.receive("+254711111111", text, sim_number=1)

    (headers, body), = receiver.hits
    assert verified(headers, body)
    assert not verified(headers, body, key="other-key")
    assert headers["X-Timestamp"] == str(int(phone.clock()))
    event = json.loads(body)
    assert event["event"] == "sms:received" and event["webhookId"] == "wh-in"
    assert event["deviceId"] == phone.device_id and len(event["id"]) == 21
    # Gson's HTML-safe escapes: verify over the raw bytes, never over re-serialized JSON.
    assert b"\\u003d" in body and b"\\u003c" in body
    assert not verified(headers, json.dumps(event, separators=(",", ":")).encode())
    payload = SmsReceivedPayload.from_dict(event["payload"])  # the client's own parser
    assert (payload.message, payload.sender) == (text, "+254711111111")
    assert payload.phone_number == "+254711111111"  # deprecated twin of sender
    assert payload.sim_number == 1 and payload.message_id == got.message_id
    assert payload.received_at == datetime.fromtimestamp(phone.clock(), UTC)
    # The same SMS shows in the app's inbox, newest first, with the full text.
    (row,) = client.list_inbox_messages()
    assert (row.id, row.content_preview, row.sender) == (got.inbox_id, text, "+254711111111")


def test_advance_posts_sent_delivered_failed_per_recipient(
    client: APIClient, phone: FakePhone, receiver: Receiver
) -> None:
    for event in (WebhookEvent.SMS_SENT, WebhookEvent.SMS_DELIVERED, WebhookEvent.SMS_FAILED):
        hook(client, receiver.url, event, id=event.value)
    client.send(Message(phone_numbers=["+254700000001", "+254700000002"],
                        text_message=TextMessage(text="hi"), id="o-7"))
    phone.advance("o-7", "Sent", parts_count=2)
    phone.advance("o-7", "Delivered", phone_number="+254700000001")
    phone.advance("o-7", "Failed", phone_number="+254700000002",
                  reason="RESULT_ERROR_GENERIC_FAILURE")
    events = receiver.events()
    assert [(e["event"], e["payload"]["recipient"]) for e in events] == [
        ("sms:sent", "+254700000001"), ("sms:sent", "+254700000002"),
        ("sms:delivered", "+254700000001"), ("sms:failed", "+254700000002")]
    assert all(e["payload"]["messageId"] == "o-7" for e in events)
    assert events[0]["payload"]["partsCount"] == 2 and "sentAt" in events[0]["payload"]
    assert events[3]["payload"]["reason"] == "RESULT_ERROR_GENERIC_FAILURE"
    assert all(verified(h, b) for h, b in receiver.hits)
    state = client.get_state("o-7")
    assert state.state.value == "Sent"  # neither all Delivered nor all Failed
    assert state.recipients[1].error == "RESULT_ERROR_GENERIC_FAILURE"


def test_failed_webhooks_are_retried_with_backoff_and_the_same_event_id(
    client: APIClient, phone: FakePhone, clock: Clock
) -> None:
    flaky = Receiver(statuses=[503, 500])
    try:
        hook(client, flaky.url, WebhookEvent.SMS_RECEIVED)
        phone.receive("+254711111111", "hello")
        (queued,) = phone.queue
        assert (queued.status, queued.retry_count) == ("failed", 1)
        assert queued.next_attempt == clock.now + 5
        assert phone.retry_webhooks() == []  # not due yet
        clock.now += 5
        phone.retry_webhooks()
        assert (queued.retry_count, queued.next_attempt) == (2, clock.now + 10)
        clock.now += 10
        phone.retry_webhooks()
        assert queued.status == "completed"
        bodies = [b for _, b in flaky.hits]
        assert len(bodies) == 3 and len(set(bodies)) == 1  # same event id: de-duplicate on it
        assert [h["X-Timestamp"] for h, _ in flaky.hits] == [
            str(int(clock.now - 15)), str(int(clock.now - 10)), str(int(clock.now))]
        assert all(verified(h, b) for h, b in flaky.hits)
    finally:
        flaky.close()


def test_webhooks_wait_while_down_then_go(
    client: APIClient, phone: FakePhone, receiver: Receiver
) -> None:
    hook(client, receiver.url, WebhookEvent.SMS_RECEIVED)
    phone.webhooks_down = True
    phone.receive("+254711111111", "one")
    phone.receive("+254711111112", "two")
    assert receiver.hits == [] and [q.status for q in phone.queue] == ["pending", "pending"]
    phone.webhooks_down = False
    phone.retry_webhooks()
    assert [e["payload"]["message"] for e in receiver.events()] == ["one", "two"]


def test_inbox_refresh_sends_only_what_the_app_missed(
    client: APIClient, phone: FakePhone, receiver: Receiver, clock: Clock
) -> None:
    hook(client, receiver.url, WebhookEvent.SMS_RECEIVED)
    phone.receive("+254711111111", "seen live")
    missed = phone.receive("+254711111112", "arrived while the app was down", missed=True)
    assert [m.content_preview for m in client.list_inbox_messages()] == ["seen live"]
    since = datetime.fromtimestamp(clock.now - 3600, UTC)
    until = datetime.fromtimestamp(clock.now + 60, UTC)

    # Client 4.3.3 cannot send "triggerWebhooks"; its "webhookDelivery" is for later app builds
    # and v1.68.0 ignores it. So the app records the missed SMS but posts no webhook.
    client.refresh_inbox(InboxRefreshRequest(since=since, until=until,
                                             webhook_delivery=WebhookDelivery.INDIVIDUAL))
    assert json.loads(phone.calls[-1][2])["webhookDelivery"] == "Individual"
    phone.wait_idle()
    assert len(receiver.hits) == 1
    assert missed.inbox_id in {m.id for m in client.list_inbox_messages()}

    # With triggerWebhooks the app posts sms:received for messages it had not recorded yet.
    late = phone.receive("+254711111113", "also missed", missed=True)
    body = {"since": since.isoformat(), "until": until.isoformat(), "triggerWebhooks": True}
    answer = raw_post(phone, "/inbox/refresh", body)
    assert answer.status_code == 202 and answer.content == b""
    phone.wait_idle()
    # Only "also missed": the first refresh recorded the other one without a webhook, and
    # the app never posts sms:received for a message it has recorded.
    assert [e["payload"]["message"] for e in receiver.events()] == ["seen live", "also missed"]
    assert receiver.events()[1]["payload"]["messageId"] == late.message_id
    assert len(client.list_inbox_messages()) == 3
    naive = {"since": "2026-12-01T08:00:00", "until": until.isoformat()}
    assert raw_post(phone, "/inbox/refresh", naive).status_code == 400  # Gson wants a zone


def test_inbox_query_dates_need_milliseconds_at_most(client: APIClient) -> None:
    # DateTimeParser takes yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX: Python's microseconds are a 400.
    with pytest.raises(errors.BadRequestError):
        client.list_inbox_messages(
            inbox_filter=InboxQueryFilter(from_=datetime(2026, 12, 1, 8, 0, 0, 5, UTC)))
    whole = InboxQueryFilter(from_=datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert client.list_inbox_messages(inbox_filter=whole) == []


def test_fail_sends_accepts_then_fails(
    client: APIClient, phone: FakePhone, receiver: Receiver
) -> None:
    hook(client, receiver.url, WebhookEvent.SMS_FAILED)
    phone.fail_sends = "Send result: RESULT_ERROR_NO_SERVICE"
    assert client.send(sms()).state.value == "Pending"
    phone.wait_idle()
    assert client.get_state("outbox-1").state.value == "Failed"
    assert receiver.events()[0]["payload"]["reason"] == "Send result: RESULT_ERROR_NO_SERVICE"
    phone.reject_sends = 500
    with pytest.raises(errors.InternalServerError):
        client.send(sms(id="outbox-2"))
