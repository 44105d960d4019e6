"""Group purchases (POOL): a village buys its inputs together and pays the price of the tonne.

1. A group leader opens a pool: `POOL DAP 50KG @3200 100+@3000 BY 2027-01-15` (grammar in
   handlers.pool_grammar), optionally `FROM <supplier>`, or against a registered
   supplier's offer: `POOL S7K3 [BY <date>]` (handlers.supplies). The pool gets a short id
   from the space orders and offers share (db.codes), and the group's members hear of it.
2. Members answer `OFFER P4K2 3` (OFFER reads any id: handlers.ids), optionally with a name
   for the leader's list (`OFFER P4K2 3 MARY W`). A new answer replaces the old, 0
   withdraws, so the same SMS twice never counts twice. Each answer's reply shows the
   running total, the price it reaches and the next cheaper step; `POOL P4K2` shows the
   same at any time. The leader hears of the total in batches (`send_updates`, run by the
   worker every `orders.update_minutes` with the orders).
3. `CLOSE P4K2` by a leader of the group, or the day after its BY date (`close_due`), ends
   it at the price of the step its total reached: the leader gets who wants what (name,
   number, quantity, amount) in as few SMS as it takes, each member their own line, and
   the supplier, when there is one, the total and the leader's number (the leader was told
   so when opening; suppliers are told when registered that leaders get theirs).
Keywords: CHANGA (sw), GROUPAGE (fr).
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db import contacts, suppliers
from db import groups as groups_db
from db import pools as pools_db
from db.groups import Group
from db.pools import Pool
from handlers import keywords, pool_grammar, price, sides
from handlers.groups import code_of
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient, fitted, held_note, pack
from handlers.order_grammar import BY_WORDS, GrammarError, echo, read_quantity
from handlers.orders import quantity
from handlers.pool_texts import error_text, goods, label, tiers_text
from handlers.phone import display_phone
from handlers.pool_grammar import Tiers, price_at
from handlers.router import Command, Router
from handlers.segments import fits
from handlers.supplies import OfferChoice, find_offers, named_supplier, usable
from prices import countries
from prices.folding import fold
from prices.producers import canonical_product

POOL_WORDS = keywords.words("pool")
KIND = "pool"        # outbox kind: held in quiet hours like orders (smsgw.quiet.HELD_KINDS)
MAX_NAME = 20        # characters of a name given with an answer


# ---------------------------------------------------------------------------- wording


def _day(ctx: Context, when: date) -> str:
    return price.day(ctx, when)


def _recipient(conn: sqlite3.Connection, contact_id: int | None) -> Recipient | None:
    person = contacts.by_id(conn, contact_id) if contact_id is not None else None
    return Recipient(person.id, person.phone, person.language, person.opted_out) \
        if person else None


def _today(ctx: Context) -> date:
    """The day where the sender lives (their country's time zone)."""
    country = countries.get(ctx.settings, price.country_of(ctx))
    return ctx.now.astimezone(ZoneInfo(country.timezone)).date()


def _price_values(ctx: Context, pool: Pool, total: float) -> dict[str, str]:
    """The price the total reaches and the next cheaper step, for the texts."""
    unit_price, following = price_at(pool.tiers, total)
    values = {"currency": pool.currency, "price": price.money(ctx, unit_price),
              "total": quantity(ctx, total)}
    if following:
        values.update(next_quantity=quantity(ctx, following[0]),
                      next_price=price.money(ctx, following[1]))
    return values


# ---------------------------------------------------------------------------- POOL


def pool(ctx: Context, rest: str) -> list[Reply]:
    """POOL ...: a leader opens a group purchase; POOL <pool id> shows where one stands."""
    words = fold(rest).split()
    if len(words) == 1:
        found = pools_db.by_code(ctx.conn, code_of(words[0]))
        if found is not None:
            return [Reply(status(ctx, found))]
    led = groups_db.groups_of(ctx.conn, ctx.contact.id, role="leader")
    if not led:
        return [Reply(ctx.t("not_leader"))]
    if not words:
        return [Reply(ctx.t("pool_usage"))]
    group = next((g for g in led if g.code == code_of(words[0])), None)
    if group is not None:
        rest = rest.strip().split(None, 1)[1] if len(words) > 1 else ""
    elif len(led) > 1:
        return [Reply(ctx.t("pool_which_group", codes=", ".join(g.code for g in led[:4]),
                            code=led[0].code))]
    else:
        group = led[0]
    try:
        opened = open_pool(ctx, group, rest)
    except GrammarError as error:
        return [Reply(error_text(ctx, error))]
    if isinstance(opened, str):
        return [Reply(opened)]
    return [Reply(announce(ctx, opened, group))]


def open_pool(ctx: Context, group: Group, text: str) -> Pool | str:
    """Read and store a pool for a group; GrammarError names a bad part, and a text is the
    list of suppliers' offers to choose from when the pool named no price."""
    today = _today(ctx)
    words = fold(text).split()
    if not words:
        raise GrammarError("pool_usage")
    offer = usable(ctx, code_of(words[0]), today)
    if offer is not None:
        return _against(ctx, group, offer, _by_only(words[1:], today), today)
    request = pool_grammar.parse(text, today)
    product = canonical_product(ctx.conn, request.product)
    supplier = named_supplier(ctx, request.supplier) if request.supplier else None
    if not request.tiers:
        choice = find_offers(ctx, product, request.unit, today, supplier)
        if isinstance(choice, OfferChoice):
            return choice.text
        return _against(ctx, group, choice, request.close_on, today)
    currency = request.currency or countries.get(ctx.settings, price.country_of(ctx)).currency
    close_on = request.close_on or today + timedelta(days=int(ctx.settings["orders.default_days"]))
    return _create(ctx, group, product=product, unit=request.unit, currency=currency,
                   tiers=request.tiers, close_on=close_on, supply_id=None,
                   supplier_id=supplier.contact_id if supplier else None, text=text)


def _by_only(words: list[str], today: date) -> date | None:
    """After an offer's id only BY <date> may follow."""
    if not words:
        return None
    if words[0] not in BY_WORDS:
        raise GrammarError("pool_unexpected", word=echo(words[0]))
    return pool_grammar.read_date(words[1:4], today)


def _against(ctx: Context, group: Group, offer: suppliers.Supply, close_on: date | None,
             today: date) -> Pool:
    if close_on is not None and close_on > offer.valid_until:
        raise GrammarError("pool_after_offer", code=offer.code,
                           date=_day(ctx, offer.valid_until))
    return _create(ctx, group, product=offer.product, unit=offer.unit, currency=offer.currency,
                   tiers=offer.tiers, close_on=close_on or offer.valid_until,
                   supply_id=offer.id, supplier_id=offer.supplier_id, text=offer.code)


def _create(ctx: Context, group: Group, *, product: str, unit: str, currency: str, tiers: Tiers,
            close_on: date, supply_id: int | None, supplier_id: int | None, text: str) -> Pool:
    made = pools_db.create(ctx.conn, group_id=group.id, leader_id=ctx.contact.id,
                           supply_id=supply_id, supplier_id=supplier_id, product=product,
                           unit=unit, currency=currency, tiers=tiers, close_on=close_on,
                           now=ctx.now)
    groups_db.audit(ctx.conn, "pool", actor_id=ctx.contact.id, group_id=group.id, now=ctx.now,
                    pool=made.code, text=text[:300], product=product, unit=unit,
                    tiers=[list(t) for t in tiers], supplier_id=supplier_id)
    return made


def announce(ctx: Context, made: Pool, group: Group) -> str:
    """Tell the group's members (not the leader who opened it); the leader's answer."""
    out = Outbox(ctx.conn, ctx.settings, ctx.now, KIND, about=made.leader_id)
    recipients = (Recipient(m.contact_id, m.phone, m.language, m.opted_out)
                  for batch in groups_db.member_batches(ctx.conn, group.id) for m in batch
                  if m.contact_id != ctx.contact.id)
    done = out.send(recipients, lambda c: fitted(
        c, "pool_invite", group=group.code, what=label(c, made.product, made.unit),
        tiers=tiers_text(c, made.currency, made.tiers), code=made.code,
        date=_day(c, made.close_on)))
    groups_db.audit(ctx.conn, "pool_sent", actor_id=ctx.contact.id, group_id=group.id,
                    now=ctx.now, pool=made.code, members=done.queued, opted_out=done.opted_out)
    values = {"code": made.code, "group": group.code, "date": _day(ctx, made.close_on),
              "what": label(ctx, made.product, made.unit), "members": quantity(ctx, done.queued),
              "tiers": tiers_text(ctx, made.currency, made.tiers)}
    supplier = suppliers.find(ctx.conn, made.supplier_id) if made.supplier_id else None
    held = held_note(ctx) if done.queued else ""
    if supplier is not None:
        return fitted(ctx, "pool_opened_supplier", held=held, supplier=supplier.name, **values)
    return fitted(ctx, "pool_opened", held=held, **values)


def status(ctx: Context, found: Pool) -> str:
    """POOL <id>: where a pool stands, for its group's members."""
    if (apart := sides.refusal(ctx, found.leader_id, found.code)) is not None:
        return apart
    group = groups_db.by_id(ctx.conn, found.group_id)
    if not _member(ctx, found):
        return ctx.t("pool_not_member", code=found.code, group=group.code)
    if found.status != "open":
        return ctx.t("pool_closed", code=found.code)
    values = _price_values(ctx, found, found.pledged)
    key = "pool_status" if "next_price" in values else "pool_status_last"
    return fitted(ctx, key, code=found.code, group=group.code,
                   what=label(ctx, found.product, found.unit),
                   count=quantity(ctx, pools_db.count_answers(ctx.conn, found.id)),
                   quantity=quantity(ctx, pools_db.answer_of(ctx.conn, found.id, ctx.contact.id)),
                   date=_day(ctx, found.close_on), **values)


def _member(ctx: Context, found: Pool) -> bool:
    return (groups_db.membership(ctx.conn, found.group_id, ctx.contact.id) or ("", ""))[1] \
        == "active"


def _leads(ctx: Context, found: Pool) -> bool:
    return groups_db.membership(ctx.conn, found.group_id, ctx.contact.id) == ("leader", "active")


# ---------------------------------------------------------------------------- answers


def answer(ctx: Context, found: Pool, rest: str) -> list[Reply]:
    """OFFER <pool id> <quantity> [name]: set (or with 0 withdraw) the member's answer."""
    raw = rest.split()[1:]
    if not raw:
        return [Reply(ctx.t("pool_answer_usage", code=found.code))]
    if raw[0].startswith(("-", "\u2212")):   # folding would drop the sign
        return [Reply(ctx.t("quantity_negative", word=echo(raw[0])))]
    precision = None if found.unit.startswith("x ") else found.unit
    try:
        amount, taken = read_quantity(fold(" ".join(raw)).split(), precision, allow_zero=True)
    except GrammarError as error:
        return [Reply(error_text(ctx, error))]
    return [Reply(make_answer(ctx, found, amount, name_of(raw[taken:])))]


def name_of(words: list[str]) -> str | None:
    """A name given after the quantity, kept to letters (never a number), or None."""
    bare = unicodedata.normalize("NFKD", " ".join(words))
    kept = "".join(ch for ch in bare if ch.isascii() and (ch.isalpha() or ch in " .-'"))
    name = " ".join(kept.split())[:MAX_NAME].strip()
    return name if any(ch.isalpha() for ch in name) else None


def make_answer(ctx: Context, found: Pool, amount: float, name: str | None) -> str:
    """Set the contact's answer to a pool; the reply, or why not."""
    if (apart := sides.refusal(ctx, found.leader_id, found.code)) is not None:
        return apart
    group = groups_db.by_id(ctx.conn, found.group_id)
    if not _member(ctx, found):
        return ctx.t("pool_not_member", code=found.code, group=group.code)
    if found.status != "open":
        return ctx.t("pool_closed", code=found.code)
    before = pools_db.pledge(ctx.conn, found.id, ctx.contact.id, amount, name, ctx.now)
    groups_db.audit(ctx.conn, "pool_pledge", actor_id=ctx.contact.id, group_id=group.id,
                    now=ctx.now, pool=found.code, quantity=amount, before=before)
    total = pools_db.total(ctx.conn, found.id)
    values = _price_values(ctx, found, total)
    if amount == 0:
        return ctx.t("pool_withdrawn", code=found.code,
                     goods=goods(ctx, total, found.product, found.unit))
    unit_price = price_at(found.tiers, total)[0]
    key = "pool_answered" if "next_price" in values else "pool_answered_last"
    return fitted(ctx, key, code=found.code,
                   goods=goods(ctx, amount, found.product, found.unit),
                   amount=price.money(ctx, amount * unit_price), **values)


# ---------------------------------------------------------------------------- CLOSE


def close(ctx: Context, found: Pool) -> list[Reply]:
    """CLOSE <pool id>: a leader of the group ends it and gets the purchase list."""
    if (apart := sides.refusal(ctx, found.leader_id, found.code)) is not None:
        return [Reply(apart)]
    group = groups_db.by_id(ctx.conn, found.group_id)
    if not _leads(ctx, found):
        return [Reply(ctx.t("pool_not_leader", code=found.code, group=group.code))]
    if not finish(ctx.conn, ctx.settings, ctx.now, found, actor_id=ctx.contact.id,
                  leader_inline=ctx.contact.id):
        return [Reply(ctx.t("pool_closed", code=found.code))]
    done = pools_db.by_id(ctx.conn, found.id) or found
    texts = purchase_list(ctx, done)
    held = held_note(ctx) if done.pledged else ""   # the members' lines wait too
    if held and fits(texts[-1] + held):
        texts[-1] += held
    return [Reply(text) for text in texts]


def finish(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime, found: Pool,
           *, actor_id: int | None = None, leader_inline: int | None = None) -> bool:
    """Close a pool at the price its total reached and queue the lines: each member's, the
    supplier's, and the leader's list (unless `leader_inline`, the leader who closed it by
    SMS and gets it as the reply). False if it was not open."""
    total = pools_db.total(conn, found.id)
    unit_price = price_at(found.tiers, total)[0]
    if not pools_db.finish(conn, found.id, unit_price, now):
        return False
    groups_db.audit(conn, "pool_closed", actor_id=actor_id, group_id=found.group_id, now=now,
                    pool=found.code, total=total, price=unit_price)
    done = pools_db.by_id(conn, found.id) or found
    out = Outbox(conn, settings, now, KIND, about=done.leader_id)
    group = groups_db.by_id(conn, done.group_id)
    if leader_inline != done.leader_id:
        leader = _recipient(conn, done.leader_id)
        out.send([leader] if leader else [], lambda c: purchase_list(c, done))
    for given in pools_db.answers(conn, done.id):
        person = _recipient(conn, given.contact_id)
        if person is not None:
            out.send([person], lambda c, q=given.quantity: c.t(
                "pool_member_line", code=done.code, currency=done.currency,
                price=price.money(c, unit_price), goods=goods(c, q, done.product, done.unit),
                amount=price.money(c, q * unit_price)))
    _tell_supplier(conn, out, done, group, total, unit_price)
    return True


def _tell_supplier(conn: sqlite3.Connection, out: Outbox, done: Pool, group: Group,
                   total: float, unit_price: float) -> None:
    supplier = suppliers.find(conn, done.supplier_id) if done.supplier_id else None
    leader = contacts.by_id(conn, done.leader_id)
    if supplier is None or total <= 0 or leader is None:
        return
    out.send([Recipient(supplier.contact_id, supplier.phone, supplier.language,
                        supplier.opted_out)],
             lambda c: c.t("pool_supplier_order", code=done.code, group=group.code,
                           goods=goods(c, total, done.product, done.unit),
                           currency=done.currency, price=price.money(c, unit_price),
                           amount=price.money(c, total * unit_price),
                           phone=display_phone(leader.phone, c.settings)))


def purchase_list(ctx: Context, done: Pool) -> list[str]:
    """Who wants what, for the leader: name, number, quantity and amount, in as few SMS as
    it takes (numbered parts), with the supplier to order from."""
    given = pools_db.answers(ctx.conn, done.id)
    if not given:
        return [ctx.t("pool_list_empty", code=done.code)]
    unit_price = done.price if done.price is not None else price_at(done.tiers, done.pledged)[0]
    total = sum(a.quantity for a in given)
    head = ctx.t("pool_list", code=done.code, goods=goods(ctx, total, done.product, done.unit),
                 currency=done.currency, price=price.money(ctx, unit_price),
                 amount=price.money(ctx, total * unit_price), count=quantity(ctx, len(given)))
    items = [" ".join(part for part in (a.name, display_phone(a.phone, ctx.settings),
                                        quantity(ctx, a.quantity)) if part)
             + f" = {price.money(ctx, a.quantity * unit_price)}" for a in given]
    supplier = suppliers.find(ctx.conn, done.supplier_id) if done.supplier_id else None
    tail = " " + ctx.t("pool_list_supplier", supplier=supplier.name, phone=display_phone(
        supplier.phone, ctx.settings)) if supplier else ""
    whole = f"{head} {'; '.join(items)}.{tail}"
    if fits(whole):
        return [whole]
    # A long list: the totals alone first, then the list under the pool's id, numbered,
    # the largest answers first and at most LIST_MAX_PARTS SMS: a pool of 10,000 members
    # would otherwise be 1,668 SMS to one phone. The rest is summed up in the last part,
    # and the whole list is with the admin (smsgw pools show).
    ranked = sorted(range(len(given)), key=lambda i: -given[i].quantity)
    items = [items[i] for i in ranked]
    parts = pack(lambda part: f"{done.code} {part}", items, tail)
    if len(parts) > LIST_MAX_PARTS:
        kept = _most_that_fit(items, lambda k: len(pack(
            lambda part: f"{done.code} {part}", items[:k], _more(ctx, done, given, ranked, k)
            + tail)) <= LIST_MAX_PARTS)
        parts = pack(lambda part: f"{done.code} {part}", items[:kept],
                     _more(ctx, done, given, ranked, kept) + tail)
    return [head.rstrip(":") + ".", *parts]


LIST_MAX_PARTS = 10   # SMS of a leader's purchase list after its totals


def _more(ctx: Context, done: Pool, given: list[Any], ranked: list[int], kept: int) -> str:
    """' And 9,640 more members: 12,050 bags. Full list: smsgw pools show P4K2.'"""
    rest = [given[i] for i in ranked[kept:]]
    return " " + ctx.t("pool_list_more", n=quantity(ctx, len(rest)), code=done.code,
                       goods=goods(ctx, sum(a.quantity for a in rest), done.product,
                                   done.unit))


def _most_that_fit(items: list[str], fits_in: Callable[[int], bool]) -> int:
    """The largest k (at least 1) for which fits_in(k) holds (it holds for small k only)."""
    low, high = 1, len(items)
    while low < high:
        middle = (low + high + 1) // 2
        if fits_in(middle):
            low = middle
        else:
            high = middle - 1
    return low


# ---------------------------------------------------------------------------- the worker


def _local_today(settings: Mapping[str, Any], now: datetime) -> date:
    return now.astimezone(ZoneInfo(str(settings["app.timezone"]))).date()


def close_due(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> int:
    """Close the open pools past their last day, with every list and line; how many."""
    return sum(finish(conn, settings, now, found)
               for found in pools_db.due_to_close(conn, _local_today(settings, now)))


def send_updates(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> int:
    """Tell each leader where their pool stands, for pools whose total moved since."""
    changed = pools_db.changed_since_notice(conn)
    for found in changed:
        out = Outbox(conn, settings, now, KIND, about=found.leader_id)
        leader = _recipient(conn, found.leader_id)
        count = pools_db.count_answers(conn, found.id)

        def text(c: Context, p: Pool = found, n: int = count) -> str:
            values = _price_values(c, p, p.pledged)
            key = "pool_update" if "next_price" in values else "pool_update_last"
            return c.t(key, code=p.code, goods=goods(c, p.pledged, p.product, p.unit),
                       count=quantity(c, n), **values)

        out.send([leader] if leader else [], text)
        pools_db.set_notified(conn, found.id, found.pledged)
    return len(changed)


def tick(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime) -> tuple[int, int]:
    """The worker's round for pools: (closed at their date, leaders updated)."""
    closed = close_due(conn, settings, now)
    return closed, send_updates(conn, settings, now)


def register(router: Router) -> None:
    """Add POOL (its answers and closing come through OFFER and CLOSE: handlers.ids)."""
    router.register(Command("pool", POOL_WORDS, pool))
