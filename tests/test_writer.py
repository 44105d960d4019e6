"""db.write(): web requests hand their writes to one writer thread per process, which runs
several in one transaction, each in its own savepoint (db/connection.py's docstring).

Batches are made deterministic by holding the write lock on another thread while writes
queue up, then letting go: the writer takes every write queued by then in one transaction.
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
    database = tmp_path / "writer.db"
    conn = db.connect(database)
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT UNIQUE)")
    conn.close()
    return database


def insert(who: str) -> Callable[[sqlite3.Connection], Any]:
    def work(conn: sqlite3.Connection) -> tuple[int, int]:
        cursor = conn.execute("INSERT INTO log (who) VALUES (?)", (who,))
        return int(cursor.lastrowid or 0), conn.execute("PRAGMA data_version").fetchone()[0]
    return work


def rows(path: Path) -> set[str]:
    conn = db.connect(path)
    try:
        return {who for (who,) in conn.execute("SELECT who FROM log")}
    finally:
        conn.close()


def commits_of(path: Path) -> list[str]:
    """Start recording the statements of this database's writer thread."""
    statements: list[str] = []
    conn = db.connect(path)
    db.write(conn, lambda c: c.set_trace_callback(statements.append))
    statements.clear()
    return statements


def in_threads(path: Path, works: dict[str, Callable[[sqlite3.Connection], Any]], *,
               hold: bool = True) -> dict[str, tuple[str, Any]]:
    """Each work from its own thread and connection, queued while another thread holds the
    write lock (unless hold=False); what each got: ("ok", result) or ("error", exception)."""
    outcomes: dict[str, tuple[str, Any]] = {}
    calling = threading.Semaphore(0)

    def run(name: str, work: Callable[[sqlite3.Connection], Any]) -> None:
        conn = db.connect(path)
        try:
            calling.release()
            outcomes[name] = ("ok", db.write(conn, work))
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcomes[name] = ("error", exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=item) for item in works.items()]
    holder = db.connect(path)
    if hold:
        with db.transaction(holder):
            for thread in threads:
                thread.start()
            for _ in threads:
                assert calling.acquire(timeout=10)
            writer = connection._writers.get(str(path.resolve()) + connection.LOCK_SUFFIX)
            deadline = time.monotonic() + 10
            while writer is None or writer._queue.qsize() < len(works) - 1:
                assert time.monotonic() < deadline, "writes did not queue up"
                time.sleep(0.005)
                writer = connection._writers.get(str(path.resolve()) + connection.LOCK_SUFFIX)
            time.sleep(0.05)   # the first is taken by the writer, which waits for the lock
    else:
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(10)
    holder.close()
    return outcomes


def test_one_write_is_committed_before_it_returns_with_its_result(path):
    conn = db.connect(path)
    row_id, _ = db.write(conn, insert("alone"))
    assert row_id == 1 and rows(path) == {"alone"}
    assert not conn.in_transaction


def test_writes_queued_together_commit_in_one_transaction_each_with_its_result(path):
    statements = commits_of(path)
    outcomes = in_threads(path, {f"w{n}": insert(f"w{n}") for n in range(5)})
    assert all(kind == "ok" for kind, _ in outcomes.values()), outcomes
    assert rows(path) == {f"w{n}" for n in range(5)}
    assert len({result[0] for _, result in outcomes.values()}) == 5   # each its own row id
    # The writer took the first, waited for the lock, then took the four queued meanwhile:
    # one transaction for all five, a savepoint each.
    assert statements.count("COMMIT") == 1 and statements.count("BEGIN IMMEDIATE") == 1
    assert statements.count("SAVEPOINT write") == 5


def test_a_failing_write_is_undone_alone_and_raised_in_its_own_caller(path):
    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO log (who) VALUES ('half')")
        raise ValueError("a bug")

    outcomes = in_threads(path, {"a": insert("a"), "bad": half_then_fail, "b": insert("b")})
    assert outcomes["bad"][0] == "error" and isinstance(outcomes["bad"][1], ValueError)
    assert outcomes["a"][0] == outcomes["b"][0] == "ok"
    assert rows(path) == {"a", "b"}


def test_a_constraint_error_fails_only_its_own_write(path):
    db.write(db.connect(path), insert("taken"))
    outcomes = in_threads(path, {"dup": insert("taken"), "new": insert("new")})
    assert outcomes["dup"][0] == "error"
    assert isinstance(outcomes["dup"][1], sqlite3.IntegrityError)
    assert outcomes["new"][0] == "ok" and rows(path) == {"taken", "new"}


def test_a_write_that_aborts_its_batch_fails_every_write_of_it_and_keeps_none(path):
    class Interrupted(BaseException):
        pass

    def interrupt(conn: sqlite3.Connection) -> None:
        raise Interrupted

    db.write(db.connect(path), insert("before"))
    outcomes = in_threads(path, {"a": insert("a"), "stop": interrupt, "b": insert("b"),
                                 "c": insert("c")})
    assert isinstance(outcomes["stop"][1], Interrupted)
    # The writes taken into the batch before it failed with it (told, not left waiting);
    # those still queued went in the next batch. Nobody was told "done" for a lost write.
    done = {name for name, (kind, _) in outcomes.items() if kind == "ok"}
    lost = {name for name, (kind, _) in outcomes.items() if kind == "error"} - {"stop"}
    assert all(isinstance(outcomes[name][1], Interrupted) for name in lost)
    assert rows(path) == {"before"} | done
    assert db.write(db.connect(path), insert("later"))    # the writer thread lives on
    assert rows(path) == {"before", "later"} | done


def test_inside_a_transaction_a_write_joins_it(path):
    conn = db.connect(path)
    with db.transaction(conn):
        db.write(conn, insert("joined"))
        assert conn.in_transaction
    assert rows(path) == {"joined"}


def test_a_thread_holding_the_write_lock_is_told_instead_of_waiting_forever(path):
    holder, other = db.connect(path), db.connect(path)
    with db.transaction(holder):
        with pytest.raises(RuntimeError, match="wait for it forever"):
            db.write(other, insert("never"))
    assert rows(path) == set()


def test_many_threads_many_writes_none_lost_none_twice(path):
    works = {f"t{n}-{i}": insert(f"t{n}-{i}") for n in range(8) for i in range(25)}
    outcomes = in_threads(path, works, hold=False)
    assert all(kind == "ok" for kind, _ in outcomes.values())
    assert rows(path) == set(works)
    conn = db.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM log").fetchone()[0] == len(works)
