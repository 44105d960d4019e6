"""Forgetting a person, and keeping message texts no longer than the retention period.

Both keep the rows and empty what people wrote or were sent, so that every count (messages
per day, segments per bulletin, pledges per order, the audit trail) still adds up.

`forget_contact` is what an admin's `smsgw contacts forget` runs, and what a farmer's own
request by SMS is to run: it takes a connection and a contact id, does everything in one
transaction (the caller's, if one is open) and can be repeated.

`prune` empties texts older than a moment, a batch of rows per transaction, so a large
database never holds the write lock for long.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from db import ussd
from db.connection import transaction
from db.groups import audit
from db.timeutil import iso

PLACEHOLDER = "forgotten:{id}"   # what a forgotten contact's phone becomes: never a number
REDACTED = "[forgotten]"         # what the number becomes in texts other people sent or got
CANCELLED = "forgotten"          # the error of a message that will now never be sent
PRUNE_BATCH = 5000               # rows changed per transaction by prune()
_UNSENT = ("queued", "sending")  # the outbox statuses the worker may still send
_MATCH_FN = "smsgw_mentions_forgotten"
_SCRUB_FN = "smsgw_scrub_forgotten"


class UnknownContact(LookupError):
    """No contact has that id."""


@dataclass(frozen=True, slots=True)
class Erased:
    """What forgetting a contact removed (or, from `preview`, would remove): counts only."""

    inbound: int = 0          # messages they sent: text and recipient emptied, rows kept
    outbox: int = 0           # messages to them: text emptied, number replaced
    cancelled: int = 0        # of those and of `caused`, not sent yet: now failed, never sent
    caused: int = 0           # messages their own messages sent to others: text emptied
    subscriptions: int = 0
    memberships: int = 0
    roles: int = 0            # buyer / admin / market agent / supplier
    confirmations: int = 0    # a request waiting for their YES
    broadcasts: int = 0       # their broadcasts to a group: text emptied
    ussd_sessions: int = 0    # deleted with every screen answered in them
    ussd_events: int = 0      # session-end notifications, deleted
    mentions: int = 0         # rows elsewhere (others' messages, the audit) naming the number
    pledges_kept: int = 0     # pledges and pool answers kept as anonymous quantities
    wants: int = 0            # products they followed as a buyer
    sales_closed: int = 0     # their open sales withdrawn and open bids lapsed
    already: bool = False     # the contact had been forgotten before: nothing changed

    def counts(self) -> dict[str, int]:
        """The counts by name (what the audit row records)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "already"}

    @property
    def total(self) -> int:
        """Rows changed or deleted (pledges kept are not counted)."""
        return sum(v for k, v in self.counts().items() if k != "pledges_kept")


def find_for_forget(conn: sqlite3.Connection, phone: str) -> int | None:
    """The id of the contact with this E.164 number, or None. A forgotten contact no longer
    has its number, so it is never found this way (the same person writing again is a new
    contact)."""
    row = conn.execute("SELECT id FROM contacts WHERE phone = ? AND forgotten_at IS NULL",
                       (phone,)).fetchone()
    return None if row is None else int(row[0])


