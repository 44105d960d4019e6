"""The bulletin run ledger: which runs exist, and who each run has already been queued for.

A run is identified by its key (`prices:2026-11-23`). Each batch of subscribers is
recorded in one transaction: the ledger rows (run, contact) and the outbox rows for the
same contacts commit together or not at all. So a re-run, a concurrent second run or a
run after a crash skips exactly the contacts already queued and misses nobody.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from db import outbox
from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    run_key: str
    kind: str
    trigger: str
    started_at: str
    finished_at: str | None
    queued: int
    messages: int
    segments: int
    opted_out: int
    empty: int


Queued = outbox.Outgoing   # one outbound bulletin message for the outbox


def _run(row: sqlite3.Row) -> Run:
    return Run(*(row[name] for name in Run.__dataclass_fields__))


def start(conn: sqlite3.Connection, run_key: str, *, kind: str, trigger: str,
          now: datetime) -> Run:
    """The run with this key, created if it does not exist yet."""
    conn.execute(
        "INSERT INTO bulletin_runs (run_key, kind, trigger, started_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (run_key) DO NOTHING", (run_key, kind, trigger, iso(now)))
    found = get(conn, run_key)
    assert found is not None  # just inserted or already there
    return found


def get(conn: sqlite3.Connection, run_key: str) -> Run | None:
    """A run by its key."""
    row = conn.execute("SELECT * FROM bulletin_runs WHERE run_key = ?", (run_key,)).fetchone()
    return _run(row) if row else None


def recent(conn: sqlite3.Connection, limit: int = 20) -> list[Run]:
    """The latest runs, newest first."""
    rows = conn.execute("SELECT * FROM bulletin_runs ORDER BY id DESC LIMIT ?", (limit,))
    return [_run(row) for row in rows]


def finish(conn: sqlite3.Connection, run_id: int, *, now: datetime) -> None:
    """Mark a run complete (a later run with its key does nothing)."""
    conn.execute("UPDATE bulletin_runs SET finished_at = COALESCE(finished_at, ?) WHERE id = ?",
                 (iso(now), run_id))


def already_queued(conn: sqlite3.Connection, run_id: int, contact_ids: Sequence[int]) -> set[int]:
    """Which of these contacts this run has already dealt with (queued or skipped)."""
    if not contact_ids:
        return set()
    marks = ",".join("?" * len(contact_ids))
    return {row[0] for row in conn.execute(
        f"SELECT contact_id FROM bulletin_deliveries WHERE run_id = ? AND contact_id IN ({marks})",
        (run_id, *contact_ids))}


def record(conn: sqlite3.Connection, run_id: int, messages: Iterable[Queued], *, provider: str,
           kind: str, not_before: datetime, now: datetime, opted_out: Sequence[int] = (),
           empty: Sequence[int] = ()) -> tuple[int, int, int]:
    """Queue a batch's messages and enter its contacts in the ledger (one transaction).

    `opted_out` and `empty` are the batch's contacts skipped for those reasons; they are
    entered too, so a re-run neither counts nor reconsiders them. The caller holds the
    write transaction and has left out the contacts `already_queued`.
    Returns (contacts, messages, segments) queued.
    """
    rows = list(messages)
    contacts = sorted({m.contact_id for m in rows})
    conn.executemany(
        "INSERT INTO bulletin_deliveries (run_id, contact_id, outcome) VALUES (?, ?, ?)",
        [(run_id, contact_id, "queued") for contact_id in contacts]
        + [(run_id, contact_id, "opted_out") for contact_id in opted_out]
        + [(run_id, contact_id, "empty") for contact_id in empty])
    _, segments = outbox.enqueue_many(conn, rows, provider=provider, kind=kind,
                                      not_before=not_before, now=now, bulletin_run_id=run_id)
    conn.execute(
        "UPDATE bulletin_runs SET queued = queued + ?, messages = messages + ?,"
        " segments = segments + ?, opted_out = opted_out + ?, empty = empty + ? WHERE id = ?",
        (len(contacts), len(rows), segments, len(opted_out), len(empty), run_id))
    return len(contacts), len(rows), segments


def outcome(conn: sqlite3.Connection, run_id: int) -> dict[str, int]:
    """How a run's messages stand in the outbox now: count per status."""
    return {row[0]: row[1] for row in conn.execute(
        "SELECT status, COUNT(*) FROM outbox WHERE bulletin_run_id = ? GROUP BY status",
        (run_id,))}
