"""Buyer orders: ORDER, FWD, OFFER and CLOSE, and the updates and summaries around them.

1. A registered buyer posts `ORDER 200 BAGS MAIZE GRADE1 @3400 BY 2026-12-20 AT NAKURU`
   (grammar in handlers.order_grammar). The order gets a short id (K7Q3) and is relayed
   to the leaders of the groups that offer the product in or near the place.
2. A leader sends `FWD K7Q3` and the group's members get it (or at once, for groups set
   to forward automatically).
3. Members answer `OFFER K7Q3 20`; a new OFFER replaces their offer and `OFFER K7Q3 0`
   withdraws it, until the order closes. An offer is a value, not an increment, so the
   same SMS twice can never count twice.
4. Buyer and leaders hear of progress in batches (`send_updates`, run by the worker every
   `orders.update_minutes`), not once per offer; when the quantity is reached both hear at
   once.
5. `CLOSE K7Q3` by the buyer, or the delivery date passing (`expire_due`), ends the order:
   the buyer gets the totals per group (with the leaders' numbers where the group shares
   them: `share_leader_numbers`, announced to its leaders), each leader who pledged what in
   their group, each member their own offer.
Keywords: AGIZO / SAMBAZA / AHADI / FUNGA (sw), COMMANDE / TRANSFERER / OFFRE / FERMER (fr).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from db import contacts
from db import groups as groups_db
from db import orders as orders_db
from db.groups import Group
from db.orders import Order
from handlers import keywords, localize, price, sides
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient, fitted, held_note, pack
from handlers.order_grammar import GrammarError, OrderRequest, parse, read_quantity
from handlers.phone import display_phone
from handlers.router import Command, Router
from handlers.segments import fits
from prices import countries
from prices.catalog import MatchKind, catalog_for
from prices.folding import fold, phrase
from prices.producers import canonical_product, groups_for, singular

ORDER_WORDS = keywords.words("order")
FWD_WORDS = keywords.words("fwd")


# ---------------------------------------------------------------------------- wording


def quantity(ctx: Context, amount: float) -> str:
    """200 -> '200', 1500 -> '1,500', 2.5 -> '2.5' ('2,5' in French)."""
    return localize.number(ctx.language, amount, 0 if float(amount).is_integer() else 1)


def unit_name(ctx: Context, order: Order) -> str:
    """What the order is counted in, in the reader's language ('bags': 'magunia', 'sacs')."""
    return localize.word(ctx.language, order.unit)


def product_name(ctx: Context, product: str) -> str:
    """MAIZE -> 'maize' ('mahindi' for a Swahili reader); BASKET -> 'basket'."""
    match = catalog_for(ctx.conn).commodities.match(product)
    if match.kind is MatchKind.EXACT and match.items:
        return price.display_name(match.items, ctx).lower()
    return product.lower()


def summary(ctx: Context, order: Order) -> str:
    """'200 bags maize grade 1 @KES 3,400, by 20 Dec 2026 at Nakuru'."""
    name = product_name(ctx, order.product)
    what = f"{quantity(ctx, order.quantity)} {unit_name(ctx, order)}"
    if singular(phrase(order.unit)) != order.product:
        what += f" {name}"
    if order.grade:
        what += f" {ctx.t('order_grade', grade=order.grade.lower())}"
    if order.price is not None:
        what += f" @{order.currency or ''} {price.money(ctx, order.price)}".replace("@ ", "@")
    what += ", " + ctx.t("order_by", date=price.day(ctx, order.deliver_by))
    if order.place:
        what += " " + ctx.t("order_at", place=order.place.title())
    return what


def _buyer_name(ctx: Context, order: Order) -> str:
    name = groups_db.role_name(ctx.conn, order.buyer_id, "buyer")
    return name or ctx.t("order_a_buyer")


def _recipient(conn: sqlite3.Connection, contact_id: int) -> Recipient | None:
    person = contacts.by_id(conn, contact_id)
    return Recipient(person.id, person.phone, person.language, person.opted_out) \
        if person else None


def _leaders(conn: sqlite3.Connection, group_id: int) -> list[Recipient]:
    return [Recipient(m.contact_id, m.phone, m.language, m.opted_out)
            for m in groups_db.members(conn, group_id, role="leader")]


def _today(settings: Mapping[str, Any], now: datetime) -> date:
    return now.astimezone(ZoneInfo(str(settings["app.timezone"]))).date()


