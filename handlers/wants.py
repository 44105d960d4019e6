"""What registered buyers follow (WANT), and the digests that tell them of new sales.

`WANT MAIZE NAKURU` follows maize sold within `orders.relay_radius_km` of Nakuru (same
country); `WANT MAIZE` follows it anywhere in the buyer's country; `WANT MAIZE 0` stops;
`WANT` alone lists. Admins do the same with `smsgw buyers want`.

A new sale puts an alert in each following buyer's queue (handlers.listings.alert); the
worker runs `send_digests` every `listings.digest_minutes` and sends each buyer with
alerts one SMS: as many of the new sales as fit, newest first, and how many more there
are (`LIST MAIZE` shows them). Ten sales in an hour make one SMS per buyer, not ten. The
digests are kind `listing`, held in quiet hours like group messages.
Keywords: TAKA (sw), CHERCHE (fr).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from db import groups as groups_db
from db import listings as listings_db
from db.listings import Listing, Want
from handlers import keywords, listings, orders, price
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient
from handlers.order_grammar import echo
from handlers.router import Command, Router
from prices.catalog import Named, catalog_for
from prices.folding import phrase

WANT_WORDS = keywords.words("want")
MAX_WANTS = 10      # products (and markets) one buyer may follow


def describe(ctx: Context, want: Want) -> str:
    """'maize near Nakuru' or 'maize anywhere in your country'."""
    name = orders.product_name(ctx, want.product)
    if want.market_id is None:
        return ctx.t("want_anywhere", commodity=name)
    return ctx.t("want_near", commodity=name, market=listings.market_name(ctx, want.market_id))


def want(ctx: Context, rest: str) -> list[Reply]:
    """WANT <product> [market] | WANT <product> [market] 0 | WANT."""
    if groups_db.role_name(ctx.conn, ctx.contact.id, "buyer") is None:
        return [Reply(ctx.t("want_not_buyer"))]
    words = phrase(rest).split()
    if not words:
        return [Reply(followed(ctx))]
    stop = words[-1] == "0"
    if stop:
        words.pop()
    product, market, unknown = listings.product_and_market(ctx, " ".join(words))
    if unknown:
        return [Reply(ctx.t("want_unknown_market", word=echo(unknown)[:20],
                            name=orders.product_name(ctx, product).upper()[:20]))]
    if not product:
        return [Reply(ctx.t("want_usage"))]
    if stop:
        return [Reply(unfollow(ctx, product, market))]
    return [Reply(follow(ctx, product, market))]


def follow(ctx: Context, product: str, market: Named | None) -> str:
    """Follow a product near a market (or anywhere in the country); the answer."""
    country = catalog_for(ctx.conn).market_country.get(market.id) if market else None
    country = country or price.country_of(ctx)
    entry = Want(0, product, market.id if market else None, country)
    item = describe(ctx, entry)
    owned = listings_db.wants_of(ctx.conn, ctx.contact.id)
    if any((w.product, w.market_id) == (product, entry.market_id) for w in owned):
        return ctx.t("want_already", item=item)
    if len(owned) >= MAX_WANTS:
        return ctx.t("want_full", n=MAX_WANTS)
    listings_db.want(ctx.conn, ctx.contact.id, product, entry.market_id, country, ctx.now)
    groups_db.audit(ctx.conn, "want", actor_id=ctx.contact.id, now=ctx.now, product=product,
                    market=entry.market_id)
    sales = listings_db.open_near(ctx.conn, product, country, listings.near_ids(ctx, market),
                                  simulated=ctx.contact.simulated)
    name = orders.product_name(ctx, product).upper()[:20]
    return listings.fitted(ctx, "want_done", item=item, n=len(sales), name=name,
                           minutes=int(ctx.settings["listings.digest_minutes"]))


def unfollow(ctx: Context, product: str, market: Named | None) -> str:
    """Stop following a product (at one market, or everywhere); the answer."""
    name = orders.product_name(ctx, product)
    if not listings_db.unwant(ctx.conn, ctx.contact.id, product,
                              market.id if market else None):
        return ctx.t("want_not_found", commodity=name)
    groups_db.audit(ctx.conn, "unwant", actor_id=ctx.contact.id, now=ctx.now, product=product,
                    market=market.id if market else None)
    return ctx.t("want_stopped", commodity=name)


def followed(ctx: Context) -> str:
    """What the buyer follows."""
    owned = listings_db.wants_of(ctx.conn, ctx.contact.id)
    if not owned:
        return ctx.t("want_none")
    return listings.fit_items(ctx, "want_list", [describe(ctx, w) for w in owned])


# ---------------------------------------------------------------------------- digests


def digest(ctx: Context, sales: list[Listing]) -> str:
    """One SMS of new sales: as many as fit, newest first, and how many more."""
    commonest = Counter(s.product for s in sales).most_common(1)[0][0]
    return listings.fit_items(ctx, "digest", [listings.item(ctx, s) for s in sales],
                              name=orders.product_name(ctx, commonest).upper()[:20])


def send_digests(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> int:
    """Send each buyer with new sales waiting one SMS of them; return how many buyers.
    Buyers who share the same sales get the same text, rendered once per language."""
    # about=None: a digest names several sellers' sales, and a buyer is only ever alerted
    # to sales of their own side, simulated or real (db.listings.alert_followers).
    out = Outbox(conn, settings, now, listings.KIND, about=None)
    sent = 0
    for batch in listings_db.waiting(conn, batch_size=int(settings["bulletins.batch_size"])):
        by_sales: dict[tuple[int, ...], list[Recipient]] = {}
        for buyer in batch:
            if buyer.is_buyer:
                by_sales.setdefault(buyer.listing_ids, []).append(
                    Recipient(buyer.contact_id, buyer.phone, buyer.language, buyer.opted_out))
        for ids, people in by_sales.items():
            sales = [s for s in listings_db.by_ids(conn, ids)
                     if s.status == listings_db.OPEN and s.quantity > 0]
            if sales:
                sent += out.send(people, lambda c, found=sales: digest(c, found)).queued
        listings_db.mark_alerted(conn, [buyer.contact_id for buyer in batch], now)
    return sent


def register(router: Router) -> None:
    """Add WANT."""
    router.register(Command("want", WANT_WORDS, want))
