"""The console's Messages page: the outbox and inbox, failures first then newest, filtered,
in keyset pages that stay fast on large tables, with every number masked (issue 17)."""

from __future__ import annotations

import html as html_module
import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from support import browser_login, console_login, console_user, e164, make_config

import db
from db import contacts, message_log
from db.timeutil import iso

OUT, IN = "/console/messages", "/console/messages/inbox"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_texts = itertools.count()


@pytest.fixture
def config(tmp_path, request):
    return make_config(tmp_path, **getattr(request, "param", {}))


def sent(conn, *, at: datetime = T0, status: str = "delivered", provider: str = "twilio",
         kind: str = "bulletin", to: str = "+254711000001", error: str | None = None,
         text: str | None = None) -> str:
    """An outbox row as the worker leaves it; its text (unique unless given)."""
    text = text or f"message {next(_texts)}"
    with db.transaction(conn):
        conn.execute(
            "INSERT INTO outbox (to_number, text, provider, kind, status, encoding, segments,"
            " error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'GSM-7', 1, ?, ?, ?)",
            (to, text, provider, kind, status, error, iso(at), iso(at)))
    return text


def received(conn, *, at: datetime = T0, outcome: str = "handled", provider: str = "twilio",
             phone: str = "+254722000001", text: str | None = None) -> str:
    text = text or f"inbound {next(_texts)}"
    with db.transaction(conn):
        person = contacts.get_or_create(conn, phone)
        conn.execute("INSERT INTO inbound (provider, provider_message_id, contact_id, text,"
                     " received_at, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                     (provider, text, person.id, text, iso(at), outcome))
    return text


def rows(html: str) -> list[list[str]]:
    """The table's rows as lists of cell texts (tags dropped, whitespace folded)."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    if body is None:
        return []
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        found.append([" ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", c)).split())
                      for c in cells])
    return found


def texts(html: str, column: int = 5) -> list[str]:
    return [row[column] for row in rows(html)]


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)">(?:Next page: older messages|Look further back)</a>',
                      html)
    return html_module.unescape(found.group(1)) if found else None


@pytest.fixture
def admin(console_client, conn):
    console_user(conn, "ann")
    assert console_login(console_client, "ann").status_code == 302

    def get(url: str, status: int = 200) -> str:
        response = console_client.get(url)
        assert response.status_code == status, url
        return response.get_data(as_text=True)
    return get


# ---------------------------------------------------------------------------- order


def test_failures_come_first_then_the_newest(admin, conn):
    minute = timedelta(minutes=1)
    failed = sent(conn, at=T0, status="failed", error="rejected: 21610 unsubscribed")
    delivered = sent(conn, at=T0 + minute)
    undelivered = sent(conn, at=T0 + 2 * minute, status="undelivered")
    sent_ = sent(conn, at=T0 + 3 * minute, status="sent")
    queued = sent(conn, at=T0 + 4 * minute, status="queued")
    html = admin(OUT)
    assert texts(html) == [undelivered, failed, queued, sent_, delivered]
    table = rows(html)
    assert table[1][1] == "Failed rejected: 21610 unsubscribed"   # the reason, redacted
    assert html.count('<tr class="failed">') == 2
    assert "<strong>2\n  failed or undelivered</strong>" in html


def test_pages_follow_each_other_without_gaps_or_repeats(admin, conn):
    expected = []
    for n in range(53):                       # failures, ten at a time sharing a time
        expected.append(sent(conn, at=T0 + timedelta(seconds=n // 10), status="failed"))
    for n in range(70):
        expected.append(sent(conn, at=T0 + timedelta(seconds=n // 10)))
    # failures newest first (ties: the later id first), then the rest the same way
    order = sorted(range(53), key=lambda n: (-(n // 10), -n)) + \
        sorted(range(53, 123), key=lambda n: (-((n - 53) // 10), -n))
    seen, url, pages = [], OUT, 0
    while url:
        html = admin(url)
        seen += texts(html)
        url, pages = next_link(html), pages + 1
        if pages > 1:
            assert "Back to the first page" in html
    assert pages == 3
    assert seen == [expected[n] for n in order]


def test_a_page_that_reaches_its_window_says_so_and_carries_on(admin, conn, monkeypatch):
    monkeypatch.setattr(message_log, "WINDOW", 10)
    rare = sent(conn, at=T0, provider="android")
    for n in range(25):
        sent(conn, at=T0 + timedelta(minutes=n + 1))
    html = admin(f"{OUT}?provider=android")
    assert rows(html) == []
    assert "This page looked at 10 messages, back to 23 Nov 2026, 12:16" in html
    looked = 1
    while rare not in html:
        link = next_link(html)
        assert link is not None and looked < 5
        html, looked = admin(link), looked + 1
    assert texts(html) == [rare] and looked == 3
    assert next_link(html) is None


# -------------------------------------------------------------------------- filters


def test_each_filter_lists_exactly_its_messages(admin, conn):
    by = {
        "failed": sent(conn, status="failed", provider="africastalking", kind="reply"),
        "queued": sent(conn, status="queued", provider="local", kind="broadcast"),
        "android": sent(conn, provider="android", kind="order"),
        "bulletin": sent(conn, provider="twilio", kind="bulletin"),
    }
    assert set(texts(admin(f"{OUT}?status=failed"))) == {by["failed"]}
    assert set(texts(admin(f"{OUT}?status=queued"))) == {by["queued"]}
    assert set(texts(admin(f"{OUT}?provider=android"))) == {by["android"]}
    assert set(texts(admin(f"{OUT}?kind=broadcast"))) == {by["queued"]}
    assert set(texts(admin(f"{OUT}?kind=bulletin&provider=twilio"))) == {by["bulletin"]}
    assert set(texts(admin(f"{OUT}?status=failed&provider=twilio"))) == set()
    assert len(texts(admin(OUT))) == 4


def test_dates_are_days_in_the_deployments_time_zone(admin, conn):
    # Nairobi is UTC+3: its 23 Nov runs from 22 Nov 21:00 to 23 Nov 21:00 UTC.
    before = sent(conn, at=datetime(2026, 11, 22, 20, 59, tzinfo=UTC))
    first = sent(conn, at=datetime(2026, 11, 22, 21, 0, tzinfo=UTC))
    last = sent(conn, at=datetime(2026, 11, 23, 20, 59, tzinfo=UTC))
    after = sent(conn, at=datetime(2026, 11, 23, 21, 0, tzinfo=UTC))
    assert texts(admin(f"{OUT}?since=2026-11-23&until=2026-11-23")) == [last, first]
    assert texts(admin(f"{OUT}?since=2026-11-24")) == [after]
    assert texts(admin(f"{OUT}?until=2026-11-22")) == [before]
    html = admin(OUT)
    assert rows(html)[0][6] == "24 Nov 2026, 00:00"      # 21:00 UTC, in Nairobi
    assert "Times are Africa/Nairobi time" in html


@pytest.mark.parametrize("config", [{"app.timezone": "Africa/Accra"}], indirect=True)
def test_times_follow_the_configured_time_zone(admin, conn):
    sent(conn, at=T0)
    assert rows(admin(OUT))[0][6] == "23 Nov 2026, 09:00"


@pytest.mark.parametrize(("query", "message"), [
    ("status=bogus", "Status: Not a valid choice"),
    ("provider=" + "x" * 1600, "Provider: Not a valid choice"),
    ("kind=%F0%9F%8C%BD", "Kind: Not a valid choice"),
    ("since=2026-13-45", "From: Not a valid date value"),
    ("since=%F0%9F%8C%BD", "From: Not a valid date value"),
    ("until=%ED%A0%80", "To: Not a valid date value"),
    ("since=2026-11-24&until=2026-11-23", "To: To is before From: swap the dates."),
    ("after=f.12.yesterday", "That page link is broken"),
    ("after=" + "9" * 1600, "That page link is broken"),
])
def test_bad_filters_get_a_clear_message(admin, conn, query, message):
    sent(conn)
    for box in (OUT, IN):
        if "kind" in query and box == IN:
            continue                          # the inbox has no kind: the word is ignored
        html = admin(f"{box}?{query}", status=400)
        assert message in html_module.unescape(html), box
        assert "<tbody>" not in html


def test_the_inbox_ignores_a_kind_and_lists_failed_messages_first(admin, conn):
    handled = received(conn, at=T0 + timedelta(minutes=2))
    failed = received(conn, at=T0, outcome="failed", provider="africastalking")
    limited = received(conn, at=T0 + timedelta(minutes=1), outcome="rate_limited")
    html = admin(IN)
    assert texts(html, 3) == [failed, handled, limited]
    assert [row[1] for row in rows(html)] == ["Failed (asked to retry)", "Answered",
                                              "Over the sender limit"]
    assert texts(admin(f"{IN}?status=rate_limited"), 3) == [limited]
    assert texts(admin(f"{IN}?provider=africastalking"), 3) == [failed]
    assert texts(admin(f"{IN}?kind=broadcast"), 3) == [failed, handled, limited]
    assert "<strong>1\n  failed</strong>" in html


# -------------------------------------------------------------------------- numbers


def test_numbers_are_masked_in_every_row_and_text(admin, conn):
    sent(conn, to=e164("0711000001"), text="Call Mary on 0722 000 003 or +254733000004")
    received(conn, phone=e164("0744000005"), text="JOIN KIMA 0755000006")
    pages = admin(OUT) + admin(IN)
    for local in ("0711000001", "0722000003", "0722 000 003", "0733000004", "0744000005",
                  "0755000006"):
        assert local not in pages and e164(local.replace(" ", "")) not in pages
    assert rows(admin(OUT))[0][0] == "+254******001"
    assert rows(admin(IN))[0][0] == "+254******005"
    assert "072****003" in pages and "075****006" in pages


# -------------------------------------------------------------------- empty states


def test_each_empty_list_says_what_to_do(admin, conn):
    assert "Nothing has been sent yet" in admin(OUT)
    assert "No message has come in yet" in admin(IN)
    sent(conn)
    received(conn)
    assert "No message matches these filters" in admin(f"{OUT}?provider=android")
    assert "No message matches these filters" in admin(f"{IN}?status=failed")
    assert "Nothing failed in this view." in admin(OUT)


# ------------------------------------------------------------------------ query plans


def test_every_query_reads_an_index_and_sorts_nothing(conn):
    for n in range(30):
        sent(conn, at=T0 + timedelta(minutes=n), status="failed" if n % 7 == 0 else "sent")
        received(conn, at=T0 + timedelta(minutes=n), outcome="failed" if n % 9 == 0
                 else "handled")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    F = message_log.Filters
    for filters in (F(), F(status="failed"), F(status="sent", provider="twilio"),
                    F(kind="bulletin", since=iso(T0), until=iso(T0 + timedelta(days=1)))):
        page = message_log.outbox_page(conn, filters, size=5, window=8)
        message_log.outbox_page(conn, filters, size=5, window=8, after=page.next)
        message_log.count_failures(conn, filters)
    for filters in (F(), F(status="handled", provider="twilio")):
        message_log.inbox_page(conn, filters, size=5, window=8)
        message_log.count_failures(conn, filters, outbox=False)
    conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) > 20
    for statement in selects:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "TEMP B-TREE" not in plan, (statement, plan)
        assert re.search(r"(SCAN|SEARCH) m USING (COVERING )?INDEX "
                         r"(outbox|inbound)_(created|failures|received)", plan), plan


# ---------------------------------------------------------------- in a real browser


def test_in_chromium_a_filter_is_chosen_with_the_keyboard_on_a_phone(browser, live_server,
                                                                     conn):
    console_user(conn, "ann")
    failing = sent(conn, status="failed", error="rejected: blocked")
    for n in range(5):
        sent(conn, at=T0 + timedelta(minutes=n), text=f"A long bulletin text {n} " * 4)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "ann", then=OUT)
        assert page.locator("tbody tr").count() == 6
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.locator("#status").focus()
        page.keyboard.press("ArrowDown")          # Any -> Failed
        expect(page.locator("#status")).to_have_value("failed")
        for _ in range(8):                        # on to the form's button
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Show":
                break
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"status=failed"))
        expect(page.locator("tbody tr")).to_have_count(1)
        assert failing in page.locator("tbody tr").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()
