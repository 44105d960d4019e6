"""The router with every command the service offers, and the USSD menu over them."""

from __future__ import annotations

from handlers import (basic, bids, groups, ids, listings, orders, pools, price, privacy,
                      reports, sale_ends, standards, subscriptions, supplies, wants)
from handlers.router import Router
from handlers.ussd import alerts as ussd_alerts
from handlers.ussd import orders as ussd_orders
from handlers.ussd import prices as ussd_prices
from handlers.ussd import profile as ussd_profile
from handlers.ussd import sell as ussd_sell
from handlers.ussd import standards as ussd_standards
from handlers.ussd.menu import Menu


def build_router() -> Router:
    """A router with all commands registered, in priority order."""
    router = Router()
    basic.register(router)
    price.register(router)
    standards.register(router)
    subscriptions.register(router)
    groups.register(router)
    orders.register(router)
    pools.register(router)
    supplies.register(router)
    ids.register(router)    # OFFER and CLOSE: to an order, a pool or a supplier's offer
    listings.register(router)
    sale_ends.register(router)
    bids.register(router)
    wants.register(router)
    reports.register(router)
    privacy.register(router)
    return router


def build_menu() -> Menu:
    """The USSD menu: every feature's pages and home-menu entries (add yours here)."""
    menu = Menu()
    ussd_prices.register(menu)
    ussd_standards.register(menu)
    ussd_profile.register(menu)
    ussd_alerts.register(menu)
    ussd_orders.register(menu)
    ussd_sell.register(menu)
    return menu