# ---------------------------------------------------------------------------- ORDER


def post(ctx: Context, rest: str) -> list[Reply]:
    """ORDER ...: only registered buyers."""
    if groups_db.role_name(ctx.conn, ctx.contact.id, "buyer") is None:
        return [Reply(ctx.t("not_buyer"))]
    per_day = int(ctx.settings["limits.orders_per_day"])
    if groups_db.count_actions(ctx.conn, "order", actor_id=ctx.contact.id,
                               since=ctx.now - timedelta(days=1)) >= per_day:
        return [Reply(ctx.t("order_quota", max=per_day))]
    try:
        order = create(ctx, rest)
    except GrammarError as error:
        return [Reply(ctx.t(error.key, **figures(ctx, error.values)))]
    reached = relay(ctx, order)
    if not reached:
        return [Reply(ctx.t("order_posted_none", code=order.code, summary=summary(ctx, order)))]
    return [Reply(fitted(ctx, "order_posted", code=order.code, summary=summary(ctx, order),
                          groups=str(reached), held=held_note(ctx)))]


def figures(ctx: Context, values: Mapping[str, str | int | Decimal]) -> dict[str, str]:
    """An error's figures as the reader writes them: 10 000 000 and 0,1 in French."""
    return {key: value if isinstance(value, str) else localize.number(
        ctx.language, value, -min(0, int(value.as_tuple().exponent))
        if isinstance(value, Decimal) else 0) for key, value in values.items()}


def create(ctx: Context, text: str) -> Order:
    """Read and store an order from the buyer in `ctx`; GrammarError names a bad part."""
    country = countries.get(ctx.settings, price.country_of(ctx))   # the buyer's
    today = ctx.now.astimezone(ZoneInfo(country.timezone)).date()
    request: OrderRequest = parse(
        text, today, currency=country.currency,
        default_days=int(ctx.settings["orders.default_days"]))
    market_id = None
    if request.place:
        match = price.exact_market(catalog_for(ctx.conn).markets_for(country.code)
                                   .match(request.place))
        if not match.found:
            raise GrammarError("order_unknown_place", word=request.place[:20])
        market_id = match.items[0].id
    product = canonical_product(ctx.conn, request.product)
    order = orders_db.create(
        ctx.conn, buyer_id=ctx.contact.id, product=product, quantity=request.quantity,
        unit=request.unit, grade=request.grade, price=request.price, currency=request.currency,
        deliver_by=request.deliver_by or today, place=request.place, market_id=market_id,
        now=ctx.now)
    groups_db.audit(ctx.conn, "order", actor_id=ctx.contact.id, order_id=order.id, now=ctx.now,
                    text=text[:300], product=product, quantity=request.quantity)
    return order


def relay(ctx: Context, order: Order) -> int:
    """Send the order to the leaders of the groups that can fill it; return how many."""
    radius = float(ctx.settings["orders.relay_radius_km"])
    found = groups_for(ctx.conn, order.product, order.market_id, radius_km=radius)
    out = Outbox(ctx.conn, ctx.settings, ctx.now, "order", about=order.buyer_id)
    for candidate in found:
        group = candidate.group
        if not orders_db.relay(ctx.conn, order.id, group.id, ctx.now):
            continue
        groups_db.audit(ctx.conn, "relay", order_id=order.id, group_id=group.id, now=ctx.now,
                        km=None if candidate.km is None else round(candidate.km))
        out.send(_leaders(ctx.conn, group.id), lambda c: c.t(
            "order_relay", code=order.code, buyer=_buyer_name(c, order),
            summary=summary(c, order)))
        if group.auto_forward:
            forward(ctx, order, group, by=None)
    return len(orders_db.relays(ctx.conn, order.id))


def forward(ctx: Context, order: Order, group: Group, *, by: int | None) -> int | None:
    """Send the order to the group's members; None if it had been sent already."""
    if not orders_db.mark_forwarded(ctx.conn, order.id, group.id, by, ctx.now):
        return None
    out = Outbox(ctx.conn, ctx.settings, ctx.now, "order", about=order.buyer_id)
    recipients = (Recipient(m.contact_id, m.phone, m.language, m.opted_out)
                  for batch in groups_db.member_batches(ctx.conn, group.id) for m in batch
                  if m.role == "member")
    done = out.send(recipients, lambda c: c.t(
        "order_forward", code=order.code, buyer=_buyer_name(c, order),
        summary=summary(c, order), unit=unit_name(c, order)))
    groups_db.audit(ctx.conn, "forward", actor_id=by, order_id=order.id, group_id=group.id,
                    now=ctx.now, members=done.queued, opted_out=done.opted_out)
    return done.queued


