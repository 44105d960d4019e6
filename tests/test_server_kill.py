"""kill -9 of a web server process in the middle of a burst of webhooks.

Through the REAL server (`smsgw serve`: gunicorn, 2 workers x 4 threads, on 127.0.0.1),
several threads send a burst of a few hundred webhooks, each with its own message id and
sender: local JSON (bearer token) and signed Twilio, HELP, SUB MAIZE NAKURU and STOP. In
the middle of it one gunicorn WORKER is SIGKILLed (its master starts another), or the
master and its workers all at once (the server is then started again on the same
database). The test then does what a provider does: every webhook that did not get a 200
(a reset connection, a refused one, a 5xx) is sent again, identical, until it gets one.

Then: every id answered 200 is in `inbound` exactly once, with its replies in `outbox`
(the ones the answer carried, and no others), its effect applied once (one subscription,
one opt-out); none is there twice; the retried ones were applied once, whether the cut-off
copy had been committed (its retry is answered as a duplicate, with the same replies) or not.
"""

from __future__ import annotations

import http.client
import json
import queue
import shutil
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from support import LOCAL_TOKEN, TWILIO_SID, TWILIO_TOKEN, twilio_inbound, twilio_signature
from fakes.real_server import HOST, RealServer

import db

BURST = 360                 # webhooks in one burst
CLIENTS = 8                 # threads sending them (the server has 2 x 4)
KILL_AFTER = BURST // 3     # answers received before the kill
RETRY_FOR = 30.0            # seconds a provider keeps retrying in this test
COMMANDS = ["HELP", "SUB MAIZE NAKURU", "STOP"]


@dataclass(frozen=True)
class Webhook:
    """One inbound SMS as a provider posts it."""

    n: int
    provider: str         # local | twilio
    message_id: str
    sender: str
    text: str
    path: str
    body: bytes
    headers: dict[str, str]


def webhooks(server: RealServer, count: int) -> list[Webhook]:
    made = []
    for n in range(count):
        provider = "local" if n % 2 == 0 else "twilio"
        sender, text = f"+25473{n:07d}", COMMANDS[n % len(COMMANDS)]
        if provider == "local":
            message_id = f"kill-{n}"
            path = "/webhooks/local/sms"
            body = json.dumps({"from": sender, "to": "local", "text": text,
                               "id": message_id}).encode()
            headers = {"Content-Type": "application/json",
                       "Authorization": f"Bearer {LOCAL_TOKEN}"}
        else:
            message_id = f"SM{n:032x}"
            path = "/webhooks/twilio/sms"
            form = twilio_inbound(text, sid=message_id, sender=sender)
            body = urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": twilio_signature(server.url + path, form)}
        made.append(Webhook(n, provider, message_id, sender, text, path, body, headers))
    return made


@dataclass
class Outcomes:
    """What the provider saw of each webhook: every attempt, and the first 200."""

    answered: dict[int, bytes] = field(default_factory=dict)     # n -> body of its 200
    attempts: Counter[int] = field(default_factory=Counter)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (n, what went wrong)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pending(self, hooks: list[Webhook]) -> list[Webhook]:
        return [hook for hook in hooks if hook.n not in self.answered]


