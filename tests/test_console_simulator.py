"""The console's Simulator: an admin acts as a simulated phone, by SMS and USSD, on the Kenya
prices; what it shows is read back from the database; everything it causes, replies and
messages to other people alike, goes to the local provider (issue 17)."""

from __future__ import annotations

import html as html_module
import re

import pytest
from playwright.sync_api import expect
from support import browser_login, console_login, console_user, csrf_token, e164, kenya_config
from support import market_id

import db
from db import contacts
from db import groups as groups_db
from handlers.locale import sw

SIM = "/console/simulator"


@pytest.fixture
def config(kenya_db, tmp_path, request):
    """The Kenya prices; a test may change settings with indirect parametrization."""
    return kenya_config(kenya_db, tmp_path, **getattr(request, "param", {}))


class Admin:
    """A logged-in console client with the page's forms as methods."""

    def __init__(self, client) -> None:
        self.client = client
        self.token = csrf_token(client.get(SIM).get_data(as_text=True))

    def post(self, path: str, **data: str):
        return self.client.post(f"{SIM}{path}", data={**data, "csrf_token": self.token})

    def take(self, number: str, language: str = "en"):
        return self.post("/phone", number=number, language=language)

    def text(self, message: str):
        return self.post("/sms", text=message)

    def ussd(self, entry: str | None = None, *, action: str = "send"):
        if action == "dial":
            return self.post("/ussd", action="dial", code="*384*1234#")
        return self.post("/ussd", action=action, entry=entry or "")

    def page(self) -> str:
        response = self.client.get(SIM)
        assert response.status_code == 200
        return response.get_data(as_text=True)


def admin(console_client, conn, name: str = "ann") -> Admin:
    console_user(conn, name)
    assert console_login(console_client, name).status_code == 302
    return Admin(console_client)


def bubbles(html: str) -> list[tuple[str, str]]:
    """The conversation on the page, oldest first: ('sent' or 'received', text)."""
    found = re.findall(r'<li class="bubble (sent|received)[^"]*">\s*<span class="sr">[^<]*</span>'
                       r"\s*<p>(.*?)</p>", html, re.S)
    return [(side, html_module.unescape(text)) for side, text in found]


def screen(html: str) -> str:
    found = re.search(r'<pre id="ussd-screen">(.*?)</pre>', html, re.S)
    assert found, "no USSD screen on the page"
    return found.group(1)


def choice(screen_text: str, label: str) -> str:
    """The number of the menu line that starts with `label`."""
    found = re.search(rf"^(\d+)\. {re.escape(label)}", screen_text, re.M)
    assert found, (label, screen_text)
    return found.group(1)


def errors(html: str) -> list[str]:
    return re.findall(r'<p class="error" role="alert"[^>]*>(.*?)</p>', html, re.S)


# ------------------------------------------------------------------------------ SMS


def test_an_admin_texts_as_a_simulated_phone_and_reads_replies_from_the_database(
        console_client, conn, app):
    ann = admin(console_client, conn)
    assert "Pick a number to act as" in ann.page()
    taken = ann.take("0799000001")
    assert taken.status_code == 303 and taken.headers["Location"].endswith(SIM)
    contact = contacts.find(conn, e164("0799000001"))
    assert contact is not None and contact.simulated and contact.language == "en"
    assert ann.text("PRICE MAIZE NAKURU").status_code == 303
    html = ann.page()
    shown = bubbles(html)
    assert shown[0] == ("sent", "PRICE MAIZE NAKURU")
    assert shown[1][0] == "received" and "KES" in shown[1][1] and "Nakuru" in shown[1][1]
    stored = conn.execute("SELECT text, provider FROM outbox WHERE contact_id = ?",
                          (contact.id,)).fetchall()
    assert [tuple(row) for row in stored] == [(shown[1][1], "local")]
    assert "0799000001" in html   # the made-up number, shown to the admin who typed it

    # Another admin's session (nothing kept by the first browser) reads the same story.
    other = app.test_client()
    bob = admin(other, conn, "bob")
    bob.take("+254799000001")
    assert bubbles(bob.page()) == shown
    audited = conn.execute("SELECT action, console_user FROM audit WHERE action LIKE"
                           " 'simulator%' ORDER BY id").fetchall()
    assert [tuple(row) for row in audited] == [("simulator_phone", "ann"),
                                               ("simulator_sms", "ann"),
                                               ("simulator_phone", "bob")]


