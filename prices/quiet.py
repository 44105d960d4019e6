"""Quiet hours: a country's local time window in which the service starts no message.

The rule (which messages wait, and the worker that holds them) is smsgw/quiet.py's; this
is the window itself, so that replies (handlers) can say when a held message will go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prices import countries

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


def for_country(settings: Mapping[str, Any], country: str | None = None) -> QuietHours | None:
    """A served country's quiet hours in its own time zone (the first country's by default;
    with no [countries] table, bulletins.quiet_hours in app.timezone)."""
    found = countries.get(settings, country)
    return QuietHours.parse(found.quiet_hours, found.timezone)


def until(settings: Mapping[str, Any], country: str | None, now: datetime) -> datetime | None:
    """When the quiet hours `now` falls in end for a country (UTC), or None outside them."""
    window = for_country(settings, country)
    return window.until(now) if window is not None else None
