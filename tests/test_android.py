"""The Android phone gateway end to end: a fake phone on loopback that speaks SMS Gateway for
Android's local API as its source has it at v1.68.0 (tests/fakes/android_phone.py, written
from the app, not from our adapter), the real `smsgw serve` and `smsgw worker` processes,
and the official client in between."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes.android_phone import FakePhone, sign
from support import wait_for

import db
from db import contacts, outbox
from db.timeutil import utcnow
from smsgw.cli import main
from smsgw.config import load
from smsgw.providers.android_sms import AndroidSender
from smsgw.worker import Worker

FARMER = "+254712345678"
SMSGW = Path(sys.executable).parent / "smsgw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """`smsgw serve` and `smsgw worker` as real processes on one config file."""

    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def _start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(SMSGW), *args, "--config", str(self.config)],
                                start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def start_server(self) -> None:
        self.server = self._start("serve", "--port", str(self.port))

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return True
            except OSError:
                return False
        wait_for(up, "the server")

    def start_worker(self) -> None:
        self.worker = self._start("worker")

    @staticmethod
    def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, sig)
            process.wait(timeout=30)

    def stop_server(self) -> None:
        self._stop(self.server)
        self.server = None

    def kill_worker(self) -> None:
        self._stop(self.worker, signal.SIGKILL)
        self.worker = None

    def stop(self) -> None:
        self._stop(self.worker)
        self.stop_server()


@pytest.fixture
def phone() -> Iterator[FakePhone]:
    with FakePhone(password="Xq7pL2vA", signing_key="s1gn1ng-k3y") as fake:
        yield fake


@pytest.fixture
def setup(tmp_path, phone, kenya_db):
    shutil.copy(kenya_db, tmp_path / "smsgw.db")
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"""
[database]
path = "{tmp_path / 'smsgw.db'}"
[server]
port = {port}
workers = 2
[providers]
default = "android"
[providers.android]
url = "{phone.url}"
password = "Xq7pL2vA"
signing_key = "s1gn1ng-k3y"
webhook_url = "http://127.0.0.1:{port}/webhooks/android"
max_per_hour = 36000
refresh_hours = 0
[worker]
poll_seconds = 0.1
lease_seconds = 4
backoff_seconds = 0.2
[logging]
level = "WARNING"
""")
    service = Service(config, port)
    try:
        yield service, config, tmp_path / "smsgw.db"
    finally:
        service.stop()


def outbox_to(path: Path, number: str) -> list[dict]:
    conn = db.connect(path)
    try:
        return [dict(r) for r in conn.execute(
            "SELECT * FROM outbox WHERE to_number = ? ORDER BY id", (number,))]
    finally:
        conn.close()


def inbound_count(path: Path) -> int:
    conn = db.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0]
    finally:
        conn.close()


def sent_to(phone: FakePhone, number: str) -> list:
    return [m for m in phone.messages.values() if number in m.recipients]


def post(port: int, body: bytes, headers: dict[str, str], route: str = "/webhooks/android"
         ) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data=body,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_farmer_texts_the_phone_and_the_phone_sends_the_reply(setup, phone):
    service, config, path = setup
    service.start_server()
    service.start_worker()
    result = CliRunner(env={"SMSGW_CONFIG": str(config)}).invoke(main, ["android", "check"])
    assert result.exit_code == 0, result.output
    assert "battery 80 % (pass)" in result.output and "webhooks registered" in result.output
    assert {hook["event"] for hook in phone.webhooks.values()} >= {
        "sms:received", "sms:sent", "sms:delivered", "sms:failed"}

    phone.receive(FARMER, "PRICE MAIZE NAKURU")
    [reply] = wait_for(lambda: sent_to(phone, FARMER), "the reply on the phone")
    assert reply.text.startswith("Maize, Nakuru") and "KES" in reply.text
    assert reply.id.startswith("smsgw-")            # our id: a resend is recognised (409)
    # Sent, then delivered: the outbox row follows the phone's reports.
    phone.advance(reply.id, "Sent")
    phone.advance(reply.id, "Delivered")
    wait_for(lambda: outbox_to(path, FARMER)[0]["status"] == "delivered", "delivered")

    # The same event again (the app retries until it gets a 2xx): one message, one reply.
    delivery = next(d for d in phone.deliveries if d.event == "sms:received")
    stamp = str(int(time.time()))
    again = post(service.port, delivery.body,
                 {"X-Signature": sign("s1gn1ng-k3y", delivery.body.decode(), stamp),
                  "X-Timestamp": stamp})
    assert again == 200
    assert inbound_count(path) == 1 and len(sent_to(phone, FARMER)) == 1


def test_forged_unsigned_and_replayed_webhooks_are_refused(setup, phone):
    service, _, path = setup
    service.start_server()
    body = (b'{"id":"ev-x","webhookId":"w","deviceId":"d","event":"sms:received","payload":'
            b'{"messageId":"ab12","message":"STOP","sender":"+254712345678",'
            b'"receivedAt":"2026-11-23T12:00:00.000+03:00"}}')
    now = str(int(time.time()))
    forged = sign("not-the-key", body.decode(), now)
    assert post(service.port, body, {"X-Signature": forged, "X-Timestamp": now}) == 403
    assert post(service.port, body, {}) == 403
    old = str(int(time.time()) - 3600)               # a captured request, replayed later
    assert post(service.port, body, {"X-Signature": sign("s1gn1ng-k3y", body.decode(), old),
                                     "X-Timestamp": old}) == 403
    tampered = body.replace(b"STOP", b"HELP")
    assert post(service.port, tampered, {"X-Signature": sign("s1gn1ng-k3y", body.decode(), now),
                                         "X-Timestamp": now}) == 403
    assert inbound_count(path) == 0


def test_a_worker_killed_after_the_phones_answer_does_not_make_it_send_twice(setup, phone):
    service, config, path = setup
    settings = load(str(config), environ={})
    conn = db.connect(path)
    with db.transaction(conn):
        message_id = outbox.enqueue(conn, to_number=FARMER, text="Maize, Nakuru: KES 35.88/kg",
                                    provider="android", kind="reply", encoding="GSM-7",
                                    segments=1, now=utcnow())
        [claimed] = outbox.claim_due(conn, now=utcnow(), lease_seconds=1, limit=1)
    # The worker handed it to the phone and died before recording that: the row is still
    # `sending`, the phone has the message.
    AndroidSender(settings).send(claimed)
    assert len(sent_to(phone, FARMER)) == 1
    time.sleep(1.1)                                   # the dead worker's lease runs out
    service.start_worker()
    wait_for(lambda: outbox_to(path, FARMER)[0]["status"] == "sent", "recorded as sent")
    assert len(sent_to(phone, FARMER)) == 1           # the phone said 409: no second SMS
    assert outbox_to(path, FARMER)[0]["provider_message_id"] == f"smsgw-{message_id}"


def test_messages_received_while_the_server_was_down_arrive_once_it_is_back(setup, phone):
    service, config, path = setup
    CliRunner(env={"SMSGW_CONFIG": str(config)}).invoke(main, ["android", "check"])  # no server
    phone.receive(FARMER, "HELP")                     # nobody answers: the app keeps it
    assert not phone.deliveries[-1].ok and inbound_count(path) == 0
    service.start_server()
    service.start_worker()
    phone.retry_webhooks(force=True)                  # the app's next retry
    [reply] = wait_for(lambda: sent_to(phone, FARMER), "the reply after the outage")
    assert "PRICE" in reply.text
    phone.retry_webhooks(force=True)                  # nothing left to retry: still one
    assert inbound_count(path) == 1


def test_a_price_reply_goes_before_a_queued_bulletin_of_a_thousand(tmp_path, phone):
    from support import make_config

    config = make_config(tmp_path, **{"providers.default": "android",
                                      "providers.android.url": phone.url,
                                      "providers.android.signing_key": "s1gn1ng-k3y",
                                      "providers.android.max_per_hour": 120,
                                      "bulletins.quiet_hours": ""})
    conn = db.connect(config["database.path"])
    db.migrate(conn)
    now = utcnow()
    with db.transaction(conn):
        subscribers = [contacts.get_or_create(conn, f"+2547990{n:05d}") for n in range(1000)]
        outbox.enqueue_many(conn, [outbox.Outgoing(c.id, c.phone, "Bulletin: maize", "GSM-7", 1)
                                   for c in subscribers],
                            provider="android", kind="bulletin", not_before=now, now=now)
        outbox.enqueue(conn, to_number=FARMER, text="Maize, Nakuru: KES 35.88/kg",
                       provider="android", kind="reply", encoding="GSM-7", segments=1, now=now)
    clock = [0.0]
    worker = Worker(config, {"android": AndroidSender(config)},
                    monotonic=lambda: clock[0],
                    sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    worker.run_once(conn)
    # At 120 SMS an hour the worker claims one message at a time, most urgent first.
    assert [list(m.recipients) for m in phone.messages.values()] == [[FARMER]]
    worker.run_once(conn)
    assert len(phone.messages) == 2 and clock[0] >= 29   # then a bulletin, 30 s later


AIRTEL_FARMER = "+254733123456"


def test_two_sims_and_a_second_phone_each_answer_the_farmers_who_texted_them(setup, phone):
    """One phone with a Safaricom and an Airtel SIM, and a second phone in the shop: each
    farmer is answered from the SIM they texted, other messages go by number prefix, and a
    phone's webhook is signed with its own key."""
    service, config, path = setup
    with FakePhone(password="sh0pPa55", signing_key="sh0p-k3y") as shop:
        config.write_text(config.read_text().replace("refresh_hours = 0", f"""refresh_hours = 0
name = "safaricom"
prefixes = "+254712"
[providers.android.phones.airtel]
sim_number = 2
prefixes = "+25473"
[providers.android.phones.shop]
url = "{shop.url}"
password = "sh0pPa55"
signing_key = "sh0p-k3y"
max_per_hour = 3600
[bulletins]
quiet_hours = ""
"""))
        service.start_server()
        service.start_worker()
        result = CliRunner(env={"SMSGW_CONFIG": str(config)}).invoke(main, ["android", "check"])
        assert result.exit_code == 0, result.output
        assert "phone safaricom" in result.output and "phone shop" in result.output
        assert "airtel (SIM 2" in result.output
        assert {h["url"] for h in phone.webhooks.values()} == \
            {f"http://127.0.0.1:{service.port}/webhooks/android"}
        assert {h["url"] for h in shop.webhooks.values()} == \
            {f"http://127.0.0.1:{service.port}/webhooks/android/shop"}

        phone.receive(AIRTEL_FARMER, "PRICE MAIZE NAKURU", sim_number=2)
        [reply] = wait_for(lambda: sent_to(phone, AIRTEL_FARMER), "the reply on SIM 2")
        assert reply.sim_number == 2 and reply.text.startswith("Maize, Nakuru")

        shop.receive(FARMER, "HELP")                  # a Safaricom number, texting the shop
        [reply] = wait_for(lambda: sent_to(shop, FARMER), "the reply from the shop's phone")
        assert "PRICE" in reply.text and not sent_to(phone, FARMER)

        conn = db.connect(path)
        with db.transaction(conn):                    # not replies: they go by prefix
            for number in (AIRTEL_FARMER, FARMER):
                outbox.enqueue(conn, to_number=number, text="Bulletin: maize up",
                               provider="android", kind="bulletin", encoding="GSM-7",
                               segments=1, now=utcnow())
        conn.close()
        wait_for(lambda: len(sent_to(phone, AIRTEL_FARMER)) == 2
                 and len(sent_to(phone, FARMER)) == 1, "the bulletins by prefix")
        assert [m.sim_number for m in sent_to(phone, AIRTEL_FARMER)] == [2, 2]
        assert sent_to(phone, FARMER)[0].sim_number is None   # the phone's default SIM

        body = (b'{"id":"ev-s","webhookId":"w","deviceId":"d","event":"sms:received",'
                b'"payload":{"messageId":"cd34","message":"HELP","sender":"+254712345679",'
                b'"receivedAt":"2026-11-23T12:00:00.000+03:00"}}')
        now = str(int(time.time()))
        shop_signed = {"X-Signature": sign("sh0p-k3y", body.decode(), now), "X-Timestamp": now}
        assert post(service.port, body, shop_signed) == 403      # not the first phone's key
        assert post(service.port, body, shop_signed, "/webhooks/android/nosuch") == 404
        assert post(service.port, body, shop_signed, "/webhooks/android/shop") == 200


