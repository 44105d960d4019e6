"""The console's Prices pages (issue 17): a series as a chart over the same prices in a table,
markets compared on one chart, a price file imported through the browser with the CLI's
dry-run report, and the review queue. Browser tests in Chromium; the rest with Flask's
test client, on the WFP Kenya prices."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from click.testing import CliRunner
from support import (browser_login, console_login, console_user, csrf_token, e164,
                     kenya_config, make_config)

from db import contacts, transaction
from smsgw.app import create_app
from smsgw.cli import main

PAGE = "/console/prices"
IMPORT = "/console/prices/import"
REVIEWS = "/console/prices/reviews"
TEMPLATE = "date,market,commodity,unit,price_type,currency,price\n"
STALE_BEFORE = "2026-09-24"   # the clock's 23 Nov 2026 less prices.stale_days (60) days


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path)


@pytest.fixture
def admin(console_client, conn) -> Any:
    console_user(conn, "ann")
    assert console_login(console_client, "ann").status_code == 302
    return console_client


def _table(page: Any) -> list[tuple[Any, ...]]:
    """The page's price table as (date, market, commodity, unit, type, price, currency,
    source, old) rows, read in the browser."""
    return [tuple(row) for row in page.evaluate("""() =>
        [...document.querySelectorAll('#price-table tbody tr')].map(tr => {
            const td = tr.querySelectorAll('td');
            return [td[0].querySelector('time').getAttribute('datetime'), td[1].textContent,
                    td[2].textContent, td[3].textContent, td[4].textContent.toLowerCase(),
                    Number(td[5].dataset.value), td[6].textContent, td[7].textContent,
                    tr.classList.contains('stale')];
        })""")]


def _sql(conn: sqlite3.Connection, commodity: str, *markets: str) -> list[tuple[Any, ...]]:
    """The same prices straight from the prices table, newest first."""
    marks = ", ".join("?" * len(markets))
    return [(*row, row[0] < STALE_BEFORE) for row in conn.execute(
        "SELECT p.date, m.name, c.name, p.unit, p.price_type, p.price, p.currency, p.source"
        " FROM prices p JOIN markets m ON m.id = p.market_id"
        " JOIN commodities c ON c.id = p.commodity_id"
        f" WHERE c.name = ? AND m.country = 'KE' AND m.name IN ({marks})"
        " ORDER BY p.date DESC, m.name", (commodity, *markets))]


def _legend(page: Any) -> list[str]:
    """The uPlot legend's series labels (the x series, Date, left out)."""
    labels = page.locator("#price-chart .u-legend .u-series .u-label").all_inner_texts()
    return [label for label in labels if label != "Date"]


# ---------------------------------------------------------------------------- in the browser


def test_an_admin_opens_maize_at_nakuru_and_the_table_is_the_prices_table(page, live_server,
                                                                         conn):
    console_user(conn, "ann")
    browser_login(page, live_server, "ann", then=PAGE)
    page.get_by_label("Commodity").select_option("Maize")
    page.get_by_label("Market 1").fill("Nakuru")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#price-chart[data-drawn]")
    expected = _sql(conn, "Maize", "Nakuru")
    assert len(expected) == 158
    assert _table(page) == expected       # row by row, every field, and which are old
    assert page.locator("#price-chart").get_attribute("data-series-count") == "1"
    assert _legend(page) == ["Nakuru · wholesale"]
    assert page.locator("#price-chart canvas").count() == 1
    legend = page.locator("#price-legend").inner_text()
    assert "more than 60 days before today (23 Nov 2026)" in legend
    assert "prices.stale_days" in legend
    assert page.locator("#price-table tbody tr.stale .old-tag").count() == sum(
        1 for row in expected if row[-1])


