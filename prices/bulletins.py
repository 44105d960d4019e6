"""Bulletins: what each subscriber's bulletin holds, and runs that queue them exactly once.

The wording is not here (it belongs to handlers, per language): a run gets a `compose`
function that turns one subscriber into message texts. This module decides what goes in
(the latest price of each followed commodity, the subscriber's own market first), streams
subscribers in batches, and records each batch in the run ledger (db.bulletins) in the
same transaction as its outbox rows.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from db import bulletins as ledger
from db import subscriptions, transaction
from db.subscriptions import Subscriber, Subscription
from prices import countries, quotes
from prices import standards as standards_store
from prices.catalog import Match, MatchKind, catalog_for

log = logging.getLogger(__name__)

PRICES = "prices"
STANDARD = "standard"
LOG_EVERY = 10_000      # subscribers between progress lines in the log


@dataclass(frozen=True, slots=True)
class Line:
    """One followed commodity at one market, with its latest quote."""

    commodity: Match
    market_id: int | None      # None: a best-market line (no market followed, none registered)
    quote: quotes.Quote
    home: bool                 # the subscriber's own market


class QuoteBook:
    """Price look-ups for one run, each made once however many subscribers share it."""

    def __init__(self, conn: sqlite3.Connection, settings: Mapping[str, Any], today: date) -> None:
        self.conn, self.settings = conn, settings
        self.catalog = catalog_for(conn)
        self.since = today - timedelta(days=int(settings["prices.best_days"]))
        self._commodities: dict[str, Match | None] = {}
        self._at: dict[tuple[str, int], quotes.Quote | None] = {}
        self._best: dict[tuple[str, str], quotes.Quote | None] = {}

    def commodity(self, phrase: str) -> Match | None:
        """The commodity group a subscription names (None if it no longer matches)."""
        if phrase not in self._commodities:
            match = self.catalog.commodities.match(phrase)
            self._commodities[phrase] = match if match.kind is MatchKind.EXACT else None
        return self._commodities[phrase]

    def at_market(self, phrase: str, market_id: int) -> quotes.Quote | None:
        """The newest quote of a commodity at one market."""
        key = (phrase, market_id)
        if key not in self._at:
            match = self.commodity(phrase)
            found = quotes.latest_at_market(self.conn, [i.id for i in match.items], market_id) \
                if match else []
            self._at[key] = found[0] if found else None
        return self._at[key]

    def country(self, subscriber: Subscriber) -> str:
        """A subscriber's country: their market's, else their number's, else the first."""
        home = subscriber.home_market_id
        if home in self.catalog.market_country:
            return self.catalog.market_country[home]
        return countries.of_number(self.settings, subscriber.phone) or \
            countries.first(self.settings).code

    def best(self, phrase: str, country: str) -> quotes.Quote | None:
        """Where the commodity sold highest recently, in public markets of one country."""
        key = (phrase, country)
        if key not in self._best:
            match = self.commodity(phrase)
            found = quotes.best_markets(self.conn, [i.id for i in match.items],
                                        since=self.since, country=country, limit=1) \
                if match else []
            self._best[key] = found[0] if found else None
        return self._best[key]


def lines_for(book: QuoteBook, subscriber: Subscriber) -> list[Line]:
    """The bulletin's lines: the home market first, then other markets, then best markets."""
    lines: list[Line] = []
    seen: set[tuple[str, int | None]] = set()
    country = book.country(subscriber)
    for sub in subscriber.subscriptions:
        line = _line(book, sub, subscriber.home_market_id, country)
        if line is None or (sub.commodity, line.market_id) in seen:
            continue
        seen.add((sub.commodity, line.market_id))
        lines.append(line)
    order = {True: 0, False: 1}
    return sorted(lines, key=lambda line: (order[line.home], line.market_id is None))


def _line(book: QuoteBook, sub: Subscription, home: int | None, country: str) -> Line | None:
    match = book.commodity(sub.commodity)
    if match is None:
        return None
    market_id = sub.market_id or home
    if market_id is not None:
        quote = book.at_market(sub.commodity, market_id)
        if quote is not None:
            return Line(match, market_id, quote, market_id == home)
        if sub.market_id is not None:
            return None    # a market chosen by name with no price: nothing to say this time
    quote = book.best(sub.commodity, country)
    return Line(match, None, quote, False) if quote else None


@dataclass(frozen=True, slots=True)
class Text:
    """One message a subscriber is to get, already counted."""

    text: str
    encoding: str
    segments: int


Compose = Callable[[Subscriber], Sequence[Text]]
Progress = Callable[[int], None]


@dataclass
class RunReport:
    """What one run did: counts for this call, and whether the run was already complete."""

    run_key: str
    dry_run: bool = False
    already_done: bool = False
    subscribers: int = 0          # looked at in this call
    queued: int = 0               # subscribers a message was queued for
    messages: int = 0
    segments: int = 0
    opted_out: int = 0
    empty: int = 0
    skipped: int = 0              # already dealt with by this run earlier (or concurrently)
    run_id: int | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """A one-line account for logs and the CLI."""
        if self.already_done:
            return f"{self.run_key}: already sent, nothing to do"
        head = f"{self.run_key}{' (dry run)' if self.dry_run else ''}"
        return (f"{head}: {self.subscribers} subscriber(s), {self.queued} queued,"
                f" {self.messages} message(s), {self.segments} segment(s),"
                f" {self.opted_out} opted out, {self.empty} with nothing to send,"
                f" {self.skipped} already done")


