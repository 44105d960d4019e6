"""Produce for sale: SELL, LIST, SOLD and WITHDRAW, and a group's sale with members' pledges.

1. A farmer posts `SELL 20 BAGS MAIZE GRADE1 @3500 BY 2027-01-10 AT NAKURU`, in ORDER's
   grammar and with its parser (handlers.order_grammar); no @price means buyers make an
   offer, no BY means `listings.default_days`, no AT means the farmer's registered market.
   The sale gets a short id from the id space orders share (db.codes).
2. Registered buyers who follow the product near there (WANT, handlers.wants) hear of it
   in their next digest: one SMS per buyer every `listings.digest_minutes`, however many
   sales came. What the digests will cost is charged to the seller now (db.promised), so
   it counts in the seller's confirmation threshold and hourly quota (handlers.costs).
3. A leader posts for the group with `SELL KIMA 100 BAGS MAIZE ...`: the members are asked
   to pledge, and answer `SELL <id> 20` (0 takes it back): the pledge mechanism orders use
   (db.pledges). The leader hears how pledges stand in batches, and who pledged what when
   the sale ends; each member hears their own line.
4. Bids, deals and numbers: handlers.bids. `SOLD <id>` and `WITHDRAW <id>`, and the last
   day passing, end a sale: handlers.sale_ends.
5. `LIST MAIZE [market]` shows open sales near the asker in one SMS; `LIST` alone, your own.
Nobody's number is in any of these messages: numbers are exchanged only when a seller
agrees to a bid (handlers.bids).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from db import codes, contacts, promised
from db import groups as groups_db
from db import listings as listings_db
from db import pledges as pledges_db
from db.groups import Group
from db.listings import Listing
from handlers import keywords, localize, orders, price, sides
from handlers.groups import code_of
from handlers.locale import en
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient, fitted, held_note
from handlers.order_grammar import UNITS, GrammarError, echo, parse, read_quantity
from handlers.router import Command, Router
from handlers.segments import fits
from prices import countries
from prices.catalog import MatchKind, Named, catalog_for
from prices.folding import fold, phrase
from prices.producers import canonical_product, markets_near, singular

SELL_WORDS = keywords.words("sell")
LIST_WORDS = keywords.words("list")
KIND = "listing"        # outbox kind of everything sent to others here (held in quiet hours)
CLEAR_MATCH = 88        # a typed market this close is the market meant


# ---------------------------------------------------------------------------- wording


def with_held(ctx: Context, text: str, sent: bool = True) -> str:
    """A reply that sent something to others, saying when it goes if it waits for quiet
    hours (and if that still fits one SMS)."""
    held = held_note(ctx) if sent else ""
    return text + held if held and fits(text + held) else text


def fit_items(ctx: Context, key: str, items: list[str], **values: Any) -> str:
    """As many items as one SMS holds; the `<key>_more` text names how many were left out."""
    for shown in range(len(items), 0, -1):
        left = len(items) - shown
        text = ctx.t(key if not left else key + "_more", items="; ".join(items[:shown]),
                     more=left, **values)
        if fits(text):
            return text
    return ctx.t(key + "_more", items=items[0][:40], more=len(items) - 1, **values)


def market_name(ctx: Context, market_id: int) -> str:
    """A market's name, as the price data has it."""
    found = catalog_for(ctx.conn).markets.items.get(market_id)
    return found.name if found else "?"


def unit_name(ctx: Context, listing: Listing) -> str:
    """What a sale is counted in, in the reader's language ('bags': 'magunia', 'sacs')."""
    return localize.word(ctx.language, listing.unit)


def what(ctx: Context, listing: Listing, quantity: float | None = None, *,
         short: bool = False) -> str:
    """'20 bags maize grade 1 @KES 3,500' (short: '20 bags maize gr 1 @3,500')."""
    amount = listing.quantity if quantity is None else quantity
    text = f"{orders.quantity(ctx, amount)} {unit_name(ctx, listing)}"
    if singular(phrase(listing.unit)) != listing.product:
        text += f" {orders.product_name(ctx, listing.product)}"
    if listing.grade:
        grade = listing.grade.lower()
        text += f" {ctx.t('sale_grade_short', grade=grade) if short else ctx.t('order_grade', grade=grade)}"
    if listing.price is not None:
        money = price.money(ctx, listing.price)
        text += f" @{money}" if short else f" @{listing.currency or ''} {money}".replace("@ ", "@")
    return text


def summary(ctx: Context, listing: Listing) -> str:
    """'20 bags maize grade 1 @KES 3,500 at Nakuru, until 7 Dec' (without a price: '...,
    until 7 Dec, buyers make an offer')."""
    text = what(ctx, listing) + " " + ctx.t("order_at", place=market_name(ctx, listing.market_id))
    text += ", " + ctx.t("sale_until", date=price.day(ctx, listing.expires_on)).rstrip(".")
    return text if listing.price is not None else text + ", " + ctx.t("sale_no_price")


