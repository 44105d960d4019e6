"""The console's groups and orders (issue 17): the list of groups and open orders, a group's
page for its leader and for admins, the leader's broadcast with its cost confirmed first
(in Chromium and through the test client), closing an order, and what a leader may see:
their own group only, and never a whole number."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import expect
from support import (browser_login, console_login, console_user, csrf_token, e164, make_config,
                     post_local)

from db import contacts, transaction
from db import groups as groups_db
from db import orders as orders_db
from handlers.segments import count

LEADER, A, B, C, OUT, PENDING = ("0711000001", "0711000002", "0711000003", "0711000004",
                                 "0711000005", "0711000009")
OTHER_LEADER, OTHER_A = "0722000001", "0722000002"
BUYER = "0700000001"
EVERYONE = (LEADER, A, B, C, OUT, PENDING, OTHER_LEADER, OTHER_A, BUYER)
COST = 0.8   # bulletins.cost_per_segment, KES


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path, **{"bulletins.cost_per_segment": COST})


def seed(conn, *, share: bool = False) -> dict[str, int]:
    """KIMA: a leader, three members, one opted out, one waiting to join; TUMA: a leader
    and a member; a buyer. Returns contact ids by local number."""
    ids = {}
    with transaction(conn):
        kima = groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None,
                                region="Nakuru", products=["MAIZE", "BEANS"],
                                share_leader_numbers=share)
        tuma = groups_db.create(conn, code="TUMA", name="Tuma weavers", market_id=None,
                                region=None, products=["MAIZE"])
        for phone, group, role, status in (
                (LEADER, kima, "leader", "active"), (A, kima, "member", "active"),
                (B, kima, "member", "active"), (C, kima, "member", "active"),
                (OUT, kima, "member", "active"), (PENDING, kima, "member", "pending"),
                (OTHER_LEADER, tuma, "leader", "active"), (OTHER_A, tuma, "member", "active")):
            person = contacts.get_or_create(conn, e164(phone))
            groups_db.set_member(conn, group.id, person.id, role=role, status=status)
            ids[phone] = person.id
        contacts.set_opted_out(conn, ids[OUT], source="keyword")
        buyer = contacts.get_or_create(conn, e164(BUYER))
        groups_db.set_role(conn, buyer.id, "buyer", "Unga Millers")
        ids[BUYER] = buyer.id
    return ids


def open_order(conn, ids: dict[str, int], *, groups=("KIMA", "TUMA"),
               pledges=((A, "KIMA", 30), (B, "KIMA", 20), (OTHER_A, "TUMA", 50))):
    """An open order for 200 bags of maize relayed to these groups, with these pledges."""
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with transaction(conn):
        order = orders_db.create(conn, buyer_id=ids[BUYER], product="MAIZE", quantity=200,
                                 unit="bags", grade=None, price=3400, currency="KES",
                                 deliver_by=date(2026, 12, 20), place=None, market_id=None,
                                 now=now)
        for code in groups:
            orders_db.relay(conn, order.id, groups_db.by_code(conn, code).id, now)
        for phone, code, quantity in pledges:
            orders_db.pledge(conn, order.id, ids[phone], groups_db.by_code(conn, code).id,
                             quantity, now)
    return order


def leader(conn, ids, name: str = "lee") -> None:
    console_user(conn, name, "leader", group="KIMA", contact_id=ids[LEADER])


def broadcast_rows(conn, text: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT to_number FROM outbox WHERE kind = 'broadcast' AND text = ? ORDER BY to_number",
        (text,))]


def confirm(client, code: str, text: str):
    """Ask for a broadcast's cost: the response and the token of its Send button."""
    page = client.get(f"/console/groups/{code}").get_data(as_text=True)
    response = client.post(f"/console/groups/{code}/broadcast",
                           data={"text": text, "csrf_token": csrf_token(page)})
    found = re.search(r'name="confirmation" value="([^"]+)"', response.get_data(as_text=True))
    return response, found[1] if found else None


def send(client, code: str, token: str, **extra):
    page = client.get(f"/console/groups/{code}").get_data(as_text=True)
    return client.post(f"/console/groups/{code}/broadcast/send",
                       data={"confirmation": token, "csrf_token": csrf_token(page), **extra})


def figures(html: str) -> dict[str, str]:
    """The confirmation's figures by id, as text."""
    return {key: re.sub(r"<[^>]+>|\s+", " ", value).strip()
            for key, value in re.findall(r'<dd id="(\w+)">(.*?)</dd>', html, re.S)}


# ------------------------------------------------------------------------- in the browser


