"""Counts for the console's overview: messages in and out in a time range, by provider,
status and reason; new subscriptions and opt-outs; what waits in the outbox now.

Time ranges without a time index. Rows of outbox, inbound and subscriptions are stamped
with the clock time of their write (created_at, received_at) and get their ids in write
order, so a table's ids follow its stamps. `first_id_at` finds the first id stamped at or
after a moment by a binary search on the primary key (some twenty look-ups), and a range is
counted over that id range, still filtered on the stamp. Rows may be a little out of order
(a bulletin run stamps every batch with its start, and queues 100,000 subscribers in
seconds; a request reads the clock before the writer thread writes its row): MARGIN widens
the id range on both sides, so a row is counted by its stamp as long as it is less than
MARGIN out of order. That spares an index on created_at, which every SMS answered would
have to update (the outbox_due work took the last such write away from replies).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from db.timeutil import iso

MARGIN = timedelta(hours=1)
# Statuses in which a message counts as having reached the provider (and so as a cost).
REACHED = ("sent", "replied", "delivered", "undelivered")
FAILED = ("failed", "undelivered")
REASON_CHARS = 120

# table -> its stamp column (the only tables `first_id_at` is asked about)
STAMPS = {"outbox": "created_at", "inbound": "received_at", "subscriptions": "created_at",
          "status_events": "received_at"}


def first_id_at(conn: sqlite3.Connection, table: str, moment: datetime) -> int:
    """The first id of `table` whose row is stamped at or after `moment` (one past the last
    id when none is), found by a binary search on ids (see the module)."""
    column = STAMPS[table]
    # Two subqueries: SQLite reads MIN(id) or MAX(id) from the b-tree's edge, but not both
    # in one SELECT, which scans the table.
    low, high = conn.execute(f"SELECT (SELECT MIN(id) FROM {table}),"
                             f" (SELECT MAX(id) FROM {table})").fetchone()
    if low is None:
        return 1
    stamp, high = iso(moment), high + 1
    while low < high:
        middle = (low + high) // 2
        row = conn.execute(f"SELECT id, {column} FROM {table} WHERE id >= ? ORDER BY id LIMIT 1",
                           (middle,)).fetchone()
        if row[1] < stamp:
            low = row[0] + 1
        else:
            high = middle
    return low


def id_range(conn: sqlite3.Connection, table: str, start: datetime,
             end: datetime | None) -> tuple[int, int | None]:
    """The ids to scan for rows stamped in [start, end): widened by MARGIN each side."""
    first = first_id_at(conn, table, start - MARGIN)
    last = None if end is None else first_id_at(conn, table, end + MARGIN)
    return first, last


def _range_sql(table: str, start: datetime, end: datetime | None,
               ids: tuple[int, int | None]) -> tuple[str, list[object]]:
    column = STAMPS[table]
    where = f"id >= ? AND {column} >= ?"
    params: list[object] = [ids[0], iso(start)]
    if end is not None:
        where += f" AND id < ? AND {column} < ?"
        params += [ids[1], iso(end)]
    return where, params


@dataclass(frozen=True, slots=True)
class Group:
    """Outbound messages of one provider in one status (and, for failures, one reason)."""

    provider: str
    status: str
    reason: str | None
    messages: int
    segments: int


@dataclass
class Counts:
    """What happened in one time range."""

    inbound: int = 0
    groups: list[Group] = field(default_factory=list)
    new_subscriptions: int = 0
    opted_out: int = 0

    @property
    def outbound(self) -> int:
        """Outbound messages made in the range, whatever became of them."""
        return sum(g.messages for g in self.groups)


def counts(conn: sqlite3.Connection, start: datetime, end: datetime | None = None) -> Counts:
    """Messages in and out stamped in [start, end) (end None: up to now), outbound ones by
    provider, status and reason; subscriptions added (and still held) and contacts who
    opted out (and still are) in the same range."""
    found = Counts()
    where, params = _range_sql("inbound", start, end, id_range(conn, "inbound", start, end))
    found.inbound = int(conn.execute(f"SELECT COUNT(*) FROM inbound WHERE {where}",
                                     params).fetchone()[0])
    where, params = _range_sql("outbox", start, end, id_range(conn, "outbox", start, end))
    rows = conn.execute(
        "SELECT provider, status, CASE WHEN status IN ('failed', 'undelivered')"
        f" THEN substr(trim(IFNULL(error, '')), 1, {REASON_CHARS}) END AS reason,"
        f" COUNT(*), TOTAL(segments) FROM outbox WHERE {where}"
        " GROUP BY provider, status, reason", params)
    found.groups = [Group(row[0], row[1], row[2], int(row[3]), int(row[4])) for row in rows]
    where, params = _range_sql("subscriptions", start, end,
                               id_range(conn, "subscriptions", start, end))
    found.new_subscriptions = int(conn.execute(
        f"SELECT COUNT(*) FROM subscriptions WHERE {where}", params).fetchone()[0])
    found.opted_out = int(conn.execute(
        "SELECT COUNT(*) FROM contacts WHERE opted_out = 1 AND opted_out_at >= ?"
        + (" AND opted_out_at < ?" if end is not None else ""),
        [iso(start)] + ([iso(end)] if end is not None else [])).fetchone()[0])
    return found


@dataclass(frozen=True, slots=True)
class Audience:
    """Who the service reaches now."""

    contacts: int
    subscribers: int          # contacts following at least one price, not opted out
    opted_out: int            # contacts opted out now


def audience(conn: sqlite3.Connection) -> Audience:
    """Contacts, subscribers (not opted out) and opt-outs now: index reads only."""
    row = conn.execute(
        "SELECT (SELECT COUNT(*) FROM contacts),"
        " (SELECT COUNT(DISTINCT contact_id) FROM subscriptions),"
        " (SELECT COUNT(*) FROM contacts WHERE opted_out = 1),"
        " (SELECT COUNT(*) FROM contacts WHERE opted_out = 1 AND EXISTS"
        "   (SELECT 1 FROM subscriptions s WHERE s.contact_id = contacts.id))").fetchone()
    return Audience(int(row[0]), int(row[1]) - int(row[3]), int(row[2]))


@dataclass(frozen=True, slots=True)
class Waiting:
    """One provider's queue now."""

    provider: str
    due: int                   # queued messages whose time has come
    due_since: str | None      # the oldest of them was due then
    later: int                 # queued for later: a retry's wait, quiet hours
    sending: int               # claimed by a worker


