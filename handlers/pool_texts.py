"""How pools and suppliers' offers are written in replies: what is bought, how much of it,
and the price steps (shared by handlers.pools and handlers.supplies)."""

from __future__ import annotations

from handlers import localize, price
from handlers.messages import Context
from handlers.order_grammar import UNITS, GrammarError
from handlers.orders import figures, quantity
from handlers.pool_grammar import Tiers
from prices.catalog import MatchKind, catalog_for
from prices.folding import phrase
from prices.producers import singular

COUNTED = frozenset(UNITS.values())   # unit words; any other unit is the product as typed


def label(ctx: Context, product: str, unit: str) -> str:
    """What is bought: 'DAP 50kg', 'DAP bags' (in the reader's language: 'DAP magunia',
    'mahindi magunia'), or the product as typed when it is what is counted: 'CRATES'."""
    if not unit.startswith("x ") and unit not in COUNTED:
        return unit
    if not unit.startswith("x ") and singular(phrase(unit)) == product:
        return localize.word(ctx.language, unit)
    match = catalog_for(ctx.conn).commodities.match(product)
    name = price.display_name(match.items, ctx).lower() \
        if match.kind is MatchKind.EXACT and match.items else product
    if unit.startswith("x "):
        return f"{name} {unit.removeprefix('x ')}"
    return f"{name} {localize.word(ctx.language, unit)}"   # bags: magunia, sacs


def goods(ctx: Context, amount: float, product: str, unit: str) -> str:
    """'3 x DAP 50kg', '3 DAP bags', '3 crates'."""
    shown = label(ctx, product, unit)
    if unit.startswith("x "):
        return f"{quantity(ctx, amount)} x {shown}"
    return f"{quantity(ctx, amount)} {shown}"


def tiers_text(ctx: Context, currency: str, tiers: Tiers) -> str:
    """'KES 3,200; 3,000 from 100; 2,900 from 500'."""
    first = f"{currency} {price.money(ctx, tiers[0][1])}"
    steps = [ctx.t("pool_step", amount=price.money(ctx, p), quantity=quantity(ctx, q))
             for q, p in tiers[1:]]
    return "; ".join([first, *steps])


def error_text(ctx: Context, error: GrammarError) -> str:
    """A grammar error's reply, its figures written as the reader writes them (ORDER's own
    formatting: 10 000 000 in French)."""
    return ctx.t(error.key, **figures(ctx, error.values))


