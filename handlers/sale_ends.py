"""Ending produce sales: SOLD and WITHDRAW by the seller, expiry, and what everyone hears.

When a sale ends (sold, withdrawn, or its last day passed: `expire_due`, run by the
worker), its open bids lapse and their buyers hear; a group's leader gets who pledged what
(leaders see members' numbers, as members are told when they join) and each member who
pledged their own line; the sale leaves every list and every digest not yet sent. The
worker also tells each group sale's leader how pledges stand (`send_pledge_updates`).
Keywords: IMEUZWA / FUTA (sw), VENDU / RETRAIT (fr).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from db import groups as groups_db
from db import listings as listings_db
from db import pledges as pledges_db
from db.listings import Listing
from handlers import keywords, orders
from handlers.listings import KIND, find, recipient, today, unit_name, with_held
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient, pack
from handlers.phone import display_phone
from handlers.router import Command, Router

SOLD_WORDS = keywords.words("sold")
WITHDRAW_WORDS = keywords.words("withdraw")


def sold(ctx: Context, rest: str) -> list[Reply]:
    """SOLD <id>: the seller sold it all (here or elsewhere)."""
    return [Reply(end(ctx, rest, "sold", "sold_usage"))]


def withdraw(ctx: Context, rest: str) -> list[Reply]:
    """WITHDRAW <id>: the seller takes the sale off."""
    return [Reply(end(ctx, rest, "withdrawn", "withdraw_usage"))]


def end(ctx: Context, rest: str, status: str, usage: str) -> str:
    """End the seller's sale (SMS and USSD alike); the answer, or why not."""
    listing, _, problem = find(ctx, rest, usage)
    if listing is None:
        return problem or ctx.t(usage)
    if listing.seller_id != ctx.contact.id:
        return ctx.t("sale_not_seller", code=listing.code)
    lapsed = finish(ctx.conn, ctx.settings, ctx.now, listing, status, actor_id=ctx.contact.id)
    if lapsed is None:
        return ctx.t("sale_closed", code=listing.code)
    return with_held(ctx, ctx.t("sale_ended", code=listing.code,
                                status=ctx.t(f"sale_status_{status}"), n=lapsed),
                     bool(lapsed) or listing.group_id is not None)


def finish(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime,
           listing: Listing, status: str, *, actor_id: int | None = None,
           tell_seller: bool = False) -> int | None:
    """End an open sale: open bids lapse (their buyers hear), a group's leader gets who
    pledged what and each member their line. The bids lapsed; None if it was not open."""
    if not listings_db.finish(conn, listing.id, status, now):
        return None
    groups_db.audit(conn, status, actor_id=actor_id, group_id=listing.group_id, now=now,
                    listing=listing.code)
    out = Outbox(conn, settings, now, KIND, about=listing.seller_id)

    def text(key: str, **values: Any) -> Callable[[Context], str]:
        return lambda c: c.t(key, code=listing.code, status=c.t(f"sale_status_{status}"),
                             **values)

    bids = listings_db.open_bids(conn, listing.id)
    for bid in bids:
        listings_db.decide(conn, bid.id, "lapsed", now)
        buyer = recipient(conn, bid.buyer_id)
        out.send([buyer] if buyer else [], text("sale_bid_lapsed", bid=bid.code))
    seller = recipient(conn, listing.seller_id)
    if tell_seller and seller:
        out.send([seller], text("sale_seller_ended"))
    if listing.group_id is not None:
        _pledge_summaries(conn, out, listing, status, seller)
    return len(bids)


def _pledge_summaries(conn: sqlite3.Connection, out: Outbox, listing: Listing, status: str,
                      leader: Recipient | None) -> None:
    given = pledges_db.listed(conn, pledges_db.LISTINGS, listing.id)
    total = pledges_db.total(conn, pledges_db.LISTINGS, listing.id)
    group = groups_db.by_id(conn, listing.group_id or 0)

    def leader_text(c: Context) -> list[str]:
        head = c.t("sale_leader_summary", code=listing.code,
                   status=c.t(f"sale_status_{status}"), group=group.code,
                   total=orders.quantity(c, total), unit=unit_name(c, listing),
                   count=len(given))
        items = [f"{display_phone(p.phone, c.settings)} {orders.quantity(c, p.quantity)}"
                 for p in given]
        return pack(lambda part: f"{head} {part}", items) if items else [head.rstrip(":") + "."]

    out.send([leader] if leader else [], leader_text)
    for given_row in given:
        person = recipient(conn, given_row.contact_id)
        out.send([person] if person else [], lambda c, q=given_row.quantity: c.t(
            "sale_member_summary", code=listing.code, status=c.t(f"sale_status_{status}"),
            quantity=orders.quantity(c, q), unit=unit_name(c, listing)))


# ---------------------------------------------------------------------------- the worker's


def expire_due(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> int:
    """End the sales whose last day has passed (their seller hears); return how many."""
    expired = 0
    for listing in listings_db.due_to_expire(conn, today(settings, now)):
        if finish(conn, settings, now, listing, "expired", tell_seller=True) is not None:
            expired += 1
    return expired


def send_pledge_updates(conn: sqlite3.Connection, settings: Mapping[str, Any],
                        now: datetime) -> int:
    """Tell each group sale's leader how members' pledges stand, when they moved."""
    changed = listings_db.pledges_changed(conn)
    for listing in changed:
        out = Outbox(conn, settings, now, KIND, about=listing.seller_id)
        total = pledges_db.total(conn, pledges_db.LISTINGS, listing.id)
        leader = recipient(conn, listing.seller_id)
        group = groups_db.by_id(conn, listing.group_id or 0)
        out.send([leader] if leader else [], lambda c, s=listing, t=total, g=group: c.t(
            "sale_pledges_update", code=s.code, group=g.code, total=orders.quantity(c, t),
            wanted=orders.quantity(c, s.offered), unit=unit_name(c, s)))
        listings_db.set_notified_pledged(conn, listing.id, total)
    return len(changed)


def register(router: Router) -> None:
    """Add SOLD and WITHDRAW."""
    router.register(Command("sold", SOLD_WORDS, sold))
    router.register(Command("withdraw", WITHDRAW_WORDS, withdraw))
