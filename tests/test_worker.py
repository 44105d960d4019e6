"""The outbox worker with the real senders, only their HTTP faked, on a fake clock.

Covers sending, retry with exponential backoff and jitter, giving up, permanent failures,
provider opt-outs (21610 / 406), suppression, the segment rate limit, crash recovery by
lease expiry, clean stop, and a provider that has no sender.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from twilio.http.response import Response

import db
from support import Clock, make_config, outbox_rows
from db import contacts
from db.timeutil import parse_iso
from handlers.messages import OPTOUT_CONFIRMATION
from smsgw.providers.africastalking.sms import AfricasTalkingSender
from smsgw.gateway import queue_message
from smsgw.providers.twilio_sms import TwilioSender
from smsgw.worker import Worker
from test_senders import AT_JSON, AT_URL, FakeTwilioHttp, at_body, twilio_created, twilio_error

ALICE = "+254722123456"
BOB = "+254733987654"
CAROL = "+254711000001"
ONE_SEGMENT = "Maize KES 42/kg at the Eldoret depot today."
TWO_SEGMENTS = "x" * 161  # GSM-7: 161 septets need two concatenated segments


# --------------------------------------------------------------------------- fakes


class Monotonic:
    """A monotonic clock that only the fake sleep moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeper:
    """Records each wait and lets that much monotonic time pass."""

    def __init__(self, monotonic: Monotonic) -> None:
        self.monotonic = monotonic
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.monotonic.now += seconds


def unique_sids() -> Any:
    """An answer for FakeTwilioHttp: a 201 with a new MessageSid each time."""
    numbers = itertools.count(1)
    return lambda call: twilio_created(f"SM{next(numbers):032x}", to=call["data"]["To"])


def sid(n: int) -> str:
    return f"SM{n:032x}"


def make_worker(config: Any, senders: dict[str, Any], clock: Clock,
                rng: Any = lambda: 0.5) -> tuple[Worker, Sleeper]:
    monotonic = Monotonic()
    sleeper = Sleeper(monotonic)
    worker = Worker(config, senders, clock=clock, rng=rng, monotonic=monotonic, sleep=sleeper)
    return worker, sleeper


def queue(conn: sqlite3.Connection, clock: Clock, *, to: str = ALICE, text: str = ONE_SEGMENT,
          provider: str = "twilio", kind: str = "bulletin") -> int | None:
    with db.transaction(conn):
        return queue_message(conn, to_number=to, text=text, provider=provider, kind=kind,
                             now=clock())


def row(conn: sqlite3.Connection, message_id: int | None) -> dict[str, Any]:
    found = conn.execute("SELECT * FROM outbox WHERE id = ?", (message_id,)).fetchone()
    assert found is not None
    return dict(found)


def contact_row(conn: sqlite3.Connection, phone: str) -> dict[str, Any]:
    found = conn.execute("SELECT * FROM contacts WHERE phone = ?", (phone,)).fetchone()
    assert found is not None
    return dict(found)


def delay_of(conn: sqlite3.Connection, message_id: int | None, clock: Clock) -> float:
    return (parse_iso(row(conn, message_id)["next_attempt_at"]) - clock()).total_seconds()


@pytest.fixture
def twilio_http() -> FakeTwilioHttp:
    return FakeTwilioHttp(unique_sids())


@pytest.fixture
def twilio(config: Any, twilio_http: FakeTwilioHttp) -> TwilioSender:
    return TwilioSender(config, http_client=twilio_http)


@pytest.fixture
def at_http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def at_posted(mock: responses.RequestsMock) -> list[dict[str, list[str]]]:
    bodies = [call.request.body for call in mock.calls]
    return [parse_qs(b if isinstance(b, str) else b.decode()) for b in bodies]


def at_accepts(mock: responses.RequestsMock) -> None:
    """AT accepts every send with a fresh messageId (string JSON, as AT really answers)."""
    numbers = itertools.count(1)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        to = parse_qs(request.body)["to"][0]
        return 201, {}, json.dumps(at_body(101, "Success", f"ATXid_{next(numbers):04d}", to))

    mock.add_callback(responses.POST, AT_URL, callback=answer, content_type=AT_JSON)


# --------------------------------------------------------------------------- sending