# ---------------------------------------------------------------------------- FWD


def _order_word(ctx: Context, rest: str, usage: str) -> tuple[Order | None, list[str], Reply | None]:
    words = fold(rest).split()
    if not words:
        return None, [], Reply(ctx.t(usage))
    code = "".join(ch for ch in words[0] if ch.isalnum())[:8]
    order = orders_db.by_code(ctx.conn, code)
    if order is None:
        return None, words[1:], Reply(ctx.t("order_unknown", code=code or "?"))
    return order, words[1:], None


def fwd(ctx: Context, rest: str) -> list[Reply]:
    """FWD <id>: a leader sends a relayed order to the group's members."""
    led = groups_db.groups_of(ctx.conn, ctx.contact.id, role="leader")
    if not led:
        return [Reply(ctx.t("not_leader"))]
    order, _, problem = _order_word(ctx, rest, "fwd_usage")
    if problem is not None or order is None:
        return [problem or Reply(ctx.t("fwd_usage"))]
    if (apart := sides.refusal(ctx, order.buyer_id, order.code)) is not None:
        return [Reply(apart)]
    if order.status != "open":
        return [Reply(ctx.t("offer_closed", code=order.code))]
    relayed = [g for g in led if orders_db.relayed_to(ctx.conn, order.id, g.id)]
    if not relayed:
        return [Reply(ctx.t("fwd_not_relayed", code=order.code))]
    replies = []
    for group in relayed:
        sent = forward(ctx, order, group, by=ctx.contact.id)
        if sent is None:
            replies.append(ctx.t("fwd_already", code=order.code, group=group.code))
        else:
            replies.append(ctx.t("fwd_done", code=order.code, members=quantity(ctx, sent),
                                 group=group.code))
    return [Reply(" ".join(replies) + held_note(ctx))]


# ---------------------------------------------------------------------------- OFFER


def offer(ctx: Context, rest: str) -> list[Reply]:
    """OFFER <id> <quantity>: set (or with 0 withdraw) the member's offer."""
    order, after, problem = _order_word(ctx, rest, "offer_usage")
    if problem is not None or order is None:
        return [problem or Reply(ctx.t("offer_usage"))]
    if not after or not after[0].lstrip("-\u2212")[:1].isdigit():
        return [Reply(ctx.t("offer_bad_quantity", code=order.code))]
    try:
        amount, _ = read_quantity(after, order.unit, allow_zero=True)
    except GrammarError as error:
        return [Reply(ctx.t(error.key, **error.values))]
    return [Reply(make_offer(ctx, order, amount))]


def _offering_group(ctx: Context, order: Order) -> Group | None:
    """The contact's group the order was relayed to (None: they may not offer to it)."""
    mine = {g.id: g for g in groups_db.groups_of(ctx.conn, ctx.contact.id)}
    relayed = [r.group_id for r in orders_db.relays(ctx.conn, order.id) if r.group_id in mine]
    return mine[relayed[0]] if relayed else None


def refusal(ctx: Context, order: Order, amount: float) -> str | None:
    """Why this offer cannot be taken (the other side's order: handlers.sides; closed, not
    a member of a group it went to, past the order's quantity), or None. An offer may take
    the order up to its quantity, not past it: the buyer would be told it is filled by
    offers nobody can deliver."""
    if (apart := sides.refusal(ctx, order.buyer_id, order.code)) is not None:
        return apart
    if order.status != "open":
        return ctx.t("offer_closed", code=order.code)
    if _offering_group(ctx, order) is None:
        return ctx.t("offer_not_member", code=order.code)
    others = orders_db.total(ctx.conn, order.id) - current_offer(ctx, order)
    remaining = max(0.0, order.quantity - others)
    if amount <= remaining + 1e-9:
        return None
    unit = unit_name(ctx, order)
    if remaining <= 0:
        return ctx.t("offer_full", code=order.code, wanted=quantity(ctx, order.quantity),
                     unit=unit)
    return ctx.t("offer_too_much", code=order.code, remaining=quantity(ctx, remaining),
                 unit=unit)