def test_a_message_goes_from_the_same_phone_every_time_and_phones_share_by_rate(tmp_path):
    from support import make_config

    from db.outbox import OutboxMessage, OutboxStatus

    config = make_config(tmp_path, **{
        "providers.default": "android", "providers.android.signing_key": "k",
        "providers.android.max_per_hour": 300,
        "providers.android.phones": {"b": {"url": "http://127.0.0.1:9", "max_per_hour": 100}}})
    clock = [0.0]
    sender = AndroidSender(config, monotonic=lambda: clock[0],
                           sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert sender.max_per_second == pytest.approx(400 / 3600)

    def message(n: int, reply_from: str | None = None) -> OutboxMessage:
        return OutboxMessage(id=n, contact_id=None, to_number=f"+2547{n:08d}", text="x",
                             provider="android", kind="bulletin", status=OutboxStatus.SENDING,
                             encoding="GSM-7", segments=1, attempts=0,
                             provider_message_id=None, reply_from=reply_from)

    picks = [sender.pick(message(n)).name for n in range(1, 4001)]
    assert picks == [sender.pick(message(n)).name for n in range(1, 4001)]   # sticky
    assert 0.70 < picks.count("phone") / len(picks) < 0.80     # 300 of every 400
    assert sender.pick(message(7, reply_from="b")).name == "b"  # a reply: the phone texted
    # Each phone keeps its own pace: three messages in a row for b take 36 s each.
    for _ in range(3):
        sender._pace(sender.phones[1], 1)
    assert clock[0] == pytest.approx(72)


@pytest.mark.parametrize("phones, named", [
    ({"Shop Phone": {"url": "http://10.0.0.2:8080"}}, "a phone's name"),
    ({"two": {}}, "same url and sim_number as phone"),
    ({"two": {"sim_number": 2, "signing_key": "other"}}, "the same app"),
    ({"two": {"url": "http://10.0.0.2:8080", "max_per_hour": 0}}, "at least 1"),
])
def test_phones_that_cannot_work_stop_start_up_naming_the_phone(tmp_path, phones, named):
    from support import make_config

    from smsgw.settings import ConfigError

    with pytest.raises(ConfigError, match=named):
        make_config(tmp_path, **{"providers.default": "android",
                                 "providers.android.signing_key": "k",
                                 "providers.android.phones": phones})


def test_a_phones_secrets_are_redacted_like_the_first_phones(tmp_path):
    from support import make_config

    config = make_config(tmp_path, **{
        "providers.default": "android", "providers.android.signing_key": "k1",
        "providers.android.phones": {"shop": {"url": "http://10.0.0.2:8080",
                                              "password": "sh0pPa55", "signing_key": "sk2"}}})
    assert {"sh0pPa55", "sk2"} <= set(config.secrets())
    assert config.redacted()["providers.android.phones"]["shop"]["password"] == "***"
