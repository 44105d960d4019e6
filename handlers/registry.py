"""The router with every command the service offers."""

from __future__ import annotations

from handlers import basic, price, standards, subscriptions
from handlers.router import Router


def build_router() -> Router:
    """A router with all commands registered, in priority order."""
    router = Router()
    basic.register(router)
    price.register(router)
    standards.register(router)
    subscriptions.register(router)
    return router
