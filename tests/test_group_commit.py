"""db.grouped(): writes of several threads committed together, each still all-or-nothing.

Batches are made deterministic here by holding the write lock on one connection while
other threads queue their writes, then letting go: the first of them leads and commits
every write queued by then in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import db
from db import connection

pytest.importorskip("fcntl")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    database = tmp_path / "group.db"
    conn = db.connect(database)
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT UNIQUE)")
    conn.close()
    return database


def insert(who: str) -> Callable[[sqlite3.Connection], Any]:
    def work(conn: sqlite3.Connection) -> tuple[int, int]:
        cursor = conn.execute("INSERT INTO log (who) VALUES (?)", (who,))
        return int(cursor.lastrowid or 0), id(conn)
    return work


def rows(path: Path) -> dict[str, int]:
    conn = db.connect(path)
    try:
        return {who: row_id for row_id, who in conn.execute("SELECT id, who FROM log")}
    finally:
        conn.close()


def pending(path: Path) -> int:
    group = connection._groups.get(str(path.resolve()) + connection.LOCK_SUFFIX)
    return 0 if group is None else len(group.pending)


def wait_until_queued(path: Path, count: int) -> None:
    """Wait until `count` grouped writes are queued for this database (10 s at most)."""
    deadline = time.monotonic() + 10
    while pending(path) < count:
        assert time.monotonic() < deadline, "writes did not queue up"
        time.sleep(0.005)


def runner(path: Path, outcomes: dict[str, tuple[str, Any]]
           ) -> Callable[[str, Callable[[sqlite3.Connection], Any]], None]:
    """A thread body: one grouped write on its own connection, its outcome recorded as
    ("ok", result) or ("error", exception)."""
    def run(name: str, work: Callable[[sqlite3.Connection], Any]) -> None:
        conn = db.connect(path)
        try:
            outcomes[name] = ("ok", db.grouped(conn, work))
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcomes[name] = ("error", exc)
        finally:
            conn.close()
    return run


def batch(path: Path, works: dict[str, Callable[[sqlite3.Connection], Any]]
          ) -> dict[str, tuple[str, Any]]:
    """Run each work in its own thread and connection while the write lock is held, so they
    queue up; then let go. What each thread got: ("ok", result) or ("error", exception)."""
    holder = db.connect(path)
    outcomes: dict[str, tuple[str, Any]] = {}
    run = runner(path, outcomes)
    threads = [threading.Thread(target=run, args=item) for item in works.items()]
    with db.transaction(holder):
        for thread in threads:
            thread.start()
        wait_until_queued(path, len(works))  # every write queued behind the held lock
    for thread in threads:
        thread.join(10)
    holder.close()
    return outcomes


def test_one_write_alone_is_committed_and_its_result_returned(path):
    conn = db.connect(path)
    row_id, on = db.grouped(conn, insert("alone"))
    assert rows(path) == {"alone": row_id} and on == id(conn)


def test_writes_queued_together_commit_in_one_transaction_each_with_its_own_result(path):
    outcomes = batch(path, {name: insert(name) for name in ("a", "b", "c", "d")})
    stored = rows(path)
    assert sorted(stored) == ["a", "b", "c", "d"]
    for name, (kind, (row_id, _)) in outcomes.items():
        assert kind == "ok" and stored[name] == row_id  # each caller got its own row back
    # One leader ran them all, on its own connection: one transaction, not four.
    assert len({on for _, (_, on) in outcomes.values()}) == 1


def test_a_failing_write_is_undone_alone_and_raised_in_its_own_thread(path):
    def fails(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO log (who) VALUES ('half')")
        raise ValueError("bad input")

    outcomes = batch(path, {"a": insert("a"), "bad": fails, "b": insert("b")})
    assert outcomes["bad"][0] == "error" and str(outcomes["bad"][1]) == "bad input"
    assert outcomes["a"][0] == outcomes["b"][0] == "ok"
    assert sorted(rows(path)) == ["a", "b"]  # 'half' was rolled back


def test_a_constraint_error_fails_only_its_own_write(path):
    outcomes = batch(path, {"first": insert("same"), "second": insert("same"),
                            "other": insert("other")})
    kinds = sorted(kind for kind, _ in outcomes.values())
    assert kinds == ["error", "ok", "ok"]
    failed = next(value for kind, value in outcomes.values() if kind == "error")
    assert isinstance(failed, sqlite3.IntegrityError)
    assert sorted(rows(path)) == ["other", "same"]


def test_a_write_that_loses_the_whole_transaction_does_not_cost_the_others_theirs(path):
    def loses_it(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO log (who) VALUES ('lost')")
        conn.execute("ROLLBACK")  # as SQLite does itself after some errors (disk full)
        raise sqlite3.OperationalError("database or disk is full")

    outcomes = batch(path, {"a": insert("a"), "x": loses_it, "b": insert("b")})
    assert outcomes["x"][0] == "error" and "disk is full" in str(outcomes["x"][1])
    assert outcomes["a"][0] == outcomes["b"][0] == "ok"
    stored = rows(path)
    assert sorted(stored) == ["a", "b"]  # each written again, alone
    assert {outcomes["a"][1][0], outcomes["b"][1][0]} == {stored["a"], stored["b"]}


def test_inside_a_transaction_the_write_joins_it(path):
    conn = db.connect(path)
    with pytest.raises(RuntimeError), db.transaction(conn):
        db.grouped(conn, insert("joined"))
        raise RuntimeError("the outer block fails")
    assert rows(path) == {}  # rolled back with the transaction it joined


def test_a_thread_holding_the_write_lock_writes_alone_instead_of_waiting_for_itself(path):
    holder, other = db.connect(path), db.connect(path)
    other.execute("PRAGMA busy_timeout = 100")
    with db.transaction(holder):
        holder.execute("INSERT INTO log (who) VALUES ('holder')")
        # Another connection of the same thread: SQLite's own lock decides (busy), as with
        # transaction(); a batch led by another thread would have waited for us forever.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            db.grouped(other, insert("other"))
    assert sorted(rows(path)) == ["holder"]


def test_many_threads_many_writes_none_lost_none_twice(path):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        conn = db.connect(path)
        try:
            for i in range(50):
                db.grouped(conn, insert(f"{n}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(rows(path)) == 300


def test_a_batch_interrupted_before_its_commit_fails_every_write_it_held(path):
    def interrupted(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO log (who) VALUES ('stopping')")
        raise KeyboardInterrupt   # as SystemExit when gunicorn stops a worker

    holder = db.connect(path)
    outcomes: dict[str, tuple[str, Any]] = {}
    run = runner(path, outcomes)
    with db.transaction(holder):
        first = threading.Thread(target=run, args=("stop", interrupted))
        first.start()
        wait_until_queued(path, 1)
        second = threading.Thread(target=run, args=("a", insert("a")))
        second.start()
        wait_until_queued(path, 2)
    first.join(10)
    second.join(10)
    assert isinstance(outcomes["stop"][1], KeyboardInterrupt)
    assert outcomes["a"][0] == "error" and "interrupted" in str(outcomes["a"][1])
    assert rows(path) == {}   # nothing of the batch was committed, and nobody was told so


def test_writes_queued_during_a_batch_go_in_the_next_one_led_by_the_first_of_them(path):
    # "a" runs alone and stays inside its batch until b and c have queued behind it; when
    # it is done, the lead goes to b (queued first), which commits b and c together on
    # its own connection. Only the threads with a finished write or the lead are woken.
    inside, go_on = threading.Event(), threading.Event()
    connections: dict[str, int] = {}

    def slow(conn: sqlite3.Connection) -> tuple[int, int]:
        inside.set()
        assert go_on.wait(10)
        return insert("a")(conn)

    outcomes: dict[str, tuple[str, Any]] = {}
    run = runner(path, outcomes)

    def named(name: str, work: Callable[[sqlite3.Connection], Any]) -> None:
        conn = db.connect(path)
        connections[name] = id(conn)
        try:
            outcomes[name] = ("ok", db.grouped(conn, work))
        finally:
            conn.close()

    first = threading.Thread(target=run, args=("a", slow))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=named, args=("b", insert("b")))
    second.start()
    wait_until_queued(path, 1)
    third = threading.Thread(target=named, args=("c", insert("c")))
    third.start()
    wait_until_queued(path, 2)
    go_on.set()
    for thread in (first, second, third):
        thread.join(10)
    assert sorted(rows(path)) == ["a", "b", "c"]
    assert outcomes["b"][1][1] == outcomes["c"][1][1] == connections["b"]
    assert outcomes["a"][1][1] not in connections.values()
    assert pending(path) == 0


def test_a_caller_leaving_while_made_leader_passes_the_lead_on(path):
    group = connection._Group()
    leaving, next_one = connection._Job(insert("x")), connection._Job(insert("y"))
    group.pending = [leaving, next_one]
    group.leading = leaving.lead = True
    connection._abandon(group, leaving)
    assert group.pending == [next_one] and group.leading
    assert next_one.lead and next_one.wake.acquire(blocking=False)
    connection._abandon(group, next_one)   # the last one: nobody is left to lead
    assert group.pending == [] and not group.leading
