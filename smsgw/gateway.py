"""Receiving one inbound message: de-duplicate, store, route, and record the replies.

Everything happens in one write (db.write), so a message and its effects (an opt-out, the
replies, what it sends to others) are stored together or not at all, and a provider's
retry of the same message id finds the first delivery's replies instead of running the
command again. The command itself runs in a savepoint of its own inside that write: if it
fails, or costs more than its sender may spend without a YES (handlers.costs), its writes
are undone and the message is still kept.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from db import contacts, inbound, outbox, write
from db.outbox import OutboxMessage, OutboxStatus
from db.timeutil import utcnow
from handlers import costs
from handlers.messages import Context, InboundMessage, Reply
from handlers.router import Router
from handlers.segments import count as count_segments
from prices import countries
from smsgw.bulletins import next_price_bulletin
from smsgw.phone import mask

log = logging.getLogger(__name__)


class Delivery(StrEnum):
    INLINE = "inline"   # the reply travels in the webhook's HTTP response (TwiML, local JSON)
    QUEUE = "queue"     # the reply is queued for the worker (Africa's Talking)


class Outcome(StrEnum):
    HANDLED = "handled"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"   # a handler raised: the message is kept, the sender told to retry


@dataclass(frozen=True, slots=True)
class Received:
    """What became of one inbound message: its replies, and whether it was a repeat."""

    replies: list[OutboxMessage]
    duplicate: bool


class Gateway:
    """Turns inbound messages into stored effects and recorded replies."""

    def __init__(self, settings: Mapping[str, Any], router: Router,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.router = router
        self.clock = clock
        # Read once, not on every message: the settings do not change while we run.
        self._limit = int(settings["limits.sender_messages"])
        self._window_seconds = int(settings["limits.sender_window_seconds"])
        self._window = timedelta(seconds=self._window_seconds)
        # A SUB confirmation names the next bulletin's date: the schedule goes into each
        # Context and is asked with that message's time, so the date moves on every week.
        self._next_bulletin = next_price_bulletin(settings)
        # What a simulated contact causes goes to the local provider, whatever the default.
        self._simulated_settings = ChainMap({"providers.default": "local"}, dict(settings))

    def receive(self, conn: sqlite3.Connection, message: InboundMessage, *,
                delivery: Delivery, reply_provider: str) -> Received:
        """Handle one message exactly once; a repeat gets the first delivery's replies."""
        return write(conn, lambda writer: self._receive(
            writer, message, delivery=delivery, reply_provider=reply_provider))

    def _receive(self, conn: sqlite3.Connection, message: InboundMessage, *,
                 delivery: Delivery, reply_provider: str) -> Received:
        """`receive` inside the write transaction, on the connection it runs on."""
        # The first delivery of this id created the contact, so for a repeat this
        # finds it and changes nothing.
        contact, recent = inbound.sender(conn, message.sender, self.clock() - self._window)
        limited = recent >= self._limit
        outcome = Outcome.RATE_LIMITED if limited else Outcome.HANDLED
        inbound_id = inbound.record_new(
            conn, provider=message.provider, provider_message_id=message.provider_message_id,
            contact_id=contact.id, recipient=message.recipient, text=message.text,
            received_at=message.received_at, outcome=outcome,
        )
        if inbound_id is None:
            seen = inbound.find(conn, message.provider, message.provider_message_id)
            assert seen is not None  # record_new found it, in this same transaction
            log.info("duplicate %s message %s ignored", message.provider,
                     message.provider_message_id)
            return Received(outbox.for_inbound(conn, seen.id), duplicate=True)
        now = self.clock()
        if contact.simulated:
            reply_provider = "local"
        language = contact.language or countries.language_of(self.settings, contact.phone)
        ctx = Context(conn, contact, language, now,
                      self._simulated_settings if contact.simulated else self.settings,
                      next_bulletin=self._next_bulletin, message_id=inbound_id)
        if limited and self.router.is_always(message.text):
            # STOP, START and YES still act for a limited sender, but get at most one
            # reply per window (the limit notice or their own), like every other word.
            replies = self._dispatch(conn, ctx, message.text, inbound_id)
            if self._limited_before(conn, ctx):
                replies = []
        elif limited:
            replies = self._limit_notice(conn, ctx)
        else:
            replies = self._dispatch(conn, ctx, message.text, inbound_id)
        status = OutboxStatus.REPLIED if delivery is Delivery.INLINE else OutboxStatus.QUEUED
        # An opted-out contact gets no reply but the opt-out confirmation: outbox.create
        # (the one place messages are made) leaves the others out.
        recorded = [made for reply in replies
                    if (made := self._record_reply(conn, ctx, reply, reply_provider, status,
                                                   inbound_id, now, message)) is not None]
        if log.isEnabledFor(logging.INFO):
            log.info("%s message from %s: %s, %d repl%s", message.provider,
                     mask(message.sender), outcome, len(recorded),
                     "y" if len(recorded) == 1 else "ies")
        return Received(recorded, duplicate=False)

    def _limited_before(self, conn: sqlite3.Connection, ctx: Context) -> bool:
        """Whether an earlier message in this window was already over the limit (and so
        had the window's one reply)."""
        since = self.clock() - self._window
        return inbound.count_outcome_since(conn, ctx.contact.id, Outcome.RATE_LIMITED,
                                           since) > 1

    def _limit_notice(self, conn: sqlite3.Connection, ctx: Context) -> list[Reply]:
        """Say once per window that replies pause; after that, store quietly."""
        if self._limited_before(conn, ctx):
            return []
        return [Reply(ctx.t("rate_limited", minutes=max(1, self._window_seconds // 60)))]

    def _dispatch(self, conn: sqlite3.Connection, ctx: Context, text: str,
                  inbound_id: int) -> list[Reply]:
        conn.execute("SAVEPOINT handler")
        mark = outbox.last_id(conn)
        try:
            # A YES with a request waiting runs that request (handlers.costs), and what a
            # command queues for other people is confirmed or refused in one place.
            text, allowance = costs.resolve_yes(ctx, text)
            replies = self.router.dispatch(ctx, text)
            held = costs.settle(ctx, text, mark, allowance=allowance,
                                undo=lambda: conn.execute("ROLLBACK TO handler"))
            if held is not None:
                replies = held
        except Exception:  # noqa: BLE001 - logged with its traceback by _failed
            conn.execute("ROLLBACK TO handler")
            replies = self._failed(conn, ctx, inbound_id)
        conn.execute("RELEASE handler")
        return replies

    def _failed(self, conn: sqlite3.Connection, ctx: Context, inbound_id: int) -> list[Reply]:
        # A bug in one command must not lose the message or answer the provider 500: its
        # writes are undone, the message kept, and the sender told to try again later.
        inbound.set_outcome(conn, inbound_id, Outcome.FAILED)
        log.exception("handler failed on inbound message %d", inbound_id)
        return [Reply(ctx.t("error"))]

    def _record_reply(self, conn: sqlite3.Connection, ctx: Context, reply: Reply, provider: str,
                      status: OutboxStatus, inbound_id: int, now: datetime,
                      message: InboundMessage) -> OutboxMessage | None:
        # A reply goes out as the message came in: from the number or short code the farmer
        # texted, with the provider's session (AT's premium linkId) when it has one.
        info = count_segments(reply.text)
        return outbox.add(
            conn, to_number=ctx.contact.phone, text=reply.text, provider=provider,
            kind=reply.kind, encoding=str(info.encoding), segments=info.segments,
            now=now, contact_id=ctx.contact.id, inbound_id=inbound_id, status=status,
            reply_from=message.recipient, link_id=message.link_id,
        )


def queue_message(conn: sqlite3.Connection, *, to_number: str, text: str, provider: str,
                  kind: str, now: datetime, contact_id: int | None = None) -> int | None:
    """Queue one outbound message for the worker; None if the contact has opted out."""
    contact = contacts.get_or_create(conn, to_number)
    info = count_segments(text)
    return outbox.enqueue(
        conn, to_number=to_number, text=text, provider=provider, kind=kind,
        encoding=str(info.encoding), segments=info.segments, now=now,
        contact_id=contact_id or contact.id,
    )