def test_the_series_with_the_keyboard_alone_at_a_phones_width(browser, live_server, conn):
    console_user(conn, "ann")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "ann", then=PAGE)
        for _ in range(40):
            if page.evaluate("document.activeElement.id") == "commodity":
                break
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "commodity"
        page.keyboard.type("Maize")             # the first maize: every kind of it
        page.keyboard.press("Tab")
        page.keyboard.type("Nakuru")
        page.keyboard.press("Enter")
        page.wait_for_selector("#price-chart[data-drawn]")
        assert "c=Maize" in page.url
        rows = _table(page)
        assert rows and {row[1] for row in rows} == {"Nakuru"}
        assert {row[3] for row in rows} == {"KG"}   # the unit with the most prices
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()


def test_an_admin_compares_two_markets_on_one_chart(page, live_server, conn):
    console_user(conn, "ann")
    browser_login(page, live_server, "ann", then=PAGE)
    page.get_by_label("Commodity").select_option("Maize")
    page.get_by_label("Market 1").fill("Nakuru")
    page.get_by_label("Market 2").fill("Kisumu")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#price-chart[data-drawn]")
    chart = page.locator("#price-chart")
    assert chart.get_attribute("data-series-count") == "2"
    assert chart.get_attribute("data-drawn") == "2"
    assert sorted(_legend(page)) == ["Kisumu · wholesale", "Nakuru · wholesale"]
    table = _table(page)
    assert sorted(table) == sorted(_sql(conn, "Maize", "Nakuru", "Kisumu"))
    assert [row[0] for row in table] == sorted((row[0] for row in table), reverse=True)
    assert page.get_by_label("Market 3").input_value() == ""   # room for one more


def test_an_admin_imports_a_file_with_a_bad_row(page, live_server, conn, tmp_path):
    console_user(conn, "ann")
    upload = tmp_path / "nakuru-october.csv"
    upload.write_text(TEMPLATE + "2026-10-15,Testville,Maize,KG,wholesale,KES,41\n"
                      "2026-10-15,Testville,Beans,KG,wholesale,KES,x\n"
                      "2026-10-15,Testville,Beans,KG,retail,KES,120\n", encoding="utf-8")
    browser_login(page, live_server, "ann", then=IMPORT)
    page.get_by_label("Price file (CSV)").set_input_files(str(upload))
    page.get_by_role("button", name="Check the file (dry run)").click()
    page.wait_for_selector("#report-summary")
    assert page.locator("#report-summary").inner_text() == (
        "read 3, inserted 2, updated 0, unchanged 0, rejected 1, held 0 (dry run: nothing saved)")
    bad = page.locator("#report-lines li[data-line='3']")
    assert bad.inner_text() == "line 3: price 'x' is not a number"
    assert _testville(conn) == []                        # a dry run saves nothing
    page.get_by_role("button", name="Import for real").click()
    page.wait_for_selector("h2:has-text('Imported nakuru-october.csv')")
    assert page.locator("#report-summary").inner_text() == (
        "read 3, inserted 2, updated 0, unchanged 0, rejected 1, held 0")
    assert _testville(conn) == [("Beans", "retail", 120.0), ("Maize", "wholesale", 41.0)]
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _testville(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(
        "SELECT c.name, p.price_type, p.price FROM prices p JOIN markets m ON m.id = p.market_id"
        " JOIN commodities c ON c.id = p.commodity_id WHERE m.name = 'Testville' ORDER BY 1")]


# ---------------------------------------------------------------------------- the series page


def _text(response: Any) -> str:
    return response.get_data(as_text=True)


def _labels(html: str) -> list[str]:
    """The chart's lines, from the data the page gives static/prices.js."""
    return [line["label"] for line in _chart(html)["series"]]


def _chart(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="price-series">(.*?)</script>',
                      html, re.S)
    assert found, "no chart data in the page"
    return json.loads(found.group(1))


def _rows(html: str) -> int:
    table = html.split('<table id="price-table">', 1)
    return table[1].split("</table>")[0].count("<tr") - 1 if len(table) == 2 else 0