def make_offer(ctx: Context, order: Order, amount: float) -> str:
    """Set the contact's offer to an order (SMS or USSD alike); the answer, or why not."""
    problem = refusal(ctx, order, amount)
    group = _offering_group(ctx, order)
    if problem is not None or group is None:
        return problem or ctx.t("offer_not_member", code=order.code)
    before = orders_db.pledge(ctx.conn, order.id, ctx.contact.id, group.id, amount, ctx.now)
    groups_db.audit(ctx.conn, "pledge", actor_id=ctx.contact.id, order_id=order.id,
                    group_id=group.id, now=ctx.now, quantity=amount, before=before)
    total = orders_db.total(ctx.conn, order.id)
    if total >= order.quantity and orders_db.mark_filled(ctx.conn, order.id, ctx.now):
        announce_filled(ctx, order, total)
    elif total < order.quantity and orders_db.mark_unfilled(ctx.conn, order.id):
        announce_filled(ctx, order, total, key="unfilled")   # a correction: say so at once
    values = {"code": order.code, "unit": unit_name(ctx, order), "total": quantity(ctx, total),
              "wanted": quantity(ctx, order.quantity)}
    if amount == 0:
        return ctx.t("offer_withdrawn", **values)
    group_total = orders_db.group_total(ctx.conn, order.id, group.id)
    return ctx.t("offer_done", quantity=quantity(ctx, amount), group=group.code,
                 group_total=quantity(ctx, group_total), **values)


def open_orders(ctx: Context) -> list[Order]:
    """Open orders of the contact's side (handlers.sides) relayed to any group the contact
    is a member of."""
    return orders_db.open_for_groups(
        ctx.conn, [g.id for g in groups_db.groups_of(ctx.conn, ctx.contact.id)],
        simulated=ctx.contact.simulated)


def current_offer(ctx: Context, order: Order) -> float:
    """What the contact has offered to an order (0 when nothing)."""
    return orders_db.offer_of(ctx.conn, order.id, ctx.contact.id)


def announce_filled(ctx: Context, order: Order, total: float, key: str = "filled") -> None:
    """The quantity is reached (or, after a correction, no longer reached): tell the buyer
    and every relayed group's leaders now, not at the next batch of updates."""
    out = Outbox(ctx.conn, ctx.settings, ctx.now, "order", about=order.buyer_id)

    def text(key: str) -> Callable[[Context], str]:
        return lambda c: c.t(key, code=order.code, unit=unit_name(c, order),
                             total=quantity(c, total), wanted=quantity(c, order.quantity))

    buyer = _recipient(ctx.conn, order.buyer_id)
    out.send([buyer] if buyer else [], text(f"order_{key}_buyer"))
    for relay_row in orders_db.relays(ctx.conn, order.id):
        out.send(_leaders(ctx.conn, relay_row.group_id), text(f"order_{key}_leader"))
    groups_db.audit(ctx.conn, key, order_id=order.id, now=ctx.now, total=total)


# ---------------------------------------------------------------------------- CLOSE


def close(ctx: Context, rest: str) -> list[Reply]:
    """CLOSE <id>: the buyer ends the order; everyone involved gets a summary."""
    order, _, problem = _order_word(ctx, rest, "close_usage")
    if problem is not None or order is None:
        return [problem or Reply(ctx.t("close_usage"))]
    if order.buyer_id != ctx.contact.id:
        return [Reply(ctx.t("close_not_buyer", code=order.code))]
    if not finish(ctx.conn, ctx.settings, ctx.now, order, "closed", actor_id=ctx.contact.id,
                  skip_buyer=True):
        return [Reply(ctx.t("offer_closed", code=order.code))]
    return buyer_summary(ctx, orders_db.by_id(ctx.conn, order.id) or order)


def finish(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime, order: Order,
           status: str, *, actor_id: int | None = None, skip_buyer: bool = False) -> bool:
    """Close or expire an order and queue the final summaries; False if not open."""
    if not orders_db.finish(conn, order.id, status, now):
        return False
    groups_db.audit(conn, status, actor_id=actor_id, order_id=order.id, now=now)
    out = Outbox(conn, settings, now, "order", about=order.buyer_id)
    order = orders_db.by_id(conn, order.id) or order
    if not skip_buyer:
        buyer = _recipient(conn, order.buyer_id)
        out.send([buyer] if buyer else [], lambda c: [r.text for r in buyer_summary(c, order)])
    totals = orders_db.group_totals(conn, order.id)
    for group_id, group_total in totals.items():
        group = groups_db.by_id(conn, group_id)
        given = orders_db.pledges(conn, order.id, group_id)
        out.send(_leaders(conn, group_id), lambda c, g=group, t=group_total, p=given:
                 leader_summary(c, order, g, t, p))
        for pledge_row in given:
            person = _recipient(conn, pledge_row.contact_id)
            if person is None:
                continue
            out.send([person], lambda c, q=pledge_row.quantity: c.t(
                "summary_member", code=order.code, status=c.t(f"status_{order.status}"),
                quantity=quantity(c, q), unit=unit_name(c, order)))
    return True


