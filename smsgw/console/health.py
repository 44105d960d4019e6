"""The worker's and the providers' health: the banner on every console page, and the health
table of the overview.

It reads only what the worker and the webhooks already recorded (db.health: the worker's
heartbeat and each provider's sends per minute) and what waits in the outbox (the
outbox_waiting index): a few index ranges per provider, once per request. It never calls
a provider or a phone.

A provider is named in the banner when
- messages have been due for it for `console.alert_minutes` and it has had no message
  accepted in that time (a phone off, a provider hanging, no worker running), or
- more than `console.alert_failure_rate` of its send attempts in the last hour failed, once
  it has made at least MIN_ATTEMPTS (so one failure out of one does not alarm anyone).
The worker is named when messages wait and no worker has been seen for `alert_minutes`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import g
from flask_login import current_user

from db import health as health_db
from db import stats
from db.timeutil import parse_iso
from smsgw.context import connection, services

log = logging.getLogger(__name__)

MIN_ATTEMPTS = 10
FAILURE_WINDOW = timedelta(hours=1)
LABELS = {"android": "Android phone", "africastalking": "Africa's Talking", "twilio": "Twilio",
          "modem": "USB modem", "local": "Local (simulator and tests)"}


def label(provider: str) -> str:
    """A provider's name as people say it."""
    return LABELS.get(provider, provider)


def providers_in_use(config: Any) -> list[str]:
    """The providers that can send: every enabled one, and the local one always."""
    names = getattr(config, "provider_names", ())
    return [name for name in names if name == "local" or config.provider_enabled(name)]


@dataclass
class ProviderHealth:
    """One provider now: what waits for it, what it did lately, and what is wrong."""

    provider: str
    waiting: stats.Waiting
    hour: health_db.Recent                 # sends and failed attempts in the last hour
    stalled_for: timedelta | None = None   # no send while messages waited this long
    alerts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return label(self.provider)

    @property
    def failure_rate(self) -> float | None:
        """Failed share of the last hour's send attempts (None: none made)."""
        attempts = self.hour.sent + self.hour.failed
        return self.hour.failed / attempts if attempts else None


def duration(span: timedelta) -> str:
    """'45 minutes', '3 hours', '2 days': a span in words, rounded down."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    if minutes < 48 * 60:
        return f"{minutes // 60} hours"
    return f"{minutes // 1440} days"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def provider_health(conn: sqlite3.Connection, settings: Mapping[str, Any], providers: list[str],
                    now: datetime) -> list[ProviderHealth]:
    """Each provider's health now, with the banner's lines for it."""
    minutes = int(settings["console.alert_minutes"])
    threshold = now - timedelta(minutes=minutes)
    waiting = stats.waiting(conn, providers, now)
    recent = health_db.recent(conn, providers, now - FAILURE_WINDOW)
    found = []
    for provider in providers:
        item = ProviderHealth(provider, waiting[provider], recent[provider])
        item.stalled_for = _stalled(item, threshold, now)
        if item.stalled_for is not None:
            wait = _plural(item.waiting.due, "message")
            last = item.hour.last_sent_at
            item.alerts.append(
                f"{item.label}: nothing sent for {duration(item.stalled_for)} while {wait}"
                f" wait{'s' if item.waiting.due == 1 else ''}."
                if last else
                f"{item.label}: nothing sent yet, and {wait} have waited"
                f" {duration(item.stalled_for)}.")
        rate = item.failure_rate
        attempts = item.hour.sent + item.hour.failed
        if rate is not None and attempts >= MIN_ATTEMPTS and \
                rate > float(settings["console.alert_failure_rate"]):
            error = f" Last error: {item.hour.last_error[:100]}" if item.hour.last_error else ""
            item.alerts.append(f"{item.label}: {item.hour.failed:,} of {attempts:,} send"
                               f" attempts failed in the last hour ({rate:.0%}).{error}")
        found.append(item)
    return found


def _stalled(item: ProviderHealth, threshold: datetime, now: datetime) -> timedelta | None:
    """How long the provider has sent nothing while messages were due for it, if that is
    longer than the threshold allows; else None."""
    if not item.waiting.due or item.waiting.due_since is None:
        return None
    due_since = parse_iso(item.waiting.due_since)
    last = parse_iso(item.hour.last_sent_at) if item.hour.last_sent_at else None
    if due_since > threshold or (last is not None and last > threshold):
        return None
    return now - (last if last is not None and last > due_since else due_since)


def worker_alert(conn: sqlite3.Connection, settings: Mapping[str, Any], waiting: int,
                 now: datetime) -> str | None:
    """The banner's line about the worker: messages wait and none was seen lately."""
    if not waiting:
        return None
    seen = health_db.last_seen(conn)
    minutes = int(settings["console.alert_minutes"])
    wait = _plural(waiting, "message")
    if seen is None:
        return (f"No outbox worker has run on this database and {wait} wait"
                f"{'s' if waiting == 1 else ''}: start one with `smsgw worker`.")
    gone = now - parse_iso(seen)
    if gone <= timedelta(minutes=minutes):
        return None
    return (f"The outbox worker was last seen {duration(gone)} ago and {wait} wait"
            f"{'s' if waiting == 1 else ''}: is `smsgw worker` running?")


def alerts(conn: sqlite3.Connection, settings: Any, now: datetime) -> list[str]:
    """Every line of the banner, the worker's first."""
    providers = provider_health(conn, settings, providers_in_use(settings), now)
    worker = worker_alert(conn, settings, sum(p.waiting.due for p in providers), now)
    return ([worker] if worker else []) + [line for p in providers for line in p.alerts]


def alerts_for_banner() -> list[str]:
    """One line per provider that needs attention now (and one for a missing worker), for
    admins, who can act on them; computed once per request."""
    if not current_user.is_authenticated or not current_user.is_admin:
        return []
    if "console_alerts" not in g:
        found = services()
        try:
            g.console_alerts = alerts(connection(), found.config, found.clock())
        except sqlite3.Error:   # the banner must never take every page down with it
            log.exception("the health banner could not be read")
            g.console_alerts = []
    return list(g.console_alerts)
