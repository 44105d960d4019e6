"""SQLite storage: one connection helper, numbered migrations, and plain-data queries.

This package imports only the standard library and sqlite_utils; everything above it
(prices, handlers, smsgw) reaches the database through the functions defined here.
"""

from db.connection import connect, transaction, write
from db.migrations import migrate, schema_version

__all__ = ["connect", "migrate", "schema_version", "transaction", "write"]
