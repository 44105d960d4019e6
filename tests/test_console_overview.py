"""The console's overview and the health banner on every page (issue 17): figures from a
seeded database equal SQL counts made here, days in the deployment's time zone, the worker's
heartbeat, a phone's health report, and the banner's rules; in Chromium and with the
Flask test client."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support import ANDROID_KEY, browser_login, console_login, console_user, e164

import db
from db import health as health_db
from db import stats
from db.timeutil import iso
from smsgw.console import health
from smsgw.console.pages import overview
from smsgw.worker import Worker

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)        # the clock fixture: 12:00 in Nairobi
TODAY = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)     # midnight in Nairobi (UTC+3)
MONTH = TODAY - timedelta(days=29)                    # the first of the 30 days shown
PROVIDERS = ("android", "africastalking", "twilio")


# ------------------------------------------------------------------------------ seeding


def _contacts(conn: sqlite3.Connection, count: int) -> list[int]:
    stamp = iso(NOW - timedelta(days=90))
    with db.transaction(conn):
        conn.executemany("INSERT INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)",
                         [(e164(f"0711{n:06d}"), stamp, stamp) for n in range(count)])
    return [row[0] for row in conn.execute("SELECT id FROM contacts ORDER BY id")]


# Outbound messages: (hours before NOW, provider, status, segments, error)
OUTBOX = [
    (24 * 40, "android", "delivered", 1, None),           # before the 30 days
    (24 * 29 + 2, "android", "delivered", 1, None),        # 25 Oct, the first day shown
    (24 * 20, "africastalking", "delivered", 2, None),
    (24 * 20, "africastalking", "undelivered", 1, "UserInBlacklist"),
    (24 * 12, "twilio", "replied", 1, None),
    (24 * 12, "twilio", "failed", 1, "21610: unsubscribed recipient"),
    (24 * 5, "android", "failed", 2, "gave up after 6 attempts: android phone 503: unavailable"),
    (24 * 5, "android", "sent", 1, None),
    (24 * 5, "android", "suppressed", 1, "recipient opted out"),
    (12.5, "android", "delivered", 1, None),               # 23:30 on the 22nd in Nairobi
    (11.5, "android", "delivered", 2, None),               # 00:30 on the 23rd: today
    (6, "africastalking", "sent", 1, None),
    (5, "africastalking", "failed", 1, "InsufficientCredit"),
    (4, "twilio", "replied", 1, None),
    (3, "android", "failed", 1, "gave up after 6 attempts: android phone 503: unavailable"),
    (2, "android", "undelivered", 1, "RESULT_ERROR_GENERIC_FAILURE"),
    (0.9, "android", "queued", 1, None),                   # due 54 minutes ago: waiting
    (0.8, "android", "queued", 2, None),
]
# Messages in, hours before NOW
INBOUND = [24 * 35, 24 * 29 + 2, 24 * 20, 24 * 12, 24 * 5, 24 * 5, 12.5, 11.5, 6, 4, 3, 2, 0.5]


def seed(conn: sqlite3.Connection) -> list[int]:
    """Messages in and out over 40 days, by several providers in every state, subscriptions
    and opt-outs, written in time order as the service writes them."""
    people = _contacts(conn, 12)
    with db.transaction(conn):
        for n, hours in enumerate(INBOUND):
            conn.execute(
                "INSERT INTO inbound (provider, provider_message_id, contact_id, text,"
                " received_at, outcome) VALUES ('africastalking', ?, ?, 'PRICE MAIZE', ?,"
                " 'handled')", (f"in{n}", people[n % 5], iso(NOW - timedelta(hours=hours))))
        for n, (hours, provider, status, segments, error) in enumerate(OUTBOX):
            stamp = iso(NOW - timedelta(hours=hours))
            conn.execute(
                "INSERT INTO outbox (contact_id, to_number, text, provider, kind, status,"
                " encoding, segments, next_attempt_at, error, created_at, updated_at)"
                " SELECT id, phone, 'Maize KES 40/kg', ?, 'reply', ?, 'gsm7', ?, ?, ?, ?, ?"
                " FROM contacts WHERE id = ?",
                (provider, status, segments, stamp, error, stamp, stamp, people[n % 8]))
        for n, days in enumerate([60, 40, 10, 10, 3, 0.1]):
            conn.execute("INSERT INTO subscriptions (contact_id, commodity, created_at)"
                         " VALUES (?, 'MAIZE', ?)",
                         (people[n], iso(NOW - timedelta(days=days))))
        conn.execute("INSERT INTO subscriptions (contact_id, commodity, created_at)"
                     " VALUES (?, 'BEANS', ?)", (people[10], iso(NOW - timedelta(days=50))))
        for person, days in ((people[9], 70), (people[10], 13), (people[11], 0.2)):
            conn.execute("UPDATE contacts SET opted_out = 1, opted_out_at = ? WHERE id = ?",
                         (iso(NOW - timedelta(days=days)), person))
    return people


@dataclass
class Expected:
    inbound: int
    out: int
    delivered: int
    failed: int
    segments: int
    subscriptions: int
    optouts: int


def expected(conn: sqlite3.Connection, start: datetime, end: datetime = NOW) -> Expected:
    """The figures of [start, end) counted the plain way: by stamp, over whole tables."""
    span = (iso(start), iso(end))

    def one(sql: str) -> int:
        return int(conn.execute(sql, span).fetchone()[0])

    return Expected(
        one("SELECT COUNT(*) FROM inbound WHERE received_at >= ? AND received_at < ?"),
        one("SELECT COUNT(*) FROM outbox WHERE created_at >= ? AND created_at < ?"),
        one("SELECT COUNT(*) FROM outbox WHERE status = 'delivered' AND created_at >= ?"
            " AND created_at < ?"),
        one("SELECT COUNT(*) FROM outbox WHERE status IN ('failed', 'undelivered')"
            " AND created_at >= ? AND created_at < ?"),
        one("SELECT IFNULL(SUM(segments), 0) FROM outbox WHERE status IN ('sent', 'replied',"
            " 'delivered', 'undelivered') AND created_at >= ? AND created_at < ?"),
        one("SELECT COUNT(*) FROM subscriptions WHERE created_at >= ? AND created_at < ?"),
        one("SELECT COUNT(*) FROM contacts WHERE opted_out = 1 AND opted_out_at >= ?"
            " AND opted_out_at < ?"))


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no figure {name}"
    return found.group(1)


def banner(html: str) -> list[str]:
    return re.findall(r'<div class="banner" role="alert">([^<]*)</div>', html)


def logged_in(client: Any, conn: sqlite3.Connection) -> Any:
    """The console client, logged in as an admin."""
    console_user(conn, "ann")
    console_login(client, "ann")
    return client


class Accepting:
    """A provider that takes every message."""

    max_per_second, max_recipients = 1000.0, 1

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.sent: list[int] = []

    def send(self, message: Any) -> str:
        self.sent.append(message.id)
        return f"{self.provider}-{message.id}"

    def send_many(self, messages: Any) -> dict[int, str]:
        return {m.id: self.send(m) for m in messages}


def provider_row(html: str, table: str, provider: str) -> list[str]:
    """The cells of one provider's row in a table of the page."""
    part = html.split(f'data-table="{table}"', 1)[1].split("</table>", 1)[0]
    row = part.split(f'<tr data-provider="{provider}">', 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


# ------------------------------------------------------------------------------ figures


def test_the_overview_shows_the_seeded_figures_as_sql_counts_them(console_client, conn):
    admin = logged_in(console_client, conn)
    seed(conn)
    html = admin.get("/console/overview").get_data(as_text=True)
    for key, start in (("today", TODAY), ("month", MONTH)):
        want = expected(conn, start)
        assert figure(html, f"{key}-in") == f"{want.inbound:,}", key
        assert figure(html, f"{key}-out") == f"{want.out:,}", key
        assert figure(html, f"{key}-delivered") == f"{want.delivered:,}", key
        assert figure(html, f"{key}-failed") == f"{want.failed:,}", key
        assert figure(html, f"{key}-segments") == f"{want.segments:,}", key
        assert figure(html, f"{key}-subscriptions") == f"{want.subscriptions:,}", key
        assert figure(html, f"{key}-optouts") == f"{want.optouts:,}", key
    # counted by hand from the seed, so that the SQL above is checked too
    assert expected(conn, TODAY) == Expected(6, 8, 1, 3, 5, 1, 1)
    assert expected(conn, MONTH) == Expected(12, 17, 4, 6, 12, 4, 2)
    assert figure(html, "today-waiting") == "2"
    assert figure(html, "today-cost") == "not set"
    assert (figure(html, "contacts"), figure(html, "subscribers"),
            figure(html, "opted-out")) == ("12", "6", "3")


def test_each_providers_row_equals_its_sql_count(console_client, conn):
    admin = logged_in(console_client, conn)
    seed(conn)
    html = admin.get("/console/overview").get_data(as_text=True)
    for provider in PROVIDERS:
        rows = dict(conn.execute(
            "SELECT status, COUNT(*) FROM outbox WHERE provider = ? AND created_at >= ?"
            " GROUP BY status", (provider, iso(MONTH))).fetchall())
        segments = conn.execute(
            "SELECT IFNULL(SUM(segments), 0) FROM outbox WHERE provider = ? AND created_at >= ?"
            " AND status IN ('sent', 'replied', 'delivered', 'undelivered')",
            (provider, iso(MONTH))).fetchone()[0]
        cells = provider_row(html, "month", provider)
        assert cells[1:8] == [str(sum(rows.values())), str(rows.get("delivered", 0)),
                              str(rows.get("sent", 0) + rows.get("replied", 0)),
                              str(rows.get("failed", 0) + rows.get("undelivered", 0)),
                              str(rows.get("suppressed", 0)),
                              str(rows.get("queued", 0) + rows.get("sending", 0)),
                              str(segments)], provider


def test_failures_are_listed_by_reason_with_todays_and_the_months_counts(console_client,
                                                                          conn):
    admin = logged_in(console_client, conn)
    seed(conn)
    html = admin.get("/console/overview").get_data(as_text=True)
    part = html.split('data-table="reasons"', 1)[1].split("</table>", 1)[0]
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", part, re.S)]
    rows = [[html_unescape(cell) for cell in row] for row in rows if row]   # the head: no <td>
    assert rows[0] == ["Android phone", "gave up after 6 attempts: android phone 503: unavailable",
                       "1", "2"]
    assert ["Africa's Talking", "InsufficientCredit", "1", "1"] in rows
    assert ["Twilio", "21610: unsubscribed recipient", "0", "1"] in rows
    assert len(rows) == 5


def test_days_are_the_deployments_days_and_the_table_matches_the_chart(console_client, conn):
    admin = logged_in(console_client, conn)
    seed(conn)
    html = admin.get("/console/overview").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="daily-data">(.*?)'
                                r"</script>", html, re.S).group(1))
    assert len(data["days"]) == 30
    assert data["days"][0]["day"] == "2026-10-25" and data["days"][-1]["day"] == "2026-11-23"
    days = {row["day"]: row for row in data["days"]}
    # 20:30 UTC is 23:30 in Nairobi, the 22nd; 21:30 UTC is 00:30 on the 23rd
    assert days["2026-11-22"]["providers"]["android"] == [1, 0]
    assert days["2026-11-23"]["providers"]["android"] == [1, 2]
    assert days["2026-11-22"]["inbound"] == 1 and days["2026-11-23"]["inbound"] == 6
    for day, row in days.items():
        cells = re.search(rf'<tr data-day="{day}">(.*?)</tr>', html, re.S).group(1)
        numbers = [int(c.replace(",", "")) for c in re.findall(r'<td class="num[^"]*">([\d,]+)<',
                                                               cells)]
        assert numbers == [row["inbound"]] + [n for p in data["providers"]
                                              for n in row["providers"][p["name"]]], day