def test_the_reply_language_is_the_simulated_contacts_own(console_client, conn):
    ann = admin(console_client, conn)
    ann.take("0799000002", "sw")
    ann.text("MSAADA")
    assert bubbles(ann.page())[-1] == ("received", sw.TEXTS["help"])
    ann.text("LANG FR")                       # changed by SMS, as anyone would
    assert contacts.find(conn, e164("0799000002")).language == "fr"
    assert '<option value="fr" selected>' in ann.page()


def test_a_real_contacts_number_is_refused_with_the_reason(console_client, conn):
    with db.transaction(conn):
        contacts.get_or_create(conn, e164("0711000009"))
    ann = admin(console_client, conn)
    refused = ann.take("0711000009")
    assert refused.status_code == 400
    assert "belongs to a real contact" in " ".join(errors(refused.get_data(as_text=True)))
    assert not contacts.find(conn, e164("0711000009")).simulated
    assert ann.text("STOP").status_code == 400          # no number taken: nothing sent
    assert not contacts.find(conn, e164("0711000009")).opted_out
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("number", "", "Type the number to act as"),
    ("number", "not a number", "not a phone number"),
    ("number", "0" * 1600, "at most 32 characters"),
    ("number", "07\U0001F33D99", "not a phone number"),
    ("language", "xx", "Pick English, Kiswahili or Français"),
    ("text", "   ", "Type a message to send"),
    ("text", "A" * 1601, "at most 1,600 characters; this one has 1,601"),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(console_client, conn, field,
                                                            value, message):
    ann = admin(console_client, conn)
    if field == "text":
        ann.take("0799000003")
        response = ann.text(value)
    else:
        response = ann.take(**{"number": "0799000003", "language": "en", field: value})
    assert response.status_code == 400
    assert message in " ".join(errors(response.get_data(as_text=True)))
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def test_a_lone_surrogate_is_refused_and_emoji_and_1600_characters_go_through(
        console_client, conn):
    ann = admin(console_client, conn)
    ann.take("0799000004")
    # A lone surrogate cannot be sent as UTF-8: a browser sends U+FFFD in its place (and
    # werkzeug keeps bytes that are not UTF-8 as their %XX text).
    response = console_client.post(
        f"{SIM}/sms", data=b"csrf_token=" + ann.token.encode() + b"&text=PRICE+%EF%BF%BD",
        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "could not be read" in " ".join(errors(response.get_data(as_text=True)))
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0
    assert ann.text("\U0001F33D PRICE MAIZE NAKURU").status_code == 303
    assert ann.text("B" * 1600).status_code == 303
    lengths = [row[0] for row in conn.execute("SELECT length(text) FROM inbound ORDER BY id")]
    assert lengths == [len("\U0001F33D PRICE MAIZE NAKURU"), 1600]
    shown = bubbles(ann.page())
    assert [side for side, _ in shown].count("sent") == 2
    assert shown[-2][0] == shown[0][0] == "sent"       # each message, then its reply
    assert shown[-1][0] == "received"


def test_numbers_in_the_conversation_are_masked(console_client, conn):
    ann = admin(console_client, conn)
    ann.take("0799000005")
    ann.text("JOIN KIMA 0711000002")
    html = ann.page()
    assert "0711000002" not in html and "+254711000002" not in html
    assert "071****002" in html


@pytest.mark.parametrize("config", [{"limits.sender_messages": 2}], indirect=True)
def test_a_phone_over_the_sender_limit_is_told_why_it_gets_no_answer(console_client, conn):
    ann = admin(console_client, conn)
    ann.take("0799000006")
    for _ in range(4):
        assert ann.text("HELP").status_code == 303
    html = ann.page()
    assert "over the sender limit (2 messages in the window)" in html
    assert [side for side, _ in bubbles(html)].count("sent") == 4


def test_a_leader_cannot_use_the_simulator(console_client, conn):
    with db.transaction(conn):
        groups_db.create(conn, code="KIMA", name="Kima", market_id=None, region=None,
                         products=["MAIZE"])
    console_user(conn, "lee", "leader", group="KIMA")
    console_login(console_client, "lee")
    token = csrf_token(console_client.get("/console/account").get_data(as_text=True))
    assert console_client.get(SIM).status_code == 403
    for path, data in (("/phone", {"number": "0799000007", "language": "en"}),
                       ("/sms", {"text": "HELP"}), ("/ussd", {"action": "dial"})):
        response = console_client.post(SIM + path, data={**data, "csrf_token": token})
        assert response.status_code == 403, path
    assert contacts.find(conn, e164("0799000007")) is None


# ----------------------------------------------------------------------------- USSD


def test_the_ussd_menu_is_walked_across_requests_from_the_stored_session(console_client,
                                                                         conn):
    ann = admin(console_client, conn)
    ann.take("0799000008")
    assert ann.ussd("1").status_code == 400                 # not dialled yet
    assert ann.ussd(action="dial").status_code == 303
    home = screen(ann.page())
    assert "1. Market prices" in home
    ann.ussd(choice(home, "Market prices"))
    products = screen(ann.page())
    assert screen(ann.page()) == products                   # a reload shows the same screen
    ann.ussd(choice(products, "Maize"))
    assert "Maize: pick a market" in screen(ann.page())
    ann.ussd("NAKURU")
    price = screen(ann.page())
    assert price.startswith("Maize, Nakuru") and "KES" in price
    ann.ussd(choice(price, "Send by SMS"))
    html = ann.page()
    assert "Session ended." in html and "Dial *384*1234#" in html
    assert bubbles(html)[-1][0] == "received" and "KES" in bubbles(html)[-1][1]
    assert "from the USSD menu" in html
    rows = conn.execute("SELECT last_text, hops, ended FROM ussd_sessions").fetchall()
    assert [tuple(row) for row in rows] == [("1*2*NAKURU*1", 5, 1)]
    assert conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'simulator_ussd'"
                        " AND console_user = 'ann'").fetchone()[0] == 5


