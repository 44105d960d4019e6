"""Suppliers of inputs (registered by an admin) and the offers with price tiers they post."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from db import codes
from db.groups import audit
from db.timeutil import iso

Tiers = tuple[tuple[float, float], ...]   # (from quantity, unit price), the first from 0


@dataclass(frozen=True, slots=True)
class Supplier:
    contact_id: int
    phone: str
    name: str
    products: tuple[str, ...]       # folded; empty: any product
    opted_out: bool = False
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Supply:
    id: int
    code: str
    supplier_id: int
    product: str
    unit: str
    currency: str
    tiers: Tiers
    valid_until: date
    status: str                     # open | replaced | withdrawn


def tiers_json(tiers: Tiers) -> str:
    """Tiers as stored: a JSON list of [from quantity, price] pairs."""
    return json.dumps([[q, p] for q, p in tiers])


def tiers_of(text: str) -> Tiers:
    """Tiers as stored, read back."""
    return tuple((float(q), float(p)) for q, p in json.loads(text))


# ------------------------------------------------------------------------------ suppliers


def save(conn: sqlite3.Connection, contact_id: int, name: str, products: Iterable[str], *,
         by: str, now: datetime) -> bool:
    """Register a contact as a supplier (again: new name and products); True if new."""
    known = find(conn, contact_id) is not None
    conn.execute("INSERT INTO suppliers (contact_id, name, created_at) VALUES (?, ?, ?)"
                 " ON CONFLICT (contact_id) DO UPDATE SET name = excluded.name",
                 (contact_id, name, iso(now)))
    conn.execute("DELETE FROM supplier_products WHERE contact_id = ?", (contact_id,))
    conn.executemany("INSERT OR IGNORE INTO supplier_products (contact_id, product)"
                     " VALUES (?, ?)", [(contact_id, p) for p in products if p])
    audit(conn, "supplier_saved", now=now, contact_id=contact_id, name=name,
          products=sorted(set(products)), by=by)
    return not known


def remove(conn: sqlite3.Connection, contact_id: int, *, by: str, now: datetime) -> bool:
    """Stop a contact being a supplier and withdraw their open offers (pools opened against
    them keep their prices); False if they were not one."""
    gone = conn.execute("DELETE FROM suppliers WHERE contact_id = ?", (contact_id,)).rowcount > 0
    if gone:
        conn.execute("UPDATE supplies SET status = 'withdrawn' WHERE supplier_id = ? AND"
                     " status = 'open'", (contact_id,))
        audit(conn, "supplier_removed", now=now, contact_id=contact_id, by=by)
    return gone


def find(conn: sqlite3.Connection, contact_id: int) -> Supplier | None:
    """The supplier a contact is, or None."""
    found = _suppliers(conn, "WHERE s.contact_id = ?", (contact_id,))
    return found[0] if found else None


def all_suppliers(conn: sqlite3.Connection, *, simulated: bool | None = None) -> list[Supplier]:
    """Every supplier, by name (only the simulated ones, or only the real ones, when
    `simulated` says which: simulated and real never mix, handlers.sides)."""
    if simulated is None:
        return _suppliers(conn, "", ())
    return _suppliers(conn, "WHERE c.simulated = ?", (int(simulated),))


def _suppliers(conn: sqlite3.Connection, where: str, args: tuple[object, ...]) -> list[Supplier]:
    rows = conn.execute(
        f"SELECT s.contact_id, c.phone, s.name, c.opted_out, c.language, p.product"
        f" FROM suppliers s JOIN contacts c ON c.id = s.contact_id LEFT JOIN supplier_products p"
        f" ON p.contact_id = s.contact_id {where} ORDER BY s.name, c.phone, p.product",
        args).fetchall()
    found: dict[int, Supplier] = {}
    for contact_id, phone, name, opted_out, language, product in rows:
        before = found.get(contact_id)
        products = (before.products if before else ()) + ((product,) if product else ())
        found[contact_id] = Supplier(contact_id, phone, name, products, bool(opted_out), language)
    return list(found.values())


# ------------------------------------------------------------------------------ offers


def _supply(row: sqlite3.Row) -> Supply:
    return Supply(row["id"], row["code"], row["supplier_id"], row["product"], row["unit"],
                  row["currency"], tiers_of(row["tiers"]),
                  date.fromisoformat(row["valid_until"]), row["status"])


def post(conn: sqlite3.Connection, *, supplier_id: int, product: str, unit: str, currency: str,
         tiers: Tiers, valid_until: date, now: datetime) -> tuple[Supply, list[str]]:
    """Store an open offer with a fresh id; the supplier's open offers for the same product
    and unit are replaced (their ids are returned)."""
    replaced = [row[0] for row in conn.execute(
        "SELECT code FROM supplies WHERE supplier_id = ? AND product = ? AND unit = ? AND"
        " status = 'open' ORDER BY id", (supplier_id, product, unit))]
    conn.execute("UPDATE supplies SET status = 'replaced' WHERE supplier_id = ? AND product = ?"
                 " AND unit = ? AND status = 'open'", (supplier_id, product, unit))
    cursor = conn.execute(
        "INSERT INTO supplies (code, supplier_id, product, unit, currency, tiers, valid_until,"
        " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (codes.new_code(conn, "supply", now), supplier_id, product, unit, currency,
         tiers_json(tiers), valid_until.isoformat(), iso(now)))
    made = by_id(conn, int(cursor.lastrowid or 0))
    assert made is not None  # inserted just now
    audit(conn, "supply", actor_id=supplier_id, now=now, supply=made.code, product=product,
          unit=unit, tiers=[list(t) for t in tiers], replaced=replaced)
    return made, replaced


def by_code(conn: sqlite3.Connection, code: str) -> Supply | None:
    """An offer by its short id."""
    row = conn.execute("SELECT * FROM supplies WHERE code = ?", (code,)).fetchone()
    return _supply(row) if row else None


def by_id(conn: sqlite3.Connection, supply_id: int) -> Supply | None:
    """An offer by its row id."""
    row = conn.execute("SELECT * FROM supplies WHERE id = ?", (supply_id,)).fetchone()
    return _supply(row) if row else None


def open_offers(conn: sqlite3.Connection, product: str, today: date, *, simulated: bool,
                supplier_id: int | None = None, limit: int = 20) -> list[Supply]:
    """Offers for a product that still hold today (of one supplier, or of every registered
    one), newest first: only simulated suppliers' offers, or only real ones' (simulated
    and real never mix: handlers.sides)."""
    extra, args = (" AND s.supplier_id = ?", (supplier_id,)) if supplier_id else ("", ())
    rows = conn.execute(
        f"SELECT s.* FROM supplies s JOIN suppliers r ON r.contact_id = s.supplier_id"
        f" JOIN contacts c ON c.id = s.supplier_id AND c.simulated = ?"
        f" WHERE s.product = ? AND s.status = 'open' AND s.valid_until >= ?{extra}"
        f" ORDER BY s.id DESC LIMIT ?",
        (int(simulated), product, today.isoformat(), *args, limit))
    return [_supply(row) for row in rows]


def offers_of(conn: sqlite3.Connection, supplier_id: int) -> list[Supply]:
    """Every offer a supplier posted, newest first."""
    rows = conn.execute("SELECT * FROM supplies WHERE supplier_id = ? ORDER BY id DESC",
                        (supplier_id,))
    return [_supply(row) for row in rows]


def withdraw(conn: sqlite3.Connection, supply_id: int, *, actor_id: int | None,
             now: datetime) -> bool:
    """Withdraw an open offer; False if it was no longer open."""
    done = conn.execute("UPDATE supplies SET status = 'withdrawn' WHERE id = ? AND"
                        " status = 'open'", (supply_id,)).rowcount > 0
    if done:
        code = conn.execute("SELECT code FROM supplies WHERE id = ?", (supply_id,)).fetchone()[0]
        audit(conn, "supply_withdrawn", actor_id=actor_id, now=now, supply=code)
    return done
