"""The tables an admin may take away (to a spreadsheet, CSV or JSON), read through
sqlite-utils one row at a time, so a table of any size never sits in memory.

Each table names its columns that hold a phone number, so that whoever prints them can mask
them (numbers quoted inside other text are for the printer to find: smsgw.logsafe).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

# table -> its columns holding one phone number each
EXPORTABLE: dict[str, tuple[str, ...]] = {
    "contacts": ("phone",),
    "subscriptions": (),
    "groups": (),
    "memberships": (),
    "orders": (),
    "pledges": (),
    "outbox": ("to_number", "reply_from"),
    "inbound": ("recipient",),
    "prices": (),
    "markets": (),
}


class NotExportable(ValueError):
    """The table is not one of EXPORTABLE (sessions, secrets of the ledger, the audit...)."""


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The table's column names, in their order."""
    return [column.name for column in _table(conn, table).columns]


def rows(conn: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    """Every row of the table as a dict, in primary key order, read as they are used."""
    found = _table(conn, table)
    order = ", ".join(f'"{key}"' for key in found.pks)
    yield from found.rows_where(order_by=order)


def _table(conn: sqlite3.Connection, table: str) -> sqlite_utils.db.Table:
    if table not in EXPORTABLE:
        raise NotExportable(f"{table!r} is not exported; choose one of {', '.join(EXPORTABLE)}")
    # Only reading: no plugins run on our connection, and its pragmas stay as db.connect set.
    database = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    return database.table(table)
