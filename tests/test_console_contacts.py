"""The console's contacts page (issue 17): search by name or by the last digits of a number
(through an index), masked numbers with an audited reveal, numbers the person agreed to
share, one contact's facts and their messages both ways, newest first, page by page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from support import console_login, console_user, csrf_token, e164, post_local

from db import agents, contacts, directory, subscriptions, suppliers, transaction
from db import groups as groups_db

KNOWN = "0712345678"          # the contact searched for
BUYER, SUPPLIER, LEADER = "0700000001", "0700000002", "0700000003"


def _market(conn, name: str = "Nakuru") -> int:
    with transaction(conn):
        return int(conn.execute("INSERT INTO markets (country, name) VALUES ('KE', ?)",
                                (name,)).lastrowid)


def seed(conn, n: int = 30) -> dict[str, int]:
    """n contacts 0711000000...; one known number; a buyer, a supplier, a leader."""
    ids = {}
    with transaction(conn):
        for i in range(n):
            ids[f"0711{i:06d}"] = contacts.get_or_create(conn, e164(f"0711{i:06d}")).id
        for phone in (KNOWN, BUYER, SUPPLIER, LEADER):
            ids[phone] = contacts.get_or_create(conn, e164(phone)).id
        groups_db.set_role(conn, ids[BUYER], "buyer", "Unga Millers")
        suppliers.save(conn, ids[SUPPLIER], "Nakuru Agrovet", ["DAP"], by="test",
                       now=datetime.now(UTC))
    return ids


@pytest.fixture
def admin(console_client, conn):
    console_user(conn, "ann")
    console_login(console_client, "ann")
    return console_client


def rows(html: str) -> list[str]:
    """The masked numbers of the contacts listed, in order."""
    return re.findall(r'<td><a href="/console/contacts/\d+">([^<]*)</a></td>', html)


def test_search_by_last_digits_finds_the_contact(admin, conn):
    seed(conn)
    for query in ("5678", "345678", "678", "2345 678", KNOWN, "+254 712 345 678", e164(KNOWN)):
        response = admin.get("/console/contacts", query_string={"q": query})
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        assert rows(html) == ["+254******678"], query
        shown = html.split("A name is a buyer", 1)[1]   # all but the search box
        assert KNOWN not in shown and e164(KNOWN) not in shown, query
    assert rows(admin.get("/console/contacts?q=1000001").get_data(as_text=True)) == [
        "+254******001"]
    nothing = admin.get("/console/contacts?q=99999").get_data(as_text=True)
    assert "No contact matches “99999”" in nothing


def test_too_few_digits_is_explained(admin, conn):
    seed(conn)
    response = admin.get("/console/contacts?q=78")
    assert response.status_code == 400
    assert "Type at least 3 digits" in response.get_data(as_text=True)


def plans(conn, work) -> list[str]:
    """The query plan of each statement `work(conn)` runs (traced with their values)."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        work(conn)
    finally:
        conn.set_trace_callback(None)
    return [" ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            for sql in statements]


def test_the_digit_search_reads_an_index(conn):
    seed(conn)
    for digits in ("678", "5678", "12345678"):     # a plan, not a timing: it holds at 100,000
        found = []
        [plan] = plans(conn, lambda c, d=digits: found.extend(directory.by_last_digits(c, d)))
        assert "USING INDEX contacts_phone_tail" in plan and "SCAN" not in plan, plan
        assert [c.phone for c in found] == [e164(KNOWN)]
    with pytest.raises(ValueError):
        directory.by_last_digits(conn, "78")


def test_a_contacts_history_reads_indexes(conn):
    [plan] = plans(conn, lambda c: directory.history(c, 1, offset=50, limit=51))
    assert "USING INDEX inbound_contact_time" in plan, plan
    assert "USING INDEX outbox_contact_time" in plan, plan
    assert "SCAN" not in plan, plan


def test_search_by_name_wherever_names_live(admin, conn):
    ids = seed(conn)
    console_user(conn, "wanjiku", "admin", contact_id=ids[LEADER])
    with transaction(conn):
        kima = groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None,
                                region=None, products=["MAIZE"])
        conn.execute("INSERT INTO pools (code, group_id, leader_id, product, unit, currency,"
                     " tiers, close_on, status, created_at) VALUES ('P4K2', ?, ?, 'DAP', 'bags',"
                     " 'KES', '[[0, 3200]]', '2026-12-01', 'open', '2026-11-20')",
                     (kima.id, ids[LEADER]))
        conn.execute("INSERT INTO pool_pledges (pool_id, contact_id, quantity, name, created_at,"
                     " updated_at) VALUES (1, ?, 3, 'Mary W', '2026-11-20', '2026-11-20')",
                     (ids[KNOWN],))
    for query, expected, name in (("unga", BUYER, "Unga Millers"),
                                  ("AGROVET", SUPPLIER, "Nakuru Agrovet"),
                                  ("wanji", LEADER, "wanjiku"),
                                  ("mary", KNOWN, "Mary W")):
        html = admin.get("/console/contacts", query_string={"q": query}).get_data(as_text=True)
        assert rows(html) == ["+254******" + expected[-3:]], query
        assert name in html, query
    assert rows(admin.get("/console/contacts?q=%25").get_data(as_text=True)) == []   # '%'
    assert rows(admin.get("/console/contacts?q=_").get_data(as_text=True)) == []
    growers = admin.get("/console/contacts?q=growers").get_data(as_text=True)
    assert '<a href="/console/groups/KIMA">Kima growers (KIMA)</a>' in growers