def test_an_area_shows_its_markets_with_the_newest_prices(admin):
    area = {"c": "Maize*", "area": "admin2:Nakuru"}
    html = _text(admin.get(PAGE, query_string=area))
    assert 'data-series-count="1"' in html and _rows(html) == 158   # KG: Nakuru's maize
    bags = _text(admin.get(PAGE, query_string={**area, "unit": "90 KG"}))
    assert 'data-series-count="2"' in bags and _rows(bags) == 62 + 36
    assert _labels(bags) == ["Nakuru · Maize (white) · wholesale",
                             "Wakulima (Nakuru) · Maize (white, dry) · wholesale"]
    big = _text(admin.get(PAGE, query_string={"c": "Maize", "area": "admin1:Rift Valley"}))
    assert "Rift Valley has 13 markets with prices of Maize; the chart shows the 6" in big
    assert 'data-series-count="6"' in big


def test_a_near_name_is_read_as_price_reads_it_and_seven_markets_are_six(admin, conn):
    html = _text(admin.get(PAGE, query_string={"c": "Maize", "m": "nakru"}))
    assert "“nakru” is taken as Nakuru." in html and _rows(html) == 158
    seven = ["Nakuru", "Kisumu", "Mombasa", "Nairobi", "Eldoret town (Uasin Gishu)",
             "IFO (Daadab)", "Kakuma 3"]
    html = _text(admin.get(PAGE, query_string={"c": "Maize", "m": seven}))
    assert "One chart compares at most 6 markets" in html
    assert "Kakuma 3" not in {line["market"] for line in _chart(html)["series"]}
    assert {line["market"] for line in _chart(html)["series"]} == set(seven[:6])
    marks = ", ".join("?" * 6)
    assert sorted(_labels(html)) == [f"{market} · {kind}" for market, kind in conn.execute(
        "SELECT DISTINCT m.name, p.price_type FROM prices p JOIN markets m ON m.id = p.market_id"
        " JOIN commodities c ON c.id = p.commodity_id WHERE c.name = 'Maize' AND p.unit = 'KG'"
        f" AND m.name IN ({marks}) ORDER BY 1, 2", seven[:6])]


@pytest.mark.parametrize(("query", "message"), [
    ({"c": "Maize", "m": "x" * 1600}, "Market is 1,600 characters long: at most 100."),
    ({"c": "Maize", "m": "🌽"}, "There is no market “🌽” in KE"),
    ({"c": "🌽", "m": "Nakuru"}, "There is no commodity “🌽” in KE"),
    ({"c": "Maize", "m": "Nakuru", "since": "2026-13-45"}, "“2026-13-45” is not a date"),
    ({"c": "Maize", "m": "Nakuru", "area": "admin2:Nakuru"}, "not both"),
    ({"c": "Maize", "area": "admin9:Nowhere"}, "Choose an area from the list."),
    ({"c": "Maize", "m": "Turkana"}, "“Turkana” names 57 markets"),
])
def test_bad_input_on_the_series_page_is_said_plainly(admin, query, message):
    response = admin.get(PAGE, query_string=query)
    assert response.status_code == 200
    assert message in _text(response)
    assert _rows(_text(response)) == 0


def test_a_lone_surrogate_in_the_address_is_a_message_not_a_500(admin):
    response = admin.get(f"{PAGE}?c=Maize&m=%ED%A0%80&since=%ED%A0%80")
    assert response.status_code == 200
    assert "There is no market" in _text(response)


def test_empty_states_say_what_to_do(admin, conn):
    assert "Choose a commodity and a market" in _text(admin.get(PAGE))
    assert "Name a market (or choose an area)" in _text(admin.get(PAGE, query_string={
        "c": "Maize"}))
    none = _text(admin.get(PAGE, query_string={"c": "Maize", "m": "Nakuru",
                                               "since": "2026-06-01"}))
    assert "No prices of Maize at Nakuru since 2026-06-01" in none


