"""Quiet hours: the local time window in which no bulletin or broadcast is sent.

Each served country has its own, in its own time zone (prices.countries): a message is
held by the quiet hours of the country its recipient's number belongs to (the first
country's for a number of a country not served), so that a 07:00 Nairobi bulletin does
not wake Accra at 04:00.

Replies to a farmer's own message are not held back: they asked. Only messages the
service starts (bulletins, notices, broadcasts) wait for the window to open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prices import countries
from prices.quiet import BadQuietHours, QuietHours, for_country

# Outbox kinds that wait for quiet hours to end: bulletins, notices, leader broadcasts,
# orders relayed or forwarded to whole groups (and their updates and summaries), produce
# sales: buyers' digests, bids, deals and their summaries (handlers.listings), and group
# purchases announced to members (and their updates and closing lines: handlers.pools).
HELD_KINDS = frozenset({"bulletin", "standard_notice", "broadcast", "order", "listing", "pool"})
__all__ = ["HELD_KINDS", "BadQuietHours", "QuietHours", "by_country", "not_before", "quiet_hours"]


def quiet_hours(settings: Mapping[str, Any], country: str | None = None) -> QuietHours | None:
    """A served country's quiet hours in its own time zone (the first country's by default;
    with no [countries] table, bulletins.quiet_hours in app.timezone)."""
    return for_country(settings, country)


def by_country(settings: Mapping[str, Any]) -> dict[str, QuietHours | None]:
    """Every served country's quiet hours."""
    return {code: quiet_hours(settings, code) for code in countries.served(settings)}


def not_before(settings: Mapping[str, Any], now: datetime, country: str | None = None) -> datetime:
    """The earliest time a bulletin queued now for a country may be sent."""
    window = quiet_hours(settings, country)
    return (window.until(now) if window else None) or now
