"""Contacts: one row per phone number, with language and opt-out state."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from db.timeutil import iso, utcnow


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    phone: str
    language: str | None
    opted_out: bool


def _from_row(row: sqlite3.Row) -> Contact:
    return Contact(row["id"], row["phone"], row["language"], bool(row["opted_out"]))


def get_or_create(conn: sqlite3.Connection, phone: str) -> Contact:
    """Return the contact for an E.164 number, creating it on first sight."""
    now = iso(utcnow())
    conn.execute(
        "INSERT INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (phone) DO NOTHING",
        (phone, now, now),
    )
    row = conn.execute("SELECT * FROM contacts WHERE phone = ?", (phone,)).fetchone()
    return _from_row(row)


def find(conn: sqlite3.Connection, phone: str) -> Contact | None:
    """The contact for an E.164 number, or None."""
    row = conn.execute("SELECT * FROM contacts WHERE phone = ?", (phone,)).fetchone()
    return _from_row(row) if row else None


def set_opted_out(conn: sqlite3.Connection, contact_id: int, *, source: str) -> None:
    """Block every further message to this contact except the opt-out confirmation."""
    now = iso(utcnow())
    conn.execute(
        "UPDATE contacts SET opted_out = 1, opted_out_at = ?, opt_out_source = ?, updated_at = ?"
        " WHERE id = ? AND opted_out = 0",
        (now, source, now, contact_id),
    )


def set_opted_in(conn: sqlite3.Connection, contact_id: int) -> None:
    """Allow messages to this contact again."""
    conn.execute(
        "UPDATE contacts SET opted_out = 0, opted_out_at = NULL, opt_out_source = NULL,"
        " updated_at = ? WHERE id = ?",
        (iso(utcnow()), contact_id),
    )


def opt_out_number(conn: sqlite3.Connection, phone: str, *, source: str) -> None:
    """Opt out a number a provider reported as blocked (creating the contact if needed)."""
    contact = get_or_create(conn, phone)
    set_opted_out(conn, contact.id, source=source)


def set_language(conn: sqlite3.Connection, contact_id: int, language: str) -> None:
    """Remember the language a contact reads."""
    conn.execute(
        "UPDATE contacts SET language = ?, updated_at = ? WHERE id = ?",
        (language, iso(utcnow()), contact_id),
    )


def home_market(conn: sqlite3.Connection, contact_id: int) -> int | None:
    """The id of the market a contact registered with REG, if any."""
    row = conn.execute("SELECT home_market_id FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    return None if row is None else row[0]


def set_home_market(conn: sqlite3.Connection, contact_id: int, market_id: int) -> None:
    """Remember a contact's home market."""
    conn.execute("UPDATE contacts SET home_market_id = ?, updated_at = ? WHERE id = ?",
                 (market_id, iso(utcnow()), contact_id))
