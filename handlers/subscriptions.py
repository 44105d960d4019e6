"""SUB, UNSUB and MY: follow a commodity (at a market) to get it in the price bulletin.

`SUB MAIZE NAKURU` follows maize at Nakuru; `SUB MAIZE` follows maize at the contact's
own market (REG), or where it sells best while none is registered. `UNSUB MAIZE` stops
one, `UNSUB ALL` every one. STOP leaves subscriptions in place and sends nothing; START
brings them back. Keywords per language: FUATA / ONDOA / ZANGU (sw), SUIVRE / RETIRER /
MES (fr). UNSUBSCRIBE and DESABONNER are not used here: alone they mean STOP.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from db import contacts, subscriptions
from handlers import keywords, price
from handlers.messages import Context, Reply
from handlers.router import Command, Router
from handlers.segments import fits
from prices.catalog import Match, MatchKind, Named, canonical, catalog_for
from prices.folding import phrase

SUB_WORDS = keywords.words("sub")
UNSUB_WORDS = keywords.words("unsub")
MY_WORDS = keywords.words("my")
ALL_WORDS = frozenset({"ALL", "ZOTE", "TOUT", "TOUS", "TOUTES"})


def subscribe(ctx: Context, rest: str) -> list[Reply]:
    """SUB <commodity> [<market>]."""
    if not rest.strip():
        return [Reply(ctx.t("sub_usage"))]
    catalog = catalog_for(ctx.conn)
    if not catalog.commodities.items:
        return [Reply(ctx.t("prices_none"))]
    query = price.parse(catalog, rest, price.country_of(ctx))
    keyword = ctx.t("sub_keyword")
    if query.commodity.kind is MatchKind.AMBIGUOUS:
        return [Reply(price.ask_back(ctx, query.commodity, keyword))]
    if not query.commodity.found:
        return [Reply(ctx.t("unknown_commodity", suggestions=price.popular_names(ctx)))]
    market: Named | None = None
    if query.market is not None:
        if query.market.kind is MatchKind.AMBIGUOUS:
            return [Reply(price.ask_back(ctx, query.market, f"{keyword} {query.commodity.label}"))]
        if not query.market.found:
            return [Reply(ctx.t("sub_unknown_market", keyword=keyword,
                                name=query.commodity.label))]
        market = price.freshest(ctx, query.commodity, query.market)
    return [Reply(follow(ctx, query.commodity, market))]


def follow(ctx: Context, commodity: Match, market: Named | None) -> str:
    """Subscribe the contact (SMS or USSD alike); the confirmation, or why not."""
    stored = canonical(catalog_for(ctx.conn), commodity)
    item = _item(ctx, commodity, market)
    limit = int(ctx.settings["bulletins.max_subscriptions"])
    owned = subscriptions.for_contact(ctx.conn, ctx.contact.id)
    if any(s.commodity == stored and s.market_id == (market.id if market else None)
           for s in owned):
        return ctx.t("sub_already", item=item)
    if len(owned) >= limit:
        return ctx.t("sub_full", n=limit)
    subscriptions.add(ctx.conn, ctx.contact.id, stored, market.id if market else None)
    name = phrase(price.display_name(commodity.items, ctx))
    return _fitted(ctx, "sub_done", item=item, name=name, next=_next_text(ctx))


def describe(ctx: Context, sub: subscriptions.Subscription) -> str | None:
    """'Maize at Nakuru' for a stored subscription (None if its commodity is gone)."""
    match = catalog_for(ctx.conn).commodities.match(sub.commodity)
    if not match.items:
        return None
    market = Named(sub.market_id, sub.market) if sub.market_id and sub.market else None
    return _item(ctx, match, market)


def unfollow(ctx: Context, sub: subscriptions.Subscription) -> str:
    """Remove one subscription; the confirmation."""
    subscriptions.remove_ids(ctx.conn, ctx.contact.id, [sub.id])
    match = catalog_for(ctx.conn).commodities.match(sub.commodity)
    name = price.display_name(match.items, ctx) if match.items else sub.commodity.title()
    return ctx.t("unsub_done", commodity=name)


def _item(ctx: Context, commodity: Match, market: Named | None) -> str:
    """'Maize at Nakuru', 'Maize at your market' or 'Maize, best markets'."""
    name = price.display_name(commodity.items, ctx)
    if market is not None:
        return ctx.t("sub_at_market", commodity=name, market=market.name)
    if contacts.home_market(ctx.conn, ctx.contact.id) is not None:
        return ctx.t("sub_at_home", commodity=name)
    return ctx.t("sub_at_best", commodity=name)


def _next_text(ctx: Context) -> str:
    when = ctx.next_bulletin(ctx.now)   # from the schedule, as of this message
    if when is None:
        return ""
    zone = ZoneInfo(str(ctx.settings["app.timezone"]))
    return ctx.t("sub_next", date=_short_day(ctx, when.astimezone(zone).date()))


def _short_day(ctx: Context, when: date) -> str:
    months = ctx.t("months").split()
    return f"{when.day} {months[when.month - 1].rstrip('.')}"


def _fitted(ctx: Context, key: str, **values: str) -> str:
    """The text, without the next-bulletin date if that is what pushes it past one SMS."""
    text = ctx.t(key, **values)
    if not fits(text) and values.get("next"):
        text = ctx.t(key, **{**values, "next": ""})
    return text


def unsubscribe(ctx: Context, rest: str) -> list[Reply]:
    """UNSUB <commodity> [<market>] or UNSUB ALL."""
    words = phrase(rest).split()
    if not words:
        return [Reply(ctx.t("unsub_usage"))]
    if len(words) == 1 and words[0] in ALL_WORDS:
        subscriptions.remove_all(ctx.conn, ctx.contact.id)
        return [Reply(ctx.t("unsub_all_done"))]
    catalog = catalog_for(ctx.conn)
    owned = subscriptions.for_contact(ctx.conn, ctx.contact.id)
    query = price.parse(catalog, rest, price.country_of(ctx))
    if not query.commodity.found:
        return [Reply(ctx.t("unsub_not_found", commodity=_echo(rest)))]
    wanted = {item.id for item in query.commodity.items}
    market_ids = {i.id for i in query.market.items} if query.market and query.market.found \
        else None
    chosen = []
    for sub in owned:
        match = catalog.commodities.match(sub.commodity)
        if not wanted & {item.id for item in match.items}:
            continue
        if market_ids is not None and sub.market_id not in market_ids:
            continue
        chosen.append(sub)
    name = price.display_name(query.commodity.items, ctx)
    if not chosen:
        return [Reply(ctx.t("unsub_not_found", commodity=name))]
    subscriptions.remove_ids(ctx.conn, ctx.contact.id, [sub.id for sub in chosen])
    return [Reply(ctx.t("unsub_done", commodity=name))]


def _echo(text: str) -> str:
    kept = "".join(ch for ch in phrase(text) if ch.isascii() and (ch.isalnum() or ch == " "))
    return " ".join(kept.split())[:20] or "?"


def my_list(ctx: Context, rest: str) -> list[Reply]:
    """MY: what the contact follows."""
    owned = subscriptions.for_contact(ctx.conn, ctx.contact.id)
    if not owned:
        return [Reply(ctx.t("my_none"))]
    items = [text for text in (describe(ctx, sub) for sub in owned) if text]
    text = ctx.t("my_list", items=", ".join(items))
    keep = len(items)
    while keep > 1 and not fits(text):
        keep -= 1
        text = ctx.t("my_list", items=f"{', '.join(items[:keep])} (+{len(items) - keep})")
    return [Reply(text)]


def register(router: Router) -> None:
    """Add SUB, UNSUB and MY."""
    router.register(Command("sub", SUB_WORDS, subscribe))
    router.register(Command("unsub", UNSUB_WORDS, unsubscribe))
    router.register(Command("my", MY_WORDS, my_list))
