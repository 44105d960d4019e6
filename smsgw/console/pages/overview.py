"""The overview: messages in and out, how they ended and what they cost, subscribers and
opt-outs, today and over the last 30 days (days in the deployment's time zone), and the
health of the worker, each provider and the gateway phone.

Each day's figures are counted over that day's id range of the tables (db.stats), so a day
costs what it holds, not the whole history. A past day changes little (a late delivery
report), so it is kept in this process for a while (DAY_TTL) and 30 days are counted once,
not on every load; today is counted again after TODAY_TTL seconds. Health is read fresh.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template

from db import health as health_db
from db import stats
from db.timeutil import parse_iso
from prices import countries
from smsgw.console import health
from smsgw.console.blueprint import bp, read
from smsgw.context import services

DAYS = 30
TODAY_TTL = 15.0          # seconds today's figures are reused
RECENT_TTL = 300.0        # yesterday and the day before (late delivery reports)
DAY_TTL = 3600.0          # older days
WORKER_GONE = timedelta(minutes=3)   # a running worker beats every minute


@dataclass
class Line:
    """Outbound messages of one provider (or all), by how they ended."""

    out: int = 0
    delivered: int = 0     # the provider reported delivery to the phone
    sent: int = 0          # accepted (or answered inline), no report (yet)
    failed: int = 0        # rejected, out of retries, or reported undelivered
    suppressed: int = 0    # not sent: the person had opted out
    waiting: int = 0       # queued or being sent
    segments: int = 0      # SMS segments that reached the provider (what is paid for)

    def add(self, group: stats.Group) -> None:
        """Count one group of db.stats.counts."""
        self.out += group.messages
        column = {"delivered": "delivered", "sent": "sent", "replied": "sent",
                  "failed": "failed", "undelivered": "failed", "suppressed": "suppressed",
                  "queued": "waiting", "sending": "waiting"}.get(group.status)
        if column:
            setattr(self, column, getattr(self, column) + group.messages)
        if group.status in stats.REACHED:
            self.segments += group.segments


@dataclass
class Summary:
    """Figures of one or more days."""

    inbound: int = 0
    total: Line = field(default_factory=Line)
    providers: dict[str, Line] = field(default_factory=dict)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    new_subscriptions: int = 0
    opted_out: int = 0

    def add(self, counts: stats.Counts) -> None:
        """Add one range's counts."""
        self.inbound += counts.inbound
        self.new_subscriptions += counts.new_subscriptions
        self.opted_out += counts.opted_out
        for group in counts.groups:
            self.total.add(group)
            self.providers.setdefault(group.provider, Line()).add(group)
            if group.status in stats.FAILED:
                self.reasons[(group.provider, group.reason or "no reason given")] += \
                    group.messages

    @property
    def paid_segments(self) -> int:
        """Segments sent through providers that charge (the local one does not)."""
        return sum(line.segments for name, line in self.providers.items() if name != "local")


# ------------------------------------------------------------------ days, counted and kept

_kept: dict[tuple[str, str, date], tuple[float, stats.Counts]] = {}
_lock = threading.Lock()


def zone_of(settings: Any) -> ZoneInfo:
    """The deployment's time zone (its first country's: app.timezone by default)."""
    return ZoneInfo(countries.first(settings).timezone)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """A local day's first moment (its midnight, whatever the clocks did that night)."""
    return datetime.combine(day, clock_time(0), tzinfo=zone)


def day_counts(conn: Any, path: str, zone: ZoneInfo, day: date, today: date) -> stats.Counts:
    """One local day's counts: from this process's store while fresh, else counted."""
    key = (path, zone.key, day)
    now = time.monotonic()
    with _lock:
        kept = _kept.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]
    ttl = TODAY_TTL if day == today else RECENT_TTL if (today - day).days <= 2 else DAY_TTL
    found = stats.counts(conn, day_start(day, zone),
                         None if day == today else day_start(day + timedelta(days=1), zone))
    with _lock:
        for old in [k for k, (until, _) in _kept.items() if until < now - DAY_TTL]:
            del _kept[old]
        _kept[key] = (now + ttl, found)
    return found


def forget_days() -> None:
    """Drop every kept day (tests that change past days' rows)."""
    with _lock:
        _kept.clear()


# ------------------------------------------------------------------ what the page shows


@dataclass
class Worker:
    name: str
    seen: str
    ago: str
    alive: bool
    stopped: bool
    started: str
    sent: int
    failed: int


def local_time(stamp: str | None, zone: ZoneInfo) -> str:
    """'23 Nov 2026, 12:05' in the deployment's time zone ('never' for none)."""
    if not stamp:
        return "never"
    moment = parse_iso(stamp).astimezone(zone)
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def ago(stamp: str | None, now: datetime) -> str:
    """'2 minutes ago' ('just now' within a minute; '' for none)."""
    if not stamp:
        return ""
    span = now - parse_iso(stamp)
    if span < timedelta(minutes=1):
        return "just now"
    return f"{health.duration(span)} ago"


