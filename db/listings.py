"""Produce listings (what farmers and groups have to sell), the products registered buyers
follow, the alerts waiting for the buyers' next digest, and buyers' bids."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from db import codes
from db.timeutil import iso

OPEN = "open"


@dataclass(frozen=True, slots=True)
class Listing:
    id: int
    code: str
    seller_id: int
    group_id: int | None
    product: str
    offered: float          # as posted
    quantity: float         # left after agreed deals
    unit: str
    grade: str | None
    price: float | None
    currency: str | None
    expires_on: date
    market_id: int
    country: str
    place: str | None
    status: str
    pledged: float
    notified_pledged: float


@dataclass(frozen=True, slots=True)
class Bid:
    id: int
    code: str
    listing_id: int
    buyer_id: int
    quantity: float
    price: float | None
    currency: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Want:
    id: int
    product: str
    market_id: int | None
    country: str


@dataclass(frozen=True, slots=True)
class Follower:
    """A buyer with listings waiting for their digest."""

    contact_id: int
    phone: str
    language: str | None
    opted_out: bool
    is_buyer: bool          # still a registered buyer (a role can be taken away)
    listing_ids: tuple[int, ...]


def _listing(row: sqlite3.Row) -> Listing:
    return Listing(row["id"], row["code"], row["seller_id"], row["group_id"], row["product"],
                   row["offered"], row["quantity"], row["unit"], row["grade"], row["price"],
                   row["currency"], date.fromisoformat(row["expires_on"]), row["market_id"],
                   row["country"], row["place"], row["status"], row["pledged"],
                   row["notified_pledged"])


def _bid(row: sqlite3.Row) -> Bid:
    return Bid(row["id"], row["code"], row["listing_id"], row["buyer_id"], row["quantity"],
               row["price"], row["currency"], row["status"])


# ------------------------------------------------------------------------------ listings


def create(conn: sqlite3.Connection, *, seller_id: int, group_id: int | None, product: str,
           quantity: float, unit: str, grade: str | None, price: float | None,
           currency: str | None, expires_on: date, market_id: int, country: str,
           place: str | None, now: datetime) -> Listing:
    """Store a new open listing under a fresh code from the shared id space."""
    cursor = conn.execute(
        "INSERT INTO listings (code, seller_id, group_id, product, offered, quantity, unit,"
        " grade, price, currency, expires_on, market_id, country, place, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (codes.new_code(conn, "listing", now), seller_id, group_id, product, quantity,
         quantity, unit, grade, price, currency, expires_on.isoformat(), market_id, country,
         place, iso(now)))
    found = by_id(conn, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def by_code(conn: sqlite3.Connection, code: str) -> Listing | None:
    """A listing by its short id."""
    row = conn.execute("SELECT * FROM listings WHERE code = ?", (code,)).fetchone()
    return _listing(row) if row else None


def by_id(conn: sqlite3.Connection, listing_id: int) -> Listing | None:
    """A listing by its row id."""
    row = conn.execute("SELECT * FROM listings WHERE id = ?", (listing_id,)).fetchone()
    return _listing(row) if row else None


def by_ids(conn: sqlite3.Connection, listing_ids: Sequence[int]) -> list[Listing]:
    """Listings by row id, newest first."""
    if not listing_ids:
        return []
    marks = ",".join("?" * len(listing_ids))
    rows = conn.execute(f"SELECT * FROM listings WHERE id IN ({marks}) ORDER BY id DESC",
                        tuple(listing_ids))
    return [_listing(row) for row in rows]


def open_near(conn: sqlite3.Connection, product: str, country: str,
              market_ids: Sequence[int] | None, *, simulated: bool,
              limit: int = 50) -> list[Listing]:
    """Open listings of a product with something left, in these markets (or anywhere in
    the country for None), newest first: only simulated sellers' listings, or only real
    ones' (simulated and real never mix: handlers.sides)."""
    where, args = "", ()
    if market_ids is not None:
        where = f" AND l.market_id IN ({','.join('?' * len(market_ids)) or 'NULL'})"
        args = tuple(market_ids)
    rows = conn.execute(
        f"SELECT l.* FROM listings l JOIN contacts c ON c.id = l.seller_id AND c.simulated = ?"
        f" WHERE l.status = 'open' AND l.quantity > 0 AND l.product = ? AND l.country = ?"
        f"{where} ORDER BY l.id DESC LIMIT ?",
        (int(simulated), product, country, *args, limit))
    return [_listing(row) for row in rows]


def of_seller(conn: sqlite3.Connection, seller_id: int) -> list[Listing]:
    """A seller's open listings, newest first."""
    rows = conn.execute("SELECT * FROM listings WHERE seller_id = ? AND status = 'open'"
                        " ORDER BY id DESC", (seller_id,))
    return [_listing(row) for row in rows]


