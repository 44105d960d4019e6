"""Providers' health for the banner on every page (filled by the overview work)."""

from __future__ import annotations


def alerts_for_banner() -> list[str]:
    """One line per provider that needs attention now."""
    return []