def test_the_type_unit_and_since_filters_narrow_the_table(admin, conn):
    every = _text(admin.get(PAGE, query_string={"c": "Maize*", "m": "Nakuru"}))
    assert '<option value="90 KG">' in every and _rows(every) == 158   # KG: most prices
    bags = _text(admin.get(PAGE, query_string={"c": "Maize*", "m": "Nakuru", "unit": "90 KG"}))
    assert _rows(bags) == 62 and "Maize (white)" in bags
    since = _text(admin.get(PAGE, query_string={"c": "Maize", "m": "Nakuru",
                                                "since": "2020-01-01"}))
    count = conn.execute("SELECT COUNT(*) FROM prices p JOIN markets m ON m.id = p.market_id"
                         " JOIN commodities c ON c.id = p.commodity_id WHERE m.name = 'Nakuru'"
                         " AND c.name = 'Maize' AND p.date >= '2020-01-01'").fetchone()[0]
    assert _rows(since) == count > 0


def test_a_long_table_is_capped_at_its_newest_prices(admin, conn, monkeypatch):
    from smsgw.console.pages import prices as page

    monkeypatch.setattr(page, "MAX_ROWS", 100)
    html = _text(admin.get(PAGE, query_string={"c": "Maize", "m": ["Nakuru", "Kisumu"]}))
    assert _rows(html) == 100 and "show the newest 100 prices" in html
    newest = _sql(conn, "Maize", "Nakuru", "Kisumu")
    assert sum(len(line["points"]) for line in _chart(html)["series"]) == 100
    dates = re.findall(r'<time datetime="([0-9-]+)">', html)
    assert sorted(dates, reverse=True) == dates and dates[-1] >= newest[99][0]


def test_the_chart_data_is_the_tables_prices_with_old_points_and_gaps(admin, conn):
    from datetime import date

    html = _text(admin.get(PAGE, query_string={"c": "Maize", "m": "Kisumu"}))
    data = _chart(html)
    assert data["staleDays"] == 60
    (line,) = data["series"]
    expected = sorted((row[0], row[5]) for row in _sql(conn, "Maize", "Kisumu"))
    assert [(day, price) for day, price, _, _ in line["points"]] == expected
    assert all(old for _, _, old, _ in line["points"])    # every one before 24 Sep 2026
    gaps = [expected[i][0] for i in range(1, len(expected))
            if (date.fromisoformat(expected[i][0])
                - date.fromisoformat(expected[i - 1][0])).days > 60]
    assert gaps and [day for day, _, _, gap in line["points"] if gap] == gaps


def test_two_countries_each_list_their_own_commodities_and_markets(kenya_db, tmp_path, clock):
    import shutil

    import db
    from prices.importer import import_prices

    shutil.copy(kenya_db, tmp_path / "test.db")
    conn = db.connect(tmp_path / "test.db")
    import_prices(conn, Path(__file__).parent / "data" / "wfp_food_prices_gha.csv",
                  country="GH")
    console_user(conn, "ann")
    config = make_config(tmp_path, countries={"KE": {}, "GH": {"timezone": "Africa/Accra",
                                                               "currency": "GHS"}})
    client = create_app(config, clock=clock).test_client()
    console_login(client, "ann")
    kenya = _text(client.get(PAGE))
    assert '<select id="country" name="country">' in kenya
    assert 'value="Cassava"' not in kenya and 'option value="Nakuru"' in kenya
    assert 'option value="Accra"' not in kenya
    ghana = _text(client.get(PAGE, query_string={"country": "GH"}))
    assert 'value="Cassava"' in ghana and 'option value="Accra"' in ghana
    assert 'option value="Nakuru"' not in ghana
    html = _text(client.get(PAGE, query_string={"country": "GH", "c": "Maize", "m": "Nakuru"}))
    assert "There is no market “Nakuru” in GH" in html
    html = _text(client.get(PAGE, query_string={"country": "GH", "c": "Maize", "m": "Accra"}))
    assert _rows(html) == 7 and "GHS per KG" in html   # 7 retail per KG, 6 wholesale per 100 KG
    conn.close()


