"""How the service writes to its database: one page to read.

**Every write is a `transaction()`.** It takes this process's write lock, then BEGIN
IMMEDIATE; the block runs; COMMIT (or ROLLBACK if the block raised). All of it is committed
or none of it, and a `transaction()` inside another on the same connection joins it. The
CLI, the outbox worker and its scheduled jobs, the importers and the tests write this way,
each on its own connection.

**Web requests hand their writes to one writer thread per process** (`write()`, the
datasette model). A request thread puts a function on the writer's queue and waits for its
result. The writer takes every function queued by then, opens one `transaction()` for all
of them, runs each inside its own SAVEPOINT and commits. So:

- *atomic*: one function's writes are all kept or all undone; a function that raises is
  rolled back to its savepoint, its exception is raised in its caller, and the other
  functions of the batch are not affected;
- *committed before the caller hears of it*: `write()` returns only after the COMMIT;
- *never applied twice*: each function runs once. If the COMMIT itself fails, every
  caller of that batch gets the error and nothing of the batch is kept; retrying is the
  caller's choice (a provider's retry is safe: inbound messages are de-duplicated by id);
- *what it costs*: a queue hand-off and two SAVEPOINT statements per function; one lock,
  one BEGIN and one COMMIT per batch. Batching is what keeps the gateway's throughput
  (docs/benchmarks.md): under load a batch holds several messages.

A function given to `write()` gets the writer's connection and must do all its database
work through it. Reads need none of this: each thread reads on its own connection, and in
WAL mode readers never wait for the writer.

**The write lock** lets one writer at a time at a database file: a thread lock for the
threads of this process, then `fcntl.flock` on `<database>.writelock` for the processes
(two gunicorn workers, the outbox worker, the CLI). SQLite's own busy handler sleeps in
steps of 1 to 100 ms and so oversleeps a lock held for a fraction of a millisecond; a
waiter on flock sleeps in the kernel and wakes the moment the holder lets go. Written by
hand because `filelock` and `portalocker` wait by polling, the oversleeping we avoid. A
thread that already writes and opens a second transaction on another connection would
wait for itself: that raises at once instead. SQLite's busy timeout stays as the safety
net for writers that do not take our lock (the sqlite3 shell). Where there is no `fcntl`
(Windows), only the thread lock is taken and SQLite's busy handler keeps processes apart.

Waiting: a writer gives up after BUSY_TIMEOUT_MS with "database is locked" (the webhooks
answer 503; nothing of that request was committed... unless the writer ran it after the
caller stopped waiting, which is why providers' retries are de-duplicated).
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
LOCK_SUFFIX = ".writelock"
BATCH_LIMIT = 64          # functions one writer transaction takes at most
# SQLite checkpoints the WAL inside the COMMIT that takes it past wal_autocheckpoint
# frames (1000 by default): an fsync of milliseconds, which under our write lock would
# stall every other writer. So a process checkpoints itself every CHECKPOINT_EVERY of
# its commits, after letting go of the lock (a PASSIVE checkpoint does not block writers),
# and SQLite's own is kept only as a backstop for large transactions.
CHECKPOINT_EVERY = 100
AUTOCHECKPOINT_FRAMES = 4000


class Connection(sqlite3.Connection):
    """A connection that knows which file's write lock its transactions take."""

    lock_path: str | None = None   # None: no write lock (in-memory database)
    db_path: str = ""               # the database file, as its writer thread opens it


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the database in WAL mode with foreign keys on and a generous busy timeout."""
    memory = str(path) in (":memory:", "")
    if not memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves (see transaction()), so
    # a write transaction takes SQLite's write lock up front instead of failing half way.
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
        factory=Connection,
    )
    if not memory:
        conn.db_path = os.path.realpath(path)
        conn.lock_path = conn.db_path + LOCK_SUFFIX
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not memory and not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_FRAMES}")
    # NORMAL is durable across application crashes in WAL mode; only an OS crash or power
    # loss can lose the last transactions, which is the usual trade for SMS volumes.
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _create_private(path: str | Path) -> None:
    """Create the database file readable by its owner only (0600), if it does not exist.

    It holds phone numbers and message texts; left to SQLite it would be created with the
    umask's mode, world-readable as a rule. SQLite creates the -wal and -shm files with
    the mode of the database file, so they are private too. A file that exists is left as
    it is: its mode is the operator's choice.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError:
        return   # a read-only directory, say: sqlite3.connect gives the real error
    os.close(fd)


class WriteLock:
    """One writer at a time at a database file: first among threads, then processes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._owner: int | None = None   # the thread holding it
        self._fd: int | None = None
        self._file_lock = fcntl is not None
        self._commits = 0                # commits in this process since its last checkpoint

    def committed(self) -> bool:
        """Count a commit (call while holding the lock); True when a checkpoint is due."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return False
        self._commits = 0
        return True

    def acquire(self, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        """Wait for the lock; sqlite3.OperationalError after `timeout` s among threads."""
        if self._owner == threading.get_ident():
            raise RuntimeError("this thread already holds a write transaction on another"
                               " connection to the same database; it would wait for itself")
        if not self._threads.acquire(timeout=timeout):
            raise sqlite3.OperationalError(
                f"database is locked: no write lock within {timeout:g} s")
        try:
            self._lock_file()
        except BaseException:
            self._threads.release()
            raise
        self._owner = threading.get_ident()

    def release(self) -> None:
        """Let the next writer in."""
        self._owner = None
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self) -> None:
        # Only one thread of this process gets here at a time: it waits, in the kernel,
        # for the other processes, without a timeout (flock has none).
        if not self._file_lock:
            return
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:  # a read-only directory, say: SQLite's busy timeout it is
                log.warning("no write lock file %s (%s); relying on SQLite's busy timeout",
                            self.path, exc)
                self._file_lock = False
                return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as exc:  # ENOLCK on some network filesystems
            log.warning("cannot lock %s (%s); relying on SQLite's busy timeout", self.path, exc)
            self._file_lock = False
            os.close(self._fd)
            self._fd = None


