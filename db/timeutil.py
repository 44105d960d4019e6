"""Timestamps as the database stores them: ISO-8601 UTC text that sorts as it compares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format an aware datetime as fixed-width UTC text (so string order is time order)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Read back a timestamp written by iso()."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def iso_after(moment: datetime, seconds: float) -> str:
    """The iso() text of a moment some seconds after another."""
    return iso(moment + timedelta(seconds=seconds))
