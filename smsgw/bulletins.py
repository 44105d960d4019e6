"""Bulletin runs as the CLI and the scheduler start them, and the schedule itself.

APScheduler 3 runs in the worker process only (`smsgw worker`), never in the web server:
gunicorn forks several workers, and each would fire every job. Its jobs live in memory,
so runs missed while the machine was off are found from the run ledger instead: at
start-up the most recent scheduled time within `bulletins.catch_up_days` is run once if
the ledger has no completed run for it. However many runs were missed, one is sent.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

import db
from db import bulletins as ledger
from db import subscriptions
from db.timeutil import utcnow
from handlers.bulletins import Renderer
from prices import bulletins
from prices import countries
from prices.bulletins import QuoteBook, RunReport
from smsgw.quiet import not_before

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def local_today(settings: Mapping[str, Any], now: datetime, country: str | None = None) -> date:
    """The date in a served country (the first one's by default: app.timezone)."""
    return now.astimezone(ZoneInfo(countries.get(settings, country).timezone)).date()


def bulletin_countries(settings: Mapping[str, Any]) -> list[str | None]:
    """The countries that get their own price bulletin run: None (everyone, one run) when
    the deployment serves one country, else each served country."""
    served = list(countries.served(settings))
    return [None] if len(served) == 1 else list(served)


def price_bulletin(conn: sqlite3.Connection, settings: Mapping[str, Any], *,
                   day: date | None = None, country: str | None = None, trigger: str = "cli",
                   dry_run: bool = False, progress: Progress | None = None,
                   now: datetime | None = None) -> RunReport:
    """Queue the price bulletin of `day` (default today) for every subscriber of one
    country (every subscriber for None), once: each country's run has its own key and
    its own day, in its own time zone, and waits for its own quiet hours."""
    now = now or utcnow()
    day = day or local_today(settings, now, country)
    book = QuoteBook(conn, settings, day)
    renderer = Renderer(conn, settings, now)
    batches = subscriptions.subscribers(conn, batch_size=int(settings["bulletins.batch_size"]))
    if country is not None:
        batches = ([s for s in batch if book.country(s) == country] for batch in batches)
    key = bulletins.price_run_key(day) if country is None else \
        bulletins.price_run_key(day, country)
    return bulletins.run(
        conn, run_key=key, kind=bulletins.PRICES, trigger=trigger,
        batches=batches, compose=lambda s: renderer.prices(s, bulletins.lines_for(book, s)),
        provider=str(settings["providers.default"]), message_kind="bulletin",
        not_before=not_before(settings, now, country), now=now, dry_run=dry_run,
        progress=progress)


def standard_notices(conn: sqlite3.Connection, settings: Mapping[str, Any], *,
                     trigger: str = "cli", dry_run: bool = False,
                     progress: Progress | None = None,
                     now: datetime | None = None) -> list[RunReport]:
    """Tell the followers of each commodity whose standard changed, once per new version."""
    now = now or utcnow()
    today = local_today(settings, now)
    renderer = Renderer(conn, settings, now)
    reports = []
    for standard in bulletins.changed_standards(conn, today):
        key = bulletins.standard_run_key(standard)
        done = ledger.get(conn, key)
        if done is not None and done.finished_at is not None:
            continue
        phrases = bulletins.followers_of(conn, standard.product, today)
        batches = subscriptions.subscribers(
            conn, batch_size=int(settings["bulletins.batch_size"]), commodities=phrases)
        reports.append(bulletins.run(
            conn, run_key=key, kind=bulletins.STANDARD, trigger=trigger, batches=batches,
            compose=lambda s, std=standard: renderer.standard_notice(s, std),
            provider=str(settings["providers.default"]), message_kind="standard_notice",
            not_before=not_before(settings, now), now=now, dry_run=dry_run,
            progress=progress))
    return reports


class Meter(Protocol):
    """Makes a progress meter for so many subscribers (a terminal's progress bar): a
    context whose value is called with each batch's size, or None."""

    def __call__(self, total: int, label: str) -> AbstractContextManager[Progress | None]: ...


def send(conn: sqlite3.Connection, settings: Mapping[str, Any], *, day: date | None = None,
         kind: str = "all", dry_run: bool = False, meter: Meter | None = None,
         now: datetime | None = None) -> list[RunReport]:
    """What `smsgw bulletins send` does, and the console's dry run: the price bulletin of
    `day` (each country's own run) when kind is all or prices, and the notices of changed
    standards when it is all or standards; with dry_run, only counted."""
    reports = []
    if kind in ("all", "prices"):
        for country in bulletin_countries(settings):   # one run per country
            label = "price bulletin" + (f" {country}" if country else "")
            progress = meter(subscriptions.count_subscribers(conn), label) if meter \
                else nullcontext()
            with progress as step:
                reports.append(price_bulletin(conn, settings, day=day, country=country,
                                              dry_run=dry_run, progress=step, now=now))
    if kind in ("all", "standards"):
        reports.extend(standard_notices(conn, settings, dry_run=dry_run, now=now))
    return reports


def cost_text(settings: Mapping[str, Any], segments: int) -> str:
    """'KES 1,234.00' for so many segments, or a hint that no price is configured."""
    per = float(settings["bulletins.cost_per_segment"])
    if per <= 0:
        return "unknown (set bulletins.cost_per_segment)"
    return f"{settings['bulletins.cost_currency']} {per * segments:,.2f}"


# ---------------------------------------------------------------------- the schedule


def trigger_for(settings: Mapping[str, Any], key: str,
                country: str | None = None) -> CronTrigger | None:
    """The cron trigger of a schedule setting (in a country's time zone: the first one's
    by default), or None when it is empty."""
    expression = str(settings[key]).strip()
    if not expression:
        return None
    zone = ZoneInfo(countries.get(settings, country).timezone)
    return CronTrigger.from_crontab(expression, timezone=zone)


def next_price_bulletin(settings: Mapping[str, Any]) -> Callable[[datetime], datetime | None]:
    """When the next scheduled price bulletin goes out, as seen from a given time."""
    trigger = trigger_for(settings, "bulletins.prices_schedule")

    def after(now: datetime) -> datetime | None:
        return None if trigger is None else trigger.get_next_fire_time(None, now)

    return after


def previous_fire(trigger: CronTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest time the trigger fired at or before `now`, within `lookback`.

    APScheduler 3 only computes forward, so this walks forward from now - lookback.
    """
    found = None
    moment = trigger.get_next_fire_time(None, now - lookback)
    while moment is not None and moment <= now:
        found = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return found


def catch_up(settings: Mapping[str, Any], *, now: datetime | None = None) -> list[RunReport]:
    """Run, once, the latest scheduled price bulletin the ledger shows as not sent, and
    announce any standard not yet announced."""
    now = now or utcnow()
    reports: list[RunReport] = []
    conn = db.connect(settings["database.path"])
    try:
        days = int(settings["bulletins.catch_up_days"])
        for country in bulletin_countries(settings):
            trigger = trigger_for(settings, "bulletins.prices_schedule", country)
            missed = previous_fire(trigger, now, timedelta(days=days)) \
                if trigger and days else None
            if missed is None:
                continue
            day = local_today(settings, missed, country)
            key = bulletins.price_run_key(day) if country is None else \
                bulletins.price_run_key(day, country)
            done = ledger.get(conn, key)
            if done is None or done.finished_at is None:
                log.info("catching up the price bulletin %s (scheduled %s)", key, missed)
                reports.append(price_bulletin(conn, settings, day=day, country=country,
                                              trigger="catch-up", now=now))
        if trigger_for(settings, "bulletins.standards_schedule") is not None:
            reports.extend(standard_notices(conn, settings, trigger="catch-up", now=now))
    finally:
        conn.close()
    return reports


def scheduled_prices(settings: Mapping[str, Any], country: str | None = None) -> RunReport:
    """The scheduler's price job: today's bulletin (of one country), on its own connection."""
    conn = db.connect(settings["database.path"])
    try:
        return price_bulletin(conn, settings, country=country, trigger="schedule")
    finally:
        conn.close()


def scheduled_standards(settings: Mapping[str, Any]) -> list[RunReport]:
    """The scheduler's standards job: announce new versions, on its own connection."""
    conn = db.connect(settings["database.path"])
    try:
        return standard_notices(conn, settings, trigger="schedule")
    finally:
        conn.close()


def order_tick(settings: Mapping[str, Any], *, now: datetime | None = None) -> tuple[int, int]:
    """Batched order updates to buyers and leaders, and expiry of orders past their date:
    (orders updated, orders expired). Then the same for pools (`pool_tick`)."""
    from handlers import orders

    now = now or utcnow()
    conn = db.connect(settings["database.path"])
    try:
        with db.transaction(conn):
            expired = orders.expire_due(conn, settings, now)
            updated = orders.send_updates(conn, settings, now)
    finally:
        conn.close()
    if updated or expired:
        log.info("orders: %d updated, %d expired", updated, expired)
    pool_tick(settings, now=now)   # pools ride the same job (and the same cron line)
    return updated, expired


def pool_tick(settings: Mapping[str, Any], *, now: datetime | None = None) -> tuple[int, int]:
    """Group purchases past their BY date closed with every list and line, and leaders
    told where their pools stand: (pools closed, leaders updated)."""
    from handlers import pools

    now = now or utcnow()
    conn = db.connect(settings["database.path"])
    try:
        with db.transaction(conn):
            closed, updated = pools.tick(conn, settings, now)
    finally:
        conn.close()
    if closed or updated:
        log.info("pools: %d closed, %d updated", closed, updated)
    return closed, updated


def listing_tick(settings: Mapping[str, Any], *,
                 now: datetime | None = None) -> tuple[int, int, int]:
    """Each following buyer's digest of new sales, expiry of sales past their last day,
    and group sales' pledge updates to their leaders: (digests, expired, updates)."""
    from handlers import sale_ends, wants

    now = now or utcnow()
    conn = db.connect(settings["database.path"])
    try:
        with db.transaction(conn):
            expired = sale_ends.expire_due(conn, settings, now)
            digests = wants.send_digests(conn, settings, now)
            updates = sale_ends.send_pledge_updates(conn, settings, now)
    finally:
        conn.close()
    if digests or expired or updates:
        log.info("sales: %d digests, %d expired, %d pledge updates", digests, expired, updates)
    return digests, expired, updates


FORGET_EVERY_MINUTES = 5


def forget_tick(settings: Mapping[str, Any], *, now: datetime | None = None) -> int:
    """Erase the people who asked by SMS to be forgotten, once the last message to them has
    gone (db.privacy.forget_requested); return how many."""
    from db import privacy

    conn = db.connect(settings["database.path"])
    try:
        forgotten = privacy.forget_requested(conn, now=now or utcnow())
    finally:
        conn.close()
    if forgotten:
        log.info("forgot %d contact(s) at their own request", forgotten)
    return forgotten


def scheduled_backup(settings: Mapping[str, Any]) -> str:
    """The worker's backup job: a dated copy in backup.folder, the oldest beyond
    backup.keep removed (db.backup); returns the file written."""
    from db import backup

    snapshot = backup.backup(settings["database.path"], Path(settings["backup.folder"]))
    removed = backup.rotate(settings["backup.folder"], int(settings["backup.keep"]))
    log.info("backup %s written (%d messages in), %d old one(s) removed", snapshot.path.name,
             snapshot.inbound, len(removed))
    return str(snapshot.path)


def build_scheduler(settings: Mapping[str, Any], *,
                    scheduler: BackgroundScheduler | None = None) -> BackgroundScheduler:
    """A scheduler holding the configured jobs and a one-off catch-up (not started)."""
    zone = ZoneInfo(str(settings["app.timezone"]))
    scheduler = scheduler or BackgroundScheduler(timezone=zone)
    # coalesce: runs piled up while the process was busy fire once; max_instances: a slow
    # run is never overlapped by the next one (the ledger would keep that safe anyway).
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600,
               "replace_existing": True}
    for country in bulletin_countries(settings):   # each at its hour in its own time zone
        prices = trigger_for(settings, "bulletins.prices_schedule", country)
        if prices is not None:
            scheduler.add_job(scheduled_prices, prices, args=[settings, country],
                              id="prices" if country is None else f"prices-{country}",
                              **options)
    standards = trigger_for(settings, "bulletins.standards_schedule")
    if standards is not None:
        scheduler.add_job(scheduled_standards, standards, args=[settings], id="standards",
                          **options)
    scheduler.add_job(order_tick, IntervalTrigger(minutes=int(settings["orders.update_minutes"]),
                                                  timezone=zone),
                      args=[settings], id="orders", **options)
    scheduler.add_job(listing_tick, IntervalTrigger(
        minutes=int(settings["listings.digest_minutes"]), timezone=zone),
        args=[settings], id="listings", **options)
    scheduler.add_job(forget_tick, IntervalTrigger(minutes=FORGET_EVERY_MINUTES, timezone=zone),
                      args=[settings], id="forget", **options)
    backups = trigger_for(settings, "backup.schedule") if settings["backup.folder"] else None
    if backups is not None:
        scheduler.add_job(scheduled_backup, backups, args=[settings], id="backup", **options)
    scheduler.add_job(catch_up, args=[settings], id="catch-up", **options)
    return scheduler