def send(server: RealServer, hooks: list[Webhook], outcomes: Outcomes, *,
         threads: int = CLIENTS, on_answer: Callable[[int], None] | None = None) -> None:
    """Send each webhook once, from `threads` keep-alive connections; record what came
    back (a connection that fails is replaced for the next webhook)."""
    work: queue.SimpleQueue[Webhook] = queue.SimpleQueue()
    for hook in hooks:
        work.put(hook)

    def client() -> None:
        conn: http.client.HTTPConnection | None = None
        while True:
            try:
                hook = work.get_nowait()
            except queue.Empty:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
                conn.request("POST", hook.path, body=hook.body, headers=hook.headers)
                response = conn.getresponse()
                status, body = response.status, response.read()
                problem = None if status == 200 else f"HTTP {status}: {body[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                if conn is not None:
                    conn.close()
                conn = None
            with outcomes.lock:
                outcomes.attempts[hook.n] += 1
                if problem is None:
                    outcomes.answered.setdefault(hook.n, body)
                    done = len(outcomes.answered)
                else:
                    outcomes.failures.append((hook.n, problem))
                    done = None
            if done is not None and on_answer is not None:
                on_answer(done)
        if conn is not None:
            conn.close()

    started = [threading.Thread(target=client) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a client thread hung"


def retry_until_answered(server: RealServer, hooks: list[Webhook], outcomes: Outcomes) -> None:
    """As a provider does: send what was not answered 200 again, until it is."""
    deadline = time.monotonic() + RETRY_FOR
    while outcomes.pending(hooks):
        assert time.monotonic() < deadline, (
            f"{len(outcomes.pending(hooks))} webhooks still unanswered after {RETRY_FOR:g} s;"
            f" last failures {outcomes.failures[-3:]}\n{server.log_tail()}")
        send(server, outcomes.pending(hooks), outcomes, threads=4)
        if outcomes.pending(hooks):
            time.sleep(0.2)


def burst_with_kill(server: RealServer, hooks: list[Webhook],
                    kill: Callable[[], None]) -> tuple[Outcomes, int]:
    """Send the burst; once KILL_AFTER webhooks are answered, `kill` (from a thread of its
    own, while the clients go on); the number answered when the kill was done."""
    outcomes = Outcomes()
    reached = threading.Event()
    killed_at: list[int] = []

    def watch(done: int) -> None:
        if done >= KILL_AFTER:
            reached.set()

    def killer() -> None:
        if reached.wait(timeout=60):
            kill()
            with outcomes.lock:
                killed_at.append(len(outcomes.answered))

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        send(server, hooks, outcomes, on_answer=watch)
    finally:
        reached.set()
        thread.join(timeout=30)
    assert killed_at, "the kill did not happen"
    return outcomes, killed_at[0]


# ------------------------------------------------------------------------------ checks


def reply_texts(hook: Webhook, body: bytes) -> tuple[list[str], bool | None]:
    """The reply texts a 200 answer carried, and (local only) whether it says duplicate."""
    if hook.provider == "local":
        answer = json.loads(body)
        return [r["text"] for r in answer["replies"]], answer["duplicate"]
    root = ElementTree.fromstring(body)
    assert root.tag == "Response", body
    return [m.text or "" for m in root.iter("Message")], None


def check_database(database: Path, hooks: list[Webhook], outcomes: Outcomes) -> Counter[str]:
    """Every webhook answered 200 is stored once with its replies and effects; what kinds
    of answers the provider got (for the failure messages)."""
    assert not outcomes.pending(hooks)
    conn = db.connect(database)
    try:
        inbound = {(r["provider"], r["provider_message_id"]): dict(r)
                   for r in conn.execute("SELECT * FROM inbound")}
        total = conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0]
        assert total == len(inbound) == len(hooks), (total, len(hooks))
        replies: dict[int, list[sqlite3.Row]] = {}
        for row in conn.execute("SELECT * FROM outbox ORDER BY id"):
            assert row["inbound_id"] is not None, f"an outbox row of no message: {dict(row)}"
            replies.setdefault(row["inbound_id"], []).append(row)
        kinds: Counter[str] = Counter()
        for hook in hooks:
            row = inbound.get((hook.provider, hook.message_id))
            assert row is not None, f"webhook {hook.n} answered 200 but not stored"
            assert row["text"] == hook.text and row["outcome"] == "handled", row
            stored = replies.get(row["id"], [])
            texts, duplicate = reply_texts(hook, outcomes.answered[hook.n])
            assert texts == [r["text"] for r in stored], (hook, texts)
            assert len(stored) == 1, f"webhook {hook.n}: {len(stored)} replies stored"
            assert stored[0]["to_number"] == hook.sender and stored[0]["status"] == "replied"
            retried = outcomes.attempts[hook.n] > 1
            kinds["retried" if retried else "first try"] += 1
            if duplicate:
                assert retried, f"webhook {hook.n} answered as a duplicate on its first try"
                kinds["retry found it committed"] += 1
            check_effect(conn, hook, stored[0]["text"])
        assert len(replies) == len(hooks)
        return kinds
    finally:
        conn.close()


def check_effect(conn: sqlite3.Connection, hook: Webhook, reply: str) -> None:
    contact = conn.execute("SELECT id, opted_out FROM contacts WHERE phone = ?",
                           (hook.sender,)).fetchone()
    subscriptions = conn.execute("SELECT COUNT(*) FROM subscriptions WHERE contact_id = ?",
                                 (contact["id"],)).fetchone()[0]
    if hook.text == "HELP":
        assert "PRICE MAIZE NAKURU" in reply and subscriptions == 0 and not contact["opted_out"]
    elif hook.text.startswith("SUB"):
        assert reply.startswith("You now follow Maize at Nakuru"), reply
        assert subscriptions == 1 and not contact["opted_out"]
    else:
        assert reply.startswith("You will get no more messages"), reply
        assert contact["opted_out"] == 1 and subscriptions == 0


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def server(kenya_db, tmp_path) -> Iterator[RealServer]:
    started = RealServer(tmp_path, {
        "providers.twilio": {"enabled": True, "account_sid": TWILIO_SID,
                             "auth_token": TWILIO_TOKEN, "from_number": "+15005550006",
                             "allow_http": True},
        "providers.local": {"token": LOCAL_TOKEN},
        # A price question from each sender: no sender's limit can get in the way.
        "limits": {"sender_messages": 1000},
    })
    shutil.copy(kenya_db, started.db_path)
    try:
        started.start()
        yield started
    finally:
        started.stop()


# ------------------------------------------------------------------------------ the tests


def test_a_worker_killed_mid_burst_loses_nothing_and_applies_nothing_twice(server):
    hooks = webhooks(server, BURST)
    workers = server.worker_pids()
    assert len(workers) == 2
    victim = workers[0]

    outcomes, killed_at = burst_with_kill(server, hooks, lambda: server.kill_worker(victim))
    assert killed_at < BURST, "the burst was over before the kill"
    # The master starts a new worker in place of the dead one.
    deadline = time.monotonic() + 15
    while (len(server.worker_pids()) != 2 or victim in server.worker_pids()) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim not in server.worker_pids() and len(server.worker_pids()) == 2, (
        f"gunicorn did not replace worker {victim}\n{server.log_tail()}")

    retry_until_answered(server, hooks, outcomes)
    kinds = check_database(server.db_path, hooks, outcomes)
    assert kinds["first try"] + kinds["retried"] == BURST, kinds


def test_the_whole_server_killed_mid_burst_then_restarted_loses_nothing(server):
    hooks = webhooks(server, BURST)

    outcomes, killed_at = burst_with_kill(server, hooks, server.kill_all)
    assert killed_at < BURST, "the burst was over before the kill"
    assert server.process is not None and server.process.poll() is not None
    assert outcomes.pending(hooks), "nothing was cut off by killing the whole server"

    server.start()                       # the same config: same port, same database
    retry_until_answered(server, hooks, outcomes)
    kinds = check_database(server.db_path, hooks, outcomes)
    assert kinds["retried"] > 0 and kinds["first try"] + kinds["retried"] == BURST, kinds