def test_an_empty_database_says_what_to_do(console_client, conn):
    admin = logged_in(console_client, conn)
    html = admin.get("/console/overview").get_data(as_text=True)
    assert "No outbox worker has run on this database yet" in html
    assert "Today, by provider: no message went out." in html
    assert "No message failed in the last 30 days." in html
    assert "No phone has reported its health yet" in html
    assert 'id="daily-chart"' not in html and banner(html) == []


def test_cost_is_an_estimate_in_the_configured_currency(tmp_path, clock):
    from support import make_config

    from smsgw.app import create_app

    config = make_config(tmp_path, **{"bulletins.cost_per_segment": 0.8})
    app = create_app(config, clock=clock)
    conn = db.connect(config["database.path"])
    seed(conn)
    console_user(conn, "ann")
    client = app.test_client()
    console_login(client, "ann")
    html = client.get("/console/overview").get_data(as_text=True)
    # today: 5 segments reached a provider; none of them local
    assert figure(html, "today-cost") == "KES 4.00"
    assert figure(html, "month-cost") == "KES 9.60"
    assert provider_row(html, "month", "africastalking")[8] == "KES 3.20"
    conn.close()


def test_a_past_day_is_counted_once_and_kept(console_client, conn, monkeypatch):
    admin = logged_in(console_client, conn)
    seed(conn)
    calls = []
    real = stats.counts
    monkeypatch.setattr(stats, "counts", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    admin.get("/console/overview")
    assert len(calls) == 30
    calls.clear()
    admin.get("/console/overview")
    assert calls == []                 # every day kept (today for TODAY_TTL seconds)


# ------------------------------------------------------------------------------ time ranges


def test_first_id_at_finds_a_moment_in_ids_and_tolerates_a_little_disorder(conn):
    people = _contacts(conn, 1)
    assert stats.first_id_at(conn, "outbox", NOW) == 1            # an empty table
    stamps = [NOW - timedelta(minutes=m) for m in (300, 200, 100, 130, 50, 10, 20, 5)]
    with db.transaction(conn):
        for stamp in stamps:          # the 4th and 7th are written after younger rows
            conn.execute("INSERT INTO outbox (contact_id, to_number, text, provider, kind,"
                         " status, encoding, segments, created_at, updated_at) VALUES"
                         " (?, '+254711000000', 'x', 'local', 'reply', 'sent', 'gsm7', 1, ?, ?)",
                         (people[0], iso(stamp), iso(stamp)))
    assert stats.first_id_at(conn, "outbox", NOW - timedelta(minutes=250)) == 2
    assert stats.first_id_at(conn, "outbox", NOW) == 9
    start, end = NOW - timedelta(minutes=135), NOW - timedelta(minutes=15)
    counted = stats.counts(conn, start, end)
    assert counted.outbound == 4 == conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE created_at >= ? AND created_at < ?",
        (iso(start), iso(end))).fetchone()[0]