def tab_to(page, element_id: str, most: int = 60) -> None:
    """Move the focus with Tab alone until it reaches the element with this id."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_a_leader_sends_a_broadcast_after_confirming_its_cost_on_a_phone(browser, live_server,
                                                                         conn):
    ids = seed(conn)
    leader(conn, ids)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "lee")
        page.wait_for_url(f"{live_server}/console/groups/KIMA")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Kima growers")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        text = "Meeting on Friday at 10 at the store: bring your bags, " * 3
        text = text.strip()
        tab_to(page, "text")                               # the keyboard alone from here
        page.keyboard.type(text)
        tab_to(page, "check")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Send this to Kima growers?")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        segments = count(f"KIMA: {text}").segments
        assert segments == 2
        expect(page.locator("#members")).to_contain_text("3")      # A, B, C: not OUT, not lee
        expect(page.locator("#members")).to_contain_text("1 opted out")
        expect(page.locator("#segments")).to_contain_text(str(segments))
        expect(page.locator("#total")).to_have_text(str(3 * segments))
        expect(page.locator("#cost")).to_have_text(f"KES {3 * segments * COST:,.2f}")
        assert broadcast_rows(conn, f"KIMA: {text}") == []          # nothing before Send
        tab_to(page, "send")
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Queued for 3 members of KIMA (6 SMS)")
        assert page.url == f"{live_server}/console/groups/KIMA"
    finally:
        context.close()
    assert broadcast_rows(conn, f"KIMA: {text}") == sorted(e164(p) for p in (A, B, C))
    row = conn.execute("SELECT actor_id, console_user, group_id, detail FROM audit"
                       " WHERE action = 'broadcast'").fetchone()
    assert (row[0], row[1]) == (ids[LEADER], "lee")
    assert '"members": 3' in row[3] and '"segments": 6' in row[3]


def test_an_admin_closes_an_order_in_the_browser(page, live_server, conn):
    ids = seed(conn)
    order = open_order(conn, ids)
    console_user(conn, "ann")
    browser_login(page, live_server, "ann", then="/console/groups")
    bar = page.get_by_role("progressbar", name=f"Offered to order {order.code}")
    assert bar.get_attribute("value") == "100.0" and bar.get_attribute("max") == "200.0"
    page.get_by_role("link", name=order.code).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.code}")
    assert page.get_by_role("progressbar", name="Offered by KIMA").get_attribute("value") == "50.0"
    page.get_by_role("link", name="Close this order…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Close order {order.code}?")
    assert conn.execute("SELECT status FROM orders").fetchone()[0] == "open"   # not yet
    page.get_by_role("button", name="Close the order").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order {order.code} is closed")
    assert conn.execute("SELECT status FROM orders").fetchone()[0] == "closed"


# ------------------------------------------------------------------------- who sees what


def test_a_leader_gets_403_on_another_groups_pages_its_orders_and_admin_pages(console_client,
                                                                           conn):
    ids = seed(conn)
    order = open_order(conn, ids)
    mine_only = open_order(conn, ids, groups=("TUMA",), pledges=())
    leader(conn, ids)
    console_login(console_client, "lee")
    assert console_client.get("/console/groups/KIMA").status_code == 200
    assert console_client.get("/console/groups/kima").status_code == 200   # codes fold
    assert console_client.get(f"/console/groups/KIMA/orders/{order.code}").status_code == 200
    assert console_client.get(f"/console/groups/KIMA/orders/{mine_only.code}").status_code == 404
    token = csrf_token(console_client.get("/console/groups/KIMA").get_data(as_text=True))
    for url in ("/console/groups/TUMA", f"/console/groups/TUMA/orders/{order.code}",
                f"/console/groups/TUMA/orders/{mine_only.code}", "/console/groups",
                "/console/contacts", f"/console/contacts/{ids[A]}", f"/console/orders/{order.code}",
                f"/console/orders/{order.code}/close"):
        assert console_client.get(url).status_code == 403, url
    for url in ("/console/groups/TUMA/broadcast", "/console/groups/TUMA/broadcast/send",
                f"/console/orders/{order.code}/close", f"/console/contacts/{ids[A]}/reveal"):
        response = console_client.post(url, data={"csrf_token": token, "text": "Hello"})
        assert response.status_code == 403, url
    assert conn.execute("SELECT status FROM orders WHERE id = ?", (order.id,)).fetchone()[0] == \
        "open"
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE console_user IS NOT NULL"
                        ).fetchone()[0] == 0


def test_a_token_for_another_group_is_refused(console_client, conn):
    ids = seed(conn)
    console_user(conn, "ann")
    console_login(console_client, "ann")
    _, token = confirm(console_client, "TUMA", "Hello weavers")
    response = send(console_client, "KIMA", token)
    assert response.status_code == 400
    assert "another group" in response.get_data(as_text=True)
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert ids


def _whole_numbers_in(html: str) -> list[str]:
    """Numbers of EVERYONE found whole in a page, in any format: +254711000001,
    254711000001, 0711000001, 0711 000 001."""
    digits = re.sub(r"\D", "", html)
    found = []
    for local in EVERYONE:
        full = e164(local)
        if full in html or full[1:] in digits or local in digits:
            found.append(local)
    return found


def test_a_leaders_pages_never_show_a_whole_number(console_client, conn):
    ids = seed(conn, share=True)     # buyers (and admins) may see KIMA's leaders' numbers
    order = open_order(conn, ids)
    leader(conn, ids)
    # a broadcast by SMS that names a number: the list of broadcasts masks it
    post_local(console_client, f"BCAST Call {C} or {e164(B)} for bags", sender=LEADER)
    console_login(console_client, "lee")
    seen, todo, pages = set(), ["/console/"], []
    while todo:
        url = todo.pop()
        if url in seen or url.startswith("/console/static") or "logout" in url:
            continue
        seen.add(url)
        response = console_client.get(url, follow_redirects=True)
        pages.append((url, response.get_data(as_text=True)))
        todo += re.findall(r'href="(/console[^"#]*)', pages[-1][1])
    assert {"/console/groups/KIMA", f"/console/groups/KIMA/orders/{order.code}"} <= seen
    response, _ = confirm(console_client, "KIMA", "Rain tomorrow")
    pages.append(("confirmation", response.get_data(as_text=True)))
    group_page = dict(pages)["/console/groups/KIMA"]
    assert "Call 071****004 or +254******003 for bags" in group_page   # masked, not removed
    for url, html in pages:
        assert _whole_numbers_in(html) == [], url
    # the same page for an admin shows the shared leader's number, and no member's
    console_user(conn, "ann")
    console_client.post("/console/logout", data={"csrf_token": csrf_token(group_page)})
    console_login(console_client, "ann")
    admin_view = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    assert _whole_numbers_in(admin_view) == [LEADER]


# ------------------------------------------------------------------------- the pages


def test_the_list_of_groups_and_open_orders(console_client, conn):
    ids = seed(conn)
    order = open_order(conn, ids)
    console_user(conn, "ann")
    console_login(console_client, "ann")
    html = console_client.get("/console/groups").get_data(as_text=True)
    kima = re.search(r"Kima growers</a>.*?</tr>", html, re.S)[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', kima)
    assert cells == ["4", "1", "1", "1"]      # members, leaders, waiting, open orders
    assert "beans, maize" in kima and "Nakuru" in kima
    assert f'<progress value="100.0" max="200.0" aria-label="Offered to order {order.code}">' \
        in html
    assert "100 of 200 bags" in html and "Unga Millers" in html


def test_empty_states_say_what_to_do(console_client, conn):
    console_user(conn, "ann")
    console_login(console_client, "ann")
    html = console_client.get("/console/groups").get_data(as_text=True)
    assert "No groups yet. Add one with" in html and "No open orders." in html


def test_a_group_page_shows_orders_by_group_pledges_and_join_requests(console_client, conn):
    ids = seed(conn)
    order = open_order(conn, ids)
    leader(conn, ids)
    console_login(console_client, "lee")
    html = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    assert f'aria-label="Offered overall to order {order.code}"' in html
    assert f'<progress value="50.0" max="200.0" aria-label="Offered by KIMA to order' \
           f' {order.code}">' in html
    assert "100 of 200 bags" in html and "50 of 200 bags" in html
    assert html.count("<td class=\"num\">30 bags</td>") == 1
    waiting = html[html.index('id="pending"'):html.index('id="members"')]
    assert "+254******009" in waiting and "Nobody is waiting" not in waiting
    detail = console_client.get(f"/console/groups/KIMA/orders/{order.code}")
    text = detail.get_data(as_text=True)
    assert "2 people" in text and "30 bags" in text and "50 bags" not in text   # TUMA's


def test_members_are_paged(console_client, conn):
    ids = seed(conn)
    with transaction(conn):
        kima = groups_db.by_code(conn, "KIMA")
        for n in range(60):
            person = contacts.get_or_create(conn, e164(f"0799{n:06d}"))
            groups_db.set_member(conn, kima.id, person.id)
    leader(conn, ids)
    console_login(console_client, "lee")
    first = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    members = first[first.index('id="members"'):first.index('id="broadcasts"')]
    assert members.count("<tr>") == 50 + 1      # a header and 50 rows
    after = re.search(r'href="/console/groups/KIMA\?after=(\d+)#members">More members', first)
    second = console_client.get(f"/console/groups/KIMA?after={after[1]}").get_data(as_text=True)
    rest = second[second.index('id="members"'):second.index('id="broadcasts"')]
    assert rest.count("<tr>") == 64 - 50 + 1 and "More members" not in rest
    assert console_client.get("/console/groups/KIMA?after=x%00").status_code == 200


# ------------------------------------------------------------------------- broadcasts


def test_the_confirmation_is_bound_to_the_text_and_count_it_showed(console_client, conn):
    ids = seed(conn)
    leader(conn, ids)
    console_login(console_client, "lee")
    response, token = confirm(console_client, "KIMA", "Meeting Friday")
    assert response.status_code == 200
    assert figures(response.get_data(as_text=True))["total"] == "3"
    # another text posted with the token is ignored: what was confirmed is what goes
    sent = send(console_client, "KIMA", token, text="Something else, 20 times longer" * 9)
    assert sent.status_code == 302
    assert len(broadcast_rows(conn, "KIMA: Meeting Friday")) == 3
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3
    # the same Send twice sends once
    again = send(console_client, "KIMA", token)
    assert again.status_code == 302
    assert "sent already" in console_client.get("/console/groups/KIMA").get_data(as_text=True)
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3
    # a forged or altered token sends nothing
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", ""):
        refused = send(console_client, "KIMA", forged)
        assert refused.status_code == 400
        assert "not valid" in refused.get_data(as_text=True)
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 3


def test_a_group_that_grew_past_the_allowance_shows_the_new_cost(console_client, conn):
    ids = seed(conn)
    leader(conn, ids)
    console_login(console_client, "lee")
    _, token = confirm(console_client, "KIMA", "Prices are up")      # 3 members
    kima = groups_db.by_code(conn, "KIMA")
    with transaction(conn):
        for n in range(2):       # 5 > 3 + max(1, 3 // 10): more than BCAST allows for a YES
            groups_db.set_member(conn, kima.id,
                                 contacts.get_or_create(conn, e164(f"0799{n:06d}")).id)
    grew = send(console_client, "KIMA", token)
    assert grew.status_code == 409
    html = grew.get_data(as_text=True)
    assert "now reaches 5 members instead of 3" in html
    assert figures(html)["total"] == "5"
    assert broadcast_rows(conn, "KIMA: Prices are up") == []
    new_token = re.search(r'name="confirmation" value="([^"]+)"', html)[1]
    assert send(console_client, "KIMA", new_token).status_code == 302
    assert len(broadcast_rows(conn, "KIMA: Prices are up")) == 5


def test_one_more_member_is_within_the_allowance(console_client, conn):
    ids = seed(conn)
    leader(conn, ids)
    console_login(console_client, "lee")
    _, token = confirm(console_client, "KIMA", "Prices are up")
    with transaction(conn):
        groups_db.set_member(conn, groups_db.by_code(conn, "KIMA").id,
                             contacts.get_or_create(conn, e164("0799000000")).id)
    assert send(console_client, "KIMA", token).status_code == 302
    assert len(broadcast_rows(conn, "KIMA: Prices are up")) == 4


def test_an_admin_broadcast_reaches_the_leaders_too_and_is_audited(console_client, conn):
    ids = seed(conn)
    console_user(conn, "ann")
    console_login(console_client, "ann")
    response, token = confirm(console_client, "KIMA", "Feria")
    assert figures(response.get_data(as_text=True))["members"].startswith("4")
    send(console_client, "KIMA", token)
    assert len(broadcast_rows(conn, "KIMA: Feria")) == 4
    row = conn.execute("SELECT actor_id, console_user, group_id FROM audit"
                       " WHERE action = 'broadcast'").fetchone()
    assert tuple(row) == (None, "ann", groups_db.by_code(conn, "KIMA").id)
    page = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    assert "KIMA: Feria" in page and ">ann<" in page
    assert ids


@pytest.mark.parametrize("text, status, message", [
    ("", 400, "Write the message first."),
    ("   ", 400, "Write the message first."),
    ("x" * 307, 400, "at most 306 characters and this one has 307"),
    ("x" * 1600, 400, "at most 306 characters and this one has 1,600"),
    ("Mvua kesho 🌧️ funika mahindi", 200, "UCS-2"),
    ("Bad \ud800 surrogate", 200, "Bad"),
    ("Tabs\tand\nlines", 200, "Tabs"),
])
def test_bad_broadcast_texts_get_a_clear_answer(console_client, conn, text, status, message):
    ids = seed(conn)
    leader(conn, ids)
    console_login(console_client, "lee")
    page = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    response = console_client.post("/console/groups/KIMA/broadcast", data={
        "text": text.encode("utf-8", "surrogatepass"), "csrf_token": csrf_token(page)})
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html
    if status == 400:
        assert 'role="alert"' in html
    if text.startswith("Mvua"):
        assert figures(html)["segments"].startswith("1")


def test_broadcasts_an_hour_count_sms_and_console_alike(console_client, conn):
    ids = seed(conn)
    leader(conn, ids)
    for n in range(2):
        reply = post_local(console_client, f"BCAST News {n}", msg_id=f"b{n}", sender=LEADER)
        assert reply.get_json()["replies"][0]["text"].startswith("Sent to 3 members")
    console_login(console_client, "lee")
    _, token = confirm(console_client, "KIMA", "Third")
    assert send(console_client, "KIMA", token).status_code == 302
    refused, _ = confirm(console_client, "KIMA", "Fourth")
    assert refused.status_code == 400
    assert "At most 3 broadcasts an hour" in refused.get_data(as_text=True)
    sms = post_local(console_client, "BCAST Fifth", msg_id="b9", sender=LEADER)
    assert sms.get_json()["replies"][0]["text"] == (
        "Not sent: at most 3 broadcasts an hour. Try again later.")


def test_in_quiet_hours_the_leader_is_told_when_it_goes(console_client, conn, clock):
    ids = seed(conn)
    leader(conn, ids)
    clock.advance(9.5 * 3600)          # 18:30 UTC: 21:30 in Nairobi, in 20:00-07:00
    console_login(console_client, "lee")
    response, token = confirm(console_client, "KIMA", "Tomorrow at 8")
    assert figures(response.get_data(as_text=True))["when"] == \
        "It is quiet hours: members get it at 07:00 on 24 Nov."
    send(console_client, "KIMA", token)
    page = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    assert "They get it at 07:00 on 24 Nov, after quiet hours." in page
    assert len(broadcast_rows(conn, "KIMA: Tomorrow at 8")) == 3   # queued, held by the worker


def test_sms_bcast_still_works_as_before(console_client, conn):
    ids = seed(conn)
    reply = post_local(console_client, "BCAST Hello all", sender=LEADER)
    assert reply.get_json()["replies"][0]["text"] == "Sent to 3 members of KIMA."
    assert broadcast_rows(conn, "KIMA: Hello all") == sorted(e164(p) for p in (A, B, C))
    row = conn.execute("SELECT actor_id, console_user FROM audit WHERE action = 'broadcast'"
                       ).fetchone()
    assert tuple(row) == (ids[LEADER], None)


# ------------------------------------------------------------------------- closing an order


def test_closing_an_order_is_confirmed_sends_the_summaries_and_is_audited(console_client, conn):
    ids = seed(conn)
    order = open_order(conn, ids)
    console_user(conn, "ann")
    console_login(console_client, "ann")
    ask = console_client.get(f"/console/orders/{order.code}/close")
    html = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "the 3 people who offered" in html
    assert "the 2 groups it went to" in html
    assert conn.execute("SELECT status FROM orders").fetchone()[0] == "open"
    done = console_client.post(f"/console/orders/{order.code}/close",
                               data={"csrf_token": csrf_token(html)})
    assert done.status_code == 302
    assert conn.execute("SELECT status FROM orders").fetchone()[0] == "closed"
    trail = [tuple(r) for r in conn.execute(
        "SELECT action, console_user FROM audit WHERE order_id = ? ORDER BY id", (order.id,))]
    assert trail[-2:] == [("closed", None), ("close_order", "ann")]
    told = {row[0] for row in conn.execute("SELECT to_number FROM outbox WHERE kind = 'order'")}
    assert told == {e164(p) for p in (BUYER, LEADER, OTHER_LEADER, A, B, OTHER_A)}
    buyer = conn.execute("SELECT text FROM outbox WHERE to_number = ?", (e164(BUYER),)
                         ).fetchone()[0]
    assert buyer.startswith(f"Order {order.code} closed: 100 of 200 bags.")
    page = console_client.get(f"/console/orders/{order.code}").get_data(as_text=True)
    assert "Closed" in page and "close order" in page and "ann" in page
    # closing again sends nothing
    again = console_client.post(f"/console/orders/{order.code}/close",
                                data={"csrf_token": csrf_token(html)})
    assert again.status_code == 409
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == len(told)
    assert ids
