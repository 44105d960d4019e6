"""The outbox: every outbound message is a row here before any send is tried."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from db.timeutil import iso, iso_after


class OutboxStatus(StrEnum):
    QUEUED = "queued"            # waiting for the worker (or for its next attempt)
    SENDING = "sending"          # claimed by a worker; its lease says until when
    SENT = "sent"                # accepted by the provider
    REPLIED = "replied"          # delivered inline in the webhook response (TwiML, local JSON)
    DELIVERED = "delivered"      # the provider reported delivery to the handset
    UNDELIVERED = "undelivered"  # the provider gave up delivering it
    FAILED = "failed"            # rejected, or out of retries
    SUPPRESSED = "suppressed"    # not sent: the contact had opted out


FINAL = frozenset(
    {OutboxStatus.DELIVERED, OutboxStatus.UNDELIVERED, OutboxStatus.FAILED, OutboxStatus.SUPPRESSED}
)
# A provider callback may only move a message forward; callbacks arrive out of order.
_RANK = {
    OutboxStatus.QUEUED: 0,
    OutboxStatus.SENDING: 1,
    OutboxStatus.SENT: 2,
    OutboxStatus.REPLIED: 2,
    **{status: 3 for status in FINAL},
}


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    contact_id: int | None
    to_number: str
    text: str
    provider: str
    kind: str
    status: OutboxStatus
    encoding: str
    segments: int
    attempts: int
    provider_message_id: str | None
    reply_from: str | None = None   # the short code or number the farmer texted
    link_id: str | None = None      # AT's premium session id of the message replied to


def _message(row: sqlite3.Row) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        contact_id=row["contact_id"],
        to_number=row["to_number"],
        text=row["text"],
        provider=row["provider"],
        kind=row["kind"],
        status=OutboxStatus(row["status"]),
        encoding=row["encoding"],
        segments=row["segments"],
        attempts=row["attempts"],
        provider_message_id=row["provider_message_id"],
        reply_from=row["reply_from"],
        link_id=row["link_id"],
    )


# What the worker sends first (lower first), for every provider: at a phone's few hundred SMS
# an hour, one bulletin must not hold back a farmer's PRICE reply. Replies to a farmer's own
# message (and opt-out and USSD confirmations) first; bulletins and notices last; group and
# order messages, and anything else, in between.
PRIORITY = {"reply": 0, "optout_confirmation": 0, "ussd": 0,
            "bulletin": 2, "standard_notice": 2}
PRIORITIES = (0, 1, 2)


def priority_of(kind: str) -> int:
    """The send priority of a message kind (0 first)."""
    return PRIORITY.get(kind, 1)


# Simulated contacts (the simulator's: smsgw.simulator) reach nobody through a paying
# provider (issue 17). A message goes to the local provider, whatever it was queued for,
# when it is
# - *to* a simulated contact: the simulator may be given any number, and a paying provider
#   must never text it;
# - *about* a simulated contact's doing: `about` names the contact whose order, sale, bid,
#   pool or message it is about (its creator, not whoever's action sent it now), so a real
#   leader's update on a simulated buyer's order, sent by the worker days later, goes local
#   too. handlers.notify.Outbox makes every caller name it.
# Decided here, where every outbound row is written, so no caller can forget it: two
# primary-key look-ups per row, no extra statement. Its parameters: the recipient's number,
# the `about` contact's id (None: a reply to the sender, a bulletin), the provider asked for.
_PROVIDER = ("CASE WHEN EXISTS (SELECT 1 FROM contacts WHERE phone = ? AND simulated = 1)"
             " OR EXISTS (SELECT 1 FROM contacts WHERE id = ? AND simulated = 1)"
             " THEN 'local' ELSE ? END")


OPTOUT_CONFIRMATION = "optout_confirmation"   # the one kind that reaches an opted-out number

# The one statement that makes an outbound message. A recipient who has opted out gets no
# row at all (except the confirmation of that opt-out); the worker checks again before it
# sends, for rows made before the opt-out. A row to or about a simulated contact goes to
# `local` (_PROVIDER).
_CREATE = (
    "INSERT INTO outbox (contact_id, to_number, provider, text, kind, priority, status,"
    " encoding, segments, next_attempt_at, inbound_id, bulletin_run_id, reply_from, link_id,"
    f" created_at, updated_at) SELECT ?, ?, {_PROVIDER}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
    " WHERE ? OR NOT EXISTS (SELECT 1 FROM contacts WHERE phone = ? AND opted_out = 1)")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to make (already counted: encoding and segments)."""

    contact_id: int | None
    to_number: str
    text: str
    encoding: str
    segments: int


