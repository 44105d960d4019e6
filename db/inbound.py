"""Inbound messages: stored once per (provider, provider message id)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db.timeutil import iso


@dataclass(frozen=True, slots=True)
class InboundRecord:
    id: int
    contact_id: int
    text: str
    outcome: str


def find(conn: sqlite3.Connection, provider: str, provider_message_id: str) -> InboundRecord | None:
    """The stored message a provider already delivered under this id, if any."""
    row = conn.execute(
        "SELECT id, contact_id, text, outcome FROM inbound"
        " WHERE provider = ? AND provider_message_id = ?",
        (provider, provider_message_id),
    ).fetchone()
    return InboundRecord(row[0], row[1], row[2], row[3]) if row else None


def record(
    conn: sqlite3.Connection,
    *,
    provider: str,
    provider_message_id: str,
    contact_id: int,
    recipient: str,
    text: str,
    received_at: datetime,
    outcome: str,
) -> int:
    """Store one inbound message; return its id."""
    cursor = conn.execute(
        "INSERT INTO inbound (provider, provider_message_id, contact_id, recipient, text,"
        " received_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (provider, provider_message_id, contact_id, recipient, text, iso(received_at), outcome),
    )
    return int(cursor.lastrowid or 0)


def count_since(conn: sqlite3.Connection, contact_id: int, since: datetime) -> int:
    """How many messages a contact sent since a moment."""
    row = conn.execute(
        "SELECT COUNT(*) FROM inbound WHERE contact_id = ? AND received_at >= ?",
        (contact_id, iso(since)),
    ).fetchone()
    return int(row[0])


def count_outcome_since(
    conn: sqlite3.Connection, contact_id: int, outcome: str, since: datetime
) -> int:
    """How many of a contact's messages since a moment had a given outcome."""
    row = conn.execute(
        "SELECT COUNT(*) FROM inbound WHERE contact_id = ? AND outcome = ? AND received_at >= ?",
        (contact_id, outcome, iso(since)),
    ).fetchone()
    return int(row[0])