def cost(settings: Any, segments: int) -> str:
    """The estimated cost of so many segments, with its currency ('' when no price is set)."""
    per = float(settings["bulletins.cost_per_segment"])
    return f"{settings['bulletins.cost_currency']} {per * segments:,.2f}" if per > 0 else ""


def _workers(conn: Any, zone: ZoneInfo, now: datetime) -> list[Worker]:
    return [Worker(beat.worker, local_time(beat.seen_at, zone), ago(beat.seen_at, now),
                   beat.stopped_at is None and now - parse_iso(beat.seen_at) <= WORKER_GONE,
                   beat.stopped_at is not None, local_time(beat.started_at, zone),
                   beat.sent, beat.failed)
            for beat in health_db.workers(conn)]


def _chart(days: list[tuple[date, stats.Counts]], providers: list[str],
           zone: ZoneInfo) -> dict[str, Any]:
    """The per-day series for overview.js (and the table under the chart)."""
    rows = []
    for day, counts in days:
        summary = Summary()
        summary.add(counts)
        lines = {name: summary.providers.get(name, Line()) for name in providers}
        rows.append({"day": day.isoformat(),
                     "label": f"{day:%a} {day.day} {day:%b}",
                     # placed at noon, so that a browser in another zone keeps the date
                     "at": int((day_start(day, zone) + timedelta(hours=12)).timestamp()),
                     "inbound": counts.inbound,
                     "providers": {name: [line.sent + line.delivered, line.failed]
                                   for name, line in lines.items()}})
    return {"providers": [{"name": name, "label": health.label(name)} for name in providers],
            "days": rows}


@bp.get("/overview")
def overview() -> str:
    """Today and the last 30 days, and the service's health now."""
    found = services()
    settings, now, conn = found.config, found.clock(), read()
    zone = zone_of(settings)
    today = now.astimezone(zone).date()
    days = [(day, day_counts(conn, str(settings["database.path"]), zone, day, today))
            for day in (today - timedelta(days=n) for n in range(DAYS - 1, -1, -1))]
    today_summary, month = Summary(), Summary()
    today_summary.add(days[-1][1])
    for _, counts in days:
        month.add(counts)
    in_use = health.providers_in_use(settings)
    shown = [name for name in in_use if name in month.providers] + \
        sorted(set(month.providers) - set(in_use))
    providers = [p for p in health.provider_health(conn, settings, in_use, now)
                 if p.provider != "local" or p.provider in month.providers or p.waiting.due
                 or p.waiting.later or settings["providers.default"] == "local"]
    today_minutes = health_db.recent(conn, in_use, day_start(today, zone))
    reasons = sorted(month.reasons.items(), key=lambda item: (-item[1], item[0]))[:10]
    return render_template(
        "console/overview.html", title="Overview", zone=zone.key, now=now,
        local_now=now.astimezone(zone),
        today=today_summary, month=month, first_day=days[0][0], shown=shown,
        providers=providers, today_minutes=today_minutes,
        reasons=[(provider, reason, today_summary.reasons.get((provider, reason), 0), count)
                 for (provider, reason), count in reasons],
        audience=stats.audience(conn), workers=_workers(conn, zone, now),
        readings=[_reading(r, zone, now) for r in health_db.readings(conn)],
        android="android" in in_use, chart=_chart(days, shown, zone),
        cost=lambda segments: cost(settings, segments), label=health.label,
        ago=lambda stamp: ago(stamp, now), local_time=lambda stamp: local_time(stamp, zone),
        cost_set=float(settings["bulletins.cost_per_segment"]) > 0,
        alert_minutes=int(settings["console.alert_minutes"]),
        alert_rate=float(settings["console.alert_failure_rate"]),
        min_attempts=health.MIN_ATTEMPTS)


NETWORKS = {2: "2G", 3: "3G", 4: "4G", 5: "5G"}


def _reading(reading: health_db.Reading, zone: ZoneInfo, now: datetime) -> dict[str, str]:
    """A phone's last health report in words."""
    charging = reading.charging
    if charging is None:
        power = "not reported"
    else:
        plug = "AC" if charging & 2 else "USB" if charging & 4 else ""
        power = ("charging" if charging & 1 else "not charging") + (f" ({plug})" if plug else "")
    transport = reading.transport or 0
    network = "Wi-Fi" if transport & 4 else "Ethernet" if transport & 8 else \
        f"mobile {NETWORKS.get(reading.cellular or 0, '')}".strip() if transport & 2 else \
        "none" if reading.transport == 0 else "not reported"
    return {
        "device": reading.device, "provider": health.label(reading.provider),
        "when": local_time(reading.reported_at, zone), "ago": ago(reading.reported_at, now),
        "source": "the phone's ping" if reading.source == "ping" else "smsgw android check",
        "status": {"pass": "all well", "warn": "warning", "fail": "failing"}.get(
            reading.status, "unknown"),
        "battery": "not reported" if reading.battery is None else f"{reading.battery} %",
        "low": reading.battery is not None and reading.battery < 25,
        "power": power, "network": network,
        "internet": "not reported" if reading.internet is None
        else "yes" if reading.internet else "no",
        "failed": "not reported" if reading.failed_last_hour is None
        else f"{reading.failed_last_hour:,}",
    }
