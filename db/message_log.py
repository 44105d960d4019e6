"""The outbox and the inbox as the console lists them: failures first, then newest first,
filtered, one page at a time.

A page is read by keyset (the time and id of the last row shown), never by offset, from
the indexes of schema step 0017. Failures (an outbox message failed or undelivered, an
inbound message a handler failed on) come first, newest first, then everything else.

Every page does a bounded amount of work, whatever the filters: it looks at no more than
`window` messages. A filter that matches few of them (a provider that sent almost
nothing) could otherwise read the whole table to fill a page; here the page comes back
shorter, says how far back it looked (`searched_to`), and its cursor carries on from there.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from db.timeutil import parse_iso

WINDOW = 50_000       # messages one page looks at, at most
PAGE_SIZE = 50
FAILED, REST = "f", "r"   # the two parts of the order: failures first, then the rest


class BadCursor(ValueError):
    """A page link that was not made here (edited, or cut short)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: its part (failures or the rest), and its last row's time and id."""

    part: str
    at: str
    id: int

    def __str__(self) -> str:
        return f"{self.part}.{self.id}.{self.at}"


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def parse_cursor(text: str) -> Cursor:
    """The cursor in a page link; BadCursor if it is not one."""
    part, _, rest = text.partition(".")
    number, _, at = rest.partition(".")
    if part not in (FAILED, REST) or not number.isascii() or not number.isdigit() \
            or len(number) > 18 or not _STAMP.fullmatch(at):
        raise BadCursor(text)
    return Cursor(part, at, int(number))


@dataclass(frozen=True, slots=True)
class Filters:
    """What to list: a status (outcome, for the inbox), provider, kind (outbox only), and a
    time range as stored timestamps (`since` included, `until` not)."""

    status: str | None = None
    provider: str | None = None
    kind: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """One outbox row as the Messages page shows it."""

    id: int
    to_number: str
    provider: str
    status: str
    kind: str
    segments: int
    attempts: int
    error: str | None
    text: str
    created_at: datetime
    updated_at: datetime
    simulated: bool


@dataclass(frozen=True, slots=True)
class Received:
    """One inbound row as the Messages page shows it."""

    id: int
    phone: str
    provider: str
    text: str
    outcome: str
    received_at: datetime
    simulated: bool


@dataclass(frozen=True, slots=True)
class Page:
    """A page of rows, the cursor of the next page (None: nothing older), and, when the
    page stopped at its window before it was full, the time it looked back to."""

    rows: list
    next: Cursor | None
    searched_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Log:
    table: str
    at: str                 # the time column
    failed: str             # the condition that makes a row a failure
    status: str             # the column the status filter names
    every: str              # the index of every row, in time order
    failures: str           # the partial index of failures
    columns: str
    at_column: int          # where the time is in a row of `columns`


_OUTBOX = _Log("outbox", "created_at", "m.status IN ('failed', 'undelivered')", "status",
               "outbox_created", "outbox_failures",
               "m.id, m.to_number, m.provider, m.status, m.kind, m.segments, m.attempts,"
               " m.error, m.text, m.created_at, m.updated_at, IFNULL(c.simulated, 0)", 9)
_INBOX = _Log("inbound", "received_at", "m.outcome = 'failed'", "outcome",
              "inbound_received", "inbound_failures",
              "m.id, IFNULL(c.phone, ''), m.provider, m.text, m.outcome, m.received_at,"
              " IFNULL(c.simulated, 0)", 5)


def _sent(row: sqlite3.Row) -> Sent:
    return Sent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                parse_iso(row[9]), parse_iso(row[10]), bool(row[11]))


def _received(row: sqlite3.Row) -> Received:
    return Received(row[0], row[1], row[2], row[3], row[4], parse_iso(row[5]), bool(row[6]))


def outbox_page(conn: sqlite3.Connection, filters: Filters, *, after: Cursor | None = None,
                size: int = PAGE_SIZE, window: int | None = None) -> Page:
    """A page of outbound messages: failed and undelivered first, then newest first."""
    page = _page(conn, _OUTBOX, filters, after, size, window or WINDOW)
    return Page([_sent(row) for row in page.rows], page.next, page.searched_to)


