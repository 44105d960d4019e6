"""Prices reported by market agents: the series a report belongs to, and whether it is
published at once or waits for an admin (docs/agents.md).

A report is normalised to its series' unit where a conversion is known (3,400 for a 90 KG
bag is 37.78 per KG when the market's series is per KG) and kept as reported otherwise.
It is published at once only when it is within its series' recent range (the outlier
rule of prices.review), its market is one of the agent's and the agent is set to
auto-approve. Otherwise it waits in the review queue (`smsgw prices review`) with every
reason that applies: `outlier`, `unassigned` (not the agent's market), `approval`.

Every report is a row of price_reviews, published or not (so an admin can withdraw it),
keyed by the inbound SMS and its place in it: the same SMS handled twice is one report.
Published reports go into `prices` with source AGENT_SOURCE and are served like any price.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db import reviews
from db.agents import Agent
from db.groups import audit
from db.reviews import Observation, Review, Status
from db.timeutil import iso
from prices import review
from prices.catalog import Match, Named
from prices.folding import phrase
from prices.units import Unit, factor, parse_unit

AGENT_SOURCE = "Market agent report"


class NoUnit(ValueError):
    """The report gives no unit and its series has none to assume."""


@dataclass(frozen=True, slots=True)
class Report:
    """One understood item of an agent's SMS."""

    commodity_id: int
    market_id: int
    country: str
    price_type: str          # wholesale | retail
    currency: str
    date: str                # YYYY-MM-DD, the market's today
    unit: str                # the series' unit: 'KG'
    price: float             # per `unit`
    reported: str            # as understood: '3400/90 KG'

    def observation(self) -> Observation:
        """The price observation it makes."""
        return Observation(self.commodity_id, self.market_id, self.unit, self.price_type,
                           self.currency, self.date, self.price, AGENT_SOURCE)


def named_exactly(match: Match) -> tuple[Named, ...]:
    """Of the markets a name matches, the one named exactly so (NAKURU: Nakuru, not
    "Wakulima (Nakuru)", which the place name also finds); all of them when none is."""
    exact = tuple(item for item in match.items if phrase(item.name) == match.label)
    return exact if len(exact) == 1 else match.items


def series_units(conn: sqlite3.Connection, commodity_id: int, market_id: int,
                 price_type: str, currency: str) -> list[str]:
    """The units this commodity is priced in: at the market, then in the market's country,
    the most observed first (an odd unit reported once does not become the usual one)."""
    here = [row[0] for row in conn.execute(
        "SELECT unit FROM prices WHERE commodity_id = ? AND market_id = ? AND price_type = ?"
        " AND currency = ? GROUP BY unit ORDER BY COUNT(*) DESC, MAX(date) DESC",
        (commodity_id, market_id, price_type, currency))]
    country = [row[0] for row in conn.execute(
        "SELECT p.unit FROM prices p JOIN markets m ON m.id = p.market_id"
        " WHERE p.commodity_id = ? AND p.price_type = ? AND p.currency = ?"
        " AND m.country = (SELECT country FROM markets WHERE id = ?)"
        " GROUP BY p.unit ORDER BY COUNT(*) DESC", (commodity_id, price_type, currency,
                                                    market_id))]
    return list(dict.fromkeys(here + country))


def normalise(units: list[str], price: float, unit: Unit | None) -> tuple[str, float]:
    """(series unit, price per it): the first of `units` the reported unit converts to; the
    unit as reported when none does; the usual unit when none was given (NoUnit if none)."""
    if unit is None:
        if not units:
            raise NoUnit
        return units[0], price
    for candidate in units:
        target = parse_unit(candidate)
        multiplier = None if target is None else factor(unit, target)
        if multiplier is not None:
            return candidate, price * multiplier
    return unit.text, price


def recorded(conn: sqlite3.Connection, inbound_id: int | None) -> list[Review]:
    """What an SMS already reported (empty for a new one): the same SMS twice is one report."""
    return [] if inbound_id is None else reviews.of_message(conn, inbound_id)


def submit(conn: sqlite3.Connection, agent: Agent, report: Report, *, inbound_id: int | None,
           item: int, outlier_factor: float, now: datetime) -> Review:
    """Record one report: published at once, or waiting for review with its reasons."""
    observation = report.observation()
    median = review.check(conn, observation, outlier_factor)
    reasons = [reason for reason, applies in (
        ("outlier", median is not None), ("unassigned", report.market_id not in agent.market_ids),
        ("approval", not agent.auto_approve)) if applies]
    published = not reasons
    review_id = reviews.add(
        conn, observation, origin="agent", status=Status.PUBLISHED if published else
        Status.PENDING, reason=",".join(reasons) or None, now=now, median=median,
        reported=report.reported, agent_id=agent.contact_id, inbound_id=inbound_id, item=item,
        decided_at=iso(now) if published else None,
        decided_by="auto" if published else None)
    if published:
        review.publish(conn, observation, now)
        review.log_change(conn, f"agent report {review_id}", now=now, inserted=1,
                          country=report.country)
    audit(conn, "price_report", actor_id=agent.contact_id, now=now, review=review_id,
          status="published" if published else "pending", reasons=reasons,
          reported=report.reported, unit=report.unit, price=report.price,
          price_type=report.price_type, date=report.date, market_id=report.market_id,
          commodity_id=report.commodity_id)
    found = reviews.get(conn, review_id)
    assert found is not None  # added just now
    return found
