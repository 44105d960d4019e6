"""Suppliers' offers (SUPPLY): price lists with cheaper steps that group leaders pool against.

A supplier registered by an admin (`smsgw suppliers add`, which tells them that leaders who
pool against their offers get their number) posts
`SUPPLY DAP 50KG @3200 100+@3000 500+@2900 BY 2027-01-31` (the POOL grammar,
handlers.pool_grammar, without FROM). The offer gets a short id from the space orders and
pools share; a newer offer for the same product and pack replaces it, and `CLOSE <id>`
(handlers.ids) withdraws it. Leaders pool against it with `POOL <id>`, find it with
`POOL DAP` (the open offers for a product) or name its supplier: `POOL DAP FROM AGROVET`.
Keywords: UGAVI (sw), TARIF (fr).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db import codes, suppliers
from db.contacts import Contact
from db.suppliers import Supplier, Supply
from handlers import keywords, price, pool_grammar, sides
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient, fitted
from handlers.order_grammar import GrammarError, echo
from handlers.orders import quantity
from handlers.pool_texts import error_text, label, tiers_text
from handlers.router import Command, Router
from handlers.segments import fits
from prices import countries
from prices.folding import phrase
from prices.producers import canonical_product

SUPPLY_WORDS = keywords.words("supply")


@dataclass(frozen=True, slots=True)
class OfferChoice:
    """Several offers (or none) a leader may pool against: the reply lists them."""

    text: str


def _today(ctx: Context) -> date:
    country = countries.get(ctx.settings, price.country_of(ctx))
    return ctx.now.astimezone(ZoneInfo(country.timezone)).date()


# ---------------------------------------------------------------------------- SUPPLY


def supply(ctx: Context, rest: str) -> list[Reply]:
    """SUPPLY ...: a registered supplier posts an offer with price steps."""
    supplier = suppliers.find(ctx.conn, ctx.contact.id)
    if supplier is None:
        return [Reply(ctx.t("not_supplier"))]
    if not rest.strip():
        return [Reply(ctx.t("supply_usage"))]
    today = _today(ctx)
    try:
        request = pool_grammar.parse(rest, today, allow_supplier=False)
    except GrammarError as error:
        return [Reply(error_text(ctx, error))]
    if not request.tiers:
        return [Reply(ctx.t("supply_no_price"))]
    product = canonical_product(ctx.conn, request.product)
    if supplier.products and product not in supplier.products:
        return [Reply(ctx.t("supply_not_yours", word=echo(request.product),
                            products=", ".join(supplier.products)[:40]))]
    currency = request.currency or countries.get(ctx.settings, price.country_of(ctx)).currency
    until = request.close_on or today + timedelta(days=int(ctx.settings["orders.default_days"]))
    made, replaced = suppliers.post(ctx.conn, supplier_id=supplier.contact_id, product=product,
                                    unit=request.unit, currency=currency, tiers=request.tiers,
                                    valid_until=until, now=ctx.now)
    reply = fitted(ctx, "supply_posted", code=made.code, what=label(ctx, product, made.unit),
                   tiers=tiers_text(ctx, currency, made.tiers), date=price.day(ctx, until))
    if replaced:
        longer = reply + " " + ctx.t("supply_replaced", codes=", ".join(replaced[-2:]))
        reply = longer if fits(longer) else reply
    return [Reply(reply)]


def withdraw(ctx: Context, offer: Supply) -> list[Reply]:
    """CLOSE <offer id>: its supplier withdraws it (pools already open keep its prices)."""
    if offer.supplier_id != ctx.contact.id:
        return [Reply(ctx.t("supply_not_theirs", code=offer.code))]
    if not suppliers.withdraw(ctx.conn, offer.id, actor_id=ctx.contact.id, now=ctx.now):
        return [Reply(ctx.t("pool_offer_closed", code=offer.code))]
    return [Reply(ctx.t("supply_withdrawn", code=offer.code))]


# ---------------------------------------------------------------------------- for POOL


def usable(ctx: Context, code: str, today: date) -> Supply | None:
    """The offer with this id, if it is one; GrammarError when it no longer holds, or is
    the other side's (handlers.sides)."""
    if codes.kind_of(ctx.conn, code) != "supply":
        return None
    offer = suppliers.by_code(ctx.conn, code)
    if offer is not None and sides.apart(ctx, offer.supplier_id):
        raise GrammarError("sides_apart", code=code)
    if offer is None or offer.status != "open" or offer.valid_until < today \
            or suppliers.find(ctx.conn, offer.supplier_id) is None:
        raise GrammarError("pool_offer_closed", code=code)
    return offer


