"""Opening the database the one way the whole service uses it, and writing to it.

Writers take turns through `transaction()`. SQLite lets one writer in at a time and makes
the others wait in its busy handler, which sleeps in steps of 1, 2, 5, 10 ... 100 ms and
so oversleeps a lock that is held for a fraction of a millisecond: under load that cost
the gateway its 90 ms p99 and left cores idle (docs/benchmarks.md). So before BEGIN
IMMEDIATE a writer first takes our own write lock for the database file: a lock per
process for its threads, then a lock on the file `<database>.writelock` for the processes
(gunicorn workers, the outbox worker, the CLI). A waiter sleeps in the kernel and is
woken the moment the holder lets go. SQLite's busy timeout stays as the safety net for
writers that do not take our lock (another program, the sqlite3 shell).

Waiting: a thread gives up after BUSY_TIMEOUT_MS with "database is locked" (the webhooks
answer 503), as it did in SQLite's busy handler. The one thread per process that waits for
the file lock has no timeout (flock has none); it waits for as long as the other process's
transaction lasts: a fraction of a millisecond for a message, seconds for a large price
import. A process that dies releases the lock with its file descriptors.

Written by hand because no library does this: `filelock` and `portalocker` wait by
polling (try, sleep, try again), which is the oversleeping we are avoiding; a blocking
`fcntl.flock` is a few lines. Where `fcntl` does not exist (Windows) only the per-process
lock is taken and SQLite's busy handler serializes the processes, as before.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
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
        conn.lock_path = os.path.realpath(path) + LOCK_SUFFIX
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
    """Lets one writer at a time at a database file: first among threads, then processes.

    Reentrant within a thread (a thread that already holds it may take it again, as when a
    test holds a transaction and calls the app on a second connection: SQLite's own busy
    timeout then decides, as it did before this lock existed).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0          # how many times the holding thread has taken it
        self._fd: int | None = None
        self._file_lock = fcntl is not None
        self._commits = 0        # commits in this process since its last checkpoint
        self._owner: int | None = None   # the thread holding it, if any

    def committed(self) -> bool:
        """Count a commit (call while holding the lock); True when a checkpoint is due."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return False
        self._commits = 0
        return True

    def acquire(self, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        """Wait for the lock; sqlite3.OperationalError after `timeout` s among threads."""
        if not self._threads.acquire(timeout=timeout):
            raise sqlite3.OperationalError(
                f"database is locked: no write lock within {timeout:g} s")
        if self._depth == 0:
            try:
                self._lock_file()
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        self._owner = threading.get_ident()

    def held_here(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner == threading.get_ident() and self._depth > 0

    def release(self) -> None:
        """Let the next writer in."""
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self) -> None:
        # Only one thread of this process gets here at a time: it waits, in the kernel,
        # for the other processes, without a timeout (see the module docstring).
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
_locks_guard = threading.Lock()


def write_lock(conn: sqlite3.Connection) -> WriteLock | None:
    """The write lock of the connection's database file (None for an in-memory database)."""
    path = getattr(conn, "lock_path", None)
    if path is None:
        return None
    lock = _locks.get(path)
    if lock is None:
        with _locks_guard:
            lock = _locks.setdefault(path, WriteLock(path))
    return lock


def _forget_locks_after_fork() -> None:
    # A forked child (a gunicorn worker) must not share the parent's lock file
    # description (flock locks belong to it, so parent and child would not exclude each
    # other), nor inherit a thread lock some parent thread held at the fork.
    global _locks_guard
    for lock in _locks.values():
        if lock._fd is not None:
            os.close(lock._fd)  # the parent's lock is unaffected: closing is not unlocking
    _locks.clear()
    _locks_guard = threading.Lock()
    _groups.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_after_fork)


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
# Group commit


class _Job:
    """One caller's share of a group commit: its work, and what came of it."""

    __slots__ = ("committed", "done", "error", "lead", "result", "wake", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], object]) -> None:
        self.work = work
        self.done = False        # run, and committed or failed: `result` or `error` is final
        self.lead = False        # this job's thread is to lead the next batch
        self.committed = False
        self.result: object = None
        self.error: BaseException | None = None
        # Held from the start; released once, by the thread that finishes this job's batch
        # or makes this job's thread the next leader. Its caller waits by acquiring it.
        self.wake = threading.Lock()
        self.wake.acquire()


