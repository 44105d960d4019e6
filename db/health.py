"""What the service says about its own health: the outbox workers' heartbeats, what each
provider did minute by minute as the worker saw it, and the last health reading of each
device a provider reports on (an Android phone's battery and network).

All of it is written by the processes that already know it (the worker, a webhook) in small
transactions, and read by the console, which never calls a provider or a phone itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.timeutil import iso

KEEP_MINUTES = timedelta(days=35)    # provider_minutes rows older than this are deleted
FORGET_WORKERS = timedelta(days=1)   # heartbeats of processes gone this long are deleted


@dataclass(frozen=True, slots=True)
class Minute:
    """What one provider did in one minute, as the worker saw it."""

    provider: str
    minute: str          # iso() of the minute's start
    sent: int
    failed: int
    last_sent_at: str | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    worker: str
    started_at: str
    seen_at: str
    stopped_at: str | None
    sent: int
    failed: int


@dataclass(frozen=True, slots=True)
class Reading:
    """A device's last health report (the Android app's own checks)."""

    provider: str
    device: str
    reported_at: str
    source: str
    status: str
    battery: int | None
    charging: int | None
    transport: int | None
    cellular: int | None
    internet: int | None
    failed_last_hour: int | None
    version: str | None


def minute_of(moment: datetime) -> str:
    """The iso() text of the start of a moment's minute."""
    return iso(moment.replace(second=0, microsecond=0))


def beat(conn: sqlite3.Connection, *, worker: str, started: datetime, now: datetime,
         sent: int, failed: int, minutes: Iterable[Minute] = (),
         stopped: bool = False) -> None:
    """Record that a worker is alive (its totals since it started) and what each provider
    did in the minutes since its last beat; forget workers and minutes long gone."""
    stamp = iso(now)
    conn.execute(
        "INSERT INTO worker_heartbeats (worker, started_at, seen_at, stopped_at, sent, failed)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (worker) DO UPDATE SET seen_at = excluded.seen_at,"
        " stopped_at = excluded.stopped_at, sent = excluded.sent, failed = excluded.failed",
        (worker, iso(started), stamp, stamp if stopped else None, sent, failed))
    rows = list(minutes)
    conn.executemany(
        "INSERT INTO provider_minutes (provider, minute, sent, failed, last_sent_at, last_error)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider, minute) DO UPDATE SET"
        " sent = sent + excluded.sent, failed = failed + excluded.failed,"
        " last_sent_at = COALESCE(MAX(last_sent_at, excluded.last_sent_at), last_sent_at,"
        " excluded.last_sent_at), last_error = IFNULL(excluded.last_error, last_error)",
        [(m.provider, m.minute, m.sent, m.failed, m.last_sent_at, m.last_error) for m in rows])
    conn.execute("DELETE FROM worker_heartbeats WHERE seen_at < ?", (iso(now - FORGET_WORKERS),))
    for provider in {m.provider for m in rows}:
        conn.execute("DELETE FROM provider_minutes WHERE provider = ? AND minute < ?",
                     (provider, iso(now - KEEP_MINUTES)))


def workers(conn: sqlite3.Connection) -> list[Heartbeat]:
    """The workers seen in the last day, the most recently seen first."""
    rows = conn.execute("SELECT * FROM worker_heartbeats ORDER BY seen_at DESC LIMIT 20")
    return [Heartbeat(*(row[name] for name in Heartbeat.__dataclass_fields__)) for row in rows]


def last_seen(conn: sqlite3.Connection) -> str | None:
    """When any worker last went round its loop (None: no worker ever ran on this database)."""
    row = conn.execute("SELECT MAX(seen_at) FROM worker_heartbeats").fetchone()
    return row[0] if row else None


@dataclass(frozen=True, slots=True)
class Recent:
    """One provider's sends and failed attempts since a moment, and its last good send."""

    provider: str
    sent: int
    failed: int
    last_sent_at: str | None
    last_error: str | None


def recent(conn: sqlite3.Connection, providers: Sequence[str],
           since: datetime) -> dict[str, Recent]:
    """Each provider's sends and failed attempts in the minutes since `since`, and when it
    last had a send accepted at all (an index range per provider: its recent minutes, then
    its minutes back from the newest until one with a send)."""
    found = {}
    for provider in providers:
        row = conn.execute(
            "SELECT TOTAL(sent), TOTAL(failed),"
            " (SELECT last_error FROM provider_minutes WHERE provider = :p AND minute >= :since"
            "  AND last_error IS NOT NULL ORDER BY minute DESC LIMIT 1),"
            " (SELECT last_sent_at FROM provider_minutes WHERE provider = :p AND sent > 0"
            "  ORDER BY minute DESC LIMIT 1)"
            " FROM provider_minutes WHERE provider = :p AND minute >= :since",
            {"p": provider, "since": minute_of(since)}).fetchone()
        found[provider] = Recent(provider, int(row[0]), int(row[1]), row[3], row[2])
    return found


def per_minute(conn: sqlite3.Connection, provider: str, since: datetime) -> list[Minute]:
    """One provider's minutes since a moment, oldest first."""
    rows = conn.execute("SELECT * FROM provider_minutes WHERE provider = ? AND minute >= ?"
                        " ORDER BY minute", (provider, minute_of(since)))
    return [Minute(*(row[name] for name in Minute.__dataclass_fields__)) for row in rows]


def record_reading(conn: sqlite3.Connection, reading: Reading) -> None:
    """Keep a device's latest health report (one row per device)."""
    names = list(Reading.__dataclass_fields__)
    conn.execute(
        f"INSERT OR REPLACE INTO provider_health ({', '.join(names)})"
        f" VALUES ({', '.join('?' * len(names))})",
        tuple(getattr(reading, name) for name in names))


def readings(conn: sqlite3.Connection) -> list[Reading]:
    """Every device's latest health report, by provider and device."""
    rows = conn.execute("SELECT * FROM provider_health ORDER BY provider, device")
    return [Reading(*(row[name] for name in Reading.__dataclass_fields__)) for row in rows]