def named_supplier(ctx: Context, words: str) -> Supplier:
    """The registered supplier FROM names (of the leader's side: handlers.sides): by their
    whole name, or by words that each begin a word of it (AGRO for Nakuru Agrovet);
    GrammarError when none or several do."""
    wanted = phrase(words).split()
    everyone = suppliers.all_suppliers(ctx.conn, simulated=ctx.contact.simulated)
    exact = [s for s in everyone if phrase(s.name).split() == wanted]
    found = exact or [s for s in everyone if all(
        any(part.startswith(w) for part in phrase(s.name).split()) for w in wanted)]
    if not found:
        raise GrammarError("pool_unknown_supplier", word=echo(words))
    if len(found) > 1:
        raise GrammarError("pool_which_supplier",
                           options=", ".join(s.name for s in found[:3])[:60])
    return found[0]


def find_offers(ctx: Context, product: str, unit: str, today: date,
                supplier: Supplier | None) -> Supply | OfferChoice:
    """A pool named no price: the one offer it can take (of the supplier it named), or the
    list of open offers to choose from; GrammarError when there is none."""
    offers = suppliers.open_offers(ctx.conn, product, today, simulated=ctx.contact.simulated,
                                   supplier_id=supplier.contact_id if supplier else None)
    if unit.startswith("x "):   # a pack was named: only offers of that pack
        offers = [o for o in offers if o.unit == unit]
    if supplier is not None and len(offers) == 1:
        return offers[0]
    if not offers:
        raise GrammarError("pool_no_price")
    return OfferChoice(offers_text(ctx, product, offers))


def offers_text(ctx: Context, product: str, offers: list[Supply]) -> str:
    """'Offers for DAP: S7K3 Agrovet 50kg KES 3,200 (2,900 from 500); ...', as many as fit
    one SMS."""
    names = {s.contact_id: s.name for s in suppliers.all_suppliers(ctx.conn)}
    shown: list[str] = []
    for offer in offers:
        item = (f"{offer.code} {names.get(offer.supplier_id, '')[:20]}"
                f" {offer.unit.removeprefix('x ')} {offer.currency}"
                f" {price.money(ctx, offer.tiers[0][1])}")
        if len(offer.tiers) > 1:
            cheapest, at_least = offer.tiers[-1][1], offer.tiers[-1][0]
            item += " (" + ctx.t("pool_step", amount=price.money(ctx, cheapest),
                                 quantity=quantity(ctx, at_least)) + ")"
        trial = ctx.t("pool_offers", product=product, items="; ".join([*shown, item]),
                      code=offers[0].code)
        if shown and not fits(trial):
            break
        shown.append(item)
    return ctx.t("pool_offers", product=product, items="; ".join(shown), code=offers[0].code)


def registered(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime,
               person: Contact, name: str) -> None:
    """Tell someone an admin made a supplier how to post an offer, and that leaders who pool
    against it get their number (nobody's number is shown unannounced)."""
    Outbox(conn, settings, now, "group", about=None).send(   # the service's own notice
        [Recipient(person.id, person.phone, person.language, person.opted_out)],
        lambda c: c.t("supplier_registered", name=name))


def no_answer(ctx: Context, offer: Supply) -> list[Reply]:
    """OFFER <offer id>: members answer pools, not suppliers' offers."""
    return [Reply(ctx.t("supply_no_answer", code=offer.code))]


def register(router: Router) -> None:
    """Add SUPPLY (CLOSE <offer id> comes through handlers.ids)."""
    router.register(Command("supply", SUPPLY_WORDS, supply))