def waiting(conn: sqlite3.Connection, providers: Sequence[str],
            now: datetime) -> dict[str, Waiting]:
    """What waits for each provider (ranges of the outbox_waiting index only)."""
    found = {}
    stamp = iso(now)
    for provider in providers:
        row = conn.execute(
            # The IN term repeats the partial index's condition, which SQLite needs to use it.
            "SELECT (SELECT COUNT(*) FROM outbox WHERE provider = :p AND status = 'queued'"
            "   AND status IN ('queued', 'sending') AND next_attempt_at <= :now),"
            " (SELECT MIN(next_attempt_at) FROM outbox WHERE provider = :p"
            "   AND status = 'queued' AND status IN ('queued', 'sending')),"
            " (SELECT COUNT(*) FROM outbox WHERE provider = :p AND status = 'queued'"
            "   AND status IN ('queued', 'sending') AND next_attempt_at > :now),"
            " (SELECT COUNT(*) FROM outbox WHERE provider = :p AND status = 'sending'"
            "   AND status IN ('queued', 'sending'))",
            {"p": provider, "now": stamp}).fetchone()
        due = int(row[0])
        found[provider] = Waiting(provider, due, row[1] if due else None, int(row[2]),
                                  int(row[3]))
    return found


# ------------------------------------------------------------------ bulletin runs


def bulletin_runs(conn: sqlite3.Connection, *, before: int | None = None,
                  limit: int = 10) -> list[Any]:
    """Bulletin runs newest first, `limit` of them older than the run `before` (keyset
    pages), as db.bulletins.Run."""
    from db.bulletins import Run

    rows = conn.execute("SELECT * FROM bulletin_runs WHERE id < ? ORDER BY id DESC LIMIT ?",
                        (before if before is not None else 2**62, limit))
    return [Run(*(row[name] for name in Run.__dataclass_fields__)) for row in rows]


def run_outcomes(conn: sqlite3.Connection, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How each run's messages stand in the outbox now: count per status, read from the
    outbox_bulletin index alone."""
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    found: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
    for run_id, status, count in conn.execute(
            f"SELECT bulletin_run_id, status, COUNT(*) FROM outbox WHERE bulletin_run_id IN"
            f" ({marks}) AND bulletin_run_id IS NOT NULL GROUP BY bulletin_run_id, status",
            tuple(run_ids)):
        found[run_id][status] = count
    return found