def test_ussd_cancel_a_long_entry_and_another_number(console_client, conn):
    ann = admin(console_client, conn)
    ann.take("0799000010")
    ann.ussd(action="dial")
    too_long = ann.ussd("1" * 161)
    assert too_long.status_code == 400
    assert "at most 160 characters" in " ".join(errors(too_long.get_data(as_text=True)))
    assert ann.ussd(action="hangup").status_code == 303
    assert "<pre id=\"ussd-screen\">" not in ann.page()
    ann.ussd(action="dial")
    ann.take("0799000011")                                  # another phone: a new session
    assert "<pre id=\"ussd-screen\">" not in ann.page()
    assert ann.ussd("1").status_code == 400


# ------------------------------------------------------------- the local-provider rule


def _kima(conn) -> groups_db.Group:
    """KIMA at Nakuru, a real maize group: a real leader and three real members."""
    with db.transaction(conn):
        kima = groups_db.create(conn, code="KIMA", name="Kima Farmers",
                                market_id=market_id(conn, "Nakuru"), region=None,
                                products=["MAIZE"])
        groups_db.set_member(conn, kima.id, contacts.get_or_create(conn, e164("0711000001")).id,
                             role="leader")
        for n in (2, 3, 4):
            groups_db.set_member(conn, kima.id,
                                 contacts.get_or_create(conn, e164(f"071100000{n}")).id)
    return kima


@pytest.mark.parametrize("config", [
    {"providers.default": "twilio", "limits.confirm_above_segments": 1000},
    {"providers.default": "africastalking", "limits.confirm_above_segments": 1000},
], indirect=True)
def test_everything_a_simulated_phone_causes_goes_to_the_local_provider(console_client,
                                                                        conn, config):
    kima = _kima(conn)
    real = {e164(f"071100000{n}") for n in (1, 2, 3, 4)}
    ann = admin(console_client, conn)
    # a simulated leader of the real group, a simulated buyer and a simulated member
    for number in ("0799000021", "0799000022", "0799000023"):
        assert ann.take(number).status_code == 303
    with db.transaction(conn):
        groups_db.set_member(conn, kima.id, contacts.find(conn, e164("0799000021")).id,
                             role="leader")
        groups_db.set_role(conn, contacts.find(conn, e164("0799000022")).id, "buyer",
                           "Sim Millers")
        groups_db.set_member(conn, kima.id, contacts.find(conn, e164("0799000023")).id)

    ann.take("0799000021")
    ann.text("BCAST Meeting on Friday at the store")
    ann.take("0799000022")
    ann.text("ORDER 20 BAGS MAIZE BY 2026-12-20 AT NAKURU")
    code = re.search(r"Order (\w{4})", bubbles(ann.page())[-1][1]).group(1)
    ann.take("0799000023")                    # offers the whole order by USSD: it fills
    ann.ussd(action="dial")
    ann.ussd(choice(screen(ann.page()), "Buyer orders"))
    ann.ussd(choice(screen(ann.page()), code))
    ann.ussd(choice(screen(ann.page()), "Offer"))
    ann.ussd("20")
    assert "20 of 20" in screen(ann.page())

    to_real = conn.execute("SELECT kind, to_number, provider FROM outbox").fetchall()
    kinds_to_real = {row["kind"] for row in to_real if row["to_number"] in real}
    assert kinds_to_real == {"broadcast", "order"}          # real people were reached...
    assert {row["provider"] for row in to_real} == {"local"}   # ...only by the local one
    filled = [row for row in to_real if row["to_number"] == e164("0711000001")
              and row["kind"] == "order"]
    assert len(filled) == 2                                  # the relay, then "filled"

    ann.take("0799000021")
    html = ann.page()
    leader = contacts.find(conn, e164("0799000021")).id
    caused = conn.execute("SELECT COUNT(*) FROM outbox WHERE caused_by = ?", (leader,))
    members = caused.fetchone()[0]
    assert members >= 3
    assert f"caused <strong>{members} messages to other people</strong>" in html
    assert "held in the local provider: no real phone gets them" in html
    assert "+254711000002" not in html and "+254******002" in html