def inbox_page(conn: sqlite3.Connection, filters: Filters, *, after: Cursor | None = None,
               size: int = PAGE_SIZE, window: int | None = None) -> Page:
    """A page of inbound messages: those a handler failed on first, then newest first."""
    page = _page(conn, _INBOX, filters, after, size, window or WINDOW)
    return Page([_received(row) for row in page.rows], page.next, page.searched_to)


def count_failures(conn: sqlite3.Connection, filters: Filters, *, outbox: bool = True,
                   cap: int = 10_000) -> int:
    """How many failures the filters match, counted up to `cap` (cap + 1 means more)."""
    log = _OUTBOX if outbox else _INBOX
    where, params = _where(log, FAILED, filters, None)
    if where is None:
        return 0
    row = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {log.table} AS m INDEXED BY"
                       f" {log.failures} WHERE {where} LIMIT ?)", (*params, cap + 1)).fetchone()
    return int(row[0])


def _parts(log: _Log, filters: Filters) -> tuple[str, ...]:
    """Which parts of the order a status filter leaves: failures, the rest, or both."""
    if filters.status is None:
        return (FAILED, REST)
    failing = filters.status in (("failed", "undelivered") if log is _OUTBOX else ("failed",))
    return (FAILED,) if failing else (REST,)


def _page(conn: sqlite3.Connection, log: _Log, filters: Filters, after: Cursor | None,
          size: int, window: int) -> Page:
    parts = _parts(log, filters)
    if after is not None:
        if after.part not in parts:
            return Page([], None)
        parts = parts[parts.index(after.part):]
    rows: list[tuple[str, sqlite3.Row]] = []
    for part in parts:
        start = after if after is not None and after.part == part else None
        found, edge = _read(conn, log, part, filters, start, size - len(rows) + 1, window)
        rows += [(part, row) for row in found]
        if len(rows) > size:          # a row beyond the page: there is a next page
            last_part, last = rows[size - 1]
            return Page([row for _, row in rows[:size]],
                        Cursor(last_part, last[log.at_column], last[0]))
        if edge is not None:          # the window ran out before the page filled
            return Page([row for _, row in rows], Cursor(part, *edge), parse_iso(edge[0]))
    return Page([row for _, row in rows], None)


def _read(conn: sqlite3.Connection, log: _Log, part: str, filters: Filters,
          after: Cursor | None, limit: int, window: int
          ) -> tuple[list[sqlite3.Row], tuple[str, int] | None]:
    """Up to `limit` rows of one part after the cursor, looking at `window` rows at most;
    and the (time, id) of the last row looked at when the window ran out, else None."""
    where, params = _where(log, part, filters, after)
    if where is None:
        return [], None
    index = log.failures if part == FAILED else log.every
    # The window's far end, read from the index alone: the part's failures, or every
    # message of the time range (all statuses: the window bounds the work, not the rows).
    bounds, bound_params = _bounds(log, part, filters, after, status=part == FAILED)
    edge = conn.execute(
        f"SELECT {log.at}, id FROM {log.table} AS m INDEXED BY {index} WHERE {bounds}"
        f" ORDER BY {log.at} DESC, id DESC LIMIT 1 OFFSET ?", (*bound_params, window - 1)
    ).fetchone()
    if edge is not None:
        where += f" AND (m.{log.at}, m.id) >= (?, ?)"
        params = (*params, edge[0], edge[1])
    rows = conn.execute(
        f"SELECT {log.columns} FROM {log.table} AS m INDEXED BY {index}"
        f" LEFT JOIN contacts AS c ON c.id = m.contact_id WHERE {where}"
        f" ORDER BY m.{log.at} DESC, m.id DESC LIMIT ?", (*params, limit)).fetchall()
    return rows, (None if edge is None or len(rows) >= limit else (str(edge[0]), int(edge[1])))


def _bounds(log: _Log, part: str, filters: Filters, after: Cursor | None, *,
            status: bool = True) -> tuple[str, tuple[object, ...]]:
    """The part (unless `status` is false), time range and cursor."""
    terms = [log.failed if part == FAILED else f"NOT ({log.failed})"] if status else ["1"]
    params: list[object] = []
    if filters.since is not None:
        terms.append(f"m.{log.at} >= ?")
        params.append(filters.since)
    if filters.until is not None:
        terms.append(f"m.{log.at} < ?")
        params.append(filters.until)
    if after is not None:
        terms.append(f"(m.{log.at}, m.id) < (?, ?)")
        params += [after.at, after.id]
    return " AND ".join(terms), tuple(params)


