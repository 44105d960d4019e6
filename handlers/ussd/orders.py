"""Buyer orders by USSD, for members of producer groups: open orders and offering to one.

Home > Buyer orders (shown only to group members) lists the open orders relayed to the
contact's groups; choosing one shows it with the contact's current offer, and typing a
number sets the offer (0 withdraws), exactly as `OFFER K7Q3 20` does by SMS, confirmed on
screen and by SMS.
"""

from __future__ import annotations

from typing import Any

from db import groups as groups_db
from db import orders as orders_db
from handlers import orders
from handlers.messages import Context
from handlers.order_grammar import number
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Params, Retry, Step, View


def member(ctx: Context) -> bool:
    """The entry is for members of a group."""
    return bool(groups_db.groups_of(ctx.conn, ctx.contact.id))


def list_view(ctx: Context, params: Params) -> View:
    """The open orders relayed to the contact's groups."""
    found = orders.open_orders(ctx)
    if not found:
        return View(body=ctx.t("ussd_orders_none"), end=True)
    items = [Item(f"{o.code} {orders.quantity(ctx, o.quantity)} {orders.unit_name(ctx, o)}"
                  f" {orders.product_name(ctx, o.product)}", o.code) for o in found]
    return View(title=ctx.t("ussd_orders_title"), items=items)


def list_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """One order: show it and ask for the offer."""
    return Go("orders.offer", {"o": str(value)})


def offer_view(ctx: Context, params: Params) -> View:
    """The order, the current offer, and a prompt for a quantity."""
    order = orders_db.by_code(ctx.conn, params["o"])
    if order is None or order.status != "open":
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=ctx.t("ussd_offer_prompt", summary=orders.summary(ctx, order),
                           quantity=orders.quantity(ctx, orders.current_offer(ctx, order)),
                           unit=orders.unit_name(ctx, order)), typed=True)


def offer_typed(ctx: Context, params: Params, text: str) -> Step:
    """A quantity: set the offer, as OFFER does."""
    order = orders_db.by_code(ctx.conn, params["o"])
    amount = number(text.strip().replace(" ", ""))
    if order is None:
        return Retry(ctx.t("ussd_invalid"))
    if amount is None or amount > order.quantity * 100:
        return Retry(ctx.t("ussd_offer_number"))
    done = orders.make_offer(ctx, order, amount)
    return Finish(done, sms=(done,))


def register(menu: Menu) -> None:
    """Add the order pages and their home entry (group members only)."""
    menu.add_page("orders.list", Page(list_view, list_chosen))
    menu.add_page("orders.offer", Page(offer_view, None, offer_typed))
    menu.add_entry(MenuEntry("orders", "ussd_menu_orders", "orders.list", order=60,
                             visible=member))