# ------------------------------------------------------------------ in a real browser


def _scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") > page.viewport_size["width"]


def _tab_to(page, element_id: str, most: int = 12) -> None:
    for _ in range(most):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def _focused(page, element_id: str) -> None:
    expect(page.locator(f"#{element_id}")).to_be_focused()


def test_in_chromium_an_admin_texts_price_maize_nakuru_with_the_keyboard_and_reads_kes(
        page, live_server, conn):
    console_user(conn, "ann")
    browser_login(page, live_server, "ann", then=SIM)
    _focused(page, "number")                       # the page starts at the number
    page.keyboard.type("0799000031")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")                   # Use this number
    _focused(page, "text")
    page.evaluate("window.notReloaded = true")     # the script updates the page in place
    page.keyboard.type("PRICE MAIZE NAKURU")
    page.keyboard.press("Enter")                   # Enter sends, as on a phone
    reply = page.locator(".bubble.received p").last
    reply.wait_for()
    assert "KES" in reply.inner_text() and "Nakuru" in reply.inner_text()
    assert page.locator(".bubble.sent p").last.inner_text() == "PRICE MAIZE NAKURU"
    assert page.evaluate("window.notReloaded") is True
    _focused(page, "text")                         # ready for the next message
    assert page.locator("#text").input_value() == ""
    # a lone surrogate (a broken emoji pasted in) gets a clear message, not an error page
    page.evaluate("document.getElementById('text').value = 'PRICE \\ud83c'")
    page.keyboard.press("Enter")
    expect(page.locator("#text-error")).to_contain_text("could not be read")
    _focused(page, "text")
    page.reload()                                  # the conversation is the database's
    assert "KES" in page.locator(".bubble.received p").last.inner_text()
    assert page.locator(".bubble.sent").count() == 1


def test_in_chromium_the_ussd_menu_walks_to_a_price_with_the_keyboard_on_a_phone(
        browser, live_server, conn):
    console_user(conn, "ann")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "ann", then=SIM)
        _focused(page, "number")
        page.keyboard.type("0799000032")
        page.keyboard.press("Enter")               # the number's form, sent by Enter
        _focused(page, "text")
        _tab_to(page, "dial")
        page.keyboard.press("Enter")
        _focused(page, "entry")
        shown = page.locator("#ussd-screen")
        assert "Market prices" in shown.inner_text()
        for entry, expected in (("1", "Prices: pick a product"),
                                ("2", "Maize: pick a market"), ("NAKURU", "KES")):
            page.keyboard.type(entry)
            page.keyboard.press("Enter")
            expect(page.locator("#ussd-screen")).to_contain_text(expected)
            _focused(page, "entry")
        assert shown.inner_text().startswith("Maize, Nakuru")
        assert not _scrolls_sideways(page)
    finally:
        context.close()


def test_in_chromium_without_javascript_the_forms_still_work(browser, live_server, conn):
    console_user(conn, "ann")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360,
                                                                        "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "ann", then=SIM)
        page.get_by_label("Act as the number").fill("0799000033")
        page.get_by_role("button", name="Use this number").click()
        page.get_by_label("Message", exact=True).fill("PRICE MAIZE NAKURU")
        page.get_by_role("button", name="Send").first.click()
        assert "KES" in page.locator(".bubble.received p").last.inner_text()
        page.get_by_role("button", name="Dial *384*1234#").click()
        assert "Market prices" in page.locator("#ussd-screen").inner_text()
        page.get_by_label("Reply", exact=True).fill("1")
        page.get_by_role("button", name="Send").last.click()
        assert "Prices: pick a product" in page.locator("#ussd-screen").inner_text()
        assert not _scrolls_sideways(page)
    finally:
        context.close()
