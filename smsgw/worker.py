"""The outbox worker: claims due messages, sends them at the provider's rate, retries or fails.

Crash safety. A message is claimed with a lease (`worker.lease_seconds`); the worker
records the provider's answer in the same row as soon as it has it. If the worker is
killed at any point, the message stays `sending` until its lease runs out and is then
claimed again, so nothing is lost. A clean stop (SIGTERM, Ctrl-C) hands unsent claims back
at once. The one duplicate that can happen: the provider accepted the message, and the
worker died before it committed `sent`, so the message goes out a second time on restart
(a window of one HTTP response plus one local commit). No other step can send twice.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import db
from db import contacts, health, outbox, transaction
from db.outbox import OutboxMessage, OutboxStatus
from db.timeutil import iso, utcnow
from handlers.messages import OPTOUT_CONFIRMATION
from prices import countries
from smsgw import quiet
from smsgw.errors import PermanentSendError, SendError, TransientSendError
from smsgw.logsafe import mask_phones, redact_secrets, sorted_secrets
from smsgw.phone import mask
from smsgw.providers.base import Sender
from smsgw.quiet import HELD_KINDS

log = logging.getLogger(__name__)


class TokenBucket:
    """At most `rate` units per second on average, with up to one second's burst."""

    def __init__(self, rate: float, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = float(rate)
        # A second's burst, but at least one unit: a phone allowed 240 SMS an hour sends
        # its first at once and the next 15 s later, instead of waiting 15 s for the first.
        self.capacity = max(self.rate, 1.0)
        self.tokens = self.capacity
        self.monotonic, self.sleep = monotonic, sleep
        self.last = monotonic()

    def take(self, units: int) -> float:
        """Wait until `units` may go; return how long it waited."""
        now = self.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= units
        if self.tokens >= 0:
            return 0.0
        wait = -self.tokens / self.rate
        self.sleep(wait)
        return wait


@dataclass
class Totals:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0       # bulletins handed back to wait out quiet hours

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return dict(self.__dict__)


def process_name() -> str:
    """This worker's name in its heartbeat: the host and the process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Worker:
    """Sends what the outbox holds through the configured senders.

    Heartbeat: so that the console can say "worker last seen 2 minutes ago" and which
    provider has sent nothing for how long, the worker keeps, in memory, what each provider
    did per minute (sends accepted, attempts failed) and writes it with its own heartbeat
    (db.health) in one small transaction: at most once every `beat_seconds`, or when it
    goes idle after sending, so that a recovery shows at once. That is one write a minute
    while busy, on top of the transaction per message the worker already makes, and none
    per message; an idle worker looking every `worker.poll_seconds` writes once a minute.
    """

    settings: Mapping[str, Any]
    senders: Mapping[str, Sender]
    clock: Callable[[], datetime] = utcnow
    rng: Callable[[], float] = random.random
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    totals: Totals = field(default_factory=Totals)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _quiet: dict[str, quiet.QuietHours | None] | None = None
    _secrets: tuple[str, ...] | None = None
    _gateway: Any = None
    name: str = field(default_factory=process_name)
    beat_seconds: float = 60.0
    _started: datetime | None = None
    _beat_at: float | None = None
    # (provider, minute) -> [sent, failed, last_sent_at, last_error], not yet written
    _minutes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def gateway(self) -> Any:
        """The gateway that answers what polled providers received (built on first use)."""
        if self._gateway is None:
            from handlers.registry import build_router
            from smsgw.gateway import Gateway

            self._gateway = Gateway(self.settings, build_router(), self.clock)
        return self._gateway

    def redact(self, error: str) -> str:
        """An error text fit to store: provider SDKs put request URLs (with account
        ids) and sometimes credentials in theirs, and the outbox, its backups and
        whoever reads them must not get a secret or a whole number (logsafe)."""
        if self._secrets is None:
            secrets = getattr(self.settings, "secrets", None)
            self._secrets = sorted_secrets(secrets() if callable(secrets) else ())
        # Numbers too, as in the logs: a provider's error may quote the recipient.
        return mask_phones(redact_secrets(error, self._secrets))

    def bucket(self, provider: str) -> TokenBucket:
        """The rate limiter of one provider (segments per second)."""
        if provider not in self._buckets:
            rate = self.senders[provider].max_per_second if provider in self.senders else 1
            self._buckets[provider] = TokenBucket(rate, monotonic=self.monotonic, sleep=self.sleep)
        return self._buckets[provider]

    def claim(self, conn: sqlite3.Connection) -> list[OutboxMessage]:
        """Lease the next batch, small enough to send well within the lease."""
        lease = int(self.settings["worker.lease_seconds"])
        slowest = min((s.max_per_second for s in self.senders.values()), default=1)
        limit = max(1, min(int(self.settings["worker.batch_size"]), int(slowest * lease) // 4))
        with transaction(conn):
            return outbox.claim_due(conn, now=self.clock(), lease_seconds=lease, limit=limit)

    def run_once(self, conn: sqlite3.Connection, stop: threading.Event | None = None) -> int:
        """Claim one batch and deliver it; return how many messages were handled."""
        handled = self._run_batch(conn, stop)
        self.heartbeat(conn, idle=handled == 0)
        return handled

    def _run_batch(self, conn: sqlite3.Connection, stop: threading.Event | None) -> int:
        batch = self.claim(conn)
        # Rate limiting can stretch a batch of long messages past its lease, when another
        # worker may claim and send them again: past half the lease, hand the rest back.
        deadline = self.clock() + timedelta(seconds=int(self.settings["worker.lease_seconds"]) / 2)
        handled = 0
        units = self.units(batch)
        for index, unit in enumerate(units):
            if (stop is not None and stop.is_set()) or self.clock() >= deadline:
                rest = [m.id for later in units[index:] for m in later]
                with transaction(conn):
                    outbox.release(conn, rest, now=self.clock())
                return handled
            if len(unit) == 1:
                self.deliver(conn, unit[0])
            else:
                self.deliver_many(conn, unit)
            handled += len(unit)
        return handled

    def units(self, batch: list[OutboxMessage]) -> list[list[OutboxMessage]]:
        """The batch as send units: one message each, except that identical texts to
        different numbers through a provider that takes many recipients per call
        (Africa's Talking) travel together, up to its per-call limit."""
        units: list[list[OutboxMessage]] = []
        # Per (provider, kind, text): the units still open, each with the numbers it holds
        # (one number at most once per call, so each answer maps to one message).
        open_units: dict[tuple[str, str, str], list[tuple[list[OutboxMessage], set[str]]]] = {}
        for message in batch:
            sender = self.senders.get(message.provider)
            limit = sender.max_recipients if sender is not None else 1
            if limit <= 1 or message.link_id or message.reply_from:   # each its own session
                units.append([message])
                continue
            candidates = open_units.setdefault((message.provider, message.kind, message.text), [])
            for unit, numbers in candidates:
                if len(unit) < limit and message.to_number not in numbers:
                    unit.append(message)
                    numbers.add(message.to_number)
                    break
            else:
                units.append([message])
                candidates.append((units[-1], {message.to_number}))
        return units

    def deliver(self, conn: sqlite3.Connection, message: OutboxMessage) -> None:
        """Send one claimed message and record what happened."""
        if self._held(conn, [message]) or self._suppressed(conn, [message]):
            return
        sender = self.senders.get(message.provider)
        if sender is None:
            error = f"provider {message.provider} is not configured"
            self._note(message.provider, error=error)
            self._retry(conn, message, error)
            return
        self.bucket(message.provider).take(message.segments)
        try:
            provider_id = sender.send(message)
        except SendError as exc:
            self._record(conn, message, exc)
        else:
            self._record(conn, message, provider_id)

    def deliver_many(self, conn: sqlite3.Connection, messages: list[OutboxMessage]) -> None:
        """Send one text to many numbers in one provider call; record each recipient."""
        if self._held(conn, messages):
            return
        opted_out = contacts.opted_out_among(conn, [m.to_number for m in messages
                                                    if m.kind != OPTOUT_CONFIRMATION])
        going = [m for m in messages if m.to_number not in opted_out]
        self._suppressed(conn, [m for m in messages if m.to_number in opted_out], known=True)
        if len(going) <= 1:
            for message in going:
                self.deliver(conn, message)
            return
        sender = self.senders[going[0].provider]
        self.bucket(going[0].provider).take(sum(m.segments for m in going))
        try:
            results = sender.send_many(going)
        except SendError as exc:
            results = {m.id: exc for m in going}
        for message in going:
            missing = TransientSendError(f"{message.provider}: no result for this recipient")
            self._record(conn, message, results.get(message.id, missing))

    def _record(self, conn: sqlite3.Connection, message: OutboxMessage,
                result: str | SendError) -> None:
        """Store what the provider said about one message."""
        self._note(message.provider, error=None if isinstance(result, str) else
                   self.redact(str(result)))
        if isinstance(result, SendError) and not isinstance(result, PermanentSendError):
            self._retry(conn, message, str(result))
        elif isinstance(result, PermanentSendError):
            self._final(conn, message, OutboxStatus.FAILED, str(result))
            self.totals.failed += 1
            if result.opted_out:
                with transaction(conn):
                    contacts.opt_out_number(conn, message.to_number, source="provider")
                log.info("%s: %s opted out, no further messages", message.provider,
                         mask(message.to_number))
        else:
            with transaction(conn):
                blocked = outbox.mark_sent(conn, message.id, provider_message_id=result,
                                           now=self.clock())
                if blocked:   # a report that overtook us said the recipient blocked us
                    contacts.opt_out_number(conn, message.to_number, source="provider")
            self.totals.sent += 1

    def _held(self, conn: sqlite3.Connection, messages: list[OutboxMessage]) -> bool:
        """Bulletins and broadcasts wait out the quiet hours of their recipient's country:
        hand those back until it ends. True when none of `messages` may go now (the rest
        are removed from the list)."""
        if messages[0].kind not in HELD_KINDS:
            return False
        if self._quiet is None:  # the settings are read once, not once per message
            self._quiet = quiet.by_country(self.settings)
        first = next(iter(self._quiet.values()))
        now = self.clock()
        waiting: dict[datetime, list[int]] = {}
        for message in list(messages):
            window = self._quiet.get(countries.of_number(self.settings, message.to_number) or "",
                                     first)
            until = window.until(now) if window is not None else None
            if until is not None:
                waiting.setdefault(until, []).append(message.id)
                messages.remove(message)
        if waiting:
            with transaction(conn):
                for until, ids in waiting.items():
                    outbox.defer(conn, ids, until=until, now=now)
            self.totals.deferred += sum(len(ids) for ids in waiting.values())
        return not messages

    def _suppressed(self, conn: sqlite3.Connection, messages: list[OutboxMessage], *,
                    known: bool = False) -> bool:
        """Messages to opted-out contacts are not sent (except the opt-out confirmation)."""
        if not messages:
            return False
        if not known:
            message = messages[0]
            if message.kind == OPTOUT_CONFIRMATION or not self._opted_out(conn, message.to_number):
                return False
        for message in messages:
            self._final(conn, message, OutboxStatus.SUPPRESSED, "recipient opted out")
            self.totals.suppressed += 1
        return True

    def _opted_out(self, conn: sqlite3.Connection, number: str) -> bool:
        contact = contacts.find(conn, number)
        return contact is not None and contact.opted_out

    def _final(self, conn: sqlite3.Connection, message: OutboxMessage, status: OutboxStatus,
               error: str) -> None:
        error = self.redact(error)
        with transaction(conn):
            outbox.mark_final(conn, message.id, status, error=error, now=self.clock())
        log.info("message %d to %s %s: %s", message.id, mask(message.to_number), status, error)

    def _retry(self, conn: sqlite3.Connection, message: OutboxMessage, error: str) -> None:
        error = self.redact(error)
        if message.attempts >= int(self.settings["worker.max_attempts"]):
            self._final(conn, message, OutboxStatus.FAILED, f"gave up after "
                        f"{message.attempts} attempts: {error}")
            self.totals.failed += 1
            return
        delay = self.backoff(message.attempts)
        with transaction(conn):
            outbox.mark_retry(conn, message.id, error=error,
                              at=self.clock() + timedelta(seconds=delay), now=self.clock())
        self.totals.retried += 1
        log.warning("message %d attempt %d failed (%s); retry in %.0f s", message.id,
                    message.attempts, error, delay)

    def _note(self, provider: str, *, error: str | None) -> None:
        """Count one send (error None) or failed attempt of a provider in this minute."""
        now = self.clock()
        counts = self._minutes.setdefault((provider, health.minute_of(now)), [0, 0, None, None])
        if error is None:
            counts[0] += 1
            counts[2] = max(counts[2] or "", iso(now))
        else:
            counts[1] += 1
            counts[3] = error[:300]

    def heartbeat(self, conn: sqlite3.Connection, *, idle: bool = False,
                  stopped: bool = False) -> bool:
        """Record that this worker is alive and what each provider did since its last beat
        (see the class): at most once every `beat_seconds`, or when it goes idle with sends
        not yet recorded, or when it stops. Returns whether it wrote."""
        tick = self.monotonic()
        due = self._beat_at is None or tick - self._beat_at >= self.beat_seconds
        if not (due or stopped or (idle and self._minutes)):
            return False
        now = self.clock()
        self._started = self._started or now
        minutes = [health.Minute(provider, minute, *counts)
                   for (provider, minute), counts in self._minutes.items()]
        with transaction(conn):
            health.beat(conn, worker=self.name, started=self._started, now=now,
                        sent=self.totals.sent, failed=self.totals.failed + self.totals.retried,
                        minutes=minutes, stopped=stopped)
        self._minutes.clear()
        self._beat_at = tick
        return True

    def backoff(self, attempts: int) -> float:
        """Exponential delay with jitter: half fixed, half random, capped."""
        base = float(self.settings["worker.backoff_seconds"])
        cap = float(self.settings["worker.backoff_max_seconds"])
        delay = min(cap, base * 2 ** max(0, attempts - 1))
        return delay / 2 + self.rng() * delay / 2

    def run_forever(self, conn: sqlite3.Connection, stop: threading.Event) -> None:
        """Deliver until `stop` is set, resting between empty looks."""
        poll = float(self.settings["worker.poll_seconds"])
        while not stop.is_set():
            collected = self.collect(conn)
            if self.run_once(conn, stop) == 0 and collected == 0:
                stop.wait(poll)

    def collect(self, conn: sqlite3.Connection) -> int:
        """Let every polled provider (a modem's spool folder) hand over what it received
        and what it reports; a failing one is logged and tried again next round."""
        providers = [p for p in getattr(self.settings, "providers", ())
                     if p.poll is not None and self.settings.provider_enabled(p.name)]
        handled = 0
        for provider in providers:
            try:
                handled += provider.poll(self.settings, _Inbox(self, conn, provider.name))
            except Exception:  # noqa: BLE001 - one provider's trouble must not stop sending
                log.exception("%s: collecting received messages failed", provider.name)
        return handled


class _Inbox:
    """What a polled provider hands over, answered as a webhook would be (db.write)."""

    def __init__(self, worker: Worker, conn: sqlite3.Connection, provider: str) -> None:
        self.worker, self.conn, self.provider = worker, conn, provider

    def receive(self, message: Any) -> None:
        from smsgw.gateway import Delivery

        self.worker.gateway().receive(self.conn, message, delivery=Delivery.QUEUE,
                                      reply_provider=self.provider)

    def report(self, provider_message_id: str, status: OutboxStatus | None,
               provider_status: str, error_code: str | None = None) -> None:
        from smsgw.providers.base import record_report

        record_report(self.conn, self.worker.clock(), str(self.worker.settings[
            "app.default_region"]), self.provider, provider_message_id, status,
            provider_status, error_code, False, None)


def _start_providers(config: Any) -> None:
    """What each enabled provider does once when the worker starts (a phone is asked for
    what it received while nobody listened); a failure is logged, never fatal."""
    for provider in getattr(config, "providers", ()):
        if provider.on_worker_start is None or not config.provider_enabled(provider.name):
            continue
        try:
            provider.on_worker_start(config)
        except Exception:  # noqa: BLE001 - the worker must start whatever the provider says
            log.exception("%s: start-up step failed; carrying on", provider.name)


def build_senders(config: Mapping[str, Any], **overrides: Sender) -> dict[str, Sender]:
    """The senders for every enabled provider (the local one always)."""
    from smsgw.providers import PROVIDERS

    providers = getattr(config, "providers", PROVIDERS)
    enabled = getattr(config, "provider_enabled", lambda name: False)
    senders: dict[str, Sender] = {provider.name: provider.sender(config)
                                  for provider in providers
                                  if provider.name == "local" or enabled(provider.name)}
    senders.update(overrides)
    return senders


def schedule_prune(scheduler: Any, settings: Mapping[str, Any]) -> None:
    """Add the retention job (`retention.prune_schedule`) to the worker's scheduler, in the
    style of its bulletin jobs; none when the schedule is empty or texts are kept forever."""
    from smsgw.bulletins import trigger_for

    trigger = trigger_for(settings, "retention.prune_schedule")
    if trigger is None or int(settings["retention.message_days"]) <= 0:
        return
    scheduler.add_job(scheduled_prune, trigger, args=[settings], id="prune", coalesce=True,
                      max_instances=1, misfire_grace_time=3600, replace_existing=True)


def scheduled_prune(settings: Mapping[str, Any], *, now: datetime | None = None) -> Any:
    """The scheduler's prune job: empty texts older than `retention.message_days`, on its
    own connection, a batch per transaction (db.privacy.prune)."""
    from db import privacy

    days = int(settings["retention.message_days"])
    before = (now or utcnow()) - timedelta(days=days)
    conn = db.connect(settings["database.path"])
    try:
        pruned = privacy.prune(conn, before=before)
    finally:
        conn.close()
    log.info("pruned texts older than %d days: %s", days, pruned.as_dict())
    return pruned


def serve(config: Any) -> Totals:
    """Run the worker and the bulletin schedule until SIGTERM or Ctrl-C; hand back unsent
    claims on the way out."""
    from smsgw.bulletins import build_scheduler

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    conn = db.connect(config["database.path"])
    db.migrate(conn)
    worker = Worker(config, build_senders(config))
    _start_providers(config)
    scheduler = build_scheduler(config)
    schedule_prune(scheduler, config)
    scheduler.start()
    log.info("worker started: providers %s; scheduled jobs: %s", ", ".join(sorted(worker.senders)),
             ", ".join(job.id for job in scheduler.get_jobs()) or "none")
    try:
        worker.run_forever(conn, stop)
    finally:
        # A bulletin run stopped here is safe: every batch it queued is in the ledger, and
        # the next run of the same bulletin (or the catch-up at start-up) finishes it.
        scheduler.shutdown(wait=False)
        try:
            worker.heartbeat(conn, stopped=True)   # the console shows a clean stop as such
        except sqlite3.Error:
            log.exception("could not record the worker's stop")
        conn.close()
        log.info("worker stopped: %s", worker.totals.as_dict())
    return worker.totals
