"""Forgetting a farmer (db.privacy.forget_contact, `smsgw contacts forget`) and message
retention (db.privacy.prune, `smsgw prune`, the worker's prune job)."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support import kenya_config, make_config
from test_orders import (
    BUYER,
    KIMA_A,
    KIMA_B,
    KIMA_LEADER,
    e164,
    post_order,
    say,
    setup_groups,
)

import db
from db import contacts, privacy
from db import groups as groups_db
from db import orders as orders_db
from db import outbox as outbox_db
from db import ussd
from db.timeutil import iso, utcnow
from smsgw.providers.base import OneAtATime
from smsgw import config as configuration
from smsgw.cli import main
from smsgw.phone import mask
from smsgw.worker import Worker, build_senders, schedule_prune, scheduled_prune

FARMER = e164(KIMA_A)                    # +254711000002, the person who asks to be forgotten
# The ways the number can be written; none may be left anywhere in the database.
FORMS = ("254711000002", "0711000002", "711000002", "0711 000 002", "711-000-002")


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path)


class Recorder(OneAtATime):
    """A local sender that remembers what it was asked to send."""

    provider = "local"
    max_per_second = 1000

    def __init__(self) -> None:
        self.sent: list[outbox_db.OutboxMessage] = []

    def send(self, message: outbox_db.OutboxMessage) -> str:
        self.sent.append(message)
        return f"rec-{message.id}"


def contact_id(conn: sqlite3.Connection, phone: str) -> int:
    return conn.execute("SELECT id FROM contacts WHERE phone = ?", (phone,)).fetchone()[0]


def count(conn: sqlite3.Connection, sql: str, *args: Any) -> int:
    return int(conn.execute(sql, args).fetchone()[0])


def everything(conn: sqlite3.Connection) -> list[str]:
    """The whole database as SQL text, to compare before and after."""
    return list(conn.iterdump())


def mentions_of_the_number(conn: sqlite3.Connection) -> list[str]:
    """Every (table.column: value) in the database that holds the farmer's number in any of
    FORMS: every column of every table, read as text."""
    found = []
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        for column in [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]:
            for (value,) in conn.execute(f'SELECT CAST("{column}" AS TEXT) FROM "{table}"'):
                if value and any(form in value for form in FORMS):
                    found.append(f"{table}.{column}: {value}")
    return found


def farmer_story(client, conn) -> dict[str, Any]:
    """KIMA_A lives a full life: subscriptions, a home market and language, group
    membership, an admin role, pledges to an order, a USSD session, a confirmation waiting,
    a broadcast proposal; the leader approves them by number and gets a summary naming
    them; messages to them and caused by them are still queued."""
    setup_groups(conn)
    code = post_order(client, conn)
    say(client, f"FWD {code}", KIMA_LEADER)
    say(client, f"OFFER {code} 60", KIMA_A)
    say(client, f"OFFER {code} 30", KIMA_B)
    say(client, "REG NAKURU", KIMA_A)
    say(client, "SUB MAIZE", KIMA_A)
    say(client, "SUB BEANS NAKURU", KIMA_A)
    # Another person writes the number with spaces; the reply names it too.
    say(client, "APPROVE KIMA 0711 000 002", KIMA_LEADER)
    # The buyer closes: the KIMA leader's summary lists "0711000002 60", and the farmer's
    # own summary is queued for the worker.
    say(client, f"CLOSE {code}", BUYER)
    me = contact_id(conn, FARMER)
    other = contact_id(conn, e164(KIMA_B))
    kima = groups_db.by_code(conn, "KIMA")
    now = utcnow()
    with db.transaction(conn):
        contacts.set_language(conn, me, "sw")
        groups_db.set_role(conn, me, "admin")
        # Their USSD session, with the number in a session end as AT sends it.
        ussd.start_session(conn, session_id="ATUid_farmer", contact_id=me, service_code="*384#",
                           network_code="63902", state="{}", now=now)
        ussd.record_answer(conn, "ATUid_farmer", "1", screen="Prices", ends=False, now=now)
        ussd.record_end(conn, ussd.SessionEnd("ATUid_farmer", "Success", phone=FARMER,
                                              input="1*1"), now)
        # Somebody else's USSD session that typed and showed the number.
        leader = contact_id(conn, e164(KIMA_LEADER))
        ussd.start_session(conn, session_id="ATUid_leader", contact_id=leader,
                           service_code="*384#", network_code="63902",
                           state='{"pending": ["+254711000002"]}', now=now)
        ussd.record_answer(conn, "ATUid_leader", "3*0711000002", screen="Approve 0711000002?",
                           ends=False, now=now)
        ussd.record_answer(conn, "ATUid_leader", "3", screen="Pending: 0711000002",
                           ends=False, now=now)
        conn.execute("INSERT INTO confirmations (contact_id, text, language, messages, segments,"
                     " created_at, expires_at) VALUES (?, 'BCAST hello all', 'en', 3, 3, ?, ?)",
                     (me, iso(now), iso(now + timedelta(minutes=10))))
        conn.execute("INSERT INTO broadcasts (group_id, leader_id, text, members, segments,"
                     " status, created_at, expires_at) VALUES (?, ?, 'KIMA: meet at 0711000002',"
                     " 3, 1, 'pending', ?, ?)",
                     (kima.id, me, iso(now), iso(now + timedelta(minutes=10))))
        # A message their message caused to someone else: one sent, one still queued.
        caused = []
        for status in ("sent", "queued"):
            made = outbox_db.enqueue(conn, to_number=e164(KIMA_B), text="KIMA: my maize is dry",
                                     provider="local", kind="broadcast", encoding="GSM-7",
                                     segments=1, now=now, contact_id=other,
                                     status=outbox_db.OutboxStatus(status))
            conn.execute("UPDATE outbox SET caused_by = ? WHERE id = ?", (me, made))
            caused.append(made)
    order = orders_db.by_code(conn, code)
    return {"me": me, "order": order, "kima": kima, "code": code, "caused": caused}


# ------------------------------------------------------------------------------ forget


def test_forget_removes_the_number_texts_subscriptions_and_memberships_and_keeps_counts(
        client, conn):
    story = farmer_story(client, conn)
    me, order = story["me"], story["order"]
    assert mentions_of_the_number(conn)            # the story did put the number about
    inbound_before = count(conn, "SELECT COUNT(*) FROM inbound")
    outbox_before = count(conn, "SELECT COUNT(*) FROM outbox")
    total_before = orders_db.total(conn, order.id)
    groups_before = orders_db.group_totals(conn, order.id)
    my_inbound = count(conn, "SELECT COUNT(*) FROM inbound WHERE contact_id = ?", me)
    queued_to_me = [r[0] for r in conn.execute(
        "SELECT id FROM outbox WHERE contact_id = ? AND status = 'queued'", (me,))]
    assert queued_to_me and my_inbound == 4
    unsent = count(conn, "SELECT COUNT(*) FROM outbox WHERE (contact_id = ? OR caused_by = ?)"
                   " AND status IN ('queued', 'sending')", me, me)
    caused_texts = count(conn, "SELECT COUNT(*) FROM outbox WHERE caused_by = ? AND text != ''",
                         me)

    erased = privacy.forget_contact(conn, me, now=utcnow())

    # The person: an anonymous id that can never be texted.
    row = conn.execute("SELECT * FROM contacts WHERE id = ?", (me,)).fetchone()
    assert row["phone"] == f"forgotten:{me}"
    assert row["language"] is None and row["home_market_id"] is None
    assert row["opted_out"] == 1 and row["forgotten_at"] is not None
    assert contacts.find(conn, FARMER) is None
    # Counts hold: every message row is still there, every pledge still adds up.
    assert count(conn, "SELECT COUNT(*) FROM inbound") == inbound_before
    assert count(conn, "SELECT COUNT(*) FROM outbox") == outbox_before
    assert orders_db.total(conn, order.id) == total_before == 90
    assert orders_db.group_totals(conn, order.id) == groups_before
    assert orders_db.recount(conn, order.id)[0] == 90
    assert erased.pledges_kept == 1
    # Their words are gone, and so is everything that tied them to the service.
    assert [tuple(r) for r in conn.execute(
        "SELECT DISTINCT text, recipient FROM inbound WHERE contact_id = ?", (me,))] == [("", "")]
    assert [tuple(r) for r in conn.execute(
        "SELECT DISTINCT text, to_number FROM outbox WHERE contact_id = ?", (me,))] == [
        ("", f"forgotten:{me}")]
    caused = conn.execute("SELECT text, to_number, caused_by, status, error FROM outbox"
                          " WHERE id IN (?, ?) ORDER BY id", story["caused"]).fetchall()
    assert [tuple(r) for r in caused] == [
        ("", e164(KIMA_B), me, "sent", None), ("", e164(KIMA_B), me, "failed", "forgotten")]
    assert count(conn, "SELECT COUNT(*) FROM outbox WHERE caused_by = ? AND text != ''", me) == 0
    for table in ("subscriptions", "memberships", "roles", "confirmations", "ussd_sessions"):
        assert count(conn, f"SELECT COUNT(*) FROM {table} WHERE contact_id = ?", me) == 0, table
    assert count(conn, "SELECT COUNT(*) FROM ussd_hops WHERE session_id = 'ATUid_farmer'") == 0
    assert count(conn, "SELECT COUNT(*) FROM ussd_events") == 0
    assert tuple(conn.execute("SELECT text, status FROM broadcasts WHERE leader_id = ?",
                              (me,)).fetchone()) == ("", "expired")
    assert (erased.inbound, erased.subscriptions, erased.memberships, erased.roles) == (
        my_inbound, 2, 1, 1)
    assert (erased.confirmations, erased.ussd_sessions, erased.ussd_events) == (1, 1, 1)
    assert erased.cancelled == unsent >= len(queued_to_me) + 1
    assert erased.caused == caused_texts >= 2
    # What other people sent or got keeps its rows, with the number replaced.
    leader_summary = conn.execute(
        "SELECT text FROM outbox WHERE to_number = ? AND text LIKE 'Order % closed. KIMA%'",
        (e164(KIMA_LEADER),)).fetchone()[0]
    assert "[forgotten] 60; 0711000003 30" in leader_summary
    assert count(conn, "SELECT COUNT(*) FROM inbound WHERE text = 'APPROVE KIMA [forgotten]'") == 1
    assert conn.execute("SELECT state FROM ussd_sessions WHERE session_id = 'ATUid_leader'"
                        ).fetchone()[0] == '{"pending": ["[forgotten]"]}'
    assert [tuple(r) for r in conn.execute(
        "SELECT text, screen FROM ussd_hops WHERE session_id = 'ATUid_leader'")] == [
        ("3", "Pending: [forgotten]")]   # an answer keyed by the number is deleted
    assert erased.mentions >= 5
    # Nothing of the number is left in any column of any table.
    assert mentions_of_the_number(conn) == []
    # The audit says it happened, with counts only.
    audit = conn.execute("SELECT actor_id, detail FROM audit WHERE action = 'forget'").fetchall()
    assert len(audit) == 1 and audit[0][0] is None
    detail = json.loads(audit[0][1])
    assert detail == erased.counts() and all(isinstance(v, int) for v in detail.values())


def test_a_forgotten_farmer_is_never_sent_anything(client, conn, config, clock):
    story = farmer_story(client, conn)
    me = story["me"]
    queued = [r[0] for r in conn.execute(
        "SELECT id FROM outbox WHERE (contact_id = ? OR caused_by = ?) AND status = 'queued'",
        (me, me))]
    assert queued
    privacy.forget_contact(conn, me, now=utcnow())
    # Something queued for the anonymous contact afterwards (an order update, say).
    with db.transaction(conn):
        later = outbox_db.enqueue(conn, to_number=f"forgotten:{me}", text="Order update",
                                  provider="local", kind="order", encoding="GSM-7", segments=1,
                                  now=clock(), contact_id=me)
    recorder = Recorder()
    worker = Worker(config, build_senders(config, local=recorder), clock=clock)
    while worker.run_once(conn):
        pass
    assert recorder.sent, "the worker did send the other queued messages"
    assert all(m.contact_id != me and m.to_number not in (FARMER, f"forgotten:{me}")
               for m in recorder.sent)
    assert not {m.id for m in recorder.sent} & {*queued, later}
    statuses = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT id, status, error FROM outbox WHERE id IN (%s)" % ",".join("?" * len(queued)),
        queued)}
    assert set(statuses.values()) == {("failed", "forgotten")}
    assert later is None   # an opted-out (forgotten) contact gets no outbox row at all


def test_the_same_number_writing_again_is_a_new_contact(client, conn):
    story = farmer_story(client, conn)
    privacy.forget_contact(conn, story["me"], now=utcnow())
    reply = say(client, "HELP", KIMA_A)
    assert "PRICE" in reply
    again = contacts.find(conn, FARMER)
    assert again is not None and again.id != story["me"] and not again.opted_out
    assert count(conn, "SELECT COUNT(*) FROM subscriptions WHERE contact_id = ?", again.id) == 0


def test_forgetting_twice_changes_nothing_and_says_so(client, conn):
    story = farmer_story(client, conn)
    first = privacy.forget_contact(conn, story["me"], now=utcnow())
    assert not first.already and first.total > 0
    before = everything(conn)
    second = privacy.forget_contact(conn, story["me"], now=utcnow())
    assert second.already and second.total == 0
    assert everything(conn) == before
    assert count(conn, "SELECT COUNT(*) FROM audit WHERE action = 'forget'") == 1
    assert privacy.is_forgotten(conn, story["me"])
    with pytest.raises(privacy.UnknownContact):
        privacy.forget_contact(conn, 999_999, now=utcnow())


def test_preview_counts_exactly_and_changes_nothing(client, conn):
    story = farmer_story(client, conn)
    before = everything(conn)
    planned = privacy.preview(conn, story["me"], now=utcnow())
    assert everything(conn) == before
    assert privacy.forget_contact(conn, story["me"], now=utcnow()) == planned


def test_forget_joins_the_callers_transaction(client, conn):
    """A handler calls it inside its own write transaction: a failure later in that
    transaction undoes the forgetting too."""
    story = farmer_story(client, conn)
    before = everything(conn)
    with pytest.raises(RuntimeError), db.transaction(conn):
        privacy.forget_contact(conn, story["me"], now=utcnow(), actor_id=story["me"])
        raise RuntimeError("the reply could not be stored")
    assert everything(conn) == before
    with db.transaction(conn):
        privacy.forget_contact(conn, story["me"], now=utcnow(), actor_id=story["me"])
    assert conn.execute("SELECT actor_id FROM audit WHERE action = 'forget'").fetchone()[0] == \
        story["me"]


def test_the_number_is_found_however_it_is_written():
    pattern = privacy.mention_pattern(FARMER)
    for written in ("+254711000002", "254711000002", "00254711000002", "0711000002",
                    "0711 000 002", "0711-000-002", "+254 711 000 002", "711000002"):
        assert pattern.sub("X", f"call {written}.") == "call X.", written
    for other in ("+254711000003", "10711000002", "07110000021", "KES 3,400 per 90 KG"):
        assert not pattern.search(other), other


# ------------------------------------------------------------------------------ CLI: forget


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{tmp_path / "cli.db"}"\n[logging]\nlevel = "WARNING"\n')
    conn = db.connect(tmp_path / "cli.db")
    db.migrate(conn)
    with db.transaction(conn):
        person = contacts.get_or_create(conn, FARMER)
        conn.execute("INSERT INTO inbound (provider, provider_message_id, contact_id, recipient,"
                     " text, received_at, outcome) VALUES ('local', 'x1', ?, 'local',"
                     " 'SUB MAIZE', ?, 'handled')", (person.id, iso(utcnow())))
        conn.execute("INSERT INTO subscriptions (contact_id, commodity, created_at)"
                     " VALUES (?, 'MAIZE', ?)", (person.id, iso(utcnow())))
    conn.close()
    return path


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input)


def farmer_row(config_file: Path) -> sqlite3.Row:
    conn = db.connect(config_file.parent / "cli.db")
    try:
        return conn.execute("SELECT * FROM contacts ORDER BY id LIMIT 1").fetchone()
    finally:
        conn.close()


def assert_no_full_number(output: str) -> None:
    digits = re.sub(r"\D", "", output)
    assert "711000002" not in digits, output


def test_cli_forget_asks_first_and_a_no_changes_nothing(cli_config):
    result = invoke("contacts", "forget", "0711 000 002", "--config", str(cli_config),
                    input="n\n")
    assert result.exit_code == 1                     # aborted
    assert mask(FARMER) in result.output and "subscriptions" in result.output
    assert_no_full_number(result.output)
    assert farmer_row(cli_config)["phone"] == FARMER


def test_cli_forget_after_yes_forgets_and_prints_only_the_masked_number(cli_config):
    result = invoke("contacts", "forget", "0711000002", "--config", str(cli_config),
                    input="y\n")
    assert result.exit_code == 0, result.output
    assert "Forgot " + mask(FARMER) in result.output
    assert_no_full_number(result.output)
    row = farmer_row(cli_config)
    assert row["phone"] == f"forgotten:{row['id']}" and row["forgotten_at"]


def test_cli_forget_with_yes_does_not_ask(cli_config):
    result = invoke("contacts", "forget", "+254711000002", "--yes", "--config", str(cli_config))
    assert result.exit_code == 0, result.output
    assert "Forget +" not in result.output and "Forgot" in result.output
    assert_no_full_number(result.output)
    # The number is now unknown: a second run says so and exits 1.
    again = invoke("contacts", "forget", "+254711000002", "--yes", "--config", str(cli_config))
    assert again.exit_code == 1 and "No contact has the number" in again.output
    assert mask(FARMER) in again.output
    assert_no_full_number(again.output)


def test_cli_forget_unknown_and_invalid_numbers(cli_config):
    unknown = invoke("contacts", "forget", "0722999888", "--yes", "--config", str(cli_config))
    assert unknown.exit_code == 1 and "No contact has the number" in unknown.output
    assert "722999888" not in re.sub(r"\D", "", unknown.output)
    invalid = invoke("contacts", "forget", "12", "--yes", "--config", str(cli_config))
    assert invalid.exit_code == 2 and "not a phone number" in invalid.output
    assert farmer_row(cli_config)["forgotten_at"] is None


# ------------------------------------------------------------------------------ prune


@pytest.fixture
def plain(tmp_path: Path):
    connection = db.connect(tmp_path / "prune.db")
    db.migrate(connection)
    yield connection
    connection.close()


OLD, NEW = timedelta(days=200), timedelta(days=10)


def fill(conn: sqlite3.Connection, now) -> dict[str, Any]:
    """Messages, delivery reports, USSD sessions and broadcasts, some 200 days old and some
    10 days old."""
    with db.transaction(conn):
        person = contacts.get_or_create(conn, FARMER).id
        group = groups_db.create(conn, code="KIMA", name="Kima", market_id=None, region=None,
                                 products=["MAIZE"]).id
        for n in range(7):
            for age, tag in ((OLD, "old"), (NEW, "new")):
                conn.execute("INSERT INTO inbound (provider, provider_message_id, contact_id,"
                             " recipient, text, received_at, outcome) VALUES ('local', ?, ?,"
                             " 'local', ?, ?, 'handled')",
                             (f"{tag}{n}", person, f"PRICE MAIZE {tag}", iso(now - age)))
        for age, tag in ((OLD, "old"), (NEW, "new")):
            for status in ("sent", "delivered", "failed", "replied", "suppressed", "queued",
                           "sending"):
                message = outbox_db.enqueue(conn, to_number=FARMER, text=f"{tag} {status}",
                                            provider="local", kind="reply", encoding="GSM-7",
                                            segments=1, now=now - age, contact_id=person,
                                            status=outbox_db.OutboxStatus(status))
                conn.execute("INSERT INTO status_events (outbox_id, provider,"
                             " provider_message_id, provider_status, received_at) VALUES"
                             " (?, 'local', ?, 'Success', ?)",
                             (message, f"p{message}", iso(now - age)))
            session = f"ATUid_{tag}"
            ussd.start_session(conn, session_id=session, contact_id=person, service_code="*1#",
                               network_code="", state="{}", now=now - age)
            for text in ("", "1", "1*2"):
                ussd.record_answer(conn, session, text, screen=f"{tag} screen", ends=False,
                                   now=now - age)
            ussd.record_end(conn, ussd.SessionEnd(session, "Success", phone=FARMER,
                                                  input="1*2", last_app_response="Prices"),
                            now - age)
            for status in ("sent", "pending"):
                conn.execute("INSERT INTO broadcasts (group_id, leader_id, text, members,"
                             " segments, status, created_at, expires_at) VALUES (?, ?, ?, 3, 1,"
                             " ?, ?, ?)", (group, person, f"KIMA: {tag} {status}", status,
                                           iso(now - age), iso(now - age)))
            groups_db.audit(conn, "broadcast", actor_id=person, group_id=group, now=now - age,
                            members=3, segments=1, text=f"KIMA: {tag}")
    return {"person": person}


def texts(conn: sqlite3.Connection, table: str, column: str = "text",
          order: str = "rowid") -> list[str]:
    return [r[0] for r in conn.execute(f"SELECT {column} FROM {table} ORDER BY {order}")]


@contextmanager
def largest_transaction(monkeypatch) -> Any:
    """Records the most rows any one transaction of db.privacy changed."""
    seen = [0]
    real = privacy.transaction

    @contextmanager
    def counting(conn):
        start = conn.total_changes
        with real(conn) as inner:
            yield inner
        seen[0] = max(seen[0], conn.total_changes - start)

    monkeypatch.setattr(privacy, "transaction", counting)
    yield seen


def test_prune_empties_old_texts_keeps_recent_ones_and_never_touches_queued(
        plain, clock, monkeypatch):
    now = clock()
    fill(plain, now)
    rows = {t: count(plain, f"SELECT COUNT(*) FROM {t}")
            for t in ("inbound", "outbox", "broadcasts", "audit", "ussd_events")}
    with largest_transaction(monkeypatch) as largest:
        pruned = privacy.prune(plain, before=now - timedelta(days=180), batch=3)
    assert largest[0] <= 3                           # a batch per transaction
    assert pruned == privacy.Pruned(inbound=7, outbox=5, broadcasts=1, audit=1, ussd_events=1,
                                    ussd_hops=3, ussd_sessions=1, status_events=7)
    # Rows stay (counts hold); old texts are empty, recent ones whole.
    assert {t: count(plain, f"SELECT COUNT(*) FROM {t}") for t in rows} == rows
    assert sorted(set(texts(plain, "inbound"))) == ["", "PRICE MAIZE new"]
    assert texts(plain, "outbox") == [
        "", "", "", "", "", "old queued", "old sending",
        "new sent", "new delivered", "new failed", "new replied", "new suppressed",
        "new queued", "new sending"]
    assert texts(plain, "broadcasts") == ["", "KIMA: old pending", "KIMA: new sent",
                                          "KIMA: new pending"]
    audit = [json.loads(d) for d in texts(plain, "audit", "detail")
             if json.loads(d).get("members")]
    assert [a["text"] for a in audit] == ["", "KIMA: new"] and audit[0]["members"] == 3
    assert [tuple(r) for r in plain.execute(
        "SELECT session_id, input, last_app_response, phone FROM ussd_events ORDER BY rowid")] \
        == [("ATUid_old", "", "", FARMER), ("ATUid_new", "1*2", "Prices", FARMER)]
    # USSD sessions and screens and delivery reports from before then are gone.
    assert texts(plain, "ussd_sessions", "session_id") == ["ATUid_new"]
    assert sorted(set(texts(plain, "ussd_hops", "session_id", "session_id"))) == ["ATUid_new"]
    assert count(plain, "SELECT COUNT(*) FROM status_events") == 7
    # Run again: nothing more to do.
    assert privacy.prune(plain, before=now - timedelta(days=180), batch=3) == privacy.Pruned()


def test_prune_dry_run_changes_nothing_and_counts_the_same(plain, clock):
    now = clock()
    fill(plain, now)
    before = everything(plain)
    planned = privacy.prune(plain, before=now - timedelta(days=180), dry_run=True)
    assert everything(plain) == before
    assert planned == privacy.prune(plain, before=now - timedelta(days=180), batch=4)


def test_prune_keeps_everything_younger_than_the_cutoff(plain, clock):
    now = clock()
    fill(plain, now)
    before = everything(plain)
    assert privacy.prune(plain, before=now - timedelta(days=365)) == privacy.Pruned()
    assert everything(plain) == before


# ------------------------------------------------------------------------------ CLI: prune


def test_cli_prune_dry_run_then_for_real(cli_config):
    conn = db.connect(cli_config.parent / "cli.db")
    fill(conn, utcnow())
    conn.close()
    dry = invoke("prune", "--days", "30", "--dry-run", "--config", str(cli_config))
    assert dry.exit_code == 0, dry.output
    assert "Would prune what is older than 30 days" in dry.output
    assert re.search(r"\b7\s+texts of received messages emptied", dry.output)
    assert "Dry run: nothing was changed." in dry.output
    conn = db.connect(cli_config.parent / "cli.db")
    assert count(conn, "SELECT COUNT(*) FROM inbound WHERE text = ''") == 0
    conn.close()
    done = invoke("prune", "--config", str(cli_config))   # retention.message_days: 180
    assert done.exit_code == 0 and "Pruned what is older than 180 days" in done.output
    assert re.search(r"\b5\s+texts of sent or failed messages emptied", done.output)
    conn = db.connect(cli_config.parent / "cli.db")
    assert count(conn, "SELECT COUNT(*) FROM inbound WHERE text = ''") == 7
    conn.close()
    assert invoke("prune", "--days", "0", "--config", str(cli_config)).exit_code == 2


def test_cli_prune_does_nothing_when_texts_are_kept_forever(cli_config):
    cli_config.write_text(cli_config.read_text() + "[retention]\nmessage_days = 0\n")
    result = invoke("prune", "--config", str(cli_config))
    assert result.exit_code == 0 and "kept forever" in result.output


# ------------------------------------------------------------------------------ schedule


def test_the_worker_schedules_the_prune_job(config, monkeypatch):
    from smsgw import bulletins
    from smsgw import worker as outbox_worker

    made = []
    real = bulletins.build_scheduler

    def build(settings):
        scheduler = real(settings)
        monkeypatch.setattr(scheduler, "start", lambda *a, **k: None)
        monkeypatch.setattr(scheduler, "shutdown", lambda *a, **k: None)
        made.append(scheduler)
        return scheduler

    monkeypatch.setattr(bulletins, "build_scheduler", build)
    monkeypatch.setattr(outbox_worker.signal, "signal", lambda *a: None)
    monkeypatch.setattr(outbox_worker.Worker, "run_forever", lambda self, conn, stop: None)
    outbox_worker.serve(config)
    jobs = {job.id: job for job in made[0].get_jobs()}
    assert "prune" in jobs and jobs["prune"].func is scheduled_prune
    trigger = str(jobs["prune"].trigger)
    assert "hour='3'" in trigger and "minute='30'" in trigger   # the default 30 3 * * *
    assert jobs["prune"].coalesce and jobs["prune"].max_instances == 1


@pytest.mark.parametrize("overrides", [{"retention.prune_schedule": ""},
                                       {"retention.message_days": 0}])
def test_no_prune_job_when_switched_off(tmp_path, overrides):
    from smsgw.bulletins import build_scheduler

    settings = make_config(tmp_path, **overrides)
    scheduler = build_scheduler(settings)
    schedule_prune(scheduler, settings)
    assert "prune" not in {job.id for job in scheduler.get_jobs()}


def test_the_scheduled_job_prunes_by_the_configured_days(tmp_path, clock):
    settings = make_config(tmp_path, **{"retention.message_days": 100})
    conn = db.connect(settings["database.path"])
    db.migrate(conn)
    fill(conn, clock())
    pruned = scheduled_prune(settings, now=clock())
    assert pruned.inbound == 7 and pruned.outbox == 5
    assert count(conn, "SELECT COUNT(*) FROM inbound WHERE text != ''") == 7
    conn.close()


@pytest.mark.parametrize(("key", "value"), [("retention.prune_schedule", "every night"),
                                            ("retention.message_days", -1)])
def test_bad_retention_settings_stop_with_the_key_named(tmp_path, key, value):
    with pytest.raises(configuration.ConfigError, match=re.escape(key)):
        make_config(tmp_path, **{key: value})