# ------------------------------------------------------------------------------ health


def test_the_worker_beats_at_most_once_a_minute_and_when_it_goes_idle(config, conn, clock):
    people = _contacts(conn, 1)
    tick = [0.0]
    sender = Accepting("local")
    worker = Worker(config, {"local": sender}, clock=clock, monotonic=lambda: tick[0])

    def queue() -> None:
        with db.transaction(conn):
            conn.execute("INSERT INTO outbox (contact_id, to_number, text, provider, kind,"
                         " status, encoding, segments, next_attempt_at, created_at, updated_at)"
                         " VALUES (?, ?, 'x', 'local', 'reply', 'queued', 'gsm7', 1, ?, ?, ?)",
                         (people[0], e164("0711000000"), iso(clock()), iso(clock()),
                          iso(clock())))

    def seen() -> str:
        return conn.execute("SELECT seen_at FROM worker_heartbeats").fetchone()[0]

    assert worker.run_once(conn) == 0 and seen() == iso(NOW)      # the first round beats
    clock.advance(20)
    tick[0] = 20
    assert worker.run_once(conn) == 0 and seen() == iso(NOW)      # idle: not again so soon
    queue()
    assert worker.run_once(conn) == 1 and seen() == iso(NOW)      # busy: not again so soon
    assert worker.run_once(conn) == 0                              # idle after sending: now
    assert seen() == iso(NOW + timedelta(seconds=20))
    assert [tuple(row) for row in conn.execute(
        "SELECT provider, sent, failed, last_sent_at FROM provider_minutes")] == [
        ("local", 1, 0, iso(NOW + timedelta(seconds=20)))]
    clock.advance(60)
    tick[0] = 80
    assert worker.run_once(conn) == 0 and seen() == iso(NOW + timedelta(seconds=80))
    worker.heartbeat(conn, stopped=True)
    assert tuple(conn.execute("SELECT stopped_at, sent FROM worker_heartbeats").fetchone()) == \
        (iso(NOW + timedelta(seconds=80)), 1)


