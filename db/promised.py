"""SMS a command will cause later, in a batch, charged to its sender when it runs.

Most commands queue what they send to others at once, and handlers.costs measures those
outbox rows. A produce listing instead goes to following buyers in the worker's next
digest, one SMS per buyer however many listings it carries; so the SELL records here, in
its own savepoint, an upper bound of the digest SMS it adds (one per buyer who had no
listing of this seller's waiting), and handlers.costs counts it like queued messages:
confirmed above the threshold, refused past the hourly quota, undone with the command.

A row is unsettled only inside the command that made it; `settle` marks it counted.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from db.timeutil import iso


def promise(conn: sqlite3.Connection, contact_id: int, *, kind: str, messages: int,
            segments: int, now: datetime) -> None:
    """Record that this contact's command will cause up to so many SMS later."""
    if messages or segments:
        conn.execute("INSERT INTO promised (contact_id, kind, messages, segments, created_at)"
                     " VALUES (?, ?, ?, ?, ?)", (contact_id, kind, messages, segments, iso(now)))


def unsettled(conn: sqlite3.Connection, contact_id: int) -> tuple[int, int]:
    """(messages, segments) promised by the command running now for this contact."""
    row = conn.execute("SELECT IFNULL(SUM(messages), 0), IFNULL(SUM(segments), 0) FROM"
                       " promised WHERE contact_id = ? AND settled = 0", (contact_id,)).fetchone()
    return int(row[0]), int(row[1])


def settle(conn: sqlite3.Connection, contact_id: int) -> None:
    """The command's promises stand: count them in the contact's quota from now on."""
    conn.execute("UPDATE promised SET settled = 1 WHERE contact_id = ? AND settled = 0",
                 (contact_id,))


def promised_since(conn: sqlite3.Connection, contact_id: int, since: datetime) -> int:
    """Segments this contact's commands have promised since a moment (the hourly quota)."""
    row = conn.execute("SELECT IFNULL(SUM(segments), 0) FROM promised WHERE contact_id = ?"
                       " AND settled = 1 AND created_at >= ?", (contact_id, iso(since))).fetchone()
    return int(row[0])