class _Group:
    """The jobs of one database file waiting for its next group commit, in this process."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.pending: list[_Job] = []
        self.leading = False   # a thread is running a batch, or has been told to run the next


_groups: dict[str, _Group] = {}


def grouped(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work(conn)` as its own all-or-nothing write, committed together with whatever
    other threads of this process are writing at the same moment (group commit).

    What one transaction per message costs the gateway is mostly per transaction, not per
    row: the write lock, BEGIN re-reading the pages other connections changed, COMMIT
    writing page 1 and each touched index page to the WAL, and a checkpoint now and then.
    Under load, messages arrive while another is being written; so the first thread to
    find no batch running becomes the leader. It takes the write lock and then every job
    queued by then (its own and the others'), runs them one after the other on its own
    connection and commits them in one transaction; the others wait and get their results
    only after that COMMIT. Alone, a job is one transaction as with `transaction()`.

    When a batch is done, its leader wakes exactly the threads whose jobs it ran, and,
    if jobs were queued meanwhile, the thread of the first of them, which leads the next
    batch. Nobody else wakes: each wake-up is a thread switch and a fight for the GIL,
    so a shared condition woken for all would cost every waiting thread one per batch.

    `work` gets the connection to use, which may be another thread's (the leader's): it must
    do all its database work through that argument and nothing else that depends on the
    calling thread, and it may be run again (its earlier run rolled back): if any job of a
    batch raises, or the batch cannot commit, the whole batch is rolled back and each job
    is run again alone, in its own transaction. So a failing job's writes are undone, its
    exception is raised in its own caller, and a bad batch-mate never costs a job its
    write. (Jobs rarely fail, so this costs less than a SAVEPOINT around every job: two
    statements each, and every statement lets go of the GIL.)

    Written by hand: SQLite has no group commit of its own, and no library adds one.
    """
    if conn.in_transaction:
        return work(conn)   # inside a caller's transaction: join it, as transaction() does
    lock = write_lock(conn)
    if lock is None or lock.held_here():
        # No file lock (in-memory database), or this thread already holds it (a test
        # holding a transaction on another connection): a batch led by another thread
        # would wait for this one, so write alone.
        with transaction(conn):
            return work(conn)
    group = _groups.get(lock.path)
    if group is None:
        with _locks_guard:
            group = _groups.setdefault(lock.path, _Group())
    job = _Job(work)
    with group.mutex:
        group.pending.append(job)
        if not group.leading:
            group.leading = job.lead = True
    if not job.lead:
        try:
            job.wake.acquire()   # until our batch is done, or we are to lead the next
        except BaseException:
            _abandon(group, job)
            raise
    if not job.done:
        _lead(conn, lock, group, job)
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[return-value]


def _lead(conn: sqlite3.Connection, lock: WriteLock, group: _Group, own: _Job) -> None:
    """Take the write lock, then every queued job, and commit them as one transaction."""
    batch: list[_Job] = []
    checkpoint = False
    try:
        try:
            lock.acquire()
        except BaseException:
            with group.mutex:   # the batch was not taken: only the leader's own job gives up
                group.pending.remove(own)
            raise
        try:
            # Taken after the lock, so jobs queued while we waited for it ride along.
            with group.mutex:
                batch, group.pending = group.pending, []
            try:
                _run_batch(conn, batch)
            except Exception as exc:  # noqa: BLE001 - handed to the caller, or each run alone
                if len(batch) == 1:
                    batch[0].error = exc
                else:
                    log.info("group commit of %d writes failed (%s); writing each alone",
                             len(batch), exc)
                    for job in batch:
                        _run_alone(conn, job)
            checkpoint = lock.committed()
        finally:
            lock.release()
    finally:
        _finish(group, batch, own)
    if checkpoint:
        _checkpoint(conn)


def _finish(group: _Group, batch: list[_Job], own: _Job) -> None:
    """Hand each job of a batch its outcome and wake its thread; pass on the lead."""
    with group.mutex:
        for job in batch:   # the leader's own job is among them, unless it never got the lock
            if not job.committed and job.error is None:
                # The leader was interrupted (SystemExit as the server stops, say) before
                # this write was committed: its caller must not take it as done.
                job.error = sqlite3.OperationalError("database write interrupted; try again")
            job.done = True
        successor = _pass_lead(group)
    for job in batch:
        if job is not own:
            job.wake.release()
    if successor is not None:
        successor.wake.release()


def _abandon(group: _Group, job: _Job) -> None:
    """A waiting caller is leaving (an exception while it waited): its job must not keep
    the others waiting. Unless a batch already holds it, it is dropped; if it had been
    made the next leader, the lead goes to the next queued job."""
    successor = None
    with group.mutex:
        if job in group.pending:
            group.pending.remove(job)
            if job.lead:
                successor = _pass_lead(group)
    if successor is not None:
        successor.wake.release()


def _pass_lead(group: _Group) -> _Job | None:
    """With `group.mutex` held: make the first queued job the next leader and return it
    (its thread is to be woken), or, with none queued, mark that nobody leads."""
    successor = group.pending[0] if group.pending else None
    if successor is None:
        group.leading = False
    else:
        successor.lead = True
    return successor


def _run_batch(conn: sqlite3.Connection, batch: list[_Job]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for job in batch:
            job.result = job.work(conn)
        conn.execute("COMMIT")
        for job in batch:
            job.committed = True
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _run_alone(conn: sqlite3.Connection, job: _Job) -> None:
    job.result = job.error = None
    try:
        conn.execute("BEGIN IMMEDIATE")
        result = job.work(conn)
        conn.execute("COMMIT")
        job.committed = True
    except Exception as exc:  # noqa: BLE001 - raised again in the job's own thread
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        job.error = exc
    else:
        job.result = result