# ---------------------------------------------------------------------------- speed
# ---------------------------------------------------------------------------- speed


def _statements(app: Any, client: Any, urls: list[str]) -> list[str]:
    """Every SQL statement the pages ran, from the request thread's own connection."""
    from smsgw.context import connection

    seen: list[str] = []
    with app.test_request_context():
        conn = connection()
        conn.set_trace_callback(seen.append)
    try:
        for url in urls:
            assert client.get(url).status_code == 200, url
    finally:
        conn.set_trace_callback(None)
    return seen


def test_the_pages_read_prices_and_reviews_through_indexes(app, admin, conn):
    urls = [PAGE, f"{PAGE}?c=Maize*&m=Nakuru&m=Kisumu", f"{PAGE}?c=Maize&area=admin1:Rift+Valley",
            f"{PAGE}?c=Beans&m=Nairobi&type=retail&since=2020-01-01", REVIEWS, IMPORT]
    statements = [sql for sql in _statements(app, admin, urls)
                  if re.search(r"\b(prices|price_reviews)\b", sql)
                  and sql.lstrip().upper().startswith("SELECT")]
    assert len(statements) >= 10
    for sql in statements:
        plan = " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert not re.search(r"\bSCAN (p|r|prices|price_reviews)\b", plan), (sql, plan)
        if "FROM prices p JOIN markets" in sql:
            assert "INDEX" in plan, (sql, plan)


# ---------------------------------------------------------------------------- review queue


def _pending(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute(
        "SELECT id FROM price_reviews WHERE status = 'pending' ORDER BY id")]


def test_the_queue_lists_held_prices_with_why(admin, conn):
    waiting = _pending(conn)
    assert len(waiting) == 7        # the Kenya file's rows far outside their range
    html = _text(admin.get(REVIEWS))
    for review_id in waiting:
        assert f'id="review-{review_id}"' in html
    assert "times the median" in html or "of the median" in html
    assert "wfp_food_prices_ken.csv, line" in html
    assert 'class="count">7<' in html


def test_accepting_a_price_publishes_it_and_audits_the_console_user(admin, conn):
    review_id = _pending(conn)[0]
    row = conn.execute("SELECT commodity_id, market_id, unit, price_type, currency, date,"
                       " price FROM price_reviews WHERE id = ?", (review_id,)).fetchone()
    token = csrf_token(_text(admin.get(REVIEWS)))
    response = admin.post(f"{REVIEWS}/{review_id}/accept", data={"csrf_token": token})
    assert response.status_code == 303
    page = _text(admin.get(REVIEWS))
    assert f"Review {review_id} (" in page and "accepted: its price is published" in page
    assert f'id="review-{review_id}"' not in page
    assert conn.execute("SELECT status, decided_by FROM price_reviews WHERE id = ?",
                        (review_id,)).fetchone()[:] == ("published", "ann")
    assert conn.execute("SELECT price FROM prices WHERE commodity_id = ? AND market_id = ?"
                        " AND unit = ? AND price_type = ? AND currency = ? AND date = ?",
                        tuple(row)[:6]).fetchone()[0] == row["price"]
    audit = conn.execute("SELECT action, console_user, detail FROM audit").fetchall()
    assert [(a, u) for a, u, _ in audit] == [("price_accepted", "ann")]
    assert json.loads(audit[0][2])["review"] == review_id
    again = admin.post(f"{REVIEWS}/{review_id}/accept", data={"csrf_token": token})
    assert again.status_code == 303
    assert f"Review {review_id} is published, not waiting" in _text(admin.get(REVIEWS))
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 1


