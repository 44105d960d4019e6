"""Numbered schema migrations: the schema only ever moves forward, never drop-and-recreate.

Each step is a file `db/schema/NNNN_name.sql`. `migrate()` applies, in order, every step
not yet recorded in the `_migrations` table, each in its own transaction, so a failed step
leaves the database exactly as the previous step left it. (sqlite-utils' companion
`sqlite-migrate` is still alpha, and this is the whole of what we need from it.)
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from db.timeutil import iso, utcnow

_STEP_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A schema step failed; the database is left at the previous step."""


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    name: str
    sql: str


def steps() -> list[Step]:
    """All shipped schema steps, in order."""
    found = []
    for entry in resources.files("db.schema").iterdir():
        match = _STEP_NAME.match(entry.name)
        if match:
            found.append(Step(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda step: step.number)
    numbers = [step.number for step in found]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"two schema steps share a number: {numbers}")
    return found


def _applied(conn: sqlite3.Connection) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    return {row[0] for row in conn.execute("SELECT number FROM _migrations")}


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of the last applied step (0 for an empty database)."""
    return max(_applied(conn), default=0)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every pending step; return the names of those applied.

    Each step checks and records itself inside its own write transaction, so two
    processes migrating at once apply every step exactly once.
    """
    _applied(conn)
    applied = []
    for step in steps():
        try:
            conn.execute("BEGIN IMMEDIATE")
            done = conn.execute("SELECT 1 FROM _migrations WHERE number = ?", (step.number,))
            if done.fetchone():
                conn.execute("COMMIT")
                continue
            for statement in _statements(step.sql):
                conn.execute(statement)
            conn.execute("INSERT INTO _migrations (number, name, applied_at) VALUES (?, ?, ?)",
                         (step.number, step.name, iso(utcnow())))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(f"schema step {step.number:04d}_{step.name} failed: {exc}") from exc
        applied.append(f"{step.number:04d}_{step.name}")
    return applied


def _statements(sql: str) -> list[str]:
    """Split a schema file into complete statements (sqlite3.complete_statement decides)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        if not current and line.strip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
