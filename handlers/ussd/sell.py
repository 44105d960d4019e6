"""Selling produce by USSD: the same SELL and WITHDRAW as by SMS, through a menu.

Home > Sell produce lists the contact's open sales (choose one to withdraw it) and "Sell
something": a product from the short list or typed, the quantity with its unit, a price
per unit (or "buyers make an offer"), the market (the registered one, or typed), then a
confirmation. The screens build the very SMS a farmer would send (`SELL 20 BAGS MAIZE
@3500 AT NAKURU`), and the last one posts it as SELL does, cost rules included: a sale
that would reach more buyers than `limits.confirm_above_segments` asks for YES by SMS,
as the closing screen and its SMS say. Every step's mistake is shown on the same screen
with the grammar's own words.
"""

from __future__ import annotations

from typing import Any

from db import listings as listings_db
from db import outbox
from handlers import costs, listings, localize, price, sale_ends
from handlers.messages import Context
from handlers.order_grammar import GrammarError, parse, read_price
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Params, Retry, Step, View
from handlers.ussd.prices import commodity_groups
from prices import countries
from prices.catalog import MatchKind, base_name, catalog_for
from prices.folding import fold, phrase

NEW = "new"
YES = "yes"
HERE = "here"
OFFER = "offer"
SET = "set"
KEYWORD = "SELL"       # the SMS the screens build (any language's SELL word would do)


def home_view(ctx: Context, params: Params) -> View:
    """The contact's open sales, each to withdraw, and "Sell something"."""
    own = listings_db.of_seller(ctx.conn, ctx.contact.id)
    items = [Item(f"{s.code} {listings.what(ctx, s, short=True)}", s.code) for s in own]
    items.append(Item(ctx.t("ussd_sell_new"), NEW))
    return View(title=ctx.t("ussd_sell_title") if own else ctx.t("ussd_menu_sell"),
                items=items)


def home_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Sell something, or withdraw the sale chosen."""
    if value == NEW:
        return Go("sell.product")
    return Go("sell.withdraw", {"s": str(value)})


def product_view(ctx: Context, params: Params) -> View:
    """The most reported products, or type one."""
    return View(title=ctx.t("ussd_sell_product"),
                items=[Item(label, ids) for label, ids in commodity_groups(ctx)], typed=True)


def product_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """A product from the list, as its catalog name (MAIZE)."""
    known = catalog_for(ctx.conn).commodities.items
    found = [known[i] for i in value if i in known]
    if not found:
        return Retry(ctx.t("ussd_invalid"))
    return Go("sell.quantity", {"p": base_name(found[0].name)})


def product_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed product: a crop the price data knows, or anything else (baskets)."""
    words = phrase(text)
    if not words or words[0].isdigit():
        return Retry(ctx.t("ussd_not_found"))
    return Go("sell.quantity", {"p": words[:40]})


def _name(ctx: Context, product: str) -> str:
    match = catalog_for(ctx.conn).commodities.match(product)
    if match.kind is MatchKind.EXACT and match.items:
        return price.display_name(match.items, ctx)
    return product.capitalize()


def quantity_view(ctx: Context, params: Params) -> View:
    """Type how many, with the unit."""
    return View(body=ctx.t("ussd_sell_quantity", commodity=_name(ctx, params["p"])),
                typed=True)


def quantity_typed(ctx: Context, params: Params, text: str) -> Step:
    """20 BAGS, 500KG, 1,000 KG: read as SELL reads it; a crop needs its unit."""
    typed = " ".join(fold(text).split())
    try:
        request = parse(f"{typed} {params['p']}", ctx.now.date(), currency="",
                        default_days=1)
    except GrammarError as error:
        return Retry(listings.sell_error(ctx, error))
    if request.unit == request.product.lower() and \
            catalog_for(ctx.conn).commodities.match(params["p"]).found:
        return Retry(ctx.t("ussd_sell_unit"))   # "20" of a crop: 20 what?
    if phrase(request.product) != phrase(params["p"]):   # words beyond number and unit
        return Retry(ctx.t("ussd_invalid"))
    return Go("sell.price", {**params, "q": typed, "u": request.unit})


def price_view(ctx: Context, params: Params) -> View:
    """Set a price, or let buyers make an offer (a typed price would read as a choice on a
    list, so it is typed on the next screen)."""
    currency = countries.get(ctx.settings, price.country_of(ctx)).currency
    return View(title=ctx.t("ussd_sell_price", unit=localize.word(ctx.language, params["u"]),
                            currency=currency),
                items=[Item(ctx.t("ussd_sell_set_price"), SET),
                       Item(ctx.t("ussd_sell_offer"), OFFER)])


