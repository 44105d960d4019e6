"""Standards by USSD: a product from the list (or typed), then its bulletin, paged with 98."""

from __future__ import annotations

from typing import Any

from handlers import standards as std_command
from handlers.messages import Context
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Params, Retry, Step, View
from prices import standards

SMS = "sms"


def product_view(ctx: Context, params: Params) -> View:
    """The products with a standard in force, or those a typed name may mean."""
    available = standards.products(ctx.conn, std_command.today_for(ctx))
    if not available:
        return View(body=ctx.t("std_none"), end=True)
    title = ctx.t("ussd_std_title")
    if "o" in params:
        available = [s for s in available if s.product in params["o"]]
        title = ctx.t("ussd_which")
    items = [Item(s.title_in(ctx.language), s.product) for s in available]
    return View(title=title, items=items, typed=True)


def product_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """A product: show its bulletin."""
    return Go("std.show", {"p": str(value)})


def product_typed(ctx: Context, params: Params, text: str) -> Step:
    """A typed product name, understood as STD understands it."""
    match = standards.find_product(ctx.conn, text, today=std_command.today_for(ctx))
    if match.kind is standards.MatchKind.FOUND and match.product:
        return Go("std.show", {"p": match.product})
    if match.kind is standards.MatchKind.AMBIGUOUS:
        return Go("std.product", {"o": list(match.candidates)})
    return Retry(ctx.t("ussd_not_found"))


def _bulletin(ctx: Context, params: Params, *, url: bool) -> str | None:
    found = standards.current(ctx.conn, params["p"], std_command.today_for(ctx))
    return None if found is None else std_command.bulletin(ctx, found, url=url)


def show_view(ctx: Context, params: Params) -> View:
    """The bulletin STD sends (without its URL), over as many screens as it needs."""
    text = _bulletin(ctx, params, url=False)
    if text is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=text, items=[Item(ctx.t("ussd_send_sms"), SMS)])


def show_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Send the whole bulletin by SMS."""
    text = _bulletin(ctx, params, url=True)  # the SMS carries the URL when it costs nothing
    if text is None:
        return Retry(ctx.t("ussd_invalid"))
    return Finish(ctx.t("ussd_sms_sent"), sms=(text,))


def register(menu: Menu) -> None:
    """Add the standards pages and their home entry."""
    menu.add_page("std.product", Page(product_view, product_chosen, product_typed))
    menu.add_page("std.show", Page(show_view, show_chosen))
    menu.add_entry(MenuEntry("standards", "ussd_menu_standards", "std.product", order=20))
