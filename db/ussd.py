"""USSD sessions, the answer to every hop, and session-end notifications."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db.timeutil import iso, parse_iso

SMS_KIND = "ussd"   # outbox kind of the SMS the USSD menu sends (confirmations, copies)


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    contact_id: int
    state: str            # JSON owned by handlers.ussd
    last_text: str        # the cumulative input that `state` answers
    hops: int
    ended: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """One session-end notification, as the provider reported it."""

    session_id: str
    status: str
    phone: str = ""
    service_code: str = ""
    network_code: str = ""
    cost: str = ""
    duration_ms: int | None = None
    hops_count: int | None = None
    input: str = ""
    last_app_response: str = ""
    error_message: str = ""
    reported_date: str = ""


def get_session(conn: sqlite3.Connection, session_id: str) -> Session | None:
    """The stored session, or None for one not seen yet."""
    row = conn.execute(
        "SELECT session_id, contact_id, state, last_text, hops, ended, updated_at"
        " FROM ussd_sessions WHERE session_id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    return Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]), parse_iso(row[6]))


def start_session(conn: sqlite3.Connection, *, session_id: str, contact_id: int,
                  service_code: str, network_code: str, state: str, now: datetime) -> None:
    """Store a new session at its first screen (before any input)."""
    conn.execute(
        "INSERT INTO ussd_sessions (session_id, contact_id, service_code, network_code, state,"
        " last_text, started_at, updated_at) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
        (session_id, contact_id, service_code, network_code, state, iso(now), iso(now)))


def save_state(conn: sqlite3.Connection, session_id: str, *, state: str, last_text: str,
               ended: bool, now: datetime) -> None:
    """Move a session on: its new state answers `last_text`."""
    conn.execute(
        "UPDATE ussd_sessions SET state = ?, last_text = ?, ended = ?, hops = hops + 1,"
        " updated_at = ? WHERE session_id = ?",
        (state, last_text, int(ended), iso(now), session_id))


def answered(conn: sqlite3.Connection, session_id: str, text: str) -> tuple[str, bool] | None:
    """The screen already answered to this exact request, and whether it ended the session."""
    row = conn.execute("SELECT screen, ends FROM ussd_hops WHERE session_id = ? AND text = ?",
                       (session_id, text)).fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


def record_answer(conn: sqlite3.Connection, session_id: str, text: str, *, screen: str,
                  ends: bool, now: datetime) -> None:
    """Keep the answer to a request, so a repeat of it gets the same one."""
    conn.execute("INSERT OR IGNORE INTO ussd_hops (session_id, text, screen, ends, answered_at)"
                 " VALUES (?, ?, ?, ?, ?)", (session_id, text, screen, int(ends), iso(now)))


def end_other_sessions(conn: sqlite3.Connection, contact_id: int, keep: str) -> int:
    """Close a contact's other open sessions (a phone runs one USSD session at a time)."""
    cursor = conn.execute("UPDATE ussd_sessions SET ended = 1 WHERE contact_id = ? AND ended = 0"
                          " AND session_id != ?", (contact_id, keep))
    return cursor.rowcount


def record_end(conn: sqlite3.Connection, end: SessionEnd, now: datetime) -> bool:
    """Store a session-end notification; False when this session's end was already stored."""
    cursor = conn.execute(
        "INSERT INTO ussd_events (session_id, phone, service_code, network_code, status, cost,"
        " duration_ms, hops_count, input, last_app_response, error_message, reported_date,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (session_id) DO NOTHING",
        (end.session_id, end.phone, end.service_code, end.network_code, end.status, end.cost,
         end.duration_ms, end.hops_count, end.input, end.last_app_response, end.error_message,
         end.reported_date, iso(now)))
    if cursor.rowcount == 0:
        return False
    conn.execute("UPDATE ussd_sessions SET end_status = ?, end_reported_at = ?"
                 " WHERE session_id = ?", (end.status, iso(now), end.session_id))
    return True


def prune(conn: sqlite3.Connection, before: datetime, *, limit: int = 500) -> int:
    """Delete up to `limit` sessions (and their hops) last used before a moment."""
    cursor = conn.execute(
        "DELETE FROM ussd_sessions WHERE session_id IN (SELECT session_id FROM ussd_sessions"
        " WHERE updated_at < ? ORDER BY updated_at LIMIT ?)", (iso(before), limit))
    return cursor.rowcount


def sms_since(conn: sqlite3.Connection, contact_id: int, since: datetime) -> int:
    """How many SMS the USSD menu queued for a contact since a moment."""
    row = conn.execute(f"SELECT COUNT(*) FROM outbox WHERE kind = '{SMS_KIND}'"
                       " AND contact_id = ? AND created_at >= ?",  # the partial index, 0006
                       (contact_id, iso(since))).fetchone()
    return int(row[0])