def item(ctx: Context, listing: Listing) -> str:
    """One sale in a list: 'K7Q3 20 bags maize gr 1 @3,500 Nakuru'."""
    return f"{listing.code} {what(ctx, listing, short=True)} {market_name(ctx, listing.market_id)}"


def recipient(conn: sqlite3.Connection, contact_id: int) -> Recipient | None:
    """Someone to send to, by contact id."""
    person = contacts.by_id(conn, contact_id)
    return Recipient(person.id, person.phone, person.language, person.opted_out) \
        if person else None


def sell_error(ctx: Context, error: GrammarError) -> str:
    """A grammar error in SELL's words: ORDER's texts, with SELL's examples where they
    name the command (sell_usage for order_usage...)."""
    key = error.key.replace("order_", "sell_", 1)
    return ctx.t(key if key in en.TEXTS else error.key, **orders.figures(ctx, error.values))


def find(ctx: Context, rest: str, usage: str) -> tuple[Listing | None, list[str], str | None]:
    """The sale a message names first, the words after it, or the answer why not."""
    words = fold(rest).split()
    if not words:
        return None, [], ctx.t(usage)
    code = "".join(ch for ch in words[0] if ch.isalnum())[:8]
    listing = listings_db.by_code(ctx.conn, code)
    if listing is not None:
        return listing, words[1:], None
    return None, words[1:], wrong_code(ctx, code, "listing")


def wrong_code(ctx: Context, code: str, wanted: str) -> str:
    """Why a code is not the sale (or bid) a command wants: it names an order, a bid or a
    sale instead (one id space: db.codes), or nothing at all."""
    kind = codes.kind_of(ctx.conn, code)
    if kind in ("order", "bid", "listing") and kind != wanted:
        return ctx.t(f"code_is_{kind}", code=code)
    return ctx.t("bid_unknown" if wanted == "bid" else "sale_unknown", code=code or "?")


def today(settings: Mapping[str, Any], now: datetime, country: str | None = None) -> date:
    """The date in a served country (the first one's by default)."""
    return now.astimezone(ZoneInfo(countries.get(settings, country).timezone)).date()


# ---------------------------------------------------------------------------- SELL


def sell(ctx: Context, rest: str) -> list[Reply]:
    """SELL <quantity> <product> ...; SELL <group> <quantity> ... for a leader's group;
    SELL <id> <quantity> for a member's pledge into the group's sale."""
    words = fold(rest).split()
    # A pledge is at most SELL <id> <quantity> [<unit>]; a sale starts with a number, or
    # with a group's code and then a number.
    if words and len(words) <= 3 and (len(words) <= 2 or any(c.isalpha() for c in words[0])):
        code = "".join(ch for ch in words[0] if ch.isalnum())[:8]
        listing = listings_db.by_code(ctx.conn, code)
        if listing is not None:
            return [Reply(pledge(ctx, listing, words[1:]))]
        if codes.kind_of(ctx.conn, code) is not None:
            return [Reply(wrong_code(ctx, code, "listing"))]
    group = groups_db.by_code(ctx.conn, code_of(words[0])) \
        if words and not words[0][:1].isdigit() else None
    if group is not None:
        led = groups_db.groups_of(ctx.conn, ctx.contact.id, role="leader")
        if group.id not in {g.id for g in led}:
            return [Reply(ctx.t("not_leader"))]
        rest = rest.strip().split(None, 1)[1] if len(rest.split()) > 1 else ""
    return post(ctx, rest, group)


def post(ctx: Context, text: str, group: Group | None = None) -> list[Reply]:
    """Read and post a sale (SMS and USSD alike), alert the buyers' next digest and, for a
    group, ask the members to pledge; the seller's answer."""
    try:
        listing = create(ctx, text, group)
    except GrammarError as error:
        return [Reply(sell_error(ctx, error))]
    buyers = alert(ctx, listing)
    values = {"code": listing.code, "summary": summary(ctx, listing), "n": buyers}
    if group is None:
        return [Reply(fitted(ctx, "sell_posted", held=held_note(ctx) if buyers else "",
                             **values))]
    asked = ask_members(ctx, listing, group)
    return [Reply(fitted(ctx, "sell_group_posted", group=group.code, members=asked,
                         held=held_note(ctx) if buyers or asked else "", **values))]


