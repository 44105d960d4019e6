"""Short ids people type (K7Q3): one id space for orders, listings, bids, pools and
suppliers' offers.

A code is taken in the `codes` table, with the kind of thing it names, before the thing
itself is stored, so a code never means two things: `OFFER K7Q3` and `BUY K7Q3` can tell
"that is an order, not an offer" instead of guessing. Anything that needs a short id draws
it from `new_code` with its own kind ('order', 'listing', 'bid', 'pool', 'supply').
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import datetime

from db.timeutil import iso, utcnow

# Characters people can type on a keypad and read back without confusion: no 0/O, 1/I/L,
# 5/S, 2/Z, 8/B. Four of them with at least one digit (so that no code is a word a message
# could mean otherwise, such as the product UREA) give 24^4 - 20^4 = 171,776 ids.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY3467"
CODE_LENGTH = 4


def new_code(conn: sqlite3.Connection, kind: str, now: datetime | None = None) -> str:
    """A fresh short id, taken for `kind` in the caller's transaction."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not any(ch.isdigit() for ch in code):
            continue   # a code of letters only could be a word (UREA, CAKE): never make one
        if conn.execute("INSERT INTO codes (code, kind, created_at) VALUES (?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (code, kind, iso(now or utcnow()))).rowcount:
            return code


def kind_of(conn: sqlite3.Connection, code: str) -> str | None:
    """What a code names ('order', 'listing', 'bid', 'pool', 'supply'), or None if it names
    nothing."""
    row = conn.execute("SELECT kind FROM codes WHERE code = ?", (code,)).fetchone()
    return None if row is None else str(row[0])
