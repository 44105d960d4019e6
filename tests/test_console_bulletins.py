"""The console's bulletins page (issue 17): the schedule and the next run per country, a dry
run with the same figures as `smsgw bulletins send --dry-run`, and past runs with how their
messages ended."""

from __future__ import annotations

import html
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support import browser_login, console_login, console_user, csrf_token, kenya_config
from test_bulletins import crowd

import db
from db import bulletins as ledger
from db import contacts
from db.timeutil import utcnow
from smsgw import bulletins
from smsgw.app import create_app
from smsgw.cli import main

LAST_WEEK = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)     # a Monday, 12:00 in Nairobi


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"bulletins.cost_per_segment": 0.8})


def logged_in(client: Any, conn: sqlite3.Connection) -> Any:
    """The console client, logged in as an admin."""
    console_user(conn, "ann")
    console_login(client, "ann")
    return client


def dry_run(client: Any, day: str, kind: str = "all") -> Any:
    """POST the dry-run form (as bytes a browser could send, lone surrogates too)."""
    from urllib.parse import urlencode

    page = client.get("/console/bulletins").get_data(as_text=True)
    body = urlencode({"day": day, "kind": kind, "csrf_token": csrf_token(page)},
                     encoding="utf-8", errors="surrogatepass")
    return client.post("/console/bulletins/dry-run", data=body,
                       content_type="application/x-www-form-urlencoded")


def cells(html_text: str, table: str, run_key: str) -> list[str]:
    """The cells of one run's row in a table of the page."""
    part = html_text.split(f'data-table="{table}"', 1)[1].split("</table>", 1)[0]
    row = part.split(f'<tr data-run="{run_key}">', 1)[1].split("</tr>", 1)[0]
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def outbox_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


# ------------------------------------------------------------------------------ dry run


def test_the_dry_run_shows_the_command_lines_figures(config, tmp_path):
    conn = db.connect(config["database.path"])
    phones = crowd(conn, 9)
    with db.transaction(conn):
        contacts.opt_out_number(conn, phones[0], source="keyword")
    toml = tmp_path / "cli.toml"
    toml.write_text(f'[database]\npath = "{config["database.path"]}"\n[logging]\n'
                    'level = "WARNING"\n[bulletins]\ncost_per_segment = 0.8\n', encoding="utf-8")
    cli = CliRunner().invoke(main, ["bulletins", "send", "--dry-run", "--date", "2026-11-23",
                                    "--kind", "all", "--config", str(toml)])
    assert cli.exit_code == 0, cli.output
    # The console on the real clock, as the command line is.
    client = create_app(config).test_client()
    logged_in(client, conn)
    before = outbox_count(conn)
    page = dry_run(client, "2026-11-23")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    shown = html.unescape(re.search(r"<pre data-cli>(.*?)</pre>", text, re.S).group(1))
    assert shown.splitlines() == cli.output.splitlines()
    assert "prices:2026-11-23 (dry run): 9 subscriber(s), 8 queued" in shown
    report = bulletins.send(conn, config, day=datetime(2026, 11, 23).date(), kind="prices",
                            dry_run=True)[0]
    assert cells(text, "dry-run", "prices:2026-11-23")[1:] == [
        f"{report.subscribers:,}", f"{report.queued:,}", f"{report.messages:,}",
        f"{report.segments:,}", "1", f"{report.empty:,}", "0",
        f"KES {report.segments * 0.8:,.2f}"]
    assert outbox_count(conn) == before == 0           # a dry run queues nothing
    conn.close()


def test_a_dry_run_of_a_run_stopped_half_way_queues_nothing(console_client, conn, clock):
    crowd(conn, 6)
    logged_in(console_client, conn)
    with db.transaction(conn):
        ledger.start(conn, "prices:2026-11-23", kind="prices", trigger="schedule", now=clock())
    text = dry_run(console_client, "2026-11-23", "prices").get_data(as_text=True)
    assert cells(text, "dry-run", "prices:2026-11-23")[1:3] == ["6", "6"]
    assert outbox_count(conn) == 0
    assert ledger.get(conn, "prices:2026-11-23").finished_at is None


def test_a_bulletin_already_sent_says_so(console_client, conn, clock):
    crowd(conn, 3)
    bulletins.price_bulletin(conn, console_client.application.extensions["smsgw"].config,
                             now=clock())
    logged_in(console_client, conn)
    text = dry_run(console_client, "2026-11-23", "prices").get_data(as_text=True)
    assert cells(text, "dry-run", "prices:2026-11-23")[1] == "already sent, nothing to do"


@pytest.mark.parametrize("day", ["23/11/2026", "2026-02-30", "😀", "\ud800", "x" * 1600, ""])
def test_a_bad_date_gets_a_clear_message(console_client, conn, day):
    logged_in(console_client, conn)
    response = dry_run(console_client, day)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert ("Write the date as YYYY-MM-DD" in text) or ("Give the bulletin&#39;s date." in text)
    assert 'aria-invalid="true"' in text and 'data-table="dry-run"' not in text


def test_an_unknown_kind_is_refused_with_a_message(console_client, conn):
    logged_in(console_client, conn)
    response = dry_run(console_client, "2026-11-23", "everything")
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_a_leader_can_neither_see_nor_count(console_client, conn):
    from db import groups as groups_db

    with db.transaction(conn):
        groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None, region=None,
                         products=["MAIZE"])
    console_user(conn, "lee", "leader", group="KIMA")
    console_login(console_client, "lee")
    token = csrf_token(console_client.get("/console/account").get_data(as_text=True))
    assert console_client.get("/console/bulletins").status_code == 403
    assert console_client.post("/console/bulletins/dry-run", data={
        "day": "2026-11-23", "kind": "all", "csrf_token": token}).status_code == 403


