"""Price alerts and buyer orders in the USSD menu: whole sessions, every screen checked."""

from __future__ import annotations

import re

import pytest
from support import kenya_config, post_at, post_local
from test_orders import BUYER, KIMA_A, KIMA_LEADER, ORDER, e164, setup_groups

import db
from db import orders as orders_db
from db import subscriptions
from handlers.segments import count

USSD = "/webhooks/africastalking/ussd"


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path)


def screen(client, text: str, phone: str, session: str) -> str:
    response = post_at(client, USSD, {"sessionId": session, "serviceCode": "*384*1234#",
                                      "phoneNumber": phone, "networkCode": "63902",
                                      "text": text})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith(("CON ", "END "))
    info = count(body[4:])
    assert info.encoding == "GSM-7" and info.units <= 182, body
    return body


def queued(conn, phone: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT text FROM outbox WHERE to_number = ? AND kind = 'ussd' ORDER BY id", (phone,))]


@pytest.mark.parametrize("language, words", [
    ("en", {"entry": "5. Price alerts", "add": "Add one", "maize": "Maize", "yes": "Yes",
            "done": "You now follow Maize, best markets.", "stop": "You no longer follow Maize."}),
    ("sw", {"entry": "5. Taarifa za bei", "add": "Ongeza", "maize": "Mahindi", "yes": "Ndiyo",
            "done": "Sasa unafuata Mahindi, masoko bora.", "stop": "Hufuati tena Mahindi."}),
    ("fr", {"entry": "5. Alertes de prix", "add": "Ajouter", "maize": "Mais", "yes": "Oui",
            "done": "Vous suivez Mais, meilleurs marchés.", "stop": "Vous ne suivez plus Mais."}),
])
def test_price_alert_added_and_stopped_by_ussd(client, conn, language, words):
    phone = "+254722000111"
    if language != "en":
        post_local(client, f"LANG {language.upper()}", msg_id=f"lang-{language}", sender=phone)
    home = screen(client, "", phone, "S1")
    assert words["entry"] in home
    alerts = screen(client, "5", phone, "S1")
    assert alerts.startswith("CON ") and f"1. {words['add']}" in alerts
    products = screen(client, "5*1", phone, "S1")
    number = next(line.split(".")[0] for line in products.splitlines()
                  if line.endswith(f". {words['maize']}"))
    market = screen(client, f"5*1*{number}", phone, "S1")
    assert market.startswith(f"CON {words['maize']}: ")
    confirm = screen(client, f"5*1*{number}*1", phone, "S1")
    assert f"1. {words['yes']}" in confirm
    done = screen(client, f"5*1*{number}*1*1", phone, "S1")
    assert done.startswith("END " + words["done"])
    assert screen(client, f"5*1*{number}*1*1", phone, "S1") == done   # AT repeats the hop
    contact = conn.execute("SELECT id FROM contacts WHERE phone = ?", (phone,)).fetchone()[0]
    assert [(s.commodity, s.market_id) for s in subscriptions.for_contact(conn, contact)] == [
        ("MAIZE", None)]
    assert queued(conn, phone) == [done[4:]]                           # the same text, by SMS
    # A new session: the alert is listed; choosing it stops it.
    screen(client, "", phone, "S2")
    listed = screen(client, "5", phone, "S2")
    assert f"1. {words['maize']}" in listed
    screen(client, "5*1", phone, "S2")
    stopped = screen(client, "5*1*1", phone, "S2")
    assert stopped == "END " + words["stop"] + stopped[4 + len(words["stop"]):]
    assert subscriptions.for_contact(conn, contact) == []


def test_typed_names_for_a_price_alert(client, conn):
    phone = "+254722000222"
    screen(client, "", phone, "T1")
    screen(client, "5", phone, "T1")
    screen(client, "5*1", phone, "T1")
    market = screen(client, "5*1*MAHINDI", phone, "T1")
    assert market.startswith("CON Maize: which market?")
    confirm = screen(client, "5*1*MAHINDI*NAKRU", phone, "T1")
    assert confirm.startswith("CON Get Maize prices for Nakuru in our bulletin?")
    # The same confirmation as SUB, with the next bulletin's date from the schedule
    # (Mondays 07:00; the clock is Monday 23 Nov 2026 at noon in Nairobi).
    assert screen(client, "5*1*MAHINDI*NAKRU*1", phone, "T1") == (
        "END You now follow Maize at Nakuru. Next bulletin 30 Nov. Send MY for your list,"
        " UNSUB MAIZE to stop.")
    other = "+254722000333"
    screen(client, "", other, "T2")
    screen(client, "5", other, "T2")
    screen(client, "5*1", other, "T2")
    assert screen(client, "5*1*XYZZY", other, "T2").startswith("CON Not found, try again.")


def test_group_members_offer_to_open_orders_by_ussd(client, conn):
    setup_groups(conn)
    reply = post_local(client, ORDER, msg_id="order-1", sender=BUYER).get_json()
    code = re.match(r"Order (\w{4}):", reply["replies"][0]["text"]).group(1)
    post_local(client, f"FWD {code}", msg_id="fwd-1", sender=KIMA_LEADER)
    member = e164(KIMA_A)
    home = screen(client, "", member, "O1")
    assert "6. Buyer orders" in home
    listed = screen(client, "6", member, "O1")
    assert f"1. {code} 200 bags maize" in listed
    order_screen = screen(client, "6*1", member, "O1")
    assert "Your offer now: 0 bags." in order_screen and "200 bags maize" in order_screen
    assert "1. Offer" in order_screen and "Withdraw" not in order_screen   # nothing to withdraw
    prompt = screen(client, "6*1*1", member, "O1")
    assert "Type how many bags you offer:" in prompt and "0 Back" in prompt
    assert screen(client, "6*1*1*lots", member, "O1").startswith("CON Type a number.")
    assert screen(client, "6*1*1*lots*1,000", member, "O1").startswith(
        f"CON Order {code} needs only 200 bags more.")
    done = screen(client, "6*1*1*lots*1,000*25", member, "O1")
    assert done == (f"END Your offer: 25 bags for order {code}. KIMA has 25; all groups 25 of"
                    f" 200 bags.")
    assert screen(client, "6*1*1*lots*1,000*25", member, "O1") == done   # a repeated hop
    order = orders_db.by_code(conn, code)
    assert orders_db.total(conn, order.id) == 25
    assert queued(conn, member) == [done[4:]]
    # Withdrawing is its own choice (0 is Back on every screen, never "withdraw").
    again = screen(client, "6*1", member, "O3")
    assert "Your offer now: 25 bags." in again and "2. Withdraw my offer" in again
    assert screen(client, "6*1*0", member, "O3").startswith("CON ")        # back to the list
    withdrawn = screen(client, "6*1*2", member, "O4")
    assert withdrawn == (f"END Your offer for order {code} is withdrawn. All groups now have 0"
                         f" of 200 bags.")
    assert orders_db.total(conn, order.id) == 0
    # Not a member of any group: no orders entry.
    assert "Buyer orders" not in screen(client, "", "+254799000001", "O2")
