"""Fault injection: the outbox worker killed with SIGKILL at random moments while it sends
through a phone (the fake Android gateway on loopback, a real HTTP server) loses nothing and
sends nothing twice.

The android provider sends every message under our own id, and the phone answers 409 to an
id it already has; so the one duplicate window of the other providers (the provider took the
message, the worker died before recording it) sends no second SMS here: it is counted as a
409 the phone answered, and the message is recorded as sent. See docs/reliability.md.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes.android_phone import FakePhone

import db
from db import contacts, outbox
from db.timeutil import utcnow

SMSGW = Path(sys.executable).parent / "smsgw"
MESSAGES = 200
KILLS = 50


@pytest.fixture
def phone():
    with FakePhone(password="Xq7pL2vA", signing_key="s1gn1ng-k3y") as fake:
        yield fake


def slow_answers(phone: FakePhone, seconds: float) -> None:
    """The phone takes a message, then answers late (a phone on a weak USB link): a kill in
    between lands in the window where the phone has it and we have not recorded it."""
    send = phone._send

    def late(raw, later):
        answer = send(raw, later)
        time.sleep(seconds)
        return answer

    phone._send = late


def test_fifty_kill_9s_of_the_worker_lose_nothing_and_send_nothing_twice(tmp_path, phone):
    slow_answers(phone, 0.15)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[database]
path = "{tmp_path / 'smsgw.db'}"
[providers]
default = "android"
[providers.android]
url = "{phone.url}"
password = "Xq7pL2vA"
signing_key = "s1gn1ng-k3y"
max_per_hour = 360000
refresh_hours = 0
[worker]
poll_seconds = 0.05
lease_seconds = 1
batch_size = 5
[bulletins]
quiet_hours = ""
prices_schedule = ""
standards_schedule = ""
[retention]
prune_schedule = ""
[logging]
level = "WARNING"
""")
    conn = db.connect(tmp_path / "smsgw.db")
    db.migrate(conn)
    now = utcnow()
    with db.transaction(conn):
        for n in range(MESSAGES):
            person = contacts.get_or_create(conn, f"+25471200{n:04d}")
            outbox.enqueue(conn, to_number=person.phone, text=f"Maize KES {3000 + n}",
                           provider="android", kind="reply", encoding="GSM-7", segments=1,
                           now=now, contact_id=person.id)

    def unsent() -> int:
        return conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()[0]

    rng = random.Random(20261201)
    kills_while_sending = 0
    deadline = time.monotonic() + 180

    def start() -> subprocess.Popen:
        return subprocess.Popen([str(SMSGW), "worker", "--config", str(config)],
                                start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    for _ in range(KILLS):
        worker = start()
        time.sleep(rng.uniform(0.3, 1.6))   # start-up takes ~0.7 s: before and during sends
        kills_while_sending += unsent() > 0
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    # (200 messages at 0.15 s each outlast the kills on any machine this runs on.)
    assert kills_while_sending == KILLS, "the kills must land while there is still work"
    worker = start()
    while unsent() and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)
    kills = KILLS
    assert unsent() == 0, "every message ends sent"
    # Exactly once on the phone: one message per outbox row, under that row's id.
    ids = {f"smsgw-{row[0]}" for row in conn.execute("SELECT id FROM outbox")}
    assert set(phone.messages) == ids
    assert all(len(m.recipients) == 1 for m in phone.messages.values())
    sends = [call for call in phone.calls if call[0] == "POST" and "/message" in call[1]]
    repeats = len(sends) - MESSAGES
    # The window (phone accepted, worker killed before its commit) was hit `repeats` times;
    # each was answered 409 by the phone and cost no second SMS.
    assert repeats > 0, "no kill landed in the window: the test would prove less than it says"
    print(f"{kills} kills, {len(sends)} sends for {MESSAGES} messages, {repeats} resent in the"
          " window, 0 duplicate SMS")
