"""Prices by USSD: a product from the short list (or typed), a market, then the price.

The product list is the commodities with the most price data, grouped as PRICE groups
them (every kind of maize is "Maize"), named in the contact's language. The market list
starts with the contact's registered market and "best prices", then the markets that have
data for that product: nearest to the registered market when its place is known, else
the most often reported. The answer is the same text PRICE sends by SMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers import price
from handlers.messages import Context
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Params, Retry, Step, View
from prices import quotes
from prices.catalog import Catalog, Match, MatchKind, Named, base_name, catalog_for

GROUPS_MAX = 40     # products on the list (the rest can be typed)
MARKETS_MAX = 60    # markets on the list (the rest can be typed)
BEST = "best"
SMS = "sms"


_GROUPS: dict[tuple[Any, ...], list[tuple[str, list[int]]]] = {}


def commodity_groups(ctx: Context) -> list[tuple[str, list[int]]]:
    """The most reported products, each with every commodity of its kind: (label, ids)."""
    catalog = catalog_for(ctx.conn)
    popular = tuple(quotes.popular_commodities(ctx.conn, 200, price.country_of(ctx)))
    key = (catalog, popular, ctx.language)   # a new catalog when names or aliases change
    if key not in _GROUPS:
        if len(_GROUPS) >= 16:   # a few languages of one database in practice
            _GROUPS.clear()
        _GROUPS[key] = _groups(ctx, catalog, popular)
    return _GROUPS[key]


def _groups(ctx: Context, catalog: Catalog, popular: Sequence[str]) -> list[tuple[str, list[int]]]:
    seen: dict[str, list[int]] = {}
    for name in popular:
        base = base_name(name)
        if base not in seen:
            seen[base] = sorted(catalog.commodities.phrases.get(base, ()))
        if len(seen) >= GROUPS_MAX:
            break
    groups = []
    for ids in seen.values():
        items = _commodities(catalog, ids)
        if items:
            groups.append((price.display_name(items, ctx), [i.id for i in items]))
    return groups


def _commodities(catalog: Catalog, ids: Sequence[int]) -> tuple[Named, ...]:
    known = catalog.commodities.items
    return tuple(known[i] for i in sorted(set(ids)) if i in known)


def _commodity(ctx: Context, ids: Sequence[int]) -> Match | None:
    items = _commodities(catalog_for(ctx.conn), ids)
    if not items:
        return None
    return Match(MatchKind.EXACT, items, 100.0, base_name(items[0].name))


def _phrase_ids(index_phrases: dict[str, set[int]], options: Sequence[str]) -> list[int]:
    ids: list[int] = []
    for option in options:
        ids += sorted(index_phrases.get(option, ()))
    return list(dict.fromkeys(ids))


# ------------------------------------------------------------------- choose a product


def commodity_view(ctx: Context, params: Params) -> View:
    """The product list, or the products a typed name may mean."""
    groups = commodity_groups(ctx)
    if not groups:
        return View(body=ctx.t("prices_none"), end=True)
    if "o" in params:
        catalog = catalog_for(ctx.conn)
        items = [Item(price.display_name(_commodities(catalog, ids), ctx), ids)
                 for ids in params["o"] if _commodities(catalog, ids)]
        return View(title=ctx.t("ussd_which"), items=items, typed=True)
    return View(title=ctx.t("ussd_price_title"),
                items=[Item(label, ids) for label, ids in groups], typed=True)


def commodity_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """A product from the list: on to its markets."""
    return Go("price.market", {"c": list(value)})


def commodity_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed product name, understood as PRICE understands it (aliases, typos)."""
    catalog = catalog_for(ctx.conn)
    match = catalog.commodities.match(text)
    if match.kind is MatchKind.AMBIGUOUS:
        options = [sorted(catalog.commodities.phrases[o]) for o in match.options]
        return Go("price.commodity", {"o": options})
    if not match.found:
        return Retry(ctx.t("ussd_not_found"))
    return Go("price.market", {"c": [i.id for i in match.items]})


# ------------------------------------------------------------------- choose a market


def market_items(ctx: Context, ids: Sequence[int]) -> list[Item]:
    """Registered market, best prices, then markets with data (nearest first when known)."""
    home = price.home_market(ctx)
    items = []
    if home is not None:
        items.append(Item(ctx.t("ussd_mine", market=home.name), home.id))
    items.append(Item(ctx.t("ussd_best"), BEST))
    origin = quotes.place(ctx.conn, home.id) if home is not None else None
    if origin is not None and origin.latitude is not None:
        places = [p for p, _ in quotes.nearest_with_data(ctx.conn, ids, origin,
                                                         limit=MARKETS_MAX)]
    else:
        places = quotes.markets_with_data(ctx.conn, ids, limit=MARKETS_MAX,
                                          country=price.country_of(ctx))
    items += [Item(p.name, p.id) for p in places if home is None or p.id != home.id]
    return items


def market_view(ctx: Context, params: Params) -> View:
    """The markets for the chosen product, or those a typed name may mean."""
    commodity = _commodity(ctx, params["c"])
    if commodity is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    if "o" in params:
        known = catalog_for(ctx.conn).markets.items
        items = [Item(known[i].name, i) for i in params["o"] if i in known]
        return View(title=ctx.t("ussd_which"), items=items, typed=True)
    title = ctx.t("ussd_market_title", commodity=price.display_name(commodity.items, ctx))
    return View(title=title, items=market_items(ctx, params["c"]), typed=True)


def market_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """A market (or best prices): on to the answer."""
    return Go("price.answer", {"c": params["c"], "m": None if value == BEST else value})


def market_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed market name; a place with several markets (TURKANA) lists them."""
    markets = catalog_for(ctx.conn).markets_for(price.country_of(ctx))
    match = price.exact_market(markets.match(text))
    if match.kind is MatchKind.AMBIGUOUS:
        return Go("price.market", {"c": params["c"], "o": _phrase_ids(markets.phrases,
                                                                      match.options)})
    if not match.found:
        return Retry(ctx.t("ussd_not_found"))
    if len(match.items) > 1:
        return Go("price.market", {"c": params["c"], "o": [m.id for m in match.items]})
    return Go("price.answer", {"c": params["c"], "m": match.items[0].id})


# ------------------------------------------------------------------- the answer


def answer_text(ctx: Context, params: Params) -> str | None:
    """The PRICE reply for the chosen product and market (or the best markets)."""
    commodity = _commodity(ctx, params["c"])
    if commodity is None:
        return None
    market = catalog_for(ctx.conn).markets.items.get(params["m"]) if params["m"] else None
    if market is None:
        return price.best_answer(ctx, commodity)
    return price.market_answer(ctx, commodity, market)


def answer_view(ctx: Context, params: Params) -> View:
    """The price, and the offer to send it by SMS."""
    text = answer_text(ctx, params)
    if text is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=text, items=[Item(ctx.t("ussd_send_sms"), SMS)])


def answer_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Send the price by SMS, so it stays on the phone."""
    text = answer_text(ctx, params)
    if text is None:
        return Retry(ctx.t("ussd_invalid"))
    return Finish(ctx.t("ussd_sms_sent"), sms=(text,))


def register(menu: Menu) -> None:
    """Add the price pages and their home entry."""
    menu.add_page("price.commodity", Page(commodity_view, commodity_chosen, commodity_typed))
    menu.add_page("price.market", Page(market_view, market_chosen, market_typed))
    menu.add_page("price.answer", Page(answer_view, answer_chosen))
    menu.add_entry(MenuEntry("prices", "ussd_menu_prices", "price.commodity", order=10))