def test_the_overview_says_when_the_worker_was_last_seen(console_client, conn, clock, config):
    admin = logged_in(console_client, conn)
    Worker(config, {}, clock=clock).heartbeat(conn)
    clock.advance(120)
    html = admin.get("/console/overview").get_data(as_text=True)
    assert re.search(r"running, last seen 2 minutes ago", html)
    clock.advance(300)
    html = admin.get("/console/overview").get_data(as_text=True)
    assert "last seen 7 minutes ago" in html and "not since" in html


def _beat(conn, provider: str, minutes_ago: float, sent: int, failed: int,
          error: str | None = None) -> None:
    moment = NOW - timedelta(minutes=minutes_ago)
    with db.transaction(conn):
        health_db.beat(conn, worker="box:1", started=NOW - timedelta(hours=2), now=NOW,
                       sent=0, failed=0, minutes=[health_db.Minute(
                           provider, health_db.minute_of(moment), sent, failed,
                           iso(moment) if sent else None, error)])


@pytest.mark.parametrize("sent, failed, alarm", [
    (0, 9, False),       # 9 of 9 failed: fewer than MIN_ATTEMPTS
    (7, 3, True),        # 30 % of 10
    (8, 2, False),       # 20 %: not above 25 %
])
def test_the_banner_names_a_provider_failing_too_often(console_client, conn, sent, failed,
                                                       alarm):
    admin = logged_in(console_client, conn)
    _beat(conn, "africastalking", 10, sent, failed, "InsufficientCredit")
    _beat(conn, "africastalking", 90, 0, 50)                        # over an hour ago
    lines = banner(admin.get("/console/messages").get_data(as_text=True))
    wanted = (f"Africa&#39;s Talking: {failed} of {sent + failed} send attempts failed in the"
              f" last hour ({failed / (sent + failed):.0%}). Last error: InsufficientCredit")
    assert lines == ([wanted] if alarm else [])


