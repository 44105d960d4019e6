"""Market agents: the contacts who may report prices by SMS, and the markets they cover."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from db.groups import audit
from db.timeutil import iso, utcnow


@dataclass(frozen=True, slots=True)
class Agent:
    contact_id: int
    phone: str
    auto_approve: bool
    market_ids: tuple[int, ...]
    markets: tuple[str, ...]        # their names, in the order of market_ids


def save(conn: sqlite3.Connection, contact_id: int, market_ids: Iterable[int], *,
         auto_approve: bool, by: str) -> bool:
    """Make a contact an agent for these markets (replacing their markets); True if new."""
    known = find(conn, contact_id) is not None
    conn.execute("INSERT INTO agents (contact_id, auto_approve, created_at) VALUES (?, ?, ?)"
                 " ON CONFLICT (contact_id) DO UPDATE SET auto_approve = excluded.auto_approve",
                 (contact_id, int(auto_approve), iso(utcnow())))
    ids = sorted(set(market_ids))
    conn.execute("DELETE FROM agent_markets WHERE contact_id = ?", (contact_id,))
    conn.executemany("INSERT INTO agent_markets (contact_id, market_id) VALUES (?, ?)",
                     [(contact_id, market_id) for market_id in ids])
    audit(conn, "agent_saved", contact_id=contact_id, markets=ids, auto_approve=auto_approve,
          by=by)
    return not known


def remove(conn: sqlite3.Connection, contact_id: int, *, by: str) -> bool:
    """Stop a contact being an agent (their reports stay); False if they were not one."""
    gone = conn.execute("DELETE FROM agents WHERE contact_id = ?", (contact_id,)).rowcount > 0
    if gone:
        audit(conn, "agent_removed", contact_id=contact_id, by=by)
    return gone


def find(conn: sqlite3.Connection, contact_id: int) -> Agent | None:
    """The agent a contact is, or None."""
    found = _agents(conn, "WHERE a.contact_id = ?", (contact_id,))
    return found[0] if found else None


def all_agents(conn: sqlite3.Connection) -> list[Agent]:
    """Every agent, by phone number."""
    return _agents(conn, "", ())


def _agents(conn: sqlite3.Connection, where: str, args: tuple[object, ...]) -> list[Agent]:
    rows = conn.execute(
        f"SELECT a.contact_id, c.phone, a.auto_approve, am.market_id, m.name FROM agents a"
        f" JOIN contacts c ON c.id = a.contact_id"
        f" LEFT JOIN agent_markets am ON am.contact_id = a.contact_id"
        f" LEFT JOIN markets m ON m.id = am.market_id {where}"
        f" ORDER BY c.phone, m.name", args).fetchall()
    agents: dict[int, tuple[str, bool, list[int], list[str]]] = {}
    for contact_id, phone, auto, market_id, name in rows:
        entry = agents.setdefault(contact_id, (phone, bool(auto), [], []))
        if market_id is not None:
            entry[2].append(market_id)
            entry[3].append(name)
    return [Agent(contact_id, phone, auto, tuple(ids), tuple(names))
            for contact_id, (phone, auto, ids, names) in agents.items()]
