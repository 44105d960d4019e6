"""The wording of bulletins: one subscriber's price lines as SMS text, and standards notices.

A price bulletin reads `Prices 15 Apr 2022: Maize Nakuru KES 35.88/kg +0.57; Beans
Nakuru KES 120/kg =`. Trend marks are `+` (up by), `-` (down by) and `=` (no change):
arrows would force UCS-2 and cut a message from 160 characters to 70. A line whose price
is older than the newest one in the bulletin carries its own date. When the lines do not
fit one SMS they are split between lines into numbered messages, `(1/2)`, `(2/2)`, each
one segment where a single line allows it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from db.subscriptions import Subscriber
from handlers import price
from handlers.messages import Context
from handlers.notify import Wording, pack
from handlers.segments import count
from prices.bulletins import Line, Text
from prices.quotes import Quote
from prices.folding import phrase
from prices.standards import Standard


class Renderer(Wording):
    """Writes bulletin texts, caching what many subscribers share (names, line texts)."""

    def __init__(self, conn: sqlite3.Connection, settings: Mapping[str, Any],
                 now: datetime) -> None:
        super().__init__(conn, settings, now)
        self._lines: dict[tuple[str, int | None, str, str], str] = {}

    def prices(self, subscriber: Subscriber, lines: Sequence[Line]) -> list[Text]:
        """The price bulletin for one subscriber: one message, or a few numbered ones."""
        if not lines:
            return []
        ctx = self.context(subscriber.language)
        newest = max(line.quote.date for line in lines)
        items = [self._line_text(ctx, line, newest) for line in lines]
        stale = ""
        if (self.now.date() - newest).days > int(self.settings["prices.stale_days"]):
            stale = " " + ctx.t("stale", age=price.age_text(ctx, newest))
        when = price.day(ctx, newest)

        def head(part: str) -> str:  # "Prices 15 Apr 2022 (1/2): "
            return ctx.t("bulletin_head", date=when, part=f" {part.strip()}" if part else "") + " "

        return [_text(t) for t in pack(head, items, stale)]

    def _line_text(self, ctx: Context, line: Line, newest: date) -> str:
        quote = line.quote
        key = (phrase(quote.commodity), line.market_id, ctx.language,
               "" if quote.date == newest else quote.date.isoformat())
        if key not in self._lines:
            name = price.display_name(line.commodity.items, ctx)
            text = (f"{name} {quote.market} {quote.currency} {price.money(ctx, quote.price)}"
                    f"/{price.unit_text(quote.unit, ctx)}{_mark(ctx, quote.change)}"
                    f"{_since(ctx, quote)}")
            if quote.date != newest:   # its own date, with the year when not this year's
                text += f" ({price.day(ctx, quote.date)})"
            self._lines[key] = text
        return self._lines[key]

    def standard_notice(self, subscriber: Subscriber, standard: Standard) -> list[Text]:
        """A short notice that a product's standard changed, pointing to STD."""
        ctx = self.context(subscriber.language)
        title = standard.title_in(ctx.language)
        return [_text(ctx.t("notice_standard", title=title, date=price.day(ctx, standard.effective_date),
                            keyword=ctx.t("notice_keyword"), name=phrase(standard.title)))]


def _mark(ctx: Context, change: float | None) -> str:
    if change is None:
        return ""
    if abs(change) < 0.005:
        return " ="
    return f" {'+' if change > 0 else '-'}{price.money(ctx, abs(change))}"


def _since(ctx: Context, quote: Quote) -> str:
    """' since Sep' after a trend mark: a change means nothing without its period."""
    if quote.change is None or quote.previous_date is None:
        return ""
    return f" {ctx.t('since_word')} {price.since(ctx, quote)}"


def _text(text: str) -> Text:
    info = count(text)
    return Text(text, str(info.encoding), info.segments)
