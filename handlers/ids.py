"""OFFER and CLOSE: the commands that name a short id, which can be an order's, a pool's or
a supplier's offer (one space: db.codes). The id decides who answers:

- an order's: handlers.orders (a member's offer; the buyer closes it);
- a pool's: handlers.pools (a member's answer with how much they want; a leader closes it);
- an offer's: handlers.supplies (its supplier closes it, i.e. withdraws it; OFFER is
  refused with a pointer to POOL);
- no id known: handlers.orders, whose answers name the id that was not found.
Keywords: AHADI / FUNGA (sw), OFFRE / FERMER (fr).
"""

from __future__ import annotations

from db import codes
from db import pools as pools_db
from db import suppliers as suppliers_db
from handlers import keywords, orders, pools, supplies
from handlers.groups import code_of
from handlers.messages import Context, Reply
from handlers.router import Command, Router

OFFER_WORDS = keywords.words("offer")
CLOSE_WORDS = keywords.words("close")


def _named(ctx: Context, rest: str) -> tuple[str | None, str]:
    """What the first word's id names ('order', 'pool', 'supply' or None), and the id."""
    words = rest.split()
    code = code_of(words[0])[:8] if words else ""
    return (codes.kind_of(ctx.conn, code) if code else None), code


def offer(ctx: Context, rest: str) -> list[Reply]:
    """OFFER <id> <quantity>: to an order or a pool."""
    kind, code = _named(ctx, rest)
    if kind == "pool":
        found = pools_db.by_code(ctx.conn, code)
        if found is not None:
            return pools.answer(ctx, found, rest)
    if kind == "supply":
        offered = suppliers_db.by_code(ctx.conn, code)
        if offered is not None:
            return supplies.no_answer(ctx, offered)
    return orders.offer(ctx, rest)


def close(ctx: Context, rest: str) -> list[Reply]:
    """CLOSE <id>: an order (its buyer), a pool (a leader of its group) or an offer (its
    supplier)."""
    kind, code = _named(ctx, rest)
    if kind == "pool":
        found = pools_db.by_code(ctx.conn, code)
        if found is not None:
            return pools.close(ctx, found)
    if kind == "supply":
        offered = suppliers_db.by_code(ctx.conn, code)
        if offered is not None:
            return supplies.withdraw(ctx, offered)
    return orders.close(ctx, rest)


def register(router: Router) -> None:
    """Add OFFER and CLOSE."""
    router.register(Command("offer", OFFER_WORDS, offer))
    router.register(Command("close", CLOSE_WORDS, close))