def price_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Type the price, or no price: buyers make an offer."""
    if value == SET:
        return Go("sell.amount", dict(params))
    return Go("sell.market", {**params, "pr": None})


def amount_view(ctx: Context, params: Params) -> View:
    """Type the price per unit."""
    currency = countries.get(ctx.settings, price.country_of(ctx)).currency
    return View(body=ctx.t("ussd_sell_amount", unit=localize.word(ctx.language, params["u"]),
                           currency=currency),
                typed=True)


def amount_typed(ctx: Context, params: Params, text: str) -> Step:
    """A price, as @ reads it (3500, 3,500, KES 3500)."""
    words = ["@" + "".join(fold(text).split())]
    try:
        read_price(words)
    except GrammarError as error:
        return Retry(listings.sell_error(ctx, error))
    return Go("sell.market", {**params, "pr": words[0]})


def market_view(ctx: Context, params: Params) -> View:
    """The registered market, or type one."""
    home = price.home_market(ctx)
    items = [Item(ctx.t("ussd_mine", market=home.name), HERE)] if home else []
    return View(title=ctx.t("ussd_sell_market", commodity=_name(ctx, params["p"])),
                items=items, typed=True)


def market_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """The registered market."""
    home = price.home_market(ctx)
    if home is None:
        return Retry(ctx.t("ussd_invalid"))
    return Go("sell.confirm", {**params, "m": home.name})


def market_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed market, understood as SELL ... AT understands it."""
    markets = catalog_for(ctx.conn).markets_for(price.country_of(ctx))
    match = price.exact_market(markets.match(text))
    if not match.found:
        return Retry(ctx.t("ussd_not_found"))
    return Go("sell.confirm", {**params, "m": match.items[0].name})


def sms_text(params: Params) -> str:
    """The SELL message these screens stand for (without its keyword)."""
    parts = [params["q"], params["p"]]
    if params.get("pr"):
        parts.append(params["pr"])
    return " ".join([*parts, "AT", phrase(params["m"])])


def confirm_view(ctx: Context, params: Params) -> View:
    """Show the sale and ask before posting it."""
    try:
        sale = listings.draft(ctx, sms_text(params))
    except GrammarError as error:
        return View(body=listings.sell_error(ctx, error), end=True)
    return View(body=ctx.t("ussd_sell_confirm", summary=listings.summary(ctx, sale)),
                items=[Item(ctx.t("ussd_yes"), YES)])


def confirm_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Post it as SELL does, within the same cost rules; the answer on screen and by SMS."""
    text = sms_text(params)
    conn = ctx.conn
    conn.execute("SAVEPOINT ussd_sell")
    mark = outbox.last_id(conn)
    replies = listings.post(ctx, text)
    held = costs.settle(ctx, f"{KEYWORD} {text}", mark, allowance=None,
                        undo=lambda: conn.execute("ROLLBACK TO ussd_sell"))
    conn.execute("RELEASE ussd_sell")
    done = (held or replies)[0].text
    return Finish(done, sms=(done,))


def withdraw_view(ctx: Context, params: Params) -> View:
    """Ask before withdrawing one of the contact's sales."""
    sale = listings_db.by_code(ctx.conn, params["s"])
    if sale is None or sale.status != listings_db.OPEN or sale.seller_id != ctx.contact.id:
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=ctx.t("ussd_sell_withdraw", code=sale.code,
                           summary=listings.summary(ctx, sale)),
                items=[Item(ctx.t("ussd_yes"), YES)])


def withdraw_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Withdraw it as WITHDRAW does; the answer on screen and by SMS."""
    done = sale_ends.end(ctx, params["s"], "withdrawn", "withdraw_usage")
    return Finish(done, sms=(done,))


def register(menu: Menu) -> None:
    """Add the selling pages and their home entry (for everyone)."""
    menu.add_page("sell.home", Page(home_view, home_chosen))
    menu.add_page("sell.product", Page(product_view, product_chosen, product_typed))
    menu.add_page("sell.quantity", Page(quantity_view, None, quantity_typed))
    menu.add_page("sell.price", Page(price_view, price_chosen))
    menu.add_page("sell.amount", Page(amount_view, None, amount_typed))
    menu.add_page("sell.market", Page(market_view, market_chosen, market_typed))
    menu.add_page("sell.confirm", Page(confirm_view, confirm_chosen))
    menu.add_page("sell.withdraw", Page(withdraw_view, withdraw_chosen))
    menu.add_entry(MenuEntry("sell", "ussd_menu_sell", "sell.home", order=70))