def test_the_banner_waits_for_the_threshold_and_ignores_messages_held_for_later(
        console_client, conn, clock, config):
    admin = logged_in(console_client, conn)
    people = _contacts(conn, 1)
    Worker(config, {}, clock=clock).heartbeat(conn)            # a worker is running
    _beat(conn, "android", 60 * 5, 3, 0)                        # android last sent 5 hours ago
    with db.transaction(conn):
        for due in (NOW - timedelta(minutes=20), NOW + timedelta(hours=8)):   # the 2nd: night
            conn.execute("INSERT INTO outbox (contact_id, to_number, text, provider, kind,"
                         " status, encoding, segments, next_attempt_at, created_at, updated_at)"
                         " VALUES (?, ?, 'x', 'android', 'bulletin', 'queued', 'gsm7', 1, ?, ?,"
                         " ?)", (people[0], e164("0711000000"), iso(due), iso(NOW), iso(NOW)))
    assert banner(admin.get("/console/messages").get_data(as_text=True)) == []   # 20 < 30 min
    clock.advance(15 * 60)
    Worker(config, {}, clock=clock).heartbeat(conn)
    assert banner(admin.get("/console/messages").get_data(as_text=True)) == [
        "Android phone: nothing sent for 35 minutes while 1 message waits."]


def test_leaders_get_no_banner(app, console_client, conn):
    from db import groups as groups_db

    seed(conn)
    with db.transaction(conn):
        groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None, region=None,
                         products=["MAIZE"])
    console_user(conn, "lee", "leader", group="KIMA")
    console_login(console_client, "lee")
    assert banner(console_client.get("/console/groups/KIMA").get_data(as_text=True)) == []
    console_user(conn, "ann")
    admin = app.test_client()
    console_login(admin, "ann")
    assert len(banner(admin.get("/console/groups/KIMA").get_data(as_text=True))) == 2


def _ping(client, health_body: Any) -> int:
    import hashlib
    import hmac
    import time

    body = json.dumps({"id": "ev-1", "webhookId": "smsgw-system-ping", "deviceId": "ffff",
                       "event": "system:ping", "payload": {"health": health_body}}).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(ANDROID_KEY.encode(), body + stamp.encode(), hashlib.sha256)
    return client.post("/webhooks/android", data=body, content_type="application/json",
                       headers={"X-Signature": signature.hexdigest(),
                                "X-Timestamp": stamp}).status_code


def _check(value: Any, unit: str, status: str = "pass") -> dict[str, Any]:
    return {"description": "", "observedUnit": unit, "observedValue": value, "status": status}


def test_a_phones_ping_is_kept_and_shown_without_calling_the_phone(console_client, conn):
    admin = logged_in(console_client, conn)
    body = {"status": "warn", "version": "1.68.0", "releaseId": 1490, "checks": {
        "messages:failed": _check(2, "messages", "warn"),
        "connection:status": _check(1, "boolean"),
        "connection:transport": _check(2, "flags"),
        "connection:cellular": _check(3, "index"),
        "battery:level": _check(18, "percent", "warn"),
        "battery:charging": _check(5, "flags")}}
    for bad in ("x", {"checks": "x"}, {"checks": {"battery:level": _check("\ud800", "percent")}},
                None):
        assert _ping(admin, bad) == 200
    assert [tuple(r) for r in conn.execute("SELECT battery FROM provider_health")] == [(None,)]
    assert _ping(admin, body) == 200
    assert [tuple(r) for r in conn.execute(
        "SELECT device, source, status, battery, charging FROM provider_health")] == [
        ("phone", "ping", "warn", 18, 5)]
    html = admin.get("/console/overview").get_data(as_text=True)
    row = re.search(r'<tr data-device="phone">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>",
                                                                    row, re.S)]
    assert cells[2:] == ["warning", "18 %", "charging (USB)", "mobile 3G", "yes", "2"]
    assert 'data-battery class="status-failed"' in row      # under 25 %: marked