def _row(message: Outgoing, *, provider: str, about: int | None, kind: str,
         status: OutboxStatus, due: str, stamp: str, inbound_id: int | None,
         bulletin_run_id: int | None, reply_from: str | None,
         link_id: str | None) -> tuple[object, ...]:
    return (message.contact_id, message.to_number,
            message.to_number, about, provider,             # _PROVIDER's three
            message.text, kind, priority_of(kind), str(status), message.encoding,
            message.segments, due, inbound_id, bulletin_run_id, reply_from or None, link_id,
            stamp, stamp, kind == OPTOUT_CONFIRMATION, message.to_number)


def create(conn: sqlite3.Connection, messages: Iterable[Outgoing], *, provider: str, kind: str,
           now: datetime, about: int | None = None, not_before: datetime | None = None,
           status: OutboxStatus = OutboxStatus.QUEUED, inbound_id: int | None = None,
           bulletin_run_id: int | None = None, reply_from: str | None = None,
           link_id: str | None = None) -> tuple[int, int]:
    """Make outbound messages: the one place they are made, and so the one place the
    opt-out rule and the simulated contacts' rule live (see _CREATE, _PROVIDER). Each
    carries its send priority (from its kind), the provider, and what a reply needs from
    the message it answers (the number or short code texted, AT's linkId). `about` is the
    contact whose order, sale, pool or message they are about. Returns (messages,
    segments) made: fewer than given when some recipients have opted out."""
    stamp = iso(now)
    due = iso(not_before or now)
    newest = last_id(conn)
    given = list(messages)
    rows = [_row(m, provider=provider, about=about, kind=kind, status=status, due=due,
                 stamp=stamp, inbound_id=inbound_id, bulletin_run_id=bulletin_run_id,
                 reply_from=reply_from, link_id=link_id) for m in given]
    before = conn.total_changes
    conn.executemany(_CREATE, rows)
    if conn.total_changes - before == len(rows):   # nobody left out: count what was given
        return len(rows), sum(m.segments for m in given)
    return written_since(conn, newest)


def enqueue(
    conn: sqlite3.Connection,
    *,
    to_number: str,
    text: str,
    provider: str,
    kind: str,
    encoding: str,
    segments: int,
    now: datetime,
    contact_id: int | None = None,
    inbound_id: int | None = None,
    status: OutboxStatus = OutboxStatus.QUEUED,
    reply_from: str | None = None,
    link_id: str | None = None,
) -> int | None:
    """Make one outbound message (`create`); its id, or None if the recipient opted out."""
    cursor = conn.execute(_CREATE, _row(
        Outgoing(contact_id, to_number, text, encoding, segments), provider=provider,
        about=None, kind=kind, status=status, due=iso(now), stamp=iso(now),
        inbound_id=inbound_id, bulletin_run_id=None, reply_from=reply_from, link_id=link_id))
    return int(cursor.lastrowid) if cursor.rowcount == 1 else None


def add(
    conn: sqlite3.Connection,
    *,
    to_number: str,
    text: str,
    provider: str,
    kind: str,
    encoding: str,
    segments: int,
    now: datetime,
    contact_id: int | None = None,
    inbound_id: int | None = None,
    status: OutboxStatus = OutboxStatus.QUEUED,
    reply_from: str | None = None,
    link_id: str | None = None,
) -> OutboxMessage | None:
    """Make one outbound message (as `enqueue` does) and return it as stored, or None if
    the recipient opted out.

    Built from the values written (a new row has no attempts and no provider id yet)
    rather than read back: that saves a statement per reply inside the write lock, and a
    test checks it equals what `for_inbound` reads.
    """
    message_id = enqueue(conn, to_number=to_number, text=text, provider=provider, kind=kind,
                         encoding=encoding, segments=segments, now=now, contact_id=contact_id,
                         inbound_id=inbound_id, status=status, reply_from=reply_from,
                         link_id=link_id)
    if message_id is None:
        return None
    return OutboxMessage(id=message_id, contact_id=contact_id, to_number=to_number, text=text,
                         provider=provider, kind=kind, status=OutboxStatus(status),
                         encoding=encoding, segments=segments, attempts=0,
                         provider_message_id=None, reply_from=reply_from or None,
                         link_id=link_id)


