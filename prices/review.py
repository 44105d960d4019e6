"""Prices that wait for an admin: the outlier rule, and accepting, rejecting, withdrawing.

**The outlier rule.** A series is one (commodity, market, unit, price type, currency). An
observation is held for review when its price is more than N times, or less than 1/N of,
the median of the series' last 12 observations before its date; N is
`prices.outlier_factor` (5 by default). A series with fewer than 3 observations before
that date is not checked: it has no recent range to compare with. The same rule holds for
import rows and for agents' reports (docs/agents.md).

Held observations are rows of `price_reviews`, never of `prices`, so no query serves them.
Accepting one publishes it with the importer's own upsert; every decision is audited (who,
when) and, like an import, logged in `imports`, which is what tells the price look-ups'
memo (prices.quotes.data_version) that prices changed.
"""

from __future__ import annotations

import sqlite3
import statistics
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from db import reviews
from db.groups import audit
from db.prices import UPSERT
from db.reviews import Observation, Review, Status
from db.timeutil import iso

WINDOW = 12             # observations the median is taken over
MIN_OBSERVATIONS = 3    # fewer than this before the date: not checked
OUTLIER_FACTOR = 5.0    # the default of prices.outlier_factor


class NotPending(ValueError):
    """The review is not waiting for a decision (or does not exist)."""


class NotPublished(ValueError):
    """Only a published agent report can be withdrawn."""


def outside(price: float, earlier: Sequence[float], factor: float) -> float | None:
    """The median of the last WINDOW of `earlier` (oldest first) when `price` is outside
    its range, else None; None too with fewer than MIN_OBSERVATIONS to compare with."""
    if len(earlier) < MIN_OBSERVATIONS:
        return None
    middle = statistics.median(earlier[-WINDOW:])
    return middle if price > middle * factor or price * factor < middle else None


def outlier_reason(price: float, median: float, factor: float) -> str:
    """Why a price was held, for an admin: 'price 999 is more than 5 times the median 36'."""
    how = f"more than {factor:g} times" if price > median else f"less than 1/{factor:g} of"
    return (f"price {amount(price)} is {how} the median {amount(median)} of the series'"
            " recent prices")


def amount(value: float) -> str:
    """A price as an admin reads it: 3,400 or 37.78."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


class SeriesHistory:
    """Each series' observations as an import meets them (the database's, then the file's
    rows as they are taken), for the outlier rule without a query per row.

    A series is read from the database once, the first time a row of it comes, as day
    numbers and prices in date order (12 bytes an observation); the file's rows are added
    as they are taken, so a held row never counts in its series' range.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.series: dict[tuple[Any, ...], tuple[array[int], array[float]]] = {}
        self._days: dict[str, int] = {}

    def take(self, key: tuple[Any, ...], day: str, price: float,
             factor: float) -> float | None:
        """Check a row against its series and count it in when it is in range. Returns the
        median when the price is outside the range (the row is then not counted: add() it
        if it is taken all the same), else None (in range, not checkable, or the very
        observation the series already has). The hot loop of an import: the usual row
        comes after its series' last one and lies between the window's extremes divided and
        multiplied by the factor, which needs no median."""
        days, prices = self._get(key)
        number = self._days.get(day) or self._day(day)
        same = False
        if not days or number > days[-1]:
            at = len(days)
        else:
            at = bisect_left(days, number)
            same = days[at] == number
            if same and prices[at] == price:
                return None   # imported before (a file imported again): nothing new
        if at >= MIN_OBSERVATIONS:
            window = prices[max(0, at - WINDOW):at]
            if price > min(window) * factor or price * factor < max(window):
                median = outside(price, window, factor)
                if median is not None:
                    return median
        if same:
            prices[at] = price
        else:
            days.insert(at, number)
            prices.insert(at, price)
        return None

    def add(self, key: tuple[Any, ...], day: str, price: float) -> None:
        """Count a taken row in its series (replacing the same day's price)."""
        days, prices = self._get(key)
        number = self._day(day)
        at = bisect_left(days, number)
        if at < len(days) and days[at] == number:
            prices[at] = price
        else:
            days.insert(at, number)
            prices.insert(at, price)

    def _get(self, key: tuple[Any, ...]) -> tuple[array[int], array[float]]:
        found = self.series.get(key)
        if found is None:
            rows = self.conn.execute(
                "SELECT date, price FROM prices WHERE commodity_id = ? AND market_id = ?"
                " AND unit = ? AND price_type = ? AND currency = ? ORDER BY date", key)
            found = (array("l"), array("d"))
            for day, price in rows:
                found[0].append(self._day(day))
                found[1].append(price)
            self.series[key] = found
        return found

    def _day(self, day: str) -> int:
        number = self._days.get(day)
        if number is None:
            number = self._days[day] = date.fromisoformat(day).toordinal()
        return number