def listed(conn: sqlite3.Connection, *, status: str | None = None,
           limit: int = 50) -> list[Listing]:
    """Listings, newest first (for the CLI)."""
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = conn.execute(f"SELECT * FROM listings {where} ORDER BY id DESC LIMIT ?",
                        (*args, limit))
    return [_listing(row) for row in rows]


def take(conn: sqlite3.Connection, listing_id: int, quantity: float) -> bool:
    """Take an agreed quantity off an open listing; False if not open or not that much."""
    return conn.execute("UPDATE listings SET quantity = quantity - ? WHERE id = ? AND"
                        " status = 'open' AND quantity >= ?",
                        (quantity, listing_id, quantity)).rowcount > 0


def finish(conn: sqlite3.Connection, listing_id: int, status: str, now: datetime) -> bool:
    """End an open listing (sold, withdrawn, expired); False if it was no longer open.
    Alerts not yet sent for it are dropped: a closed listing is in nobody's digest."""
    done = conn.execute("UPDATE listings SET status = ?, closed_at = ? WHERE id = ? AND"
                        " status = 'open'", (status, iso(now), listing_id)).rowcount > 0
    if done:
        conn.execute("UPDATE listing_alerts SET sent_at = ? WHERE listing_id = ? AND"
                     " sent_at IS NULL", (iso(now), listing_id))
    return done


def due_to_expire(conn: sqlite3.Connection, today: date) -> list[Listing]:
    """Open listings whose last day has passed."""
    rows = conn.execute("SELECT * FROM listings WHERE status = 'open' AND expires_on < ?",
                        (today.isoformat(),))
    return [_listing(row) for row in rows]


def pledges_changed(conn: sqlite3.Connection) -> list[Listing]:
    """Open group listings whose members' pledges moved since the leader was last told."""
    rows = conn.execute("SELECT * FROM listings WHERE status = 'open' AND group_id IS NOT"
                        " NULL AND pledged != notified_pledged ORDER BY id")
    return [_listing(row) for row in rows]


def set_notified_pledged(conn: sqlite3.Connection, listing_id: int, total: float) -> None:
    """Remember the pledged total the leader was last told."""
    conn.execute("UPDATE listings SET notified_pledged = ? WHERE id = ?", (total, listing_id))


def audit_rows(conn: sqlite3.Connection, code: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """The audit trail of one listing and its bids, newest first."""
    rows = conn.execute("SELECT a.*, c.phone FROM audit a LEFT JOIN contacts c ON c.id ="
                        " a.actor_id WHERE json_valid(a.detail) AND"
                        " json_extract(a.detail, '$.listing') = ? ORDER BY a.id DESC LIMIT ?",
                        (code, limit))
    return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]


# ------------------------------------------------------------------------------ wants


