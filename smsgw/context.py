"""What a request handler reaches: the services built once per process, and this thread's
database connection. Provider routes import this, never smsgw.app, so that the app factory
can import the providers without a cycle."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app, g

import db

if TYPE_CHECKING:
    from smsgw.config import Config
    from smsgw.gateway import Gateway
    from smsgw.ussd_gateway import UssdGateway


@dataclass(frozen=True, slots=True)
class Services:
    """What request handlers need, built once per process."""

    config: Config
    gateway: Gateway
    clock: Callable[[], datetime]
    ussd: UssdGateway


def services() -> Services:
    """The current application's services."""
    return current_app.extensions["smsgw"]  # type: ignore[no-any-return]


# One connection per server thread, kept open across requests. Opening and closing one
# per request (the flaskr way) made every close of the last connection checkpoint the
# WAL, which cost more than the whole rest of an inbound SMS (see docs/benchmarks.md).
_threads = threading.local()


def connection() -> sqlite3.Connection:
    """This thread's database connection, opened on first use."""
    path = str(services().config["database.path"])
    held: dict[str, sqlite3.Connection] = getattr(_threads, "connections", {})
    conn = held.get(path)
    if conn is None:
        for old in held.values():  # a thread serves one database; tests switch between many
            old.close()
        conn = db.connect(path)
        _threads.connections = {path: conn}
    g.db_used = True
    return conn


def close_connection(_error: BaseException | None = None) -> None:
    """After a request: never leave the thread's connection inside a transaction."""
    if g.pop("db_used", False):
        for conn in getattr(_threads, "connections", {}).values():
            if conn.in_transaction:
                conn.execute("ROLLBACK")