def test_sends_queued_messages_and_marks_them_sent(conn: sqlite3.Connection, config: Any,
                                                   clock: Clock, twilio: TwilioSender,
                                                   twilio_http: FakeTwilioHttp) -> None:
    ids = [queue(conn, clock, to=number, text=f"Hello {n}")
           for n, number in enumerate((ALICE, BOB, CAROL))]
    worker, sleeper = make_worker(config, {"twilio": twilio}, clock)

    assert worker.run_once(conn) == 3

    assert [(c["data"]["To"], c["data"]["Body"]) for c in twilio_http.requests] == [
        (ALICE, "Hello 0"), (BOB, "Hello 1"), (CAROL, "Hello 2")]
    for n, message_id in enumerate(ids, start=1):
        sent = row(conn, message_id)
        assert sent["status"] == "sent"
        assert sent["provider_message_id"] == sid(n)
        assert sent["attempts"] == 1
        assert sent["lease_until"] is None and sent["error"] is None
    assert worker.totals.as_dict() == {"sent": 3, "retried": 0, "failed": 0, "suppressed": 0, "deferred": 0}
    assert sleeper.waits == []
    assert worker.run_once(conn) == 0
    assert len(twilio_http.requests) == 3


def test_sends_through_africas_talking(conn: sqlite3.Connection, config: Any, clock: Clock,
                                       at_http: responses.RequestsMock) -> None:
    at_accepts(at_http)
    message_id = queue(conn, clock, provider="africastalking", text="Habari")
    worker, _ = make_worker(config, {"africastalking": AfricasTalkingSender(config)}, clock)

    assert worker.run_once(conn) == 1

    assert row(conn, message_id)["status"] == "sent"
    assert row(conn, message_id)["provider_message_id"] == "ATXid_0001"
    assert at_posted(at_http) == [{"username": ["sandbox"], "to": [ALICE], "message": ["Habari"],
                                   "bulkSMSMode": ["1"]}]


# --------------------------------------------------------------------------- retries


def test_transient_failures_back_off_exponentially_then_give_up(
        conn: sqlite3.Connection, config: Any, clock: Clock) -> None:
    http = FakeTwilioHttp(twilio_error(500, 20500, "Internal Server Error"))
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    message_id = queue(conn, clock)
    base = config["worker.backoff_seconds"]
    max_attempts = config["worker.max_attempts"]
    assert max_attempts == 6

    delays = []
    for attempt in range(1, max_attempts):
        assert worker.run_once(conn) == 1
        retried = row(conn, message_id)
        assert retried["status"] == "queued"
        assert retried["attempts"] == attempt
        assert "500" in retried["error"]
        delay = delay_of(conn, message_id, clock)
        full = base * 2 ** (attempt - 1)
        assert full / 2 <= delay <= full       # jitter: half fixed, half random
        assert delay == pytest.approx(0.75 * full)  # rng() == 0.5
        delays.append(delay)
        # Not due yet: nothing is claimed, nothing is sent.
        clock.advance(delay - 0.01)
        assert worker.run_once(conn) == 0
        clock.advance(0.02)

    assert [b / a for a, b in itertools.pairwise(delays)] == pytest.approx([2.0] * 4)
    assert worker.run_once(conn) == 1
    failed = row(conn, message_id)
    assert failed["status"] == "failed"
    assert failed["attempts"] == max_attempts
    assert failed["error"].startswith(f"gave up after {max_attempts} attempts")
    assert len(http.requests) == max_attempts
    assert worker.totals.retried == max_attempts - 1 and worker.totals.failed == 1
    clock.advance(3600)
    assert worker.run_once(conn) == 0
    assert len(http.requests) == max_attempts


def test_max_attempts_setting_is_honoured(conn: sqlite3.Connection, tmp_path: Path,
                                          clock: Clock) -> None:
    config = make_config(tmp_path, **{"worker.max_attempts": 2})
    http = FakeTwilioHttp(twilio_error(429, 20429, "Too Many Requests"))
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    message_id = queue(conn, clock)

    worker.run_once(conn)
    assert row(conn, message_id)["status"] == "queued"
    clock.advance(3600)
    worker.run_once(conn)

    assert row(conn, message_id)["status"] == "failed"
    assert len(http.requests) == 2


def test_transient_then_success(conn: sqlite3.Connection, config: Any, clock: Clock) -> None:
    import requests

    http = FakeTwilioHttp(requests.ConnectionError("reset by peer"), twilio_created("SMok"))
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    message_id = queue(conn, clock)

    worker.run_once(conn)
    assert row(conn, message_id)["status"] == "queued"
    assert "ConnectionError" in row(conn, message_id)["error"]
    clock.advance(60)
    worker.run_once(conn)

    sent = row(conn, message_id)
    assert (sent["status"], sent["provider_message_id"], sent["attempts"]) == ("sent", "SMok", 2)
    assert sent["error"] is None


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_backoff_jitter_bounds_and_cap(config: Any, clock: Clock, draw: float) -> None:
    worker, _ = make_worker(config, {}, clock, rng=lambda: draw)
    base, cap = config["worker.backoff_seconds"], config["worker.backoff_max_seconds"]
    for attempts in range(1, 12):
        full = min(cap, base * 2 ** (attempts - 1))
        delay = worker.backoff(attempts)
        assert full / 2 <= delay <= full
        assert delay == pytest.approx(full / 2 + draw * full / 2)
    assert worker.backoff(50) <= cap