def want(conn: sqlite3.Connection, buyer_id: int, product: str, market_id: int | None,
         country: str, now: datetime) -> bool:
    """Follow a product near a market (or anywhere in a country); False if already."""
    return conn.execute("INSERT INTO wants (buyer_id, product, market_id, country, created_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (buyer_id, product, market_id, country, iso(now))).rowcount > 0


def unwant(conn: sqlite3.Connection, buyer_id: int, product: str,
           market_id: int | None = None) -> int:
    """Stop following a product (at one market, or everywhere); how many were removed."""
    extra, args = (" AND market_id = ?", (market_id,)) if market_id is not None else ("", ())
    return conn.execute(f"DELETE FROM wants WHERE buyer_id = ? AND product = ?{extra}",
                        (buyer_id, product, *args)).rowcount


def wants_of(conn: sqlite3.Connection, buyer_id: int) -> list[Want]:
    """What a buyer follows, oldest first."""
    rows = conn.execute("SELECT id, product, market_id, country FROM wants WHERE buyer_id = ?"
                        " ORDER BY id", (buyer_id,))
    return [Want(*row) for row in rows]


# ------------------------------------------------------------------------------ alerts


def alert_followers(conn: sqlite3.Connection, listing: Listing, market_ids: Sequence[int],
                    now: datetime) -> tuple[int, int]:
    """Put a new listing in the next digest of every registered buyer who follows its
    product in one of these markets (or anywhere in its country) and can be reached, and
    is of the seller's side: a simulated seller's listing only in simulated buyers'
    digests, a real one's only in real buyers' (handlers.sides).
    Returns (buyers alerted, buyers who had no listing of this seller's waiting: the SMS
    the listing adds to the digests, at most)."""
    marks = ",".join("?" * len(market_ids)) or "NULL"
    conn.execute(
        f"INSERT INTO listing_alerts (listing_id, buyer_id, created_at)"
        f" SELECT DISTINCT ?, w.buyer_id, ? FROM wants w"
        f" JOIN roles r ON r.contact_id = w.buyer_id AND r.role = 'buyer'"
        f" JOIN contacts c ON c.id = w.buyer_id AND c.opted_out = 0"
        f" AND c.simulated = (SELECT simulated FROM contacts WHERE id = ?)"
        f" WHERE w.product = ? AND w.country = ? AND w.buyer_id != ?"
        f" AND (w.market_id IS NULL OR w.market_id IN ({marks}))"
        f" ON CONFLICT DO NOTHING",
        (listing.id, iso(now), listing.seller_id, listing.product, listing.country,
         listing.seller_id, *market_ids))
    alerted, new = conn.execute(
        "SELECT COUNT(*), IFNULL(SUM(NOT EXISTS (SELECT 1 FROM listing_alerts b JOIN listings l"
        " ON l.id = b.listing_id WHERE b.buyer_id = a.buyer_id AND b.sent_at IS NULL AND"
        " b.listing_id != a.listing_id AND l.seller_id = ?)), 0) FROM listing_alerts a"
        " WHERE a.listing_id = ?", (listing.seller_id, listing.id)).fetchone()
    return int(alerted), int(new)


def waiting(conn: sqlite3.Connection, *, batch_size: int = 1000) -> Iterator[list[Follower]]:
    """Buyers with unsent alerts for open listings, in batches by contact id, each with
    those listings (the caller marks each batch sent before asking for the next).

    Only listings of the buyer's own side count (a simulated seller's for a simulated
    buyer, a real one's for a real buyer: handlers.sides). `alert_followers` makes no
    other alert; this also keeps out any made before that rule, and a buyer left with
    none is still listed, with no listings, so that the caller marks them done."""
    last = 0
    while True:
        rows = conn.execute(
            "SELECT c.id, c.phone, c.language, c.opted_out, EXISTS (SELECT 1 FROM roles r"
            " WHERE r.contact_id = c.id AND r.role = 'buyer'),"
            " group_concat(CASE WHEN s.simulated = c.simulated THEN a.listing_id END)"
            " FROM listing_alerts a JOIN contacts c ON c.id = a.buyer_id"
            " JOIN listings l ON l.id = a.listing_id JOIN contacts s ON s.id = l.seller_id"
            " WHERE a.sent_at IS NULL AND a.buyer_id > ? GROUP BY a.buyer_id"
            " ORDER BY a.buyer_id LIMIT ?", (last, batch_size)).fetchall()
        if not rows:
            return
        yield [Follower(r[0], r[1], r[2], bool(r[3]), bool(r[4]),
                        tuple(sorted((int(i) for i in str(r[5]).split(",")), reverse=True))
                        if r[5] is not None else ())
               for r in rows]
        last = rows[-1][0]


def mark_alerted(conn: sqlite3.Connection, buyer_ids: Sequence[int], now: datetime) -> None:
    """Every waiting alert of these buyers went out (or was dropped) in this digest."""
    conn.executemany("UPDATE listing_alerts SET sent_at = ? WHERE buyer_id = ? AND"
                     " sent_at IS NULL", [(iso(now), buyer_id) for buyer_id in buyer_ids])


# ------------------------------------------------------------------------------ bids


def create_bid(conn: sqlite3.Connection, *, listing_id: int, buyer_id: int, quantity: float,
               price: float | None, currency: str | None, now: datetime) -> Bid:
    """Store a buyer's open bid under a fresh code from the shared id space."""
    cursor = conn.execute(
        "INSERT INTO bids (code, listing_id, buyer_id, quantity, price, currency, status,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
        (codes.new_code(conn, "bid", now), listing_id, buyer_id, quantity, price, currency,
         iso(now)))
    row = conn.execute("SELECT * FROM bids WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return _bid(row)


def bid_by_code(conn: sqlite3.Connection, code: str) -> Bid | None:
    """A bid by its short id."""
    row = conn.execute("SELECT * FROM bids WHERE code = ?", (code,)).fetchone()
    return _bid(row) if row else None


def open_bid(conn: sqlite3.Connection, listing_id: int, buyer_id: int) -> Bid | None:
    """A buyer's open bid on a listing (there is at most one)."""
    row = conn.execute("SELECT * FROM bids WHERE listing_id = ? AND buyer_id = ? AND"
                       " status = 'open'", (listing_id, buyer_id)).fetchone()
    return _bid(row) if row else None


def open_bids(conn: sqlite3.Connection, listing_id: int) -> list[Bid]:
    """The open bids on a listing, oldest first."""
    rows = conn.execute("SELECT * FROM bids WHERE listing_id = ? AND status = 'open'"
                        " ORDER BY id", (listing_id,))
    return [_bid(row) for row in rows]


def decide(conn: sqlite3.Connection, bid_id: int, status: str, now: datetime) -> bool:
    """Move an open bid to agreed, declined, replaced or lapsed; False if no longer open."""
    return conn.execute("UPDATE bids SET status = ?, decided_at = ? WHERE id = ? AND"
                        " status = 'open'", (status, iso(now), bid_id)).rowcount > 0
