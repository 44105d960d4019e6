"""RPT: market agents report the prices they see (docs/agents.md).

`RPT MAIZE NAKURU 3400 90KG; BEANS NAKURU 120 KG RETAIL` from a registered agent: each
item is read (handlers.report_grammar), its names matched as PRICE matches them, its price
normalised to its series' unit, and it is published or held for review (prices.reports).
The agent gets one SMS saying what was understood and what became of it; a mistake in any
item saves nothing and names the item and the part that is wrong. The same SMS handled
twice (a provider's retry) is answered from the first time's reports.
Keywords (handlers.keywords.COMMANDS, checked for clashes there): RPT, REPORT (en), RIPOTI
(sw), RELEVE (fr).
"""

from __future__ import annotations

import sqlite3
from datetime import date
from zoneinfo import ZoneInfo

from db import agents as agents_db
from db.agents import Agent
from db.reviews import Review, Status
from handlers import keywords, price
from handlers.messages import Context, Reply
from handlers.order_grammar import GrammarError
from handlers.report_grammar import ItemRequest, items, parse
from handlers.router import Command, Router
from handlers.segments import fits
from prices import countries, reports
from prices.catalog import Match, MatchKind, Named, catalog_for
from prices.folding import phrase

RPT_WORDS = keywords.words("rpt")


def report(ctx: Context, rest: str) -> list[Reply]:
    """RPT <item> [; <item>]...: only registered market agents."""
    agent = agents_db.find(ctx.conn, ctx.contact.id)
    if agent is None:
        return [Reply(ctx.t("rpt_not_agent"))]
    done = reports.recorded(ctx.conn, ctx.message_id)
    if done:
        return [Reply(confirmation(ctx, done))]
    total = len(items(rest))
    try:
        understood = [understand(ctx, agent, request) for request in parse(rest)]
    except GrammarError as error:
        values = dict(error.values)
        if "item" in values:   # which item is wrong, when there are several
            number = values.pop("item")
            values["which"] = ctx.t("rpt_item", n=number) if total > 1 else ""
        return [Reply(ctx.t(error.key, **values))]
    factor = float(ctx.settings["prices.outlier_factor"])
    recorded = [reports.submit(ctx.conn, agent, item, inbound_id=ctx.message_id, item=n,
                               outlier_factor=factor, now=ctx.now)
                for n, item in enumerate(understood, start=1)]
    return [Reply(confirmation(ctx, recorded))]


def understand(ctx: Context, agent: Agent, request: ItemRequest) -> reports.Report:
    """One item as a report on a series; GrammarError naming what cannot be understood."""
    n = str(request.number)
    query = price.parse(catalog_for(ctx.conn), request.names)
    words = request.names.split()
    if query.commodity.kind is MatchKind.AMBIGUOUS:
        raise GrammarError("rpt_which_product", item=n, options=", ".join(query.commodity.options))
    if not query.commodity.found:
        raise GrammarError("rpt_unknown_product", item=n, word=_echo(" ".join(words[:2])))
    if query.market is None:
        raise GrammarError("rpt_no_market", item=n)
    market = _market(agent, query.market, words[len(query.commodity.label.split()):], n)
    commodity = _commodity(ctx.conn, query.commodity, market, request.price_type, n)
    country = _country(ctx.conn, market.id)
    place = countries.get(ctx.settings, country)
    units = reports.series_units(ctx.conn, commodity.id, market.id, request.price_type,
                                 place.currency)
    try:
        unit, value = reports.normalise(units, request.price, request.unit)
    except reports.NoUnit:
        raise GrammarError("rpt_no_unit", item=n) from None
    today = ctx.now.astimezone(ZoneInfo(place.timezone)).date()
    return reports.Report(
        commodity.id, market.id, country, request.price_type, place.currency,
        today.isoformat(), unit, round(value, 4),
        f"{request.price:.12g}/{request.unit.text if request.unit else unit}")