def run(conn: sqlite3.Connection, *, run_key: str, kind: str, trigger: str,
        batches: Iterable[list[Subscriber]], compose: Compose, provider: str,
        message_kind: str, not_before: datetime, now: datetime, dry_run: bool = False,
        progress: Progress | None = None) -> RunReport:
    """Queue one bulletin for every subscriber in `batches`, exactly once per run key.

    Each batch is composed outside any write transaction (reading only), then checked
    against the ledger and recorded inside one: contacts a concurrent or earlier run of
    the same key has dealt with are dropped at that point, so nobody is queued twice.
    """
    report = RunReport(run_key, dry_run=dry_run)
    existing = ledger.get(conn, run_key)
    if existing is not None and existing.finished_at is not None:
        report.already_done, report.run_id = True, existing.id
        return report
    run_id = None
    if not dry_run:
        with transaction(conn):
            run_id = ledger.start(conn, run_key, kind=kind, trigger=trigger, now=now).id
        report.run_id = run_id
    elif existing is not None:
        run_id = existing.id
    for batch in batches:
        report.subscribers += len(batch)
        _one_batch(conn, report, run_id, batch, compose, provider=provider,
                   message_kind=message_kind, not_before=not_before, now=now, dry_run=dry_run)
        if progress is not None:
            progress(len(batch))
        if report.subscribers // LOG_EVERY > (report.subscribers - len(batch)) // LOG_EVERY:
            log.info("bulletin %s: %d subscribers so far, %d queued, %d segments", run_key,
                     report.subscribers, report.queued, report.segments)
    if run_id is not None and not dry_run:
        with transaction(conn):
            ledger.finish(conn, run_id, now=now)
    log.info("bulletin %s", report.summary())
    return report


def _one_batch(conn: sqlite3.Connection, report: RunReport, run_id: int | None,
               batch: list[Subscriber], compose: Compose, *, provider: str, message_kind: str,
               not_before: datetime, now: datetime, dry_run: bool = False) -> None:
    done = ledger.already_queued(conn, run_id, [s.contact_id for s in batch]) if run_id else set()
    pending = [s for s in batch if s.contact_id not in done]
    opted_out = [s.contact_id for s in pending if s.opted_out]
    messages: list[ledger.Queued] = []
    empty: list[int] = []
    for subscriber in pending:
        if subscriber.opted_out:
            continue
        texts = compose(subscriber)
        if not texts:
            empty.append(subscriber.contact_id)
        messages.extend(ledger.Queued(subscriber.contact_id, subscriber.phone, t.text,
                                      t.encoding, t.segments) for t in texts)
    # A dry run counts and writes nothing, also when it looks at a run stopped half way
    # (run_id is then that run's, to leave out whom it already dealt with).
    if dry_run or run_id is None:
        report.skipped += len(done)
        report.opted_out += len(opted_out)
        report.empty += len(empty)
        report.queued += len({m.contact_id for m in messages})
        report.messages += len(messages)
        report.segments += sum(m.segments for m in messages)
        return
    with transaction(conn):
        # Another run of the same key may have recorded some of these since the check above.
        late = ledger.already_queued(conn, run_id, [s.contact_id for s in pending])
        if late:
            messages = [m for m in messages if m.contact_id not in late]
            opted_out = [c for c in opted_out if c not in late]
            empty = [c for c in empty if c not in late]
        queued, count, segments = ledger.record(
            conn, run_id, messages, provider=provider, kind=message_kind, not_before=not_before,
            now=now, opted_out=opted_out, empty=empty)
    report.skipped += len(done) + len(late)
    report.opted_out += len(opted_out)
    report.empty += len(empty)
    report.queued += queued
    report.messages += count
    report.segments += segments


def price_run_key(day: date, country: str | None = None) -> str:
    """One price bulletin per day (per country when the deployment serves several): a
    second run on the same day is the same run."""
    return f"{PRICES}:{day.isoformat()}" if country is None else \
        f"{PRICES}:{country}:{day.isoformat()}"


def standard_run_key(standard: standards_store.Standard) -> str:
    """One notice per new version of a product's standard."""
    return f"{STANDARD}:{standard.product}:{standard.version}"


def changed_standards(conn: sqlite3.Connection, today: date) -> list[standards_store.Standard]:
    """Standards in force today that replaced an earlier version (a first version is news
    to nobody who subscribed before it existed, so it is not announced)."""
    found = []
    for standard in standards_store.products(conn, today):
        if standards_store.version_count(conn, standard.product, today) > 1:
            found.append(standard)
    return found


def followers_of(conn: sqlite3.Connection, product: str, today: date) -> list[str]:
    """The subscription phrases (MAIZE, MAIZE WHITE...) that mean this standard's product."""
    phrases = []
    for phrase in subscriptions.commodities(conn):
        match = standards_store.find_product(conn, phrase, today=today)
        if match.kind is standards_store.MatchKind.FOUND and match.product == product:
            phrases.append(phrase)
    return phrases