def buyer_summary(ctx: Context, order: Order) -> list[Reply]:
    """Totals per group with each group's leader numbers, for the buyer."""
    totals = orders_db.group_totals(ctx.conn, order.id)
    total = sum(totals.values())
    items = []
    for group_id, amount in sorted(totals.items(), key=lambda item: -item[1]):
        if amount <= 0:
            continue
        group = groups_db.by_id(ctx.conn, group_id)
        if not group.share_leader_numbers:  # leaders were told buyers do not get it
            items.append(f"{group.code} {quantity(ctx, amount)}")
            continue
        leaders = ", ".join(display_phone(r.phone, ctx.settings)
                            for r in _leaders(ctx.conn, group_id)) or "-"
        items.append(f"{group.code} {quantity(ctx, amount)} ({leaders})")
    head = ctx.t("summary_buyer", code=order.code, status=ctx.t(f"status_{order.status}"),
                 total=quantity(ctx, total), wanted=quantity(ctx, order.quantity),
                 unit=unit_name(ctx, order))
    if not items:
        return [Reply(head + " " + ctx.t("summary_no_offers"))]
    return [Reply(text) for text in pack(lambda part: f"{head} {part}", items)]


def leader_summary(ctx: Context, order: Order, group: Group, group_total: float,
                   given: list[orders_db.Pledge]) -> list[str]:
    """Who in the leader's group pledged what."""
    head = ctx.t("summary_leader", code=order.code, status=ctx.t(f"status_{order.status}"),
                 group=group.code, group_total=quantity(ctx, group_total),
                 unit=unit_name(ctx, order), count=len(given))
    items = [f"{display_phone(p.phone, ctx.settings)} {quantity(ctx, p.quantity)}"
             for p in given]
    if not items:
        return [head.rstrip(":") + "."]
    return pack(lambda part: f"{head} {part}", items)


# ---------------------------------------------------------------------------- batched updates


def send_updates(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> int:
    """Tell buyers and leaders where totals stand, for orders that moved since last told."""
    changed = orders_db.changed_since_notice(conn)
    for order in changed:
        out = Outbox(conn, settings, now, "order", about=order.buyer_id)
        total = orders_db.total(conn, order.id)
        totals = orders_db.group_totals(conn, order.id)
        counted = sum(1 for amount in totals.values() if amount > 0)
        if total != order.notified_total:
            buyer = _recipient(conn, order.buyer_id)
            out.send([buyer] if buyer else [], lambda c, o=order, t=total, n=counted: c.t(
                "order_update_buyer", code=o.code, total=quantity(c, t),
                wanted=quantity(c, o.quantity), unit=unit_name(c, o), groups=n))
        for relay_row in orders_db.relays(conn, order.id):
            amount = totals.get(relay_row.group_id, 0.0)
            if amount == relay_row.notified_total:
                continue
            group = groups_db.by_id(conn, relay_row.group_id)
            out.send(_leaders(conn, group.id), lambda c, o=order, a=amount, g=group, t=total: c.t(
                "order_update_leader", code=o.code, group=g.code,
                group_total=quantity(c, a), total=quantity(c, t),
                wanted=quantity(c, o.quantity), unit=unit_name(c, o)))
        orders_db.set_notified(conn, order.id, total, totals)
    return len(changed)


def expire_due(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> int:
    """Expire open orders past their date, with final summaries; return how many."""
    expired = 0
    for order in orders_db.due_to_expire(conn, _today(settings, now)):
        if finish(conn, settings, now, order, "expired"):
            expired += 1
    return expired


def register(router: Router) -> None:
    """Add ORDER and FWD. OFFER and CLOSE name an id that may be a pool's or a supplier's
    offer too: handlers.ids registers them and calls `offer` and `close` for orders."""
    router.register(Command("order", ORDER_WORDS, post))
    router.register(Command("fwd", FWD_WORDS, fwd))