def is_forgotten(conn: sqlite3.Connection, contact_id: int) -> bool:
    """Whether the contact has been forgotten (UnknownContact if there is none)."""
    row = conn.execute("SELECT forgotten_at FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    if row is None:
        raise UnknownContact(str(contact_id))
    return row[0] is not None


def forget_contact(conn: sqlite3.Connection, contact_id: int, *, now: datetime,
                   actor_id: int | None = None) -> Erased:
    """Remove a person's number, messages, subscriptions and memberships, in one transaction.

    - The contacts row stays, since other tables refer to it, as an anonymous id: its phone
      becomes `forgotten:<id>` (unique, and never a number anyone can text from, so the same
      person writing again is a new contact), language and home market are cleared, it is
      opted out so that nothing is ever sent to it, and `forgotten_at` is set.
    - Messages they sent keep their rows (counts per day, the per-sender limit) with the
      text and the number they wrote to emptied. Messages to them are emptied and addressed
      to the placeholder; those not sent yet fail with error 'forgotten', so the worker never
      sends them. Messages to other people that they caused (`caused_by`, a broadcast or an
      order relay) keep their recipients and the `caused_by` id, but not the words they
      wrote; the unsent ones are failed too.
    - Their open produce sales are withdrawn and their open bids lapse (silently: nobody
      is told), so no later deal can hand out their placeholder for a number; what they
      followed as a buyer, and digests not yet sent to them, go.
    - Subscriptions, memberships, buyer/admin/agent/supplier roles (a supplier's open offers
      are withdrawn), a confirmation waiting for their YES,
      their USSD sessions (with every screen answered) and session-end notifications
      (which store the number as text) are deleted. Their broadcasts keep their counts
      but not their text, and so do the audit rows of what they did.
    - Wherever else the number appears (a leader's copy of an order summary, another
      person's APPROVE 0712345678, a USSD screen), in any of the ways people write it, it
      is replaced by "[forgotten]". Every text column of every table is looked at (of the
      largest tables, the columns that hold free text), so tables added later are covered;
      columns that are part of a key are left alone, except USSD answers, which are
      deleted when their key names the number.
    - Pledges are kept as anonymous quantities: an order's totals, its groups' totals and
      what the buyer and leaders were told are sums of the pledges, and a buyer who was
      promised 200 bags must still see 200. They hold an order, a group, a quantity and
      the anonymous contact id, nothing that names the person. Answers to pools too, with
      the name they gave emptied (a leader's list already sent keeps it until pruned).
    - An audit row 'forget' records that it happened, by whom (`actor_id`: the admin, the
      person, or NULL for the command line), with the counts and nothing else.

    Forgetting a contact already forgotten changes nothing and returns Erased(already=True).
    UnknownContact if there is no such contact. A message the worker is sending at this
    very moment (claimed, its HTTP request under way) may still reach the phone.
    """
    with transaction(conn), _functions(conn, contact_id) as phone:
        if phone is None:
            return Erased(already=True)
        erased = _erase(conn, contact_id, phone, now)
        audit(conn, "forget", actor_id=actor_id, now=now, **erased.counts())
    return erased


def request_forget(conn: sqlite3.Connection, contact_id: int, *, now: datetime) -> None:
    """The person asked to be forgotten: opt them out now (nothing more is sent but the
    answer to this request) and leave the erasure to `forget_requested`, once that answer
    has gone (erasing now would leave their number in it, or lose the answer)."""
    conn.execute("UPDATE contacts SET forget_requested_at = ?, opted_out = 1,"
                 " opted_out_at = COALESCE(opted_out_at, ?), opt_out_source ="
                 " COALESCE(opt_out_source, 'forget'), updated_at = ? WHERE id = ?",
                 (iso(now), iso(now), iso(now), contact_id))


def forget_requested(conn: sqlite3.Connection, *, now: datetime) -> int:
    """Forget everyone who asked and has no message still waiting to go to them; return
    how many (the worker runs this every few minutes)."""
    rows = conn.execute(
        "SELECT id FROM contacts c WHERE forget_requested_at IS NOT NULL AND forgotten_at IS NULL"
        f" AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.to_number = c.phone"
        f" AND o.status IN ({','.join('?' * len(_UNSENT))}))", _UNSENT).fetchall()
    for (contact_id,) in rows:
        forget_contact(conn, contact_id, now=now, actor_id=contact_id)
    return len(rows)


def preview(conn: sqlite3.Connection, contact_id: int, *, now: datetime) -> Erased:
    """What `forget_contact` would remove, counted by doing it and rolling it back."""
    with transaction(conn), _functions(conn, contact_id) as phone:
        if phone is None:
            return Erased(already=True)
        conn.execute("SAVEPOINT forget_preview")
        try:
            return _erase(conn, contact_id, phone, now)
        finally:
            conn.execute("ROLLBACK TO forget_preview")
            conn.execute("RELEASE forget_preview")


@contextmanager
def _functions(conn: sqlite3.Connection, contact_id: int) -> Iterator[str | None]:
    """The contact's number (None if already forgotten), with the SQL functions that find
    and replace it in texts registered on the connection for the block."""
    row = conn.execute("SELECT phone, forgotten_at FROM contacts WHERE id = ?",
                       (contact_id,)).fetchone()
    if row is None:
        raise UnknownContact(str(contact_id))
    if row[1] is not None:
        yield None
        return
    phone = str(row[0])
    pattern = mention_pattern(phone)

    def mentions(value: object) -> int:
        return int(isinstance(value, str) and pattern.search(value) is not None)

    def scrub(value: object) -> object:
        return pattern.sub(REDACTED, value) if isinstance(value, str) else value

    conn.create_function(_MATCH_FN, 1, mentions, deterministic=True)
    conn.create_function(_SCRUB_FN, 1, scrub, deterministic=True)
    try:
        yield phone
    finally:
        conn.create_function(_MATCH_FN, 1, None)
        conn.create_function(_SCRUB_FN, 1, None)


def mention_pattern(phone: str) -> re.Pattern[str]:
    """A regular expression for an E.164 number as people write it in a message:
    +254712345678, 254712345678, 00254 712 345 678, 0712345678, 0712-345-678, 712345678.

    The country code is one to three digits, and E.164 alone does not say how many; the
    database layer does not use libphonenumber, so each split is allowed (the national
    part keeps at least 7 digits). A wrong split can only match a longer run of the same
    digits' tail, and only as a whole number (no digit on either side).
    """
    digits = re.sub(r"\D", "", phone)
    sep = r"[\s.\-()]?"
    spaced = sep.join
    forms = [rf"(?:(?:\+|00){sep})?{spaced(digits)}"] if digits else [re.escape(phone)]
    for cc in (1, 2, 3):
        if len(digits) - cc >= 7:
            forms.append(rf"(?:0{sep})?{spaced(digits[cc:])}")
    return re.compile(rf"(?<!\d)(?:{'|'.join(forms)})(?!\d)")


def _erase(conn: sqlite3.Connection, contact_id: int, phone: str, now: datetime) -> Erased:
    stamp = iso(now)
    placeholder = PLACEHOLDER.format(id=contact_id)

    def run(sql: str, *args: object) -> int:
        return conn.execute(sql, args).rowcount

    to_them = "(contact_id = ? OR to_number = ?)"
    marks = ",".join("?" * len(_UNSENT))
    cancelled = run(
        f"UPDATE outbox SET status = 'failed', error = ?, lease_until = NULL, updated_at = ?"
        f" WHERE (caused_by = ? OR {to_them}) AND status IN ({marks})",
        CANCELLED, stamp, contact_id, contact_id, phone, *_UNSENT)
    outbox_rows = run(f"UPDATE outbox SET text = '', to_number = ?, updated_at = ?"
                      f" WHERE {to_them}", placeholder, stamp, contact_id, phone)
    caused = run("UPDATE outbox SET text = '', updated_at = ? WHERE caused_by = ? AND text != ''",
                 stamp, contact_id)
    inbound_rows = run("UPDATE inbound SET text = '', recipient = '' WHERE contact_id = ?",
                       contact_id)
    sessions = [r[0] for r in conn.execute(
        "SELECT session_id FROM ussd_sessions WHERE contact_id = ?", (contact_id,))]
    events = 0
    for session_id in sessions:
        events += run("DELETE FROM ussd_events WHERE session_id = ?", session_id)
        run("DELETE FROM ussd_hops WHERE session_id = ?", session_id)
    events += run("DELETE FROM ussd_events WHERE phone = ?", phone)
    ussd_sessions = run("DELETE FROM ussd_sessions WHERE contact_id = ?", contact_id)
    broadcasts = run("UPDATE broadcasts SET text = '', status = CASE status WHEN 'pending'"
                     " THEN 'expired' ELSE status END WHERE leader_id = ?", contact_id)
    # What they did stays in the audit trail; the words they wrote do not.
    run("UPDATE audit SET detail = json_set(detail, '$.text', '') WHERE actor_id = ?"
        " AND json_valid(detail) AND json_extract(detail, '$.text') != ''", contact_id)
    counts = {
        "inbound": inbound_rows, "outbox": outbox_rows, "cancelled": cancelled,
        "caused": caused, "broadcasts": broadcasts, "ussd_sessions": ussd_sessions,
        "ussd_events": events,
        "subscriptions": run("DELETE FROM subscriptions WHERE contact_id = ?", contact_id),
        "memberships": run("DELETE FROM memberships WHERE contact_id = ?", contact_id),
        "roles": run("DELETE FROM roles WHERE contact_id = ?", contact_id)
        + run("DELETE FROM agents WHERE contact_id = ?", contact_id)
        + run("DELETE FROM suppliers WHERE contact_id = ?", contact_id),
        "confirmations": run("DELETE FROM confirmations WHERE contact_id = ?", contact_id),
        "pledges_kept": int(conn.execute("SELECT COUNT(*) FROM pledges WHERE contact_id = ?",
                                         (contact_id,)).fetchone()[0])
        + int(conn.execute("SELECT COUNT(*) FROM pool_pledges WHERE contact_id = ?",
                           (contact_id,)).fetchone()[0]),
        "wants": run("DELETE FROM wants WHERE buyer_id = ?", contact_id),
        "sales_closed": _close_sales(conn, contact_id, stamp),
    }
    # Answers to pools stay as quantities (the leader's totals hold), without the name.
    run("UPDATE pool_pledges SET name = '' WHERE contact_id = ? AND name != ''", contact_id)
    run("UPDATE supplies SET status = 'withdrawn' WHERE supplier_id = ? AND status = 'open'",
        contact_id)
    run("UPDATE contacts SET phone = ?, language = NULL, home_market_id = NULL, opted_out = 1,"
        " opted_out_at = COALESCE(opted_out_at, ?), opt_out_source = COALESCE(opt_out_source,"
        " 'forgotten'), forgotten_at = ?, updated_at = ? WHERE id = ?",
        placeholder, stamp, stamp, stamp, contact_id)
    counts["mentions"] = _scrub_everywhere(conn, phone)
    return Erased(**counts)


def _close_sales(conn: sqlite3.Connection, contact_id: int, stamp: str) -> int:
    """Withdraw a forgotten person's open sales and lapse their open bids (and the bids on
    those sales); drop the digests waiting for them. Returns sales and bids closed."""
    sales = conn.execute("UPDATE listings SET status = 'withdrawn', closed_at = ? WHERE"
                         " seller_id = ? AND status = 'open' RETURNING id",
                         (stamp, contact_id)).fetchall()
    ids = [row[0] for row in sales]
    marks = ",".join("?" * len(ids)) or "NULL"
    bids = conn.execute(f"UPDATE bids SET status = 'lapsed', decided_at = ? WHERE status ="
                        f" 'open' AND (buyer_id = ? OR listing_id IN ({marks}))",
                        (stamp, contact_id, *ids)).rowcount
    conn.execute(f"UPDATE listing_alerts SET sent_at = ? WHERE sent_at IS NULL AND (buyer_id"
                 f" = ? OR listing_id IN ({marks}))", (stamp, contact_id, *ids))
    return len(ids) + bids


# The columns that can hold free text in the largest tables, so that forgetting reads only
# those there; every other table (including any added later) has all its text columns read.
_FREE_TEXT = {
    "inbound": ("text",),
    "outbox": ("text", "error"),          # a provider's error may quote the number
    "status_events": ("error_code",),
    "contacts": (),                       # other people's own numbers; the rest is settings
    "prices": (),
}


def _scrub_everywhere(conn: sqlite3.Connection, phone: str) -> int:
    """Replace the number in every text column of every table; return the rows changed."""
    near, hints = _near(phone)
    changed = conn.execute(
        f"DELETE FROM ussd_hops WHERE {near.format(column='text')} AND {_MATCH_FN}(text)",
        hints).rowcount
    for table in _tables(conn):
        columns = _text_columns(conn, table)
        if table in _FREE_TEXT:
            columns = [c for c in columns if c in _FREE_TEXT[table]]
        for column in columns:
            quoted = f'"{column}"'
            changed += conn.execute(
                f'UPDATE "{table}" SET {quoted} = {_SCRUB_FN}({quoted})'
                f" WHERE {near.format(column=quoted)} AND {_MATCH_FN}({quoted})",
                hints).rowcount
    return changed


def _near(phone: str) -> tuple[str, tuple[str, ...]]:
    """A cheap SQL test (a template with {column}, and its parameters) that every text
    naming the number passes: its last two digits together, and its last four together or
    split once by a separator (0711 000 002, 07 11 00 00 02). Only texts that pass it are
    given to the regular expression, a Python call per row. With 300,000 messages received
    and 300,000 sent, forgetting held the write lock for 0.9 s on a laptop; reading every
    text column and calling Python for most texts took 6 s."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 4:
        return "instr({column}, ?) > 0", (phone,)
    tail, sep = digits[-4:], "[-. ()]"
    return ("(instr({column}, ?) > 0 AND ({column} GLOB ? OR {column} GLOB ?"
            " OR {column} GLOB ?))",
            (tail[-2:], f"*{tail}*", f"*{tail[0]}{sep}{tail[1:]}*", f"*{tail[:2]}{sep}{tail[2:]}*"))


def _tables(conn: sqlite3.Connection) -> list[str]:
    """The ordinary tables (not SQLite's own, not virtual tables or their shadow tables)."""
    return [row[1] for row in conn.execute("PRAGMA main.table_list")
            if row[2] == "table" and not row[1].startswith("sqlite_")]


def _text_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """Columns that can hold text and are no part of a key (a primary key or a UNIQUE
    index: rewriting those could make two rows collide)."""
    keyed = set()
    for index in conn.execute(f'PRAGMA index_list("{table}")'):
        if index["unique"]:
            keyed.update(r["name"] for r in conn.execute(f'PRAGMA index_info("{index["name"]}")'))
    columns = []
    for column in conn.execute(f'PRAGMA table_info("{table}")'):
        declared = str(column["type"]).upper()
        texty = not declared or any(word in declared for word in ("TEXT", "CHAR", "CLOB"))
        if texty and not column["pk"] and column["name"] not in keyed:
            columns.append(column["name"])
    return columns


# ------------------------------------------------------------------------------ retention


@dataclass(frozen=True, slots=True)
class Pruned:
    """What `prune` emptied or deleted (or, in a dry run, would)."""

    inbound: int = 0          # texts of received messages emptied
    outbox: int = 0           # texts of sent (or failed) messages emptied
    broadcasts: int = 0       # texts of leaders' broadcasts emptied
    audit: int = 0            # texts quoted in the audit trail emptied
    ussd_events: int = 0      # what was typed and shown, in session-end notifications
    ussd_hops: int = 0        # screens answered, deleted
    ussd_sessions: int = 0    # sessions last used before then, deleted
    status_events: int = 0    # providers' delivery reports, deleted

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return asdict(self)


# (count name, table, the rows concerned, what to do with them: an UPDATE's SET or DELETE)
_PRUNE_STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("inbound", "inbound", "received_at < :before AND text != ''", "SET text = ''"),
    ("outbox", "outbox", "created_at < :before AND text != ''"
     f" AND status NOT IN ({', '.join(repr(s) for s in _UNSENT)})", "SET text = ''"),
    ("broadcasts", "broadcasts", "created_at < :before AND text != '' AND status != 'pending'",
     "SET text = ''"),
    ("audit", "audit", "at < :before AND json_valid(detail)"
     " AND json_extract(detail, '$.text') != ''", "SET detail = json_set(detail, '$.text', '')"),
    ("ussd_events", "ussd_events", "received_at < :before AND (input != ''"
     " OR last_app_response != '')", "SET input = '', last_app_response = ''"),
    ("status_events", "status_events", "received_at < :before", "DELETE"),
)


def prune(conn: sqlite3.Connection, *, before: datetime, batch: int = PRUNE_BATCH,
          dry_run: bool = False) -> Pruned:
    """Empty message texts from before a moment and delete USSD screens and delivery
    reports from before it, keeping every row that is counted.

    Emptied: the text of received messages, of outbox messages in a final state (sent,
    replied, delivered, failed...: never one still queued or being sent), of leaders'
    broadcasts no longer waiting for YES, of broadcasts quoted in the audit trail, and
    what was typed and shown in USSD session-end notifications. Deleted: USSD sessions
    last used before the moment with the screens answered in them (`db.ussd.prune`),
    older screens of sessions still in use, and providers' delivery reports.

    Each batch of at most `batch` rows is its own transaction, so other writers wait
    milliseconds, not the whole run. `dry_run` counts and changes nothing.
    """
    values = {"before": iso(before)}
    counts: dict[str, int] = {}
    for name, table, where, action in _PRUNE_STEPS:
        if dry_run:
            counts[name] = _count(conn, table, where, values)
        else:
            counts[name] = _in_batches(conn, table, where, action, values, batch)
    if dry_run:
        counts["ussd_hops"] = _count(conn, "ussd_hops", "answered_at < :before", values)
        counts["ussd_sessions"] = _count(conn, "ussd_sessions", "updated_at < :before", values)
    else:
        counts["ussd_hops"] = _until_done(lambda: conn.execute(
            "DELETE FROM ussd_hops WHERE (session_id, text) IN (SELECT session_id, text"
            " FROM ussd_hops WHERE answered_at < ? LIMIT ?)", (values["before"], batch)).rowcount,
            conn, batch)
        # Their hops were answered before the session's last use, so are already gone.
        counts["ussd_sessions"] = _until_done(
            lambda: ussd.prune(conn, before, limit=batch), conn, batch)
    return Pruned(**counts)


def _count(conn: sqlite3.Connection, table: str, where: str, values: dict[str, str]) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", values).fetchone()[0])


def _in_batches(conn: sqlite3.Connection, table: str, where: str, action: str,
                values: dict[str, str], batch: int) -> int:
    """Apply `action` to the rows `where` selects, walking the table by rowid, `batch`
    rows per transaction. Rows added after the walk began are newer than the cutoff."""
    last_old = conn.execute(f"SELECT MAX(rowid) FROM {table} WHERE {where}", values).fetchone()[0]
    if last_old is None:
        return 0
    verb = f"DELETE FROM {table}" if action == "DELETE" else f"UPDATE {table} {action}"
    done, low = 0, 0
    while low < last_old:
        row = conn.execute(f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid"
                           f" LIMIT 1 OFFSET ?", (low, batch - 1)).fetchone()
        high = last_old if row is None else min(int(row[0]), last_old)
        with transaction(conn):
            done += conn.execute(f"{verb} WHERE rowid > :low AND rowid <= :high AND ({where})",
                                 {**values, "low": low, "high": high}).rowcount
        low = high
    return done


def _until_done(step: Callable[[], int], conn: sqlite3.Connection, batch: int) -> int:
    """Run a step that deletes at most `batch` rows, one transaction each, until it runs out."""
    done = 0
    while True:
        with transaction(conn):
            deleted = step()
        done += deleted
        if deleted < batch:
            return done