def test_rejecting_a_price_keeps_it_out_with_the_note(admin, conn):
    review_id = _pending(conn)[1]
    before = conn.execute("SELECT COUNT(*) FROM prices").fetchone()[0]
    token = csrf_token(_text(admin.get(REVIEWS)))
    too_long = admin.post(f"{REVIEWS}/{review_id}/reject",
                          data={"csrf_token": token, "note": "x" * 1600})
    assert too_long.status_code == 303
    assert "the note is 1,600 characters long" in _text(admin.get(REVIEWS))
    assert review_id in _pending(conn)
    note = "typo in the file 🌽".encode() + b"\xed\xa0\x80"     # and a lone surrogate
    response = admin.post(f"{REVIEWS}/{review_id}/reject", data=b"&".join(
        [b"csrf_token=" + token.encode(), b"note=" + quote_from_bytes(note).encode()]),
        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 303
    assert review_id not in _pending(conn)
    assert conn.execute("SELECT COUNT(*) FROM prices").fetchone()[0] == before
    action, user, detail = conn.execute("SELECT action, console_user, detail FROM audit").fetchone()
    assert (action, user) == ("price_rejected", "ann")
    kept = json.loads(detail)["note"]
    assert kept.startswith("typo in the file 🌽") and kept.encode("utf-8")   # no surrogate


def test_deciding_an_unknown_review_or_without_a_token_changes_nothing(admin, conn):
    token = csrf_token(_text(admin.get(REVIEWS)))
    response = admin.post(f"{REVIEWS}/999999/accept", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Review 999999 does not exist" in _text(admin.get(REVIEWS))
    assert admin.post(f"{REVIEWS}/{_pending(conn)[0]}/accept").status_code == 400
    assert len(_pending(conn)) == 7
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 0


def test_a_leader_cannot_decide(console_client, conn):
    from db import groups as groups_db

    with transaction(conn):
        group = groups_db.create(conn, code="KIMA", name="Kima", market_id=None, region=None,
                                 products=["MAIZE"])
        leader = contacts.get_or_create(conn, e164("0711000001"))
        groups_db.set_member(conn, group.id, leader.id, role="leader")
    console_user(conn, "lee", "leader", group="KIMA")
    console_login(console_client, "lee")
    token = csrf_token(_text(console_client.get("/console/account")))
    review_id = _pending(conn)[0]
    assert console_client.post(f"{REVIEWS}/{review_id}/accept",
                               data={"csrf_token": token}).status_code == 403
    assert console_client.get(REVIEWS).status_code == 403
    assert console_client.get(IMPORT).status_code == 403
    assert review_id in _pending(conn)


def test_an_agents_report_shows_a_masked_number(admin, conn):
    from db import reviews
    from db.reviews import Observation, Status
    from db.timeutil import utcnow

    with transaction(conn):
        agent = contacts.get_or_create(conn, e164("0722123456"))
        market = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]
        maize = conn.execute("SELECT id FROM commodities WHERE name = 'Maize'").fetchone()[0]
        reviews.add(conn, Observation(maize, market, "KG", "retail", "KES", "2026-11-20", 55.0,
                                      "agent"), origin="agent", status=Status.PENDING,
                    reason="unassigned", now=utcnow(), agent_id=agent.id, item=1,
                    reported="2026-11-20")
    html = _text(admin.get(REVIEWS))
    assert "the market is not one of the agent&#39;s markets" in html
    assert "722123456" not in re.sub(r"\D", "", html)


# ---------------------------------------------------------------------------- importing


def _check(client: Any, content: bytes, name: str = "prices.csv",
           country: str = "") -> Any:
    token = csrf_token(_text(client.get(IMPORT)))
    from io import BytesIO

    return client.post(IMPORT, data={"csrf_token": token, "country": country,
                                      "file": (BytesIO(content), name)},
                       content_type="multipart/form-data")


def _run(client: Any, html: str) -> Any:
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    return client.post(f"{IMPORT}/run", data={"csrf_token": csrf_token(html), "token": token})


def test_the_dry_run_report_is_the_clis(admin, config, tmp_path):
    rows = [f"2026-10-{day:02d},Testville,Maize,KG,wholesale,KES,{'x' if day % 9 == 0 else 40}"
            for day in range(1, 29)]
    content = (TEMPLATE + "\n".join(rows) + "\n2026-10-29,Testville,Maize,KG,wholesale,KES,900"
               "\n").encode()
    path = tmp_path / "october.csv"
    path.write_bytes(content)
    settings = tmp_path / "cli.toml"
    settings.write_text(f'[database]\npath = "{Path(config["database.path"]).as_posix()}"\n',
                        encoding="utf-8")
    cli = CliRunner().invoke(main, ["import", "prices", str(path), "--dry-run",
                                    "--config", str(settings)], env={"SMSGW_CONFIG": None})
    assert cli.exit_code == 1, cli.output
    html = _text(_check(admin, content, "october.csv"))
    summary = re.search(r'id="report-summary">([^<]*)<', html).group(1)
    lines = re.findall(r'<li class="[a-z]+"(?: data-line="\d+")?>([^<]*)</li>', html)
    assert cli.stdout.splitlines() == [summary]
    stderr = [line.replace("'", "&#39;") for line in cli.stderr.splitlines()]
    assert stderr[0] == "country: KE (from the only country this deployment serves)"
    assert "country: KE (from the only country this deployment serves)" in html
    assert stderr[1:] == lines and "line 10: price &#39;x&#39; is not a number" in lines
    assert "line 30: would be held: price 900 is more than 5 times the median 40" in html


def test_a_file_larger_than_a_webhook_but_within_the_upload_limit_imports(admin, conn):
    rows = "".join(f"2026-{1 + i // 28:02d}-{1 + i % 28:02d},Market {i % 50},Maize,KG,"
                   f"wholesale,KES,{30 + i % 7}\n" for i in range(300)) * 1
    big = (TEMPLATE + rows * 12).encode()       # rows repeat: the same prices again
    assert len(big) > 65536                      # server.max_request_bytes
    html = _text(_check(admin, big, "big.csv"))
    assert "read 3600, inserted 300, updated 0, unchanged 3300, rejected 0" in html
    imported = _run(admin, html)
    assert imported.status_code == 200
    assert "read 3600, inserted 300," in _text(imported)
    assert conn.execute("SELECT COUNT(*) FROM markets WHERE name LIKE 'Market %'"
                        ).fetchone()[0] == 50
    audit = conn.execute("SELECT action, console_user, detail FROM audit").fetchall()
    assert [(a, u) for a, u, _ in audit] == [("prices_imported", "ann")]
    detail = json.loads(audit[0][2])
    assert (detail["file"], detail["inserted"], detail["read"]) == ("big.csv", 300, 3600)
    logged = conn.execute("SELECT file_name, dry_run FROM imports ORDER BY id DESC LIMIT 2")
    assert [tuple(row) for row in logged] == [("big.csv", 0), ("big.csv", 1)]


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"", "empty.csv", "empty.csv: the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.png", "not a CSV text file"),
    (b"%PDF-1.4\n\xe2\xe3\xcf\xd3\n", "prices.pdf", "line 2 is not UTF-8 text"),
    (b"Hello, this is a letter\nnot prices\n", "letter.txt", "unknown header"),
    (TEMPLATE.encode() + b"2026-10-15,Test\xed\xa0\x80ville,Maize,KG,retail,KES,40\n",
     "surrogate.csv", "line 2 is not UTF-8 text"),
])
def test_a_file_that_cannot_be_imported_gets_a_clear_message(admin, conn, content, name,
                                                             message):
    before = conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0]
    response = _check(admin, content, name)
    assert response.status_code == 400
    html = _text(response)
    assert message in html and "Nothing was imported." in html
    assert "console-uploads" not in html and "Import for real" not in html
    assert conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == before