def recent(conn: sqlite3.Connection, observation: Observation) -> list[float]:
    """The series' last WINDOW prices before the observation's date, oldest first."""
    rows = conn.execute(
        "SELECT price FROM prices WHERE commodity_id = ? AND market_id = ? AND unit = ?"
        " AND price_type = ? AND currency = ? AND date < ? ORDER BY date DESC LIMIT ?",
        (*observation.series, observation.date, WINDOW)).fetchall()
    return [float(row[0]) for row in reversed(rows)]


def check(conn: sqlite3.Connection, observation: Observation, factor: float) -> float | None:
    """The outlier rule against what `prices` holds: the median when it is outside."""
    return outside(observation.price, recent(conn, observation), factor)


def publish(conn: sqlite3.Connection, observation: Observation, now: datetime) -> None:
    """Put an observation into `prices` (the importer's upsert: a newer value replaces)."""
    o = observation
    conn.execute(UPSERT, (o.commodity_id, o.market_id, o.unit, o.price_type, o.currency,
                                o.date, o.price, o.usd_price, o.price_flag, o.source, iso(now)))


def log_change(conn: sqlite3.Connection, what: str, *, now: datetime, inserted: int = 0,
               updated: int = 0, country: str | None = None) -> None:
    """Record a change to prices made by a review or a report in the imports log (kind
    'review'), as every import is: the price look-ups' memo keys on that log."""
    conn.execute(
        "INSERT INTO imports (kind, file_name, read, inserted, updated, started_at,"
        " finished_at, country) VALUES ('review', ?, ?, ?, ?, ?, ?, ?)",
        (what, inserted + updated, inserted, updated, iso(now), iso(now), country))


def accept(conn: sqlite3.Connection, review_id: int, *, by: str, now: datetime,
           console_user: str | None = None) -> Review:
    """Publish a held observation; NotPending unless it waits for a decision. A decision
    made in the web console names its user in the audit trail's console_user too."""
    review = _pending(conn, review_id)
    reviews.decide(conn, review_id, Status.PUBLISHED, by=by, now=now, expected=Status.PENDING)
    publish(conn, review.observation, now)
    log_change(conn, f"review {review_id} accepted by {by}", now=now, inserted=1,
               country=review.country)
    audit(conn, "price_accepted", now=now, review=review_id, by=by, console_user=console_user,
          **_what(review))
    return review


def reject(conn: sqlite3.Connection, review_id: int, *, by: str, now: datetime,
           note: str = "", console_user: str | None = None) -> Review:
    """Keep a held observation out of prices for good; NotPending unless it waits."""
    review = _pending(conn, review_id)
    reviews.decide(conn, review_id, Status.REJECTED, by=by, now=now, expected=Status.PENDING)
    audit(conn, "price_rejected", now=now, review=review_id, by=by, note=note,
          console_user=console_user, **_what(review))
    return review


def withdraw(conn: sqlite3.Connection, review_id: int, *, by: str, now: datetime) -> Review:
    """Take a published agent report out of prices again (an earlier published report of
    the same series and day comes back); NotPublished for anything else."""
    review = reviews.get(conn, review_id)
    if review is None or review.origin != "agent" or review.status != Status.PUBLISHED:
        raise NotPublished(f"review {review_id} is not a published agent report")
    reviews.decide(conn, review_id, Status.WITHDRAWN, by=by, now=now, expected=Status.PUBLISHED)
    o = review.observation
    conn.execute("DELETE FROM prices WHERE commodity_id = ? AND market_id = ? AND unit = ?"
                 " AND price_type = ? AND currency = ? AND date = ? AND price = ?"
                 " AND source = ?", (*o.series, o.date, o.price, o.source))
    earlier = _published_before(conn, review)
    if earlier is not None:
        publish(conn, earlier.observation, now)
    log_change(conn, f"review {review_id} withdrawn by {by}", now=now, updated=1,
               country=review.country)
    audit(conn, "price_withdrawn", now=now, review=review_id, by=by, **_what(review))
    return review


def _pending(conn: sqlite3.Connection, review_id: int) -> Review:
    review = reviews.get(conn, review_id)
    if review is None or review.status != Status.PENDING:
        state = "does not exist" if review is None else f"is {review.status}"
        raise NotPending(f"review {review_id} {state}, not waiting for a decision")
    return review


def _published_before(conn: sqlite3.Connection, review: Review) -> Review | None:
    o = review.observation
    row = conn.execute(
        "SELECT id FROM price_reviews WHERE status = 'published' AND id != ?"
        " AND commodity_id = ? AND market_id = ? AND unit = ? AND price_type = ?"
        " AND currency = ? AND date = ? ORDER BY decided_at DESC, id DESC LIMIT 1",
        (review.id, *o.series, o.date)).fetchone()
    return None if row is None else reviews.get(conn, int(row[0]))


def _what(review: Review) -> dict[str, object]:
    """What an audit row says about the observation decided."""
    o = review.observation
    return {"origin": review.origin, "commodity": review.commodity, "market": review.market,
            "unit": o.unit, "price_type": o.price_type, "currency": o.currency,
            "date": o.date, "price": o.price, "agent_id": review.agent_id}
