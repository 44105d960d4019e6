"""Receiving one inbound message: de-duplicate, store, route, and record the replies.

Everything happens in one write transaction, so a message and its effects (an opt-out,
the replies) are stored together or not at all, and a provider's retry of the same
message id finds the first delivery's replies instead of running the command again.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from db import contacts, inbound, outbox, transaction
from db.outbox import OutboxMessage, OutboxStatus
from db.timeutil import utcnow
from handlers.messages import OPTOUT_CONFIRMATION, Context, InboundMessage, Reply
from handlers.router import Router
from handlers.segments import count as count_segments
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

    def receive(self, conn: sqlite3.Connection, message: InboundMessage, *,
                delivery: Delivery, reply_provider: str) -> Received:
        """Handle one message exactly once; a repeat gets the first delivery's replies."""
        with transaction(conn):
            seen = inbound.find(conn, message.provider, message.provider_message_id)
            if seen is not None:
                log.info("duplicate %s message %s ignored", message.provider,
                         message.provider_message_id)
                return Received(outbox.for_inbound(conn, seen.id), duplicate=True)
            contact = contacts.get_or_create(conn, message.sender)
            limited = self._over_limit(conn, contact.id, message.text)
            outcome = Outcome.RATE_LIMITED if limited else Outcome.HANDLED
            inbound_id = inbound.record(
                conn, provider=message.provider, provider_message_id=message.provider_message_id,
                contact_id=contact.id, recipient=message.recipient, text=message.text,
                received_at=message.received_at, outcome=outcome,
            )
            ctx = Context(conn, contact, self._language(contact.language), self.clock(),
                          self.settings)
            if limited:
                replies = self._limit_notice(conn, ctx)
            else:
                replies = self._dispatch(conn, ctx, message.text, inbound_id)
            replies = self._allowed(conn, message.sender, replies)
            status = OutboxStatus.REPLIED if delivery is Delivery.INLINE else OutboxStatus.QUEUED
            for reply in replies:
                self._record_reply(conn, ctx, reply, reply_provider, status, inbound_id)
            log.info("%s message from %s: %s, %d repl%s", message.provider,
                     mask(message.sender), outcome, len(replies), "y" if len(replies) == 1 else "ies")
            return Received(outbox.for_inbound(conn, inbound_id), duplicate=False)

    def _language(self, chosen: str | None) -> str:
        return chosen or str(self.settings.get("app.default_language", "en"))

    def _over_limit(self, conn: sqlite3.Connection, contact_id: int, text: str) -> bool:
        limit = int(self.settings.get("limits.sender_messages", 30))
        since = self.clock() - timedelta(seconds=self._window())
        return inbound.count_since(conn, contact_id, since) >= limit and not self.router.is_always(text)

    def _window(self) -> int:
        return int(self.settings.get("limits.sender_window_seconds", 3600))

    def _limit_notice(self, conn: sqlite3.Connection, ctx: Context) -> list[Reply]:
        """Say once per window that replies pause; after that, store quietly."""
        since = self.clock() - timedelta(seconds=self._window())
        if inbound.count_outcome_since(conn, ctx.contact.id, Outcome.RATE_LIMITED, since) > 1:
            return []
        return [Reply(ctx.t("rate_limited", minutes=max(1, self._window() // 60)))]

    def _dispatch(self, conn: sqlite3.Connection, ctx: Context, text: str,
                  inbound_id: int) -> list[Reply]:
        conn.execute("SAVEPOINT handler")
        try:
            replies = self.router.dispatch(ctx, text)
        except Exception:
            # A bug in one command must not lose the message or answer the provider 500:
            # undo the command's writes, keep the message, tell the sender to try later.
            conn.execute("ROLLBACK TO handler")
            conn.execute("UPDATE inbound SET outcome = ? WHERE id = ?", (Outcome.FAILED, inbound_id))
            log.exception("handler failed on inbound message %d", inbound_id)
            replies = [Reply(ctx.t("error"))]
        conn.execute("RELEASE handler")
        return replies

    def _allowed(self, conn: sqlite3.Connection, phone: str, replies: list[Reply]) -> list[Reply]:
        """An opted-out contact gets nothing but the opt-out confirmation."""
        contact = contacts.find(conn, phone)
        if contact is None or not contact.opted_out:
            return replies
        return [reply for reply in replies if reply.kind == OPTOUT_CONFIRMATION]

    def _record_reply(self, conn: sqlite3.Connection, ctx: Context, reply: Reply, provider: str,
                      status: OutboxStatus, inbound_id: int) -> None:
        info = count_segments(reply.text)
        outbox.enqueue(
            conn, to_number=ctx.contact.phone, text=reply.text, provider=provider,
            kind=reply.kind, encoding=str(info.encoding), segments=info.segments,
            now=self.clock(), contact_id=ctx.contact.id, inbound_id=inbound_id, status=status,
        )


def queue_message(conn: sqlite3.Connection, *, to_number: str, text: str, provider: str,
                  kind: str, now: datetime, contact_id: int | None = None) -> int | None:
    """Queue one outbound message for the worker unless the contact has opted out."""
    contact = contacts.get_or_create(conn, to_number)
    if contact.opted_out and kind != OPTOUT_CONFIRMATION:
        return None
    info = count_segments(text)
    return outbox.enqueue(
        conn, to_number=to_number, text=text, provider=provider, kind=kind,
        encoding=str(info.encoding), segments=info.segments, now=now,
        contact_id=contact_id or contact.id,
    )