def draft(ctx: Context, text: str, group: Group | None = None) -> Listing:
    """Read a sale from the contact in `ctx`, not stored yet (id 0, no code);
    GrammarError names a bad part."""
    country = countries.get(ctx.settings, price.country_of(ctx))
    request = parse(text, today(ctx.settings, ctx.now, country.code),
                    currency=country.currency,
                    default_days=int(ctx.settings["listings.default_days"]))
    catalog = catalog_for(ctx.conn)
    market_id = (group.market_id if group else None) or \
        contacts.home_market(ctx.conn, ctx.contact.id)   # a group without one: the leader's
    product = canonical_product(ctx.conn, request.product)
    if request.place:
        match = price.exact_market(catalog.markets_for(country.code).match(request.place))
        if not match.found:
            raise GrammarError("order_unknown_place", word=echo(request.place)[:20])
        market_id = match.items[0].id
    else:   # SELL 20 BAGS MAIZE NAKURU: a clear market name without AT is understood too
        product, market, _ = product_and_market(ctx, request.product, country.code)
        market_id = market.id if market else market_id
    if market_id is None or market_id not in catalog.market_country:
        raise GrammarError("sell_where")
    return Listing(0, "", ctx.contact.id, group.id if group else None, product,
                   request.quantity, request.quantity, request.unit, request.grade,
                   request.price, request.currency, request.deliver_by or ctx.now.date(),
                   market_id, catalog.market_country[market_id], request.place,
                   listings_db.OPEN, 0.0, 0.0)


def create(ctx: Context, text: str, group: Group | None = None) -> Listing:
    """Read and store a sale from the contact in `ctx`; GrammarError names a bad part."""
    read = draft(ctx, text, group)
    listing = listings_db.create(
        ctx.conn, seller_id=read.seller_id, group_id=read.group_id, product=read.product,
        quantity=read.offered, unit=read.unit, grade=read.grade, price=read.price,
        currency=read.currency, expires_on=read.expires_on, market_id=read.market_id,
        country=read.country, place=read.place, now=ctx.now)
    groups_db.audit(ctx.conn, "sell", actor_id=ctx.contact.id, group_id=listing.group_id,
                    now=ctx.now, listing=listing.code, text=text[:300], product=read.product,
                    quantity=read.offered)
    return listing


def alert(ctx: Context, listing: Listing) -> int:
    """Put the sale in the next digest of the buyers who follow it near there; charge the
    seller what that may add to the digests (db.promised). Returns the buyers alerted."""
    near = markets_near(ctx.conn, listing.market_id,
                        radius_km=float(ctx.settings["orders.relay_radius_km"]))
    alerted, added = listings_db.alert_followers(ctx.conn, listing, near, ctx.now)
    promised.promise(ctx.conn, ctx.contact.id, kind=KIND, messages=added, segments=added,
                     now=ctx.now)
    groups_db.audit(ctx.conn, "alerted", actor_id=ctx.contact.id, now=ctx.now,
                    listing=listing.code, buyers=alerted, charged=added)
    return alerted


def ask_members(ctx: Context, listing: Listing, group: Group) -> int:
    """Ask the group's members (but the leader posting) to pledge into its sale."""
    people = (Recipient(m.contact_id, m.phone, m.language, m.opted_out)
              for batch in groups_db.member_batches(ctx.conn, group.id) for m in batch
              if m.contact_id != ctx.contact.id)
    out = Outbox(ctx.conn, ctx.settings, ctx.now, KIND, about=listing.seller_id)
    done = out.send(people, lambda c: fitted(
        c, "sell_to_members", group=group.code, summary=summary(c, listing), code=listing.code,
        unit=unit_name(c, listing)))
    return done.queued


def pledge(ctx: Context, listing: Listing, words: list[str]) -> str:
    """SELL <id> <quantity>: a member's pledge into the group's sale (0 takes it back)."""
    if listing.group_id is None:
        return ctx.t("sale_not_group", code=listing.code)
    if (apart := sides.refusal(ctx, listing.seller_id, listing.code)) is not None:
        return apart
    group = groups_db.by_id(ctx.conn, listing.group_id)
    if groups_db.membership(ctx.conn, group.id, ctx.contact.id) not in (
            ("member", "active"), ("leader", "active")):
        return ctx.t("sale_not_member", code=listing.code, group=group.code)
    if listing.status != listings_db.OPEN:
        return ctx.t("sale_closed", code=listing.code)
    if not words or (len(words) > 1 and not (len(words) == 2 and words[1] in UNITS)):
        return ctx.t("sale_pledge_usage", code=listing.code, unit=unit_name(ctx, listing))
    try:
        amount, _ = read_quantity(words, listing.unit, allow_zero=True)
    except GrammarError as error:
        return ctx.t(error.key, **orders.figures(ctx, error.values))
    book = pledges_db.LISTINGS
    others = pledges_db.total(ctx.conn, book, listing.id) - \
        pledges_db.pledge_of(ctx.conn, book, listing.id, ctx.contact.id)
    if others + amount > listing.offered:
        return ctx.t("sale_pledge_over", code=listing.code, unit=unit_name(ctx, listing),
                     left=orders.quantity(ctx, max(0.0, listing.offered - others)))
    before = pledges_db.pledge(ctx.conn, book, listing.id, ctx.contact.id, group.id, amount,
                               ctx.now)
    groups_db.audit(ctx.conn, "sale_pledge", actor_id=ctx.contact.id, group_id=group.id,
                    now=ctx.now, listing=listing.code, quantity=amount, before=before)
    values = {"code": listing.code, "unit": unit_name(ctx, listing), "group": group.code,
              "total": orders.quantity(ctx, others + amount),
              "wanted": orders.quantity(ctx, listing.offered)}
    if amount == 0:
        return ctx.t("sale_pledge_withdrawn", **values)
    return ctx.t("sale_pledge_done", quantity=orders.quantity(ctx, amount), **values)


