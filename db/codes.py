"""Short ids people type and read back (K7Q3): one space shared by buyers' orders, group
purchases (pools) and suppliers' offers, so that an id names one thing whatever the command
it follows (OFFER K7Q3 and OFFER P4K2 alike)."""

from __future__ import annotations

import secrets
import sqlite3

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: ids are typed on a keypad and read aloud. Four characters
# give 24^4 = 331,776 ids.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY3467"
LENGTH = 4

# Every table whose `code` column draws from the space, and what one of its rows is.
# A feature with its own ids adds its table here (and its migration).
TABLES = {"orders": "order", "pools": "pool", "supplies": "supply"}


def new_code(conn: sqlite3.Connection) -> str:
    """A fresh id no order, pool or offer has (call it inside the write transaction that
    stores it: SQLite's one writer keeps two callers from taking the same id)."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if kind_of(conn, code) is None:
            return code


def kind_of(conn: sqlite3.Connection, code: str) -> str | None:
    """What an id names: 'order', 'pool' or 'supply'; None when nothing has it."""
    for table, kind in TABLES.items():
        if conn.execute(f"SELECT 1 FROM {table} WHERE code = ?", (code,)).fetchone():
            return kind
    return None