def test_an_empty_search_lists_the_newest_contacts_page_by_page(admin, conn):
    ids = seed(conn)   # 34 contacts
    first = admin.get("/console/contacts").get_data(as_text=True)
    assert len(rows(first)) == 25
    assert rows(first)[0] == "+254******003"            # the newest: LEADER
    older = re.search(r'href="(/console/contacts\?before=\d+)">Older contacts', first)[1]
    second = admin.get(older).get_data(as_text=True)
    assert len(rows(second)) == 9 and "Older contacts" not in second
    assert rows(second)[-1] == "+254******000"          # the oldest
    listed = [int(n) for page in (first, second)
              for n in re.findall(r'<td><a href="/console/contacts/(\d+)">', page)]
    assert sorted(listed) == sorted(ids.values())       # each once, none left out


def test_no_contacts_yet_says_how_they_come(admin, conn):
    html = admin.get("/console/contacts").get_data(as_text=True)
    assert "No contacts yet." in html


@pytest.mark.parametrize("query", ["🌽 maize", "x" * 1600, "%ED%A0%80", "' OR 1=1 --",
                                   "\\", "+", "0", "(0711)"])
def test_bad_searches_get_an_answer_not_an_error(admin, conn, query):
    seed(conn)
    response = admin.get(f"/console/contacts?q={query}&before=abc")
    assert response.status_code in (200, 400)
    assert "<h1>Contacts</h1>" in response.get_data(as_text=True)


def test_odd_contact_urls_are_not_found(admin, conn):
    seed(conn)
    for url in ("/console/contacts/999999", "/console/contacts/99999999999999999999999",
                "/console/contacts/abc", "/console/contacts/-1", "/console/contacts/１"):
        assert admin.get(url).status_code == 404, url
    assert admin.get("/console/contacts/1?page=-1").status_code == 200


# ------------------------------------------------------------------------- one contact


def test_a_contact_page_shows_language_market_subscriptions_roles_and_groups(admin, conn):
    ids = seed(conn)
    market = _market(conn)
    with transaction(conn):
        person = ids[BUYER]
        contacts.set_language(conn, person, "sw")
        contacts.set_home_market(conn, person, market)
        subscriptions.add(conn, person, "MAIZE", market)
        subscriptions.add(conn, person, "BEANS", None)
        agents.save(conn, person, [market], auto_approve=False, by="test")
        kima = groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None,
                                region=None, products=["MAIZE"])
        groups_db.set_member(conn, kima.id, person, role="leader")
        contacts.set_opted_out(conn, person, source="keyword")
    html = admin.get(f"/console/contacts/{person}").get_data(as_text=True)
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", html, re.S))
    assert facts["Language"] == "sw"
    assert facts["Market"] == "Nakuru"
    assert facts["Subscriptions"] == "maize at Nakuru; beans at their market"
    assert facts["Messages"].startswith('<span class="status-failed">opted out</span> on')
    assert "(keyword)" in facts["Messages"]
    assert facts["Roles"] == "buyer (Unga Millers); market agent (Nakuru)"
    assert "Kima growers (KIMA)</a>: leader" in facts["Groups"]
    assert facts["Simulated"] == "no"
    assert "Unga Millers" in facts["Name"]
    assert BUYER not in html and e164(BUYER) not in html