# --------------------------------------------------------------------------- permanent failures


def test_permanent_failure_fails_at_once(conn: sqlite3.Connection, config: Any,
                                         clock: Clock) -> None:
    http = FakeTwilioHttp(twilio_error(400, 21211, "The 'To' number is not a valid phone number."))
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    message_id = queue(conn, clock)

    worker.run_once(conn)

    failed = row(conn, message_id)
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "21211" in failed["error"]
    assert contact_row(conn, ALICE)["opted_out"] == 0
    clock.advance(3600)
    assert worker.run_once(conn) == 0
    assert len(http.requests) == 1


def test_twilio_21610_opts_the_contact_out(conn: sqlite3.Connection, config: Any,
                                           clock: Clock) -> None:
    def answer(call: dict[str, Any]) -> Response:
        if call["data"]["To"] == ALICE:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        return twilio_created("SMbob")

    http = FakeTwilioHttp(answer)
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    first = queue(conn, clock, text="first")
    second = queue(conn, clock, text="second")   # queued before anyone knew
    other = queue(conn, clock, to=BOB, text="for bob")

    assert worker.run_once(conn) == 3

    assert row(conn, first)["status"] == "failed"
    assert "21610" in row(conn, first)["error"]
    assert row(conn, second)["status"] == "suppressed"
    assert row(conn, other)["status"] == "sent"
    assert [c["data"]["Body"] for c in http.requests] == ["first", "for bob"]
    alice = contact_row(conn, ALICE)
    assert alice["opted_out"] == 1 and alice["opt_out_source"] == "provider"
    assert contact_row(conn, BOB)["opted_out"] == 0
    assert worker.totals.as_dict() == {"sent": 1, "retried": 0, "failed": 1, "suppressed": 1, "deferred": 0}
    # Nothing new is even queued for her now, and nothing reaches Twilio.
    assert queue(conn, clock, text="later") is None
    assert worker.run_once(conn) == 0
    assert len(http.requests) == 2


def test_at_406_opts_the_contact_out(conn: sqlite3.Connection, config: Any, clock: Clock,
                                     at_http: responses.RequestsMock) -> None:
    at_http.add(responses.POST, AT_URL, body=json.dumps(at_body(406, "UserInBlacklist")),
                status=201, content_type=AT_JSON)
    worker, _ = make_worker(config, {"africastalking": AfricasTalkingSender(config)}, clock)
    first = queue(conn, clock, provider="africastalking", text="first")
    second = queue(conn, clock, provider="africastalking", text="second")

    worker.run_once(conn)

    assert row(conn, first)["status"] == "failed"
    assert row(conn, second)["status"] == "suppressed"
    assert len(at_http.calls) == 1
    assert contact_row(conn, ALICE)["opted_out"] == 1
    assert queue(conn, clock, provider="africastalking") is None


def test_opt_out_after_queueing_is_honoured_but_confirmation_goes_out(
        conn: sqlite3.Connection, config: Any, clock: Clock, twilio: TwilioSender,
        twilio_http: FakeTwilioHttp) -> None:
    bulletin = queue(conn, clock, text="Weekly prices")
    with db.transaction(conn):
        contact = contacts.get_or_create(conn, ALICE)
        contacts.set_opted_out(conn, contact.id, source="keyword")
    confirmation = queue(conn, clock, text="You are unsubscribed. Reply START to rejoin.",
                         kind=OPTOUT_CONFIRMATION)
    assert confirmation is not None
    worker, _ = make_worker(config, {"twilio": twilio}, clock)

    assert worker.run_once(conn) == 2

    assert row(conn, bulletin)["status"] == "suppressed"
    assert row(conn, bulletin)["provider_message_id"] is None
    assert row(conn, confirmation)["status"] == "sent"
    assert [c["data"]["Body"] for c in twilio_http.requests] == [
        "You are unsubscribed. Reply START to rejoin."]


# --------------------------------------------------------------------------- rate limit