def _where(log: _Log, part: str, filters: Filters,
           after: Cursor | None) -> tuple[str | None, tuple[object, ...]]:
    """The whole condition of one part; None when the filters rule the part out."""
    if log is _INBOX and filters.kind is not None:
        return None, ()
    where, bounds = _bounds(log, part, filters, after)
    terms, params = [where], list(bounds)
    for column, value in ((log.status, filters.status), ("provider", filters.provider),
                          ("kind", filters.kind)):
        if value is not None:
            terms.append(f"m.{column} = ?")
            params.append(value)
    return " AND ".join(terms), tuple(params)


# ------------------------------------------------------------------ one simulated phone


@dataclass(frozen=True, slots=True)
class Bubble:
    """One message of a phone's conversation: what it sent (`sent`) or what it received."""

    sent: bool
    text: str
    at: datetime
    kind: str             # the outbox kind of a received message; '' for a sent one
    segments: int
    provider: str
    outcome: str          # what became of a sent message (inbound outcome); '' otherwise
    order: tuple[str, int, int, int]


def conversation(conn: sqlite3.Connection, contact_id: int, *, limit: int = 40) -> list[Bubble]:
    """The last `limit` messages between a phone and the service, oldest first: what it
    sent, the replies to each, and the SMS the USSD menu sent it. Read from the inbound and
    outbox tables (by indexes: inbound_contact_time, outbox_inbound, outbox_ussd_contact)."""
    sent = conn.execute(
        "SELECT id, text, received_at, outcome, provider FROM inbound WHERE contact_id = ?"
        " ORDER BY received_at DESC, id DESC LIMIT ?", (contact_id, limit)).fetchall()
    times = {row[0]: row[2] for row in sent}
    bubbles = [Bubble(True, row[1], parse_iso(row[2]), "", 0, row[4], row[3],
                      (row[2], 0, row[0], 0)) for row in sent]
    if times:
        marks = ",".join("?" * len(times))
        bubbles += [_received_bubble(row, (times[row["inbound_id"]], 0, row["inbound_id"],
                                           row["id"]))
                    for row in conn.execute(
                        "SELECT id, text, created_at, kind, segments, provider, inbound_id"
                        f" FROM outbox WHERE inbound_id IN ({marks})", tuple(times))]
    bubbles += [_received_bubble(row, (row["created_at"], 1, row["id"], 0))
                for row in conn.execute(
                    "SELECT id, text, created_at, kind, segments, provider FROM outbox"
                    " WHERE kind = 'ussd' AND contact_id = ? ORDER BY created_at DESC LIMIT ?",
                    (contact_id, limit))]
    bubbles.sort(key=lambda bubble: bubble.order)
    return bubbles[-limit:]


def _received_bubble(row: sqlite3.Row, order: tuple[str, int, int, int]) -> Bubble:
    return Bubble(False, row["text"], parse_iso(row["created_at"]), row["kind"],
                  row["segments"], row["provider"], "", order)


@dataclass(frozen=True, slots=True)
class Caused:
    """Messages a contact's own messages caused to other people (outbox.caused_by)."""

    messages: int
    segments: int
    by_provider: dict[str, int]
    latest: list[Sent]


def caused(conn: sqlite3.Connection, contact_id: int, *, latest: int = 5) -> Caused:
    """What a contact caused others to be sent, by provider, and the newest few."""
    totals = conn.execute(
        "SELECT provider, COUNT(*), IFNULL(SUM(segments), 0) FROM outbox WHERE caused_by = ?"
        " GROUP BY provider", (contact_id,)).fetchall()
    rows = conn.execute(
        f"SELECT {_OUTBOX.columns} FROM outbox AS m LEFT JOIN contacts AS c"
        " ON c.id = m.contact_id WHERE m.caused_by = ? ORDER BY m.created_at DESC, m.id DESC"
        " LIMIT ?", (contact_id, latest)).fetchall()
    return Caused(sum(row[1] for row in totals), sum(row[2] for row in totals),
                  {row[0]: row[1] for row in totals}, [_sent(row) for row in rows])