# ------------------------------------------------------------------------------ in Chromium


def test_an_admin_sees_the_real_figures_and_the_banner_comes_and_goes(
        page, browser, live_server, conn, config, clock):
    seed(conn)
    console_user(conn, "ann")
    browser_login(page, live_server, "ann", then="/console/overview")
    assert page.get_by_role("heading", name="Overview", level=1).is_visible()
    for key, start in (("today", TODAY), ("month", MONTH)):
        want = expected(conn, start)
        shown = {name: page.locator(f'[data-figure="{key}-{name}"]').inner_text()
                 for name in ("in", "out", "delivered", "failed", "segments")}
        assert shown == {"in": f"{want.inbound:,}", "out": f"{want.out:,}",
                         "delivered": f"{want.delivered:,}", "failed": f"{want.failed:,}",
                         "segments": f"{want.segments:,}"}, key
    android_month = conn.execute("SELECT COUNT(*) FROM outbox WHERE provider = 'android'"
                                 " AND created_at >= ?", (iso(MONTH),)).fetchone()[0]
    row = page.locator('table[data-table="month"] tr[data-provider="android"] td').first
    assert row.inner_text() == str(android_month)
    assert page.locator("#daily-chart canvas").count() == 1        # uPlot drew the days

    # The phone has sent nothing for 54 minutes while 2 messages wait, and no worker runs:
    # every page says so.
    page.goto(f"{live_server}/console/messages")
    alerts = page.locator(".banner")
    assert alerts.all_inner_texts() == [
        "No outbox worker has run on this database and 2 messages wait: start one with"
        " `smsgw worker`.",
        "Android phone: nothing sent yet, and 2 messages have waited 54 minutes."]

    # The worker starts and the phone takes the messages: the banner goes.
    phone = Accepting("android")
    assert Worker(config, {"android": phone}, clock=clock).run_once(conn) == 2
    assert len(phone.sent) == 2
    page.reload()
    assert page.locator(".banner").count() == 0
    page.goto(f"{live_server}/console/overview")
    assert "running, last seen just now" in page.locator(".workers").inner_text()

    # At a phone's width nothing is wider than the screen, and the keyboard reaches the page.
    narrow = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        small = narrow.new_page()
        browser_login(small, live_server, "ann", then="/console/messages")
        for _ in range(12):
            small.keyboard.press("Tab")
            if small.evaluate("document.activeElement.textContent") == "Overview":
                break
        small.keyboard.press("Enter")
        small.wait_for_url(f"{live_server}/console/overview")
        assert small.locator('[data-figure="month-out"]').inner_text() == \
            f"{expected(conn, MONTH).out:,}"
        assert small.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        narrow.close()


def test_android_check_and_the_phones_own_ping_are_kept(live_server, config, conn):
    from click.testing import CliRunner
    from fakes.android_phone import FakePhone

    from smsgw.cli import main

    with FakePhone(password=config["providers.android.password"],
                   signing_key=ANDROID_KEY) as phone:
        env = {"SMSGW_DATABASE_PATH": config["database.path"],
               "SMSGW_PROVIDERS_ANDROID_ENABLED": "true",
               "SMSGW_PROVIDERS_ANDROID_PASSWORD": config["providers.android.password"],
               "SMSGW_PROVIDERS_ANDROID_SIGNING_KEY": ANDROID_KEY,
               "SMSGW_PROVIDERS_ANDROID_URL": phone.url,
               "SMSGW_PROVIDERS_ANDROID_WEBHOOK_URL": f"{live_server}/webhooks/android"}
        result = CliRunner(env=env).invoke(main, ["android", "check"])
        assert result.exit_code == 0, result.output
        reading = health_db.readings(conn)
        assert [(r.source, r.battery, r.charging, r.transport, r.status) for r in reading] == \
            [("check", 80, 0, 4, "pass")]
        phone.battery_level, phone.charging = 15, True
        [delivery] = phone.ping()                       # the app's own system:ping webhook
        assert delivery.status == 200
        assert [(r.source, r.battery, r.charging, r.status) for r in health_db.readings(conn)
                ] == [("ping", 15, 3, "warn")]
