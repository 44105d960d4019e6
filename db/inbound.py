"""Inbound messages: stored once per (provider, provider message id)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db import contacts
from db.contacts import Contact
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


def record_new(
    conn: sqlite3.Connection,
    *,
    provider: str,
    provider_message_id: str,
    contact_id: int,
    recipient: str,
    text: str,
    received_at: datetime,
    outcome: str,
) -> int | None:
    """Store a message unless this provider already delivered this id: its new id, or None.

    One statement for the check and the insert, where a look-up and an insert take two.
    """
    cursor = conn.execute(
        "INSERT INTO inbound (provider, provider_message_id, contact_id, recipient, text,"
        " received_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (provider, provider_message_id) DO NOTHING",
        (provider, provider_message_id, contact_id, recipient, text, iso(received_at), outcome),
    )
    return int(cursor.lastrowid) if cursor.rowcount == 1 and cursor.lastrowid else None


def set_outcome(conn: sqlite3.Connection, inbound_id: int, outcome: str) -> None:
    """Change what became of a stored message (a handler failed on it)."""
    conn.execute("UPDATE inbound SET outcome = ? WHERE id = ?", (outcome, inbound_id))


def sender(conn: sqlite3.Connection, phone: str, since: datetime) -> tuple[Contact, int]:
    """The contact a message comes from (created on first sight) and how many messages it
    has sent since a moment (what `contacts.get_or_create` and `count_since` give).

    One statement for a number seen before, where the two functions take two: in the
    gateway's write transaction every statement counts.
    """
    row = conn.execute(
        f"SELECT {contacts.COLUMNS}, (SELECT COUNT(*) FROM inbound WHERE contact_id = contacts.id"
        " AND received_at >= ?) AS recent FROM contacts WHERE phone = ?",
        (iso(since), phone),
    ).fetchone()
    if row is not None:
        return contacts.from_row(row), int(row["recent"])
    created = contacts.create(conn, phone)
    if created is not None:
        return created, 0  # a contact that did not exist has sent nothing
    contact = contacts.get_or_create(conn, phone)
    return contact, count_since(conn, contact.id, since)


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
