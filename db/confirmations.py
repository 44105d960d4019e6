"""What waits for a sender's YES: one pending confirmation per contact.

A command whose effect on other people costs more than a set number of SMS segments is not
carried out; its text is kept here with what it would cost, and the sender's YES runs it
again. A newer request replaces the older one (the sender is told), so `YES` always
answers the newest.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class Pending:
    contact_id: int
    text: str
    language: str
    messages: int
    segments: int


def propose(conn: sqlite3.Connection, *, contact_id: int, text: str, language: str,
            messages: int, segments: int, now: datetime, expires: datetime) -> bool:
    """Keep a command for the sender's YES; True if it replaced one still waiting."""
    replaced = pending(conn, contact_id, now) is not None
    conn.execute(
        "INSERT INTO confirmations (contact_id, text, language, messages, segments, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id) DO UPDATE SET"
        " text = excluded.text, language = excluded.language, messages = excluded.messages,"
        " segments = excluded.segments, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at",
        (contact_id, text, language, messages, segments, iso(now), iso(expires)))
    return replaced


def pending(conn: sqlite3.Connection, contact_id: int, now: datetime) -> Pending | None:
    """The command waiting for this contact's YES, if it has not expired."""
    row = conn.execute(
        "SELECT contact_id, text, language, messages, segments FROM confirmations"
        " WHERE contact_id = ? AND expires_at > ?", (contact_id, iso(now))).fetchone()
    return Pending(*row) if row else None


def take(conn: sqlite3.Connection, contact_id: int, now: datetime) -> Pending | None:
    """The waiting command, removed (a YES uses it once); None if none or expired."""
    found = pending(conn, contact_id, now)
    conn.execute("DELETE FROM confirmations WHERE contact_id = ?", (contact_id,))
    return found
