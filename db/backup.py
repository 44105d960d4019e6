"""Backups: a consistent copy of the live database, checked, rotated, and put back.

A cooperative's laptop dies; its SIM and phone survive, its database must too. `backup`
uses SQLite's online backup API (through Python's `Connection.backup`), which copies the
database page by page as one consistent snapshot while the service keeps running: web
requests and the worker go on writing, and the copy is of one moment. The copy is written
to a temporary name, checked (`PRAGMA integrity_check`), made readable by its owner only
(it holds phone numbers) and only then renamed into place, so a backup folder never holds
half a backup. `restore` checks a backup the same way before it replaces the database.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from db.connection import connect
from db.migrations import schema_version

PREFIX = "smsgw-"
SUFFIX = ".db"


class BadBackup(Exception):
    """The file is not a usable backup of this service's database; the message says why."""


class DatabaseInUse(Exception):
    """The database to restore over looks open (its WAL file is there): stop smsgw first."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    path: Path
    schema: int
    inbound: int
    outbox: int
    contacts: int
    size_bytes: int


def check(path: str | Path) -> Snapshot:
    """What a backup holds, after checking it is whole; BadBackup otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BadBackup(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                raise BadBackup(f"{path}: damaged ({result})")
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = {"_migrations", "inbound", "outbox", "contacts"} - tables
            if missing:
                raise BadBackup(f"{path}: not an smsgw database (no {', '.join(sorted(missing))})")
            counts = [conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                      for table in ("inbound", "outbox", "contacts")]
            return Snapshot(path, schema_version(conn), *counts, path.stat().st_size)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BadBackup(f"{path}: not a database ({exc})") from None


def backup(database: str | Path, destination: str | Path) -> Snapshot:
    """Copy the live database to `destination` (a file, or a folder for a dated name)."""
    target = Path(destination)
    if target.is_dir():
        target = target / f"{PREFIX}{datetime.now().strftime('%Y%m%d-%H%M%S')}{SUFFIX}"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)   # private from birth
    os.close(fd)
    source = connect(database, readonly=True)
    copy = sqlite3.connect(partial)
    try:
        # In one step: a read transaction on the live database (in WAL mode writers go on
        # meanwhile). In small steps, every write by another connection would restart the
        # copy, and a busy service could keep it from ever finishing.
        source.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")   # one self-contained file
    finally:
        copy.close()
        source.close()
    try:
        check(partial)
    except BadBackup:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return check(target)


def rotate(folder: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` dated backups in a folder; return those deleted."""
    dated = sorted(Path(folder).glob(f"{PREFIX}*{SUFFIX}"))
    doomed = dated[:-keep] if keep > 0 else []
    for old in doomed:
        old.unlink(missing_ok=True)
    return doomed


def restore(backup_file: str | Path, database: str | Path, *, force: bool = False) -> Snapshot:
    """Put a checked backup in place of the database. The service must be stopped: a live
    process would keep writing to the file it has open, and its WAL would not match."""
    found = check(backup_file)
    database = Path(database)
    wal = Path(f"{database}-wal")
    if wal.exists() and wal.stat().st_size > 0 and not force:
        raise DatabaseInUse(f"{wal} exists: the service may be running. Stop it (or, if it"
                            " crashed, pass --force) and try again")
    staged = database.with_name(f".{database.name}.restoring")
    staged.unlink(missing_ok=True)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(backup_file, "rb") as src, os.fdopen(fd, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    for stale in (wal, Path(f"{database}-shm")):   # they belong to the old file
        stale.unlink(missing_ok=True)
    os.replace(staged, database)
    return check(database)
