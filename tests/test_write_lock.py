"""db.transaction(): writers take turns through our own lock, across threads and processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import db
from db import connection

fcntl = pytest.importorskip("fcntl")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def path(tmp_path: Path) -> Path:
    database = tmp_path / "lock.db"
    conn = db.connect(database)
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT, step TEXT)")
    conn.close()
    return database


def file_lock_is_free(database: Path) -> bool:
    """Whether another open file description could take `<database>.writelock` now."""
    fd = os.open(str(database) + connection.LOCK_SUFFIX, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the only descriptor also drops a lock we took
    return True


def test_two_connections_take_turns_without_busy_errors(path):
    first, second = db.connect(path), db.connect(path)
    first_in = threading.Event()
    order: list[str] = []

    def slow_writer() -> None:
        with db.transaction(first):
            first.execute("INSERT INTO log (who, step) VALUES ('first', 'begin')")
            order.append("first begins")
            first_in.set()
            time.sleep(0.2)
            order.append("first commits")

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert first_in.wait(5)
    with db.transaction(second):  # waits for our lock, not in SQLite's busy handler
        order.append("second begins")
        second.execute("INSERT INTO log (who, step) VALUES ('second', 'begin')")
    thread.join()
    assert order == ["first begins", "first commits", "second begins"]
    assert [r[0] for r in first.execute("SELECT who FROM log ORDER BY id")] == ["first", "second"]


def test_the_lock_is_released_when_the_block_raises(path):
    conn = db.connect(path)
    with pytest.raises(RuntimeError), db.transaction(conn):
        conn.execute("INSERT INTO log (who) VALUES ('undone')")
        assert not file_lock_is_free(path)
        raise RuntimeError("handler bug")
    assert file_lock_is_free(path)
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM log").fetchone()[0] == 0
    other = db.connect(path)
    with db.transaction(other):  # a new writer gets in at once
        other.execute("INSERT INTO log (who) VALUES ('next')")
    assert [r[0] for r in conn.execute("SELECT who FROM log")] == ["next"]


def test_a_nested_transaction_joins_the_outer_one(path):
    conn = db.connect(path)
    with db.transaction(conn):
        conn.execute("INSERT INTO log (who) VALUES ('outer')")
        with db.transaction(conn):
            conn.execute("INSERT INTO log (who) VALUES ('inner')")
        assert conn.in_transaction
    with pytest.raises(ValueError), db.transaction(conn):
        conn.execute("INSERT INTO log (who) VALUES ('outer again')")
        with db.transaction(conn):
            conn.execute("INSERT INTO log (who) VALUES ('inner again')")
        raise ValueError
    assert [r[0] for r in conn.execute("SELECT who FROM log ORDER BY id")] == ["outer", "inner"]
    assert file_lock_is_free(path)


def test_another_process_waits_for_the_lock(path):
    conn = db.connect(path)
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[2]); import db\n"
        "conn = db.connect(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "with db.transaction(conn):\n"
        "    got = time.time()\n"
        "    conn.execute(\"INSERT INTO log (who) VALUES ('child')\")\n"
        "print(repr(got), flush=True)\n"
    )
    with db.transaction(conn):
        conn.execute("INSERT INTO log (who) VALUES ('parent')")
        child = subprocess.Popen([sys.executable, "-c", script, str(path), str(ROOT)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # the child is at its transaction, blocked on the lock file
        assert child.poll() is None
        released = time.time()
    got = float(child.stdout.readline())
    child.stdout.close()
    assert child.wait(timeout=30) == 0
    assert got >= released  # it got in only once the parent let go
    assert [r[0] for r in conn.execute("SELECT who FROM log ORDER BY id")] == ["parent", "child"]


def test_threads_give_up_with_database_locked_after_the_timeout(path):
    conn = db.connect(path)
    lock = connection.write_lock(conn)
    assert lock is not None
    held, done = threading.Event(), threading.Event()

    def holder() -> None:
        lock.acquire()
        held.set()
        done.wait(5)
        lock.release()

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(5)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        lock.acquire(timeout=0.05)
    done.set()
    thread.join()
    lock.acquire(timeout=1)
    lock.release()


def test_a_forked_child_takes_the_lock_on_its_own_file_description(path):
    # flock locks belong to an open file description, which fork shares: a gunicorn worker
    # using its parent's would not exclude the parent nor its sibling workers.
    conn = db.connect(path)
    parent_lock = connection.write_lock(conn)
    with db.transaction(conn):  # opens this process's lock file, and holds the lock
        inherited_fd = parent_lock._fd
        assert inherited_fd is not None
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                try:
                    os.fstat(inherited_fd)
                except OSError:  # closed in the child (closing is not unlocking)
                    fresh = connection.write_lock(db.connect(path))
                    if fresh is not parent_lock and fresh._fd is None:
                        fd = os.open(fresh.path, os.O_RDWR)
                        try:
                            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        except BlockingIOError:  # the parent's lock still holds
                            code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert not file_lock_is_free(path)
    assert os.waitstatus_to_exitcode(status) == 0
    assert file_lock_is_free(path)


def test_in_memory_databases_need_no_lock():
    conn = db.connect(":memory:")
    assert connection.write_lock(conn) is None
    with db.transaction(conn):
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    assert [r[0] for r in conn.execute("SELECT x FROM t")] == [1]


def test_the_wal_is_checkpointed_after_commits_outside_the_lock(path, monkeypatch):
    monkeypatch.setattr(connection, "CHECKPOINT_EVERY", 3)
    conn = db.connect(path)
    lock = connection.write_lock(conn)
    assert lock is not None
    seen: list[tuple[bool, bool]] = []
    conn.set_trace_callback(lambda sql: seen.append((conn.in_transaction,
                                                     lock._owner is not None))
                            if sql.startswith("PRAGMA wal_checkpoint") else None)
    for n in range(7):
        with db.transaction(conn):
            conn.execute("INSERT INTO log (who) VALUES (?)", (str(n),))
    assert len(seen) == 2  # after the 3rd and the 6th commit
    assert seen == [(False, False), (False, False)]  # after COMMIT, with the lock let go


def test_a_thread_that_writes_cannot_open_a_second_write_on_another_connection(path):
    first, second = db.connect(path), db.connect(path)
    with db.transaction(first):
        with pytest.raises(RuntimeError, match="would wait for itself"):
            with db.transaction(second):
                pass
    with db.transaction(second):   # and the lock was let go
        second.execute("INSERT INTO log (who) VALUES ('after')")