@pytest.mark.parametrize("rate,count", [(4, 10), (1, 5), (10, 10), (10, 25)])
def test_rate_limit_spaces_one_segment_messages(conn: sqlite3.Connection, tmp_path: Path,
                                                clock: Clock, rate: int, count: int) -> None:
    config = make_config(tmp_path, **{"providers.twilio.max_per_second": rate})
    http = FakeTwilioHttp(unique_sids())
    worker, sleeper = make_worker(config, {"twilio": TwilioSender(config, http_client=http)},
                                  clock)
    for n in range(count):
        queue(conn, clock, text=f"bulletin {n}")

    sent = 0
    while (handled := worker.run_once(conn)):
        sent += handled

    assert sent == count == len(http.requests)
    assert sum(sleeper.waits) == pytest.approx((count - rate) / rate)
    assert all(wait == pytest.approx(1 / rate) for wait in sleeper.waits)


def test_rate_limit_counts_segments_not_messages(conn: sqlite3.Connection, tmp_path: Path,
                                                 clock: Clock) -> None:
    config = make_config(tmp_path, **{"providers.twilio.max_per_second": 4})
    http = FakeTwilioHttp(unique_sids())
    worker, sleeper = make_worker(config, {"twilio": TwilioSender(config, http_client=http)},
                                  clock)
    ids = [queue(conn, clock, text=TWO_SEGMENTS) for _ in range(4)]
    assert [row(conn, i)["segments"] for i in ids] == [2, 2, 2, 2]

    assert worker.run_once(conn) == 4

    # 8 segments at 4 per second with a one-second burst: 4 go at once, 4 wait 1 s.
    assert sum(sleeper.waits) == pytest.approx((8 - 4) / 4)
    assert len(http.requests) == 4


def test_rate_limit_is_per_provider(conn: sqlite3.Connection, tmp_path: Path, clock: Clock,
                                    at_http: responses.RequestsMock) -> None:
    config = make_config(tmp_path, **{"providers.twilio.max_per_second": 2,
                                      "providers.africastalking.max_per_second": 2})
    at_accepts(at_http)
    http = FakeTwilioHttp(unique_sids())
    worker, sleeper = make_worker(config, {"twilio": TwilioSender(config, http_client=http),
                                           "africastalking": AfricasTalkingSender(config)}, clock)
    for provider in ("twilio", "africastalking", "twilio", "africastalking"):
        queue(conn, clock, provider=provider)

    assert worker.run_once(conn) == 4

    assert sleeper.waits == []  # two each: both within their own one-second burst
    assert len(http.requests) == 2 and len(at_http.calls) == 2


# --------------------------------------------------------------------------- crash and stop


def test_killed_worker_claims_are_resent_after_the_lease(conn: sqlite3.Connection, config: Any,
                                                         clock: Clock, twilio: TwilioSender,
                                                         twilio_http: FakeTwilioHttp) -> None:
    ids = [queue(conn, clock, to=number) for number in (ALICE, BOB, CAROL)]
    doomed, _ = make_worker(config, {"twilio": twilio}, clock)

    claimed = doomed.claim(conn)
    del doomed  # killed between claim and confirm: no send, no release

    assert [m.id for m in claimed] == ids
    assert [r["status"] for r in outbox_rows(conn)] == ["sending"] * 3
    lease = config["worker.lease_seconds"]

    successor, _ = make_worker(config, {"twilio": twilio}, clock)
    assert successor.run_once(conn) == 0           # the lease still holds
    clock.advance(lease - 1)
    assert successor.run_once(conn) == 0
    assert twilio_http.requests == []

    clock.advance(2)                               # past the lease
    assert successor.run_once(conn) == 3
    assert sorted(c["data"]["To"] for c in twilio_http.requests) == sorted((ALICE, BOB, CAROL))
    rows = outbox_rows(conn)
    assert [r["status"] for r in rows] == ["sent"] * 3
    assert len({r["provider_message_id"] for r in rows}) == 3

    clock.advance(10 * lease)                      # nothing is sent a second time
    assert successor.run_once(conn) == 0
    assert len(twilio_http.requests) == 3


def test_stop_before_sending_releases_the_batch(conn: sqlite3.Connection, config: Any,
                                                clock: Clock, twilio: TwilioSender,
                                                twilio_http: FakeTwilioHttp) -> None:
    ids = [queue(conn, clock) for _ in range(3)]
    worker, _ = make_worker(config, {"twilio": twilio}, clock)
    stop = threading.Event()
    stop.set()

    assert worker.run_once(conn, stop) == 0

    assert twilio_http.requests == []
    for message_id in ids:
        released = row(conn, message_id)
        assert (released["status"], released["attempts"], released["lease_until"]) == (
            "queued", 0, None)
    # Released claims are due at once: the next worker does not wait for a lease.
    assert make_worker(config, {"twilio": twilio}, clock)[0].run_once(conn) == 3
    assert [row(conn, i)["attempts"] for i in ids] == [1, 1, 1]