# ---------------------------------------------------------------------------- LIST


def product_and_market(ctx: Context, text: str,
                       country: str | None = None) -> tuple[str, Named | None, str | None]:
    """Split what follows SELL's quantity, WANT or LIST into the product and a market:
    'MAIZE NAKURU' -> ('MAIZE', Nakuru, None); 'WOVEN BASKETS' -> ('WOVEN BASKET', None,
    None). A known product followed by words that are no market we know gives those
    words third ('MAIZE ATLANTIS' -> ('MAIZE', None, 'ATLANTIS')), so that a typo in a
    market is answered instead of followed as a product nobody sells."""
    words = phrase(text).split()
    catalog = catalog_for(ctx.conn)
    markets = catalog.markets_for(country or price.country_of(ctx))
    for cut in range(len(words) - 1, 0, -1):
        match = price.exact_market(markets.match(" ".join(words[cut:])))
        if match.found and len(match.items) == 1 and (
                match.kind is MatchKind.EXACT or match.score >= CLEAR_MATCH):
            return canonical_product(ctx.conn, " ".join(words[:cut])), match.items[0], None
    whole = catalog.commodities.match(" ".join(words))
    if not (whole.kind is MatchKind.EXACT or whole.found and whole.score >= 90):
        for cut in range(len(words) - 1, 0, -1):
            if catalog.commodities.match(" ".join(words[:cut])).kind is MatchKind.EXACT:
                return canonical_product(ctx.conn, " ".join(words[:cut])), None, \
                    " ".join(words[cut:])
    return canonical_product(ctx.conn, " ".join(words)), None, None


def near_ids(ctx: Context, market: Named | None) -> list[int] | None:
    """The markets near one (None: anywhere in the country)."""
    if market is None:
        return None
    return markets_near(ctx.conn, market.id,
                        radius_km=float(ctx.settings["orders.relay_radius_km"]))


def list_sales(ctx: Context, rest: str) -> list[Reply]:
    """LIST <product> [market]: open sales near the asker; LIST alone: your own."""
    if not rest.strip():
        return [Reply(mine(ctx))]
    product, market, unknown = product_and_market(ctx, rest)
    if unknown:
        return [Reply(ctx.t("list_unknown_market", word=echo(unknown)[:20]))]
    if not product:
        return [Reply(ctx.t("list_usage"))]
    market = market or price.home_market(ctx)
    where = ctx.t("list_near", market=market.name) if market else ctx.t("list_all")
    sales = listings_db.open_near(ctx.conn, product, price.country_of(ctx),
                                  near_ids(ctx, market), simulated=ctx.contact.simulated,
                                  limit=20)
    name = orders.product_name(ctx, product)
    if not sales:
        return [Reply(ctx.t("list_none", commodity=name.capitalize(), where=where,
                            name=name.upper()[:20]))]
    return [Reply(fit_items(ctx, "list_found", [item(ctx, s) for s in sales],
                            commodity=name.capitalize(), where=where))]


def mine(ctx: Context) -> str:
    """The contact's own open sales with their open bids."""
    own = listings_db.of_seller(ctx.conn, ctx.contact.id)
    if not own:
        return ctx.t("list_mine_none")
    items = [f"{s.code} {what(ctx, s, short=True)}"
             f" ({ctx.t('sale_bids', n=len(listings_db.open_bids(ctx.conn, s.id)))})"
             for s in own]
    return fit_items(ctx, "list_mine", items)


def register(router: Router) -> None:
    """Add SELL and LIST (SOLD and WITHDRAW: handlers.sale_ends)."""
    router.register(Command("sell", SELL_WORDS, sell))
    router.register(Command("list", LIST_WORDS, list_sales))