def for_inbound(conn: sqlite3.Connection, inbound_id: int) -> list[OutboxMessage]:
    """The replies recorded for one inbound message, in order."""
    rows = conn.execute("SELECT * FROM outbox WHERE inbound_id = ? ORDER BY id", (inbound_id,))
    return [_message(row) for row in rows]


def get(conn: sqlite3.Connection, message_id: int) -> OutboxMessage | None:
    """One outbox message by id."""
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (message_id,)).fetchone()
    return _message(row) if row else None


def claim_due(
    conn: sqlite3.Connection, *, now: datetime, lease_seconds: float, limit: int
) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to the calling worker (expired leases count as due).

    A message whose worker died between claim and confirm has status `sending` with a
    lease in the past; it is claimed again here, so nothing a dead worker held is lost.
    """
    stamp = iso(now)
    # Messages whose worker died go first (they were claimed before); then the due ones,
    # most urgent priority first, each level read in due order from the outbox_due index.
    # Both queries repeat the index's own condition, status IN ('queued', 'sending'):
    # SQLite uses a partial index only when the query's WHERE implies the index's, and it
    # does not see that status = 'queued' does. Without it every round, idle polls
    # included, scanned the whole outbox (0.4 s at 500,000 rows).
    ids = [row[0] for row in conn.execute(
        "SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND status = 'sending'"
        " AND lease_until < ? ORDER BY id LIMIT ?", (stamp, limit))]
    for priority in PRIORITIES:
        if len(ids) >= limit:
            break
        ids += [row[0] for row in conn.execute(
            "SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND status = 'queued'"
            " AND priority = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (priority, stamp, limit - len(ids)))]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, lease_until = ?,"
        f" updated_at = ? WHERE id IN ({marks}) RETURNING *",
        (iso_after(now, lease_seconds), stamp, *ids)).fetchall()
    order = {message_id: n for n, message_id in enumerate(ids)}
    return sorted((_message(row) for row in rows), key=lambda message: order[message.id])


def mark_sent(
    conn: sqlite3.Connection, message_id: int, *, provider_message_id: str | None, now: datetime
) -> bool:
    """The provider accepted the message. A delivery report for it that arrived before this
    (it can overtake our commit) is applied now; True if such a report says the recipient
    has blocked us (the caller opts them out)."""
    conn.execute(
        "UPDATE outbox SET status = 'sent', provider_message_id = ?, lease_until = NULL,"
        " error = NULL, updated_at = ? WHERE id = ? AND status = 'sending'",
        (provider_message_id, iso(now), message_id),
    )
    if provider_message_id is None:
        return False
    early = conn.execute(
        "UPDATE status_events SET outbox_id = ? WHERE outbox_id IS NULL AND provider ="
        " (SELECT provider FROM outbox WHERE id = ?) AND provider_message_id = ?"
        " RETURNING status, error_code, opted_out",
        (message_id, message_id, provider_message_id)).fetchall()
    known = [row for row in early if row["status"] is not None]
    if known:
        final = max(known, key=lambda row: _RANK[OutboxStatus(row["status"])])
        _move_forward(conn, message_id, OutboxStatus(final["status"]), final["error_code"], now)
    return any(row["opted_out"] for row in early)


def _move_forward(conn: sqlite3.Connection, message_id: int, status: OutboxStatus,
                  error_code: str | None, now: datetime) -> None:
    """Apply a reported status unless the message is already as far or further."""
    row = conn.execute("SELECT status FROM outbox WHERE id = ?", (message_id,)).fetchone()
    if row is not None and _RANK[status] > _RANK[OutboxStatus(row["status"])]:
        conn.execute(
            "UPDATE outbox SET status = ?, error = COALESCE(?, error), updated_at = ? WHERE id = ?",
            (str(status), error_code, iso(now), message_id))


def mark_retry(
    conn: sqlite3.Connection, message_id: int, *, error: str, at: datetime, now: datetime
) -> None:
    """A transient failure: try again at the given time."""
    conn.execute(
        "UPDATE outbox SET status = 'queued', error = ?, next_attempt_at = ?, lease_until = NULL,"
        " updated_at = ? WHERE id = ? AND status = 'sending'",
        (error, iso(at), iso(now), message_id),
    )


def mark_final(
    conn: sqlite3.Connection, message_id: int, status: OutboxStatus, *, error: str | None,
    now: datetime,
) -> None:
    """Give the message a final status (failed, suppressed...) from the worker."""
    conn.execute(
        "UPDATE outbox SET status = ?, error = ?, lease_until = NULL, updated_at = ?"
        " WHERE id = ? AND status IN ('queued', 'sending')",
        (str(status), error, iso(now), message_id),
    )


def release(conn: sqlite3.Connection, message_ids: Iterable[int], *, now: datetime) -> None:
    """Hand claimed but unsent messages back to the queue (a worker shutting down cleanly)."""
    stamp = iso(now)
    conn.executemany(
        "UPDATE outbox SET status = 'queued', attempts = MAX(attempts - 1, 0),"
        " lease_until = NULL, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'sending'",
        [(stamp, stamp, message_id) for message_id in message_ids],
    )


def apply_provider_status(
    conn: sqlite3.Connection,
    *,
    provider: str,
    provider_message_id: str,
    status: OutboxStatus | None,
    provider_status: str,
    error_code: str | None,
    now: datetime,
    opted_out: bool = False,
) -> OutboxMessage | None:
    """Record a delivery report; move the message forward only, never back from a final state.

    Returns the message the report is about, or None when no message has that provider id
    yet: then the report is kept with what it means (`status`, `opted_out`) and applied by
    `mark_sent` once the worker records that id.
    """
    row = conn.execute(
        "SELECT * FROM outbox WHERE provider = ? AND provider_message_id = ?",
        (provider, provider_message_id),
    ).fetchone()
    message = _message(row) if row else None
    conn.execute(
        "INSERT INTO status_events (outbox_id, provider, provider_message_id, provider_status,"
        " error_code, received_at, status, opted_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message.id if message else None, provider, provider_message_id, provider_status,
         error_code, iso(now), None if status is None else str(status), int(opted_out)),
    )
    if message is not None and status is not None:
        _move_forward(conn, message.id, status, error_code, now)
    return message


def list_rows(
    conn: sqlite3.Connection, *, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Newest outbox rows first, as plain dicts (for the CLI and for tests)."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    rows = conn.execute(
        f"SELECT id, to_number AS \"to\", text, status, provider, kind, segments, encoding,"
        f" attempts, provider_message_id, error, created_at, updated_at"
        f" FROM outbox {where} ORDER BY id DESC LIMIT ?",
        [*params, limit],
    )
    return [dict(row) for row in rows]


def counts_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    """How many outbox rows are in each status."""
    rows = conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
    return {row[0]: row[1] for row in rows}


def defer(conn: sqlite3.Connection, message_ids: Iterable[int], *, until: datetime,
          now: datetime) -> None:
    """Hand claimed messages back to wait until `until` (quiet hours); no attempt is used."""
    stamp = iso(now)
    conn.executemany(
        "UPDATE outbox SET status = 'queued', attempts = MAX(attempts - 1, 0),"
        " lease_until = NULL, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'sending'",
        [(iso(until), stamp, message_id) for message_id in message_ids],
    )


def enqueue_many(conn: sqlite3.Connection, messages: Iterable[Outgoing], *, provider: str,
                 kind: str, not_before: datetime, now: datetime, about: int | None = None,
                 bulletin_run_id: int | None = None) -> tuple[int, int]:
    """Make a batch of messages in one statement (bulletins, forwards, broadcasts to
    thousands): `create`. Returns (messages, segments) made."""
    return create(conn, messages, provider=provider, kind=kind, now=now, about=about,
                  not_before=not_before, bulletin_run_id=bulletin_run_id)


def last_id(conn: sqlite3.Connection) -> int:
    """The newest outbox id (0 for none): rows written after this are a command's effects."""
    return int(conn.execute("SELECT IFNULL(MAX(id), 0) FROM outbox").fetchone()[0])


def written_since(conn: sqlite3.Connection, after_id: int) -> tuple[int, int]:
    """(messages, segments) written after `after_id` (in this transaction, by one command)."""
    row = conn.execute("SELECT COUNT(*), IFNULL(SUM(segments), 0) FROM outbox WHERE id > ?",
                       (after_id,)).fetchone()
    return int(row[0]), int(row[1])


def mark_caused(conn: sqlite3.Connection, after_id: int, contact_id: int) -> None:
    """Record that the rows written after `after_id` were caused by this contact's message."""
    conn.execute("UPDATE outbox SET caused_by = ? WHERE id > ?", (contact_id, after_id))


def caused_since(conn: sqlite3.Connection, contact_id: int, since: datetime) -> int:
    """Segments this contact's messages have caused to be sent to others since a moment."""
    row = conn.execute("SELECT IFNULL(SUM(segments), 0) FROM outbox WHERE caused_by = ?"
                       " AND created_at >= ?", (contact_id, iso(since))).fetchone()
    return int(row[0])