def _market(agent: Agent, match: Match, typed: list[str], n: str) -> Named:
    """The one market meant: the one named exactly so, else of the several a place names
    the agent's own if just one is."""
    if match.kind is MatchKind.AMBIGUOUS:
        raise GrammarError("rpt_which_market", item=n, options=", ".join(match.options))
    if not match.found:
        raise GrammarError("rpt_unknown_market", item=n, word=_echo(" ".join(typed)))
    candidates = reports.named_exactly(match)
    if len(candidates) == 1:
        return candidates[0]
    mine = [item for item in match.items if item.id in agent.market_ids]
    if len(mine) == 1:
        return mine[0]
    options = [phrase(item.name) for item in (mine or list(match.items))[:3]]
    raise GrammarError("rpt_which_market", item=n, options=", ".join(options))


def _commodity(conn: sqlite3.Connection, match: Match, market: Named, price_type: str,
               n: str) -> Named:
    """The one commodity meant: the only one, the plain one of a group (MAIZE is 'Maize',
    not 'Maize (white)'), or the only one of the group priced at that market."""
    if len(match.items) == 1:
        return match.items[0]
    plain = [item for item in match.items if "(" not in item.name]
    if len(plain) == 1:
        return plain[0]
    ids = [item.id for item in match.items]
    marks = ",".join("?" * len(ids))
    here = {row[0] for row in conn.execute(
        f"SELECT DISTINCT commodity_id FROM prices WHERE market_id = ? AND price_type = ?"
        f" AND commodity_id IN ({marks})", (market.id, price_type, *ids))}
    if len(here) == 1:
        return next(item for item in match.items if item.id in here)
    options = [phrase(item.name) for item in match.items[:3]]
    raise GrammarError("rpt_which_product", item=n, options=", ".join(options))


def _country(conn: sqlite3.Connection, market_id: int) -> str:
    return str(conn.execute("SELECT country FROM markets WHERE id = ?",
                            (market_id,)).fetchone()[0])


def _echo(text: str) -> str:
    """Typed words, safe and short enough to repeat in a reply."""
    kept = "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch == " "))
    return kept.strip()[:20] or "?"


# ---------------------------------------------------------------------------- the answer


def confirmation(ctx: Context, recorded: list[Review]) -> str:
    """One SMS saying what was understood and what became of each report: as much detail
    as fits, down to the counts."""
    when = price.day(ctx, date.fromisoformat(recorded[0].observation.date))
    for detail in (2, 1, 0):
        text = ctx.t("rpt_done", date=when,
                     items="; ".join(_item(ctx, review, detail) for review in recorded))
        if fits(text):
            return text
    published = sum(review.status == Status.PUBLISHED for review in recorded)
    return ctx.t("rpt_done_count", count=len(recorded), date=when, published=published,
                 held=len(recorded) - published)


def _item(ctx: Context, review: Review, detail: int) -> str:
    """'Maize Nakuru wholesale KES 37.78/kg (3,400/90kg): published' at detail 2; without
    what was reported at 1; without the kind and currency at 0."""
    o = review.observation
    name = price.display_name((Named(o.commodity_id, review.commodity),), ctx)
    value = f"{price.money(ctx, o.price)}/{price.unit_text(o.unit, ctx)}"
    if detail >= 1:
        value = f"{ctx.t('type_' + o.price_type)} {o.currency} {value}"
    typed_price, _, typed_unit = (review.reported or "").partition("/")
    if detail >= 2 and typed_unit and (typed_unit != o.unit or float(typed_price) != o.price):
        value += f" ({price.money(ctx, float(typed_price))}/{price.unit_text(typed_unit)})"
    return f"{name} {review.market} {value}: {_status(ctx, review)}"


def _status(ctx: Context, review: Review) -> str:
    if review.status == Status.PUBLISHED:
        return ctx.t("rpt_published")
    if review.status != Status.PENDING:   # rejected or withdrawn since
        return ctx.t("rpt_withdrawn")
    why = ", ".join(ctx.t(f"rpt_why_{reason}") for reason in (review.reason or "").split(",")
                    if reason)
    return ctx.t("rpt_waits", why=why)


def register(router: Router) -> None:
    """Add RPT (RIPOTI, RELEVE)."""
    router.register(Command("rpt", RPT_WORDS, report))
