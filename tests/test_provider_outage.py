"""Fault injection: a provider outage. The phone (the fake Android gateway, a real HTTP
server on loopback) first answers 503, then stops answering at all (requests time out);
when it comes back, everything is delivered, replies before bulletins, none twice."""

from __future__ import annotations

import time

import pytest
from support import make_config
from fakes.android_phone import FakePhone

import db
from db import contacts, outbox
from db.timeutil import utcnow
from smsgw.providers.android_sms import AndroidSender
from smsgw.worker import Worker

REPLIES, BULLETINS = 5, 20


@pytest.fixture
def phone():
    with FakePhone(password="Xq7pL2vA", signing_key="s1gn1ng-k3y") as fake:
        yield fake


def test_after_an_outage_everything_goes_replies_first_and_nothing_twice(tmp_path, phone):
    config = make_config(tmp_path, **{
        "providers.default": "android", "providers.android.url": phone.url,
        "providers.android.signing_key": "s1gn1ng-k3y", "providers.android.max_per_hour": 360000,
        "providers.android.timeout_seconds": 1.0, "bulletins.quiet_hours": "",
        "worker.backoff_seconds": 0.05, "worker.backoff_max_seconds": 0.2,
        "worker.max_attempts": 50, "worker.lease_seconds": 4})
    conn = db.connect(config["database.path"])
    db.migrate(conn)
    now = utcnow()
    with db.transaction(conn):
        people = [contacts.get_or_create(conn, f"+25471300{n:04d}")
                  for n in range(REPLIES + BULLETINS)]
        outbox.enqueue_many(conn, [outbox.Outgoing(p.id, p.phone, "Bulletin: maize up", "GSM-7", 1)
                                   for p in people[REPLIES:]],
                            provider="android", kind="bulletin", not_before=now, now=now)
        for person in people[:REPLIES]:   # queued after the bulletin, but more urgent
            outbox.enqueue(conn, to_number=person.phone, text="Maize, Nakuru: KES 35.88/kg",
                           provider="android", kind="reply", encoding="GSM-7", segments=1,
                           now=now, contact_id=person.id)
    worker = Worker(config, {"android": AndroidSender(config)})

    phone.reject_sends = 503                         # the phone's server is up but failing
    for _ in range(3):
        worker.run_once(conn)
        time.sleep(0.25)
    assert phone.messages == {} and worker.totals.retried > 0

    hang = phone._send
    phone._send = lambda raw, later: (time.sleep(1.5), hang(raw, later))[1]   # no answer
    phone.reject_sends = None
    worker.run_once(conn)                            # times out: the phone may or may not
    phone._send = hang                               # have kept it; our id tells us later
    time.sleep(0.3)                                  # every retry is due again

    deadline = time.monotonic() + 30
    while conn.execute("SELECT COUNT(*) FROM outbox WHERE status != 'sent'").fetchone()[0]:
        assert time.monotonic() < deadline, "not everything was sent after the outage"
        worker.run_once(conn)
    ids = {f"smsgw-{row[0]}": row[1] for row in conn.execute("SELECT id, kind FROM outbox")}
    assert set(phone.messages) == set(ids)           # each exactly once on the phone
    order = [ids[message_id] for message_id in phone.messages]   # the order the phone got them
    first_bulletin = order.index("bulletin")
    assert "reply" not in order[first_bulletin:], order