# ------------------------------------------------------------------------------ schedule


def test_the_schedule_names_the_next_run_in_the_deployments_time(console_client, conn):
    logged_in(console_client, conn)
    text = console_client.get("/console/bulletins").get_data(as_text=True)
    # Monday 23 Nov, 12:00 in Nairobi: today's 07:00 has passed, so next Monday
    assert "The next price bulletin goes out <strong>Mon 30 Nov 2026, 07:00 (in 6 days)" \
        "</strong>" in text
    assert "Mon 7 Dec 2026, 07:00 (in 13 days)" in text
    assert "No outbox worker has run on this database" in text


def test_each_country_has_its_own_run_and_hour(kenya_db, tmp_path, clock):
    config = kenya_config(kenya_db, tmp_path, **{
        "countries": {"KE": {}, "GH": {"timezone": "Africa/Accra", "currency": "GHS"}}})
    app = create_app(config, clock=clock)
    client = app.test_client()
    conn = db.connect(config["database.path"])
    logged_in(client, conn)
    text = client.get("/console/bulletins").get_data(as_text=True)
    schedule = text.split('data-table="schedule"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"<th scope=\"row\">KE</th>\s*<td>Africa/Nairobi</td>", schedule)
    assert re.search(r"<th scope=\"row\">GH</th>\s*<td>Africa/Accra</td>", schedule)
    # 09:00 in Accra on a Monday: its 07:00 has passed too; 07:00 GMT is 3 h after Nairobi's
    assert "Mon 30 Nov 2026, 07:00 (in 6 days)" in schedule
    assert "(in 6 days)" in text.split("data-next-run", 1)[1].split("</p>", 1)[0]
    assert "prices:GH:2026-11-23" in schedule and "prices:KE:2026-11-23" in schedule
    conn.close()


def test_no_schedule_says_how_to_send(kenya_db, tmp_path, clock):
    config = kenya_config(kenya_db, tmp_path, **{"bulletins.prices_schedule": ""})
    client = create_app(config, clock=clock).test_client()
    conn = db.connect(config["database.path"])
    logged_in(client, conn)
    text = client.get("/console/bulletins").get_data(as_text=True)
    assert "No price bulletin is scheduled" in text and "not scheduled" in text
    conn.close()


# ------------------------------------------------------------------------------ history


def test_past_runs_show_how_their_messages_ended_as_sql_counts_them(console_client, conn):
    crowd(conn, 8)
    config = console_client.application.extensions["smsgw"].config
    run = bulletins.price_bulletin(conn, config, now=LAST_WEEK, trigger="schedule")
    with db.transaction(conn):
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM outbox WHERE bulletin_run_id = ? ORDER BY id", (run.run_id,))]
        for message_id, status in zip(ids, ["delivered"] * 3 + ["failed", "undelivered", "sent",
                                                                "suppressed"], strict=False):
            conn.execute("UPDATE outbox SET status = ? WHERE id = ?", (status, message_id))
    logged_in(console_client, conn)
    text = console_client.get("/console/bulletins").get_data(as_text=True)
    by_status = dict(conn.execute("SELECT status, COUNT(*) FROM outbox WHERE bulletin_run_id = ?"
                                  " GROUP BY status", (run.run_id,)).fetchall())
    stored = ledger.get(conn, "prices:2026-11-16")
    assert cells(text, "runs", "prices:2026-11-16") == [
        "prices:2026-11-16", "16 Nov 2026, 12:00", "schedule", "done", str(stored.queued),
        str(stored.messages), str(stored.segments), str(by_status["delivered"]),
        str(by_status["sent"]), str(by_status["failed"] + by_status["undelivered"]),
        str(by_status["suppressed"]), str(by_status["queued"]),
        f"KES {stored.segments * 0.8:,.2f}"]
    assert (by_status["delivered"], by_status["queued"]) == (3, 1)


def test_runs_come_ten_to_a_page_newest_first(console_client, conn, clock):
    with db.transaction(conn):
        for n in range(12):
            ledger.start(conn, f"standard:MAIZE:{n}", kind="standard", trigger="cli",
                         now=clock())
    logged_in(console_client, conn)
    text = console_client.get("/console/bulletins").get_data(as_text=True)
    keys = re.findall(r'<tr data-run="(standard:MAIZE:\d+)">', text)
    assert keys == [f"standard:MAIZE:{n}" for n in range(11, 1, -1)]
    older = re.search(r'href="(/console/bulletins\?before=\d+)">Older runs', text).group(1)
    text = console_client.get(older).get_data(as_text=True)
    assert re.findall(r'<tr data-run="(standard:MAIZE:\d+)">', text) == \
        ["standard:MAIZE:1", "standard:MAIZE:0"]
    assert "Older runs" not in text and "Newest runs" in text
    assert "unfinished" in text


def test_no_runs_yet_says_what_sends_them(console_client, conn):
    logged_in(console_client, conn)
    text = console_client.get("/console/bulletins?before=x").get_data(as_text=True)
    assert "No bulletin has been sent yet." in text


# ------------------------------------------------------------------------------ in Chromium


def test_a_dry_run_with_the_keyboard_alone_at_a_phones_width(browser, live_server, conn):
    crowd(conn, 4)
    console_user(conn, "ann")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        browser_login(page, live_server, "ann", then="/console/bulletins")
        page.get_by_label("Bulletin date").focus()
        page.keyboard.press("Tab")                     # the date field's parts, then the kind
        while page.evaluate("document.activeElement.id") != "kind":
            page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Count a dry run"
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server}/console/bulletins/dry-run")
        row = page.locator('table[data-table="dry-run"] tr[data-run="prices:2026-11-23"] td')
        assert row.first.inner_text() == "4"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert outbox_count(conn) == 0
    finally:
        context.close()
