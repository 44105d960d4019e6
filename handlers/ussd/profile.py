"""My market and language by USSD: the same changes REG and LANG make, confirmed twice.

A change is shown on the closing screen and also sent by SMS (a USSD screen is gone once
the session ends). The engine never runs a hop twice, so a repeated request from the
provider changes nothing and sends nothing more.
"""

from __future__ import annotations

from typing import Any

from handlers import price
from handlers.messages import Context
from handlers.texts import LANGUAGE_NAMES
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Params, Retry, Step, View
from prices.catalog import MatchKind, catalog_for

YES = "yes"


# ------------------------------------------------------------------- my market


def market_view(ctx: Context, params: Params) -> View:
    """The registered market and a prompt for a new one, or the markets a name may mean."""
    if "o" in params:
        known = catalog_for(ctx.conn).markets.items
        items = [Item(known[i].name, i) for i in params["o"] if i in known]
        return View(title=ctx.t("ussd_which"), items=items, typed=True)
    home = price.home_market(ctx)
    title = ctx.t("ussd_reg_current", market=home.name) if home else ctx.t("ussd_reg_none")
    return View(title=title, body=ctx.t("ussd_reg_prompt"), typed=True)


def market_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """One of the markets a name may mean: confirm it."""
    return Go("reg.confirm", {"m": int(value)})


def market_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed market name, understood as REG understands it."""
    markets = catalog_for(ctx.conn).markets_for(price.country_of(ctx))
    match = price.exact_market(markets.match(text))
    if match.kind is MatchKind.AMBIGUOUS:
        ids = [i for o in match.options for i in sorted(markets.phrases.get(o, ()))]
        return Go("reg.market", {"o": list(dict.fromkeys(ids))})
    if not match.found:
        return Retry(ctx.t("ussd_not_found"))
    if len(match.items) > 1:
        return Go("reg.market", {"o": [m.id for m in match.items]})
    return Go("reg.confirm", {"m": match.items[0].id})


def confirm_view(ctx: Context, params: Params) -> View:
    """Ask before changing the registered market."""
    market = catalog_for(ctx.conn).markets.items.get(params["m"])
    if market is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=ctx.t("ussd_reg_confirm", market=market.name),
                items=[Item(ctx.t("ussd_yes"), YES)])


def confirm_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Register the market; say so on screen and by SMS."""
    market = catalog_for(ctx.conn).markets.items.get(params["m"])
    if market is None:
        return Retry(ctx.t("ussd_invalid"))
    done = price.save_home_market(ctx, market)
    return Finish(done, sms=(done,))


# ------------------------------------------------------------------- language


def language_view(ctx: Context, params: Params) -> View:
    """The languages, each named in itself."""
    return View(title=ctx.t("ussd_lang_title"),
                items=[Item(name, code) for code, name in LANGUAGE_NAMES.items()])


def language_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Switch the language; the closing screen and the SMS are in the new one."""
    done = price.save_language(ctx, str(value))
    return Finish(done, sms=(done,))


def register(menu: Menu) -> None:
    """Add the my-market and language pages and their home entries."""
    menu.add_page("reg.market", Page(market_view, market_chosen, market_typed))
    menu.add_page("reg.confirm", Page(confirm_view, confirm_chosen))
    menu.add_page("lang.choose", Page(language_view, language_chosen))
    menu.add_entry(MenuEntry("market", "ussd_menu_market", "reg.market", order=30))
    menu.add_entry(MenuEntry("language", "ussd_menu_language", "lang.choose", order=40))