def test_a_simulated_contact_is_flagged(admin, conn):
    with transaction(conn):
        sim = contacts.simulated(conn, e164("0799999999"))
    html = admin.get(f"/console/contacts/{sim.id}").get_data(as_text=True)
    assert "yes: the simulator's contact" in html
    listed = admin.get("/console/contacts").get_data(as_text=True)
    assert '<span class="tag">simulated</span>' in listed


def test_an_admin_reveals_a_number_and_it_is_audited(admin, conn):
    ids = seed(conn)
    page = admin.get(f"/console/contacts/{ids[KNOWN]}").get_data(as_text=True)
    assert KNOWN not in page and "Reveal the number" in page
    revealed = admin.post(f"/console/contacts/{ids[KNOWN]}/reveal",
                          data={"csrf_token": csrf_token(page)})
    assert revealed.status_code == 200
    assert f'<span class="phone">{KNOWN}</span>' in revealed.get_data(as_text=True)
    audit = conn.execute("SELECT action, console_user, detail FROM audit"
                         " WHERE action = 'reveal_number'").fetchall()
    assert [(a, u) for a, u, _ in audit] == [("reveal_number", "ann")]
    assert f'"contact_id": {ids[KNOWN]}' in audit[0][2]
    # shown on that response only: not on the next page, not kept in the session
    again = admin.get(f"/console/contacts/{ids[KNOWN]}").get_data(as_text=True)
    assert KNOWN not in again
    with admin.session_transaction() as session:
        assert KNOWN[1:] not in str(dict(session))
    assert admin.get("/console/contacts?q=5678").get_data(as_text=True).count(KNOWN) == 0


def test_a_reveal_needs_a_post_with_a_token(admin, conn):
    ids = seed(conn)
    assert admin.get(f"/console/contacts/{ids[KNOWN]}/reveal").status_code == 302
    assert admin.post(f"/console/contacts/{ids[KNOWN]}/reveal").status_code == 400
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'reveal_number'"
                        ).fetchone()[0] == 0


def test_a_leader_of_a_group_that_shares_numbers_is_shown_whole(admin, conn):
    ids = seed(conn)
    with transaction(conn):
        kima = groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None,
                                region=None, products=["MAIZE"], share_leader_numbers=True)
        groups_db.set_member(conn, kima.id, ids[LEADER], role="leader")
        groups_db.set_member(conn, kima.id, ids[KNOWN])
    listed = admin.get("/console/contacts").get_data(as_text=True)
    assert LEADER in rows(listed) and KNOWN not in listed
    page = admin.get(f"/console/contacts/{ids[LEADER]}").get_data(as_text=True)
    assert f'<span class="phone">{LEADER}</span>' in page and "Reveal the number" not in page


def test_the_history_interleaves_both_ways_newest_first_page_by_page(admin, conn, clock):
    for n in range(30):      # 30 messages in, 30 replies out
        post_local(admin, "HELP", msg_id=f"h{n}", sender=KNOWN)
        clock.advance(60)
    person = contacts.find(conn, e164(KNOWN)).id
    html = admin.get(f"/console/contacts/{person}").get_data(as_text=True)
    ways = re.findall(r'<tr class="(in|out)', html)
    assert len(ways) == 50
    assert ways[:4] == ["out", "in", "out", "in"]        # a reply follows its message
    times = re.findall(r"<td>(\d+ \w+ \d{4} \d\d:\d\d)</td>", html)
    assert times[0] == "23 Nov 2026 12:29"                # Nairobi time, the newest
    older = admin.get(f"/console/contacts/{person}?page=1").get_data(as_text=True)
    assert len(re.findall(r'<tr class="(in|out)', older)) == 10
    assert "Older messages" not in older and "Newer messages" in older
    assert re.findall(r"<td>(\d+ \w+ \d{4} \d\d:\d\d)</td>", older)[-1] == "23 Nov 2026 12:00"


def test_numbers_inside_message_texts_are_masked(admin, conn):
    ids = seed(conn)
    post_local(admin, f"APPROVE KIMA {BUYER}", sender=KNOWN)
    html = admin.get(f"/console/contacts/{ids[KNOWN]}").get_data(as_text=True)
    assert "APPROVE KIMA 070****001" in html and BUYER not in html