def test_emoji_in_a_file_are_rows_named_by_line(admin, conn):
    content = (TEMPLATE + "2026-10-15,Testville 🌽,Maize,KG,retail,KES,40\n"
               "2026-10-15,Testville,Maize,KG,retail,KES,🌽\n").encode()
    html = _text(_check(admin, content, "🌽 prices.csv"))
    assert "Dry run of 🌽 prices.csv" in html
    assert "line 3: price &#39;🌽&#39; is not a number" in html
    assert "read 2, inserted 1," in html


def test_no_file_a_country_not_served_and_the_file_names_country(admin):
    token = csrf_token(_text(admin.get(IMPORT)))
    missing = admin.post(IMPORT, data={"csrf_token": token},
                         content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose a price file" in _text(missing)
    other = _check(admin, (TEMPLATE + "2026-10-15,Accra,Maize,KG,retail,GHS,4\n").encode(),
                   country="GH")
    assert other.status_code == 400 and "Choose a country from the list." in _text(other)
    ghana = _check(admin, (TEMPLATE + "2026-10-15,Accra,Maize,KG,retail,GHS,4\n").encode(),
                   name="wfp_food_prices_gha.csv")
    text = _text(ghana)
    assert ghana.status_code == 400
    assert "wfp_food_prices_gha.csv: its country is GH (from the file name)" in text
    assert "console-uploads" not in text


def test_the_real_import_needs_this_sessions_checked_file(admin, app, conn):
    html = _text(_check(admin, (TEMPLATE + "2026-10-15,Testville,Maize,KG,retail,KES,40\n"
                                ).encode()))
    forged = admin.post(f"{IMPORT}/run", data={"csrf_token": csrf_token(html),
                                                "token": "../../etc/passwd"})
    assert forged.status_code == 400 and "no longer waiting" in _text(forged)
    other = app.test_client()
    console_user(conn, "bob")
    console_login(other, "bob")
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    stolen = other.post(f"{IMPORT}/run", data={
        "csrf_token": csrf_token(_text(other.get(IMPORT))), "token": token})
    assert stolen.status_code == 400
    assert _testville(conn) == []
    assert _run(admin, html).status_code == 200
    assert _testville(conn) == [("Maize", "retail", 40.0)]
    again = _run(admin, html)                    # the file is gone once imported
    assert again.status_code == 400 and "no longer waiting" in _text(again)


def test_a_file_over_the_upload_limit_is_refused_plainly(tmp_path, clock):
    small = make_config(tmp_path, **{"console.max_upload_bytes": 1000})
    app = create_app(small, clock=clock)
    client = app.test_client()
    import db

    conn = db.connect(small["database.path"])
    console_user(conn, "ann")
    console_login(client, "ann")
    fits = TEMPLATE + "2026-10-15,Testville,Maize,KG,retail,KES,40\n"
    assert _check(client, fits.encode()).status_code == 200
    over = (TEMPLATE + "2026-10-15,Testville,Maize,KG,retail,KES,40\n" * 30).encode()
    assert 1000 < len(over) < 64 * 1024            # within the form's slack, over the file limit
    response = _check(client, over, "over.csv")
    assert response.status_code == 413
    assert "over.csv is larger than 1 kB" in _text(response)
    huge = _check(client, b"x" * 200_000, "huge.csv")   # past the request's own limit too
    assert huge.status_code == 413
    assert "The file is larger than 1 kB" in _text(huge)
    assert conn.execute("SELECT COUNT(*) FROM imports WHERE dry_run = 0").fetchone()[0] == 0
    conn.close()


def test_checked_files_wait_beside_the_database_and_go_when_imported(admin, config):
    folder = Path(config["database.path"]).parent / "console-uploads"
    _check(admin, (TEMPLATE + "2026-10-15,Testville,Maize,KG,retail,KES,40\n").encode(),
           "mine.csv")
    waiting = list(folder.iterdir())
    assert len(waiting) == 1 and [p.name for p in waiting[0].iterdir()] == ["mine.csv"]
    html = _text(_check(admin, (TEMPLATE + "2026-10-15,Testville,Maize,KG,retail,KES,41\n"
                                ).encode()))
    assert waiting[0].exists() is False          # a new check replaces the old file
    assert len(list(folder.iterdir())) == 1
    assert _run(admin, html).status_code == 200
    assert list(folder.iterdir()) == []
