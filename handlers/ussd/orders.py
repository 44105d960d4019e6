"""Buyer orders by USSD, for members of producer groups: open orders and offering to one.

Home > Buyer orders (shown only to group members) lists the open orders relayed to the
contact's groups; choosing one shows it with the contact's current offer and two choices:
offer (or change the offer), where typing a number sets it exactly as `OFFER K7Q3 20` does
by SMS, and withdraw the offer. Withdrawing is its own choice, not a typed 0: 0 is Back on
every screen. Both are confirmed on screen and by SMS.
"""

from __future__ import annotations

from typing import Any

from db import groups as groups_db
from db import orders as orders_db
from handlers import orders
from handlers.messages import Context
from handlers.order_grammar import GrammarError, read_quantity
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


OFFER, WITHDRAW = "offer", "withdraw"


def _open(ctx: Context, params: Params) -> orders_db.Order | None:
    order = orders_db.by_code(ctx.conn, params["o"])
    return order if order is not None and order.status == "open" else None


def order_view(ctx: Context, params: Params) -> View:
    """The order and the contact's current offer; offer (or change it), or withdraw it."""
    order = _open(ctx, params)
    if order is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    current = orders.current_offer(ctx, order)
    items = [Item(ctx.t("ussd_offer_change" if current else "ussd_offer_make"), OFFER)]
    if current:
        items.append(Item(ctx.t("ussd_offer_withdraw"), WITHDRAW))
    return View(body=ctx.t("ussd_offer_now", summary=orders.summary(ctx, order),
                           quantity=orders.quantity(ctx, current),
                           unit=orders.unit_name(ctx, order)), items=items)


def order_chosen(ctx: Context, params: Params, value: Any) -> Step:
    """Offer: ask how many. Withdraw: done at once (the offer becomes 0, as OFFER K7Q3 0)."""
    if value == OFFER:
        return Go("orders.quantity", params)
    order = _open(ctx, params)
    if order is None:
        return Retry(ctx.t("ussd_invalid"))
    done = orders.make_offer(ctx, order, 0)
    return Finish(done, sms=(done,))


def quantity_view(ctx: Context, params: Params) -> View:
    """A prompt for the quantity."""
    order = _open(ctx, params)
    if order is None:
        return View(body=ctx.t("ussd_gone"), end=True)
    return View(body=ctx.t("ussd_offer_prompt", unit=orders.unit_name(ctx, order)), typed=True)


def quantity_typed(ctx: Context, params: Params, text: str) -> Step:
    """A quantity: set the offer, as OFFER does (the same quantity rules and limits)."""
    order = _open(ctx, params)
    if order is None:
        return Retry(ctx.t("ussd_invalid"))
    words = text.split()
    if not words or not words[0].lstrip("-")[:1].isdigit():
        return Retry(ctx.t("ussd_offer_number"))
    try:
        amount, _ = read_quantity(words, order.unit)
    except GrammarError as error:
        return Retry(ctx.t(error.key, **error.values))
    problem = orders.refusal(ctx, order, amount)
    if problem is not None:      # too much: type a smaller number on the same screen
        return Retry(problem)
    done = orders.make_offer(ctx, order, amount)
    return Finish(done, sms=(done,))


def register(menu: Menu) -> None:
    """Add the order pages and their home entry (group members only)."""
    menu.add_page("orders.list", Page(list_view, list_chosen))
    menu.add_page("orders.offer", Page(order_view, order_chosen))
    menu.add_page("orders.quantity", Page(quantity_view, None, quantity_typed))
    menu.add_entry(MenuEntry("orders", "ussd_menu_orders", "orders.list", order=60,
                             visible=member))
