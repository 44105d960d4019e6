"""Quiet hours: the local time window in which no bulletin or broadcast is sent.

Each served country has its own, in its own time zone (prices.countries): a message is
held by the quiet hours of the country its recipient's number belongs to (the first
country's for a number of a country not served), so that a 07:00 Nairobi bulletin does
not wake Accra at 04:00.

Replies to a farmer's own message are not held back: they asked. Only messages the
service starts (bulletins, notices, broadcasts) wait for the window to open.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prices import countries

# Outbox kinds that wait for quiet hours to end: bulletins, notices, leader broadcasts,
# orders relayed or forwarded to whole groups (and their updates and summaries), and
# produce sales: buyers' digests, bids, deals and their summaries (handlers.listings).
HELD_KINDS = frozenset({"bulletin", "standard_notice", "broadcast", "order", "listing"})
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class BadQuietHours(ValueError):
    """The setting is not of the form HH:MM-HH:MM."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> QuietHours | None:
        """'20:00-07:00' in a time zone; an empty text means no quiet hours."""
        if not text.strip():
            return None
        found = _WINDOW.match(text)
        if not found:
            raise BadQuietHours(f"expected HH:MM-HH:MM, got {text!r}")
        h1, m1, h2, m2 = map(int, found.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
            raise BadQuietHours(f"not a window of the day: {text!r}")
        return cls(time(h1, m1), time(h2, m2), ZoneInfo(zone))

    def until(self, now: datetime) -> datetime | None:
        """When the quiet window that `now` falls in ends (UTC), or None outside it."""
        local = now.astimezone(self.zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            quiet = self.start <= clock < self.end
            end_day = local.date()
        else:  # the window spans midnight
            quiet = clock >= self.start or clock < self.end
            end_day = local.date() + timedelta(days=1) if clock >= self.start else local.date()
        if not quiet:
            return None
        return datetime.combine(end_day, self.end, tzinfo=self.zone).astimezone(UTC)


def quiet_hours(settings: Mapping[str, Any], country: str | None = None) -> QuietHours | None:
    """A served country's quiet hours in its own time zone (the first country's by default;
    with no [countries] table, bulletins.quiet_hours in app.timezone)."""
    found = countries.get(settings, country)
    return QuietHours.parse(found.quiet_hours, found.timezone)


def by_country(settings: Mapping[str, Any]) -> dict[str, QuietHours | None]:
    """Every served country's quiet hours."""
    return {code: quiet_hours(settings, code) for code in countries.served(settings)}


def not_before(settings: Mapping[str, Any], now: datetime, country: str | None = None) -> datetime:
    """The earliest time a bulletin queued now for a country may be sent."""
    window = quiet_hours(settings, country)
    return (window.until(now) if window else None) or now