_locks: dict[str, WriteLock] = {}
_writers: dict[str, Writer] = {}
_registry_guard = threading.Lock()


def write_lock(conn: sqlite3.Connection) -> WriteLock | None:
    """The write lock of the connection's database file (None for an in-memory database)."""
    path = getattr(conn, "lock_path", None)
    if path is None:
        return None
    lock = _locks.get(path)
    if lock is None:
        with _registry_guard:
            lock = _locks.setdefault(path, WriteLock(path))
    return lock


def _forget_after_fork() -> None:
    # A forked child (a gunicorn worker) must not share the parent's lock file
    # description (flock locks belong to it, so parent and child would not exclude each
    # other), nor a thread lock some parent thread held at the fork, nor the parent's
    # writer threads, which do not exist in the child.
    global _registry_guard
    for lock in _locks.values():
        if lock._fd is not None:
            os.close(lock._fd)  # the parent's lock is unaffected: closing is not unlocking
    _locks.clear()
    _writers.clear()
    _registry_guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one write transaction: all of it is committed, or none of it."""
    if conn.in_transaction:
        # Nested use joins the outer transaction; the outermost block commits.
        yield conn
        return
    lock = write_lock(conn)
    if lock is None:
        yield from _write(conn)
        return
    lock.acquire()
    try:
        yield from _write(conn)
        checkpoint = lock.committed()
    finally:
        lock.release()
    if checkpoint:
        _checkpoint(conn)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """A PASSIVE WAL checkpoint, run after letting go of the write lock (CHECKPOINT_EVERY)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as exc:  # committed all the same; the next one will catch up
        log.warning("WAL checkpoint failed: %s", exc)


def _write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE, the caller's block, COMMIT (or ROLLBACK if the block raised)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite itself rolls back after some errors
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT can leave the transaction open: never keep SQLite's write
        # lock after ours is released.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# ------------------------------------------------------------------------------------------
# The writer thread


def write(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` as its own all-or-nothing write on this process's writer thread, batched
    with whatever other threads are writing, and return its result once committed.

    `conn` names the database (any connection to it). Inside a transaction already open
    on `conn`, or for an in-memory database, `work` runs here, in that transaction or its
    own (the tests' way, and the CLI's when it calls the gateway in-process).
    """
    path = getattr(conn, "lock_path", None)
    if conn.in_transaction or path is None:
        with transaction(conn):
            return _in_savepoint(conn, work)
    if write_lock(conn)._owner == threading.get_ident():  # type: ignore[union-attr]
        raise RuntimeError("this thread holds a write transaction on another connection;"
                           " the writer thread would wait for it forever")
    writer = _writers.get(path)
    if writer is None:
        with _registry_guard:
            writer = _writers.get(path) or _writers.setdefault(path, Writer(conn.db_path))
    return writer.submit(work)


def _in_savepoint(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work(conn)` with its writes undone if it raises (the rest of the transaction kept)."""
    conn.execute("SAVEPOINT write")
    try:
        result = work(conn)
    except BaseException:
        conn.execute("ROLLBACK TO write")
        conn.execute("RELEASE write")
        raise
    conn.execute("RELEASE write")
    return result


_Job = tuple[Callable[[sqlite3.Connection], object], Future]


class Writer:
    """One thread, one connection: runs queued write functions, several per transaction."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"writer {path}", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Queue `work` and wait for its result (or its exception) after the commit."""
        future: Future[T] = Future()
        self._queue.put((work, future))
        try:
            return future.result(timeout=BUSY_TIMEOUT_MS / 1000)
        except TimeoutError:
            if future.cancel():   # not started: it never will be
                raise sqlite3.OperationalError("database is locked: the write waited too"
                                               " long and was dropped") from None
            return future.result()   # under way: its outcome is coming

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while True:
            job = self._queue.get()
            try:
                conn = conn or connect(self.path)
            except Exception as exc:  # noqa: BLE001 - this caller hears of it; try again later
                job[1].set_exception(exc)
                continue
            self._commit(conn, job)

    def _commit(self, conn: sqlite3.Connection, first: _Job) -> None:
        """One transaction: the first job, then (once the lock is ours) every job queued
        meanwhile, up to BATCH_LIMIT; each in its savepoint. Results go out after COMMIT."""
        taken, outcomes = [first], []
        try:
            with transaction(conn):
                job: _Job | None = first
                while job is not None:
                    work, future = job
                    if future.set_running_or_notify_cancel():   # False: its caller gave up
                        try:
                            outcomes.append((future, _in_savepoint(conn, work), None))
                        except Exception as exc:  # noqa: BLE001 - raised in its own caller
                            outcomes.append((future, None, exc))
                    job = self._next() if len(taken) < BATCH_LIMIT else None
                    if job is not None:
                        taken.append(job)
        except BaseException as exc:  # noqa: BLE001 - no lock, or no COMMIT: all of it failed
            # (A job that raised BaseException, not Exception, ends up here too: the thread
            # must outlive it, or every later write would wait for it forever.)
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result, error in outcomes:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _next(self) -> _Job | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None
