"""Timestamps as stored: fixed-width UTC text that sorts as time does, and reads back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from db.timeutil import iso, iso_after, parse_iso


def moments() -> list[datetime]:
    rng = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30)),
             ZoneInfo("Africa/Nairobi"), ZoneInfo("UTC")]
    start = datetime(1970, 1, 1, tzinfo=UTC)
    picked = [start + timedelta(seconds=rng.randrange(0, 130 * 365 * 86400),
                                microseconds=rng.randrange(10**6)) for _ in range(2000)]
    edges = [datetime(1000, 1, 1, tzinfo=UTC), datetime(9999, 12, 30, 12, tzinfo=UTC),
             datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2026, 11, 23, 0, 0, tzinfo=UTC)]
    return [moment.astimezone(rng.choice(zones)) for moment in picked + edges]


def test_iso_is_what_strftime_writes_in_utc():
    for moment in moments():
        assert iso(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), moment


def test_iso_reads_back_and_sorts_as_time_does():
    stamps = moments()
    for moment in stamps:
        assert parse_iso(iso(moment)) == moment
    assert sorted(stamps) == sorted(stamps, key=iso)
    assert iso_after(stamps[0], 1.5) == iso(stamps[0] + timedelta(seconds=1.5))
