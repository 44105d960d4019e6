"""Price alerts (subscriptions) by USSD: the same SUB and UNSUB, through a menu.

Home > Price alerts lists what the contact follows (choose one to stop it) and "Add one":
a product from the short list or typed, then the registered market (or, with none, the
best markets) or a typed market, then a confirmation. Every change is shown on the closing
screen and also sent by SMS, with the same text the SMS command answers.
"""

from __future__ import annotations

from typing import Any

from db import subscriptions as subscriptions_db
from handlers import price, subscriptions
from handlers.messages import Context
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Params, Retry, Step, View
from handlers.ussd.prices import commodity_groups
from prices.catalog import Match, MatchKind, Named, catalog_for

ADD = "add"
YES = "yes"
HERE = "here"


def _limit(ctx: Context) -> int:
    return int(ctx.settings["bulletins.max_subscriptions"])


def home_view(ctx: Context, params: Params) -> View:
    """What the contact follows, each to stop, and Add."""
    owned = subscriptions_db.for_contact(ctx.conn, ctx.contact.id)
    items = [Item(text, sub.id) for sub in owned
             if (text := subscriptions.describe(ctx, sub)) is not None]
    if len(owned) < _limit(ctx):
        items.append(Item(ctx.t("ussd_alerts_add"), ADD))
    return View(title=ctx.t("ussd_alerts_title", n=len(owned), max=_limit(ctx)), items=items)


def home_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Add one, or stop the one chosen."""
    if value == ADD:
        return Go("alerts.product")
    return Go("alerts.stop", {"s": int(value)})


def product_view(ctx: Context, params: Params) -> View:
    """The most reported products, or type one."""
    items = [Item(label, ids) for label, ids in commodity_groups(ctx)]
    return View(title=ctx.t("ussd_alerts_product"), items=items, typed=True)


def _match(ctx: Context, ids: list[int]) -> Match | None:
    known = catalog_for(ctx.conn).commodities.items
    items = tuple(known[i] for i in sorted(ids) if i in known)
    return Match(MatchKind.EXACT, items, 100.0) if items else None


def product_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """A product from the list."""
    return Go("alerts.market", {"c": list(value)})


def product_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed product name, understood as SUB understands it."""
    match = catalog_for(ctx.conn).commodities.match(text)
    if not match.found:
        return Retry(ctx.t("ussd_not_found"))
    return Go("alerts.market", {"c": [item.id for item in match.items]})


def market_view(ctx: Context, params: Params) -> View:
    """The registered market (or best markets), or type another."""
    commodity = _match(ctx, params["c"])
    if commodity is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    name = price.display_name(commodity.items, ctx)
    home = price.home_market(ctx)
    here = ctx.t("ussd_mine", market=home.name) if home else ctx.t("ussd_best")
    return View(title=ctx.t("ussd_alerts_market", commodity=name), items=[Item(here, HERE)],
                typed=True)


def market_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """No market named: the registered one, else the best markets."""
    return Go("alerts.confirm", {"c": params["c"], "m": None})


def market_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed market name."""
    match = price.exact_market(catalog_for(ctx.conn).markets_for(price.country_of(ctx)).match(text))
    if not match.found:
        return Retry(ctx.t("ussd_not_found"))
    return Go("alerts.confirm", {"c": params["c"], "m": match.items[0].id})


def _market(ctx: Context, params: Params) -> Named | None:
    return catalog_for(ctx.conn).markets.items.get(params["m"]) if params.get("m") else None


def confirm_view(ctx: Context, params: Params) -> View:
    """Ask before following."""
    commodity = _match(ctx, params["c"])
    if commodity is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    name = price.display_name(commodity.items, ctx)
    market = _market(ctx, params)
    where = market.name if market else (price.home_market(ctx) or Named(0, ctx.t("ussd_best"))).name
    return View(body=ctx.t("ussd_alerts_confirm", commodity=name, market=where),
                items=[Item(ctx.t("ussd_yes"), YES)])


def confirm_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Follow it; the same confirmation as SUB, on screen and by SMS."""
    commodity = _match(ctx, params["c"])
    if commodity is None:
        return Retry(ctx.t("ussd_invalid"))
    done = subscriptions.follow(ctx, commodity, _market(ctx, params))
    return Finish(done, sms=(done,))


def _sub(ctx: Context, params: Params) -> subscriptions_db.Subscription | None:
    owned = subscriptions_db.for_contact(ctx.conn, ctx.contact.id)
    return next((s for s in owned if s.id == params["s"]), None)


def stop_view(ctx: Context, params: Params) -> View:
    """Ask before stopping one."""
    sub = _sub(ctx, params)
    text = subscriptions.describe(ctx, sub) if sub else None
    if text is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=ctx.t("ussd_alerts_stop", item=text), items=[Item(ctx.t("ussd_yes"), YES)])


def stop_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Stop it; the same confirmation as UNSUB, on screen and by SMS."""
    sub = _sub(ctx, params)
    if sub is None:
        return Retry(ctx.t("ussd_invalid"))
    done = subscriptions.unfollow(ctx, sub)
    return Finish(done, sms=(done,))


def register(menu: Menu) -> None:
    """Add the price-alert pages and their home entry."""
    menu.add_page("alerts.home", Page(home_view, home_chosen))
    menu.add_page("alerts.product", Page(product_view, product_chosen, product_typed))
    menu.add_page("alerts.market", Page(market_view, market_chosen, market_typed))
    menu.add_page("alerts.confirm", Page(confirm_view, confirm_chosen))
    menu.add_page("alerts.stop", Page(stop_view, stop_chosen))
    menu.add_entry(MenuEntry("alerts", "ussd_menu_alerts", "alerts.home", order=50))