def test_stop_mid_batch_releases_the_rest(conn: sqlite3.Connection, config: Any,
                                          clock: Clock) -> None:
    stop = threading.Event()
    answers = unique_sids()

    def answer_then_stop(call: dict[str, Any]) -> Response:
        stop.set()  # the signal arrives while the first message is in flight
        return answers(call)

    http = FakeTwilioHttp(answer_then_stop)
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    ids = [queue(conn, clock) for _ in range(3)]

    assert worker.run_once(conn, stop) == 1

    assert [row(conn, i)["status"] for i in ids] == ["sent", "queued", "queued"]
    assert [row(conn, i)["attempts"] for i in ids] == [1, 0, 0]
    assert len(http.requests) == 1


def test_message_for_a_provider_without_sender_is_retried_not_lost(
        conn: sqlite3.Connection, config: Any, clock: Clock, twilio: TwilioSender,
        twilio_http: FakeTwilioHttp, at_http: responses.RequestsMock) -> None:
    message_id = queue(conn, clock, provider="africastalking", text="Habari")
    worker, _ = make_worker(config, {"twilio": twilio}, clock)

    assert worker.run_once(conn) == 1

    waiting = row(conn, message_id)
    assert waiting["status"] == "queued" and waiting["attempts"] == 1
    assert "africastalking is not configured" in waiting["error"]
    assert delay_of(conn, message_id, clock) > 0
    assert twilio_http.requests == [] and len(at_http.calls) == 0

    # Once the provider is configured the message goes out.
    at_accepts(at_http)
    clock.advance(config["worker.backoff_seconds"])
    fixed, _ = make_worker(config, {"africastalking": AfricasTalkingSender(config)}, clock)
    assert fixed.run_once(conn) == 1
    assert row(conn, message_id)["status"] == "sent"
    assert row(conn, message_id)["provider_message_id"] == "ATXid_0001"
    assert len(at_http.calls) == 1


def test_a_batch_never_outlives_its_lease(conn: sqlite3.Connection, tmp_path: Path,
                                          clock: Clock) -> None:
    """Long messages at a low rate: a second worker must not re-send what the first still holds.

    Worker A sends 10-segment messages at 1 segment per second; its waits pass real time
    (the fake sleep moves the wall clock too). Worker B, another process, looks for due
    work after each of A's waits. Every message must reach Twilio exactly once.
    """
    config = make_config(tmp_path, **{"providers.twilio.max_per_second": 1})
    lease = config["worker.lease_seconds"]
    http = FakeTwilioHttp(unique_sids())
    sender = TwilioSender(config, http_client=http)
    other, _ = make_worker(config, {"twilio": sender}, clock)
    monotonic = Monotonic()

    def sleep_while_other_worker_runs(seconds: float) -> None:
        monotonic.now += seconds
        clock.advance(seconds)
        other.run_once(conn)

    worker = Worker(config, {"twilio": sender}, clock=clock, rng=lambda: 0.5,
                    monotonic=monotonic, sleep=sleep_while_other_worker_runs)
    long_text = "y" * 1500  # GSM-7: 10 segments
    ids = [queue(conn, clock, text=long_text + str(n)) for n in range(12)]
    assert row(conn, ids[0])["segments"] == 10

    handled = worker.run_once(conn)
    assert 0 < handled < 12  # A handed the rest back before its lease could run out
    for _ in range(20):  # both keep going until the outbox is empty
        clock.advance(lease + 1)
        worker.run_once(conn)
        other.run_once(conn)

    bodies = [c["data"]["Body"] for c in http.requests]
    assert sorted(bodies) == sorted(long_text + str(n) for n in range(12))  # once each
    assert [r["status"] for r in outbox_rows(conn)] == ["sent"] * 12


def test_claiming_reads_the_due_index_not_the_whole_outbox(tmp_path):
    """Every worker round, idle polls included, claims through outbox_due: a scan of the
    outbox would cost 0.4 s a round at 500,000 rows."""
    from datetime import UTC, datetime

    from db import outbox

    conn = db.connect(tmp_path / "plan.db")
    db.migrate(conn)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    with db.transaction(conn):
        outbox.claim_due(conn, now=datetime(2026, 11, 23, tzinfo=UTC), lease_seconds=30,
                         limit=10)
    conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT ID FROM OUTBOX")]
    assert len(selects) >= 2
    for statement in selects:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "outbox_due" in plan and "SCAN outbox" not in plan, (statement, plan)
    conn.close()
