"""Simulated and real contacts never mix (issue 17, handlers/sides.py): on a deployment whose
default provider is Twilio, nothing the simulator's contacts do reaches a real phone through
it, at once or later (the worker's digests, updates, expiry and closing summaries), and they
cannot act on real people's orders, sales and pools, nor real people on theirs. Real traffic
goes on as before.

The world: KIMA, a real maize group at Nakuru, with a real leader and a simulated one, two
real members and a simulated one; a real buyer and a simulated one; a real seller and a
simulated one. Simulated numbers are 0799..., real ones 07[0-4]...
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from support import e164, kenya_config, market_id

import db
from db import contacts
from db import groups as groups_db
from db import listings as listings_db
from db import orders as orders_db
from db import pools as pools_db
from db import suppliers as suppliers_db
from db.timeutil import utcnow
from handlers.messages import InboundMessage
from handlers.notify import Outbox
from handlers.texts import text
from smsgw import simulator
from smsgw.bulletins import listing_tick, order_tick
from smsgw.gateway import Delivery

_ids = itertools.count()
LEADER, MEMBER_A, MEMBER_B = "0711000001", "0711000002", "0711000003"
SIM_LEADER, SIM_MEMBER = "0799000001", "0799000002"
BUYER, SIM_BUYER = "0700000001", "0799000003"
SELLER, SIM_SELLER = "0711000009", "0799000004"
SUPPLIER, SIM_SUPPLIER = "0700000101", "0799000101"
REAL = {e164(n) for n in (LEADER, MEMBER_A, MEMBER_B, BUYER, SELLER, SUPPLIER)}
SIMULATED = {e164(n) for n in (SIM_LEADER, SIM_MEMBER, SIM_BUYER, SIM_SELLER, SIM_SUPPLIER)}
LATER = timedelta(hours=1)
AFTER_DATES = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)   # past every BY date used here


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"providers.default": "twilio",
                                               "limits.confirm_above_segments": 100})


@pytest.fixture
def world(conn):
    """KIMA with its real and simulated people; the buyers and suppliers registered."""
    with db.transaction(conn):
        for number in SIMULATED:
            contacts.simulated(conn, number)   # as the simulator flags them on first use
        kima = groups_db.create(conn, code="KIMA", name="Kima Farmers",
                                market_id=market_id(conn, "Nakuru"), region=None,
                                products=["MAIZE"])
        for number, role in ((LEADER, "leader"), (SIM_LEADER, "leader"), (MEMBER_A, "member"),
                             (MEMBER_B, "member"), (SIM_MEMBER, "member")):
            groups_db.set_member(conn, kima.id, contacts.get_or_create(conn, e164(number)).id,
                                 role=role)
        for number, name in ((BUYER, "Unga Millers"), (SIM_BUYER, "Sim Millers")):
            groups_db.set_role(conn, contacts.get_or_create(conn, e164(number)).id, "buyer",
                               name)
        for number, name in ((SUPPLIER, "Nakuru Agrovet"), (SIM_SUPPLIER, "Sim Agrovet")):
            suppliers_db.save(conn, contacts.get_or_create(conn, e164(number)).id, name,
                              ["DAP"], by="test", now=utcnow())
    return kima


def real(app, conn, number: str, message: str) -> str:
    """A real person's SMS, as Twilio delivers it; the replies, joined."""
    services = app.extensions["smsgw"]
    inbound = InboundMessage("twilio", f"SM{next(_ids):032x}", e164(number), "+15005550006",
                             message, services.clock())
    received = services.gateway.receive(conn, inbound, delivery=Delivery.INLINE,
                                        reply_provider="twilio")
    return " | ".join(reply.text for reply in received.replies)


def sim(app, conn, number: str, message: str) -> str:
    """An SMS typed in the simulator as a simulated contact; the replies, joined."""
    received = simulator.send_sms(app.extensions["smsgw"], conn, number, message)
    assert all(reply.provider == "local" for reply in received.replies)
    return " | ".join(reply.text for reply in received.replies)


def code_in(reply: str, word: str) -> str:
    found = re.search(rf"{word} (\w{{4}})", reply)
    assert found, reply
    return found.group(1)


def rows_about(conn, code: str) -> list[dict]:
    """Every outbox row (replies included) whose text names the code."""
    return [dict(row) for row in conn.execute(
        "SELECT to_number, provider, kind, text, inbound_id FROM outbox WHERE text LIKE ?"
        " ORDER BY id", (f"%{code}%",))]


def paid(rows: list[dict]) -> list[dict]:
    """The rows that go through a paying provider, but replies to a real person's own
    message (a refusal, say): those go back as that message came."""
    return [row for row in rows if row["provider"] != "local" and row["inbound_id"] is None]


def apart(code: str) -> str:
    return text("en", "sides_apart", code=code)


# ------------------------------------------------------------------------ sales and digests


def test_a_simulated_sale_is_in_no_real_buyers_digest_and_each_side_sees_only_its_own(
        app, conn, config, world, clock):
    assert "maize near Nakuru" in real(app, conn, BUYER, "WANT MAIZE NAKURU")
    assert "maize near Nakuru" in sim(app, conn, SIM_BUYER, "WANT MAIZE NAKURU")
    simulated = code_in(sim(app, conn, SIM_SELLER, "SELL 20 BAGS MAIZE @3500 AT NAKURU"),
                        "Sale")
    genuine = code_in(real(app, conn, SELLER, "SELL 10 BAGS MAIZE @3400 AT NAKURU"), "Sale")

    digests, _, _ = listing_tick(config, now=clock.now + LATER)
    assert digests == 2
    to_buyer = conn.execute("SELECT provider, text FROM outbox WHERE to_number = ? AND"
                            " kind = 'listing'", (e164(BUYER),)).fetchall()
    assert [row["provider"] for row in to_buyer] == ["twilio"]       # real traffic as before
    assert genuine in to_buyer[0]["text"] and simulated not in to_buyer[0]["text"]
    to_sim = conn.execute("SELECT provider, text FROM outbox WHERE to_number = ? AND"
                          " kind = 'listing'", (e164(SIM_BUYER),)).fetchall()
    assert [row["provider"] for row in to_sim] == ["local"]
    assert simulated in to_sim[0]["text"] and genuine not in to_sim[0]["text"]
    assert paid(rows_about(conn, simulated)) == []

    # LIST shows each side its own sales; BUY across sides is refused and bids nothing.
    listed = real(app, conn, BUYER, "LIST MAIZE NAKURU")
    assert genuine in listed and simulated not in listed
    listed = sim(app, conn, SIM_BUYER, "LIST MAIZE NAKURU")
    assert simulated in listed and genuine not in listed
    assert real(app, conn, BUYER, f"BUY {simulated} 5") == apart(simulated)
    assert sim(app, conn, SIM_BUYER, f"BUY {genuine} 5") == apart(genuine)
    assert conn.execute("SELECT COUNT(*) FROM bids").fetchone()[0] == 0
    assert paid(rows_about(conn, simulated)) == []


def test_a_simulated_sale_charges_no_real_buyers_digest_to_anyone(app, conn, world):
    """The digest SMS a sale promises (db.promised) count only buyers of its side."""
    real(app, conn, BUYER, "WANT MAIZE NAKURU")
    reply = sim(app, conn, SIM_SELLER, "SELL 20 BAGS MAIZE @3500 AT NAKURU")
    code = code_in(reply, "Sale")
    alerted = conn.execute("SELECT COUNT(*) FROM listing_alerts a JOIN listings l ON"
                           " l.id = a.listing_id WHERE l.code = ?", (code,)).fetchone()[0]
    assert alerted == 0


def test_an_alert_queued_before_the_rule_is_dropped_from_a_real_buyers_digest(
        app, conn, config, world, clock):
    """A simulated SELL made before this rule existed put itself in real buyers' queues:
    the digest leaves it out, and the alert is done with."""
    real(app, conn, BUYER, "WANT MAIZE NAKURU")
    code = code_in(sim(app, conn, SIM_SELLER, "SELL 20 BAGS MAIZE @3500 AT NAKURU"), "Sale")
    with db.transaction(conn):   # as alert_followers made it before
        conn.execute("INSERT INTO listing_alerts (listing_id, buyer_id, created_at) SELECT"
                     " l.id, c.id, '2026-11-23T09:00:00Z' FROM listings l, contacts c"
                     " WHERE l.code = ? AND c.phone = ?", (code, e164(BUYER)))
    digests, _, _ = listing_tick(config, now=clock.now + LATER)
    assert digests == 0
    assert conn.execute("SELECT COUNT(*) FROM listing_alerts WHERE sent_at IS NULL"
                        ).fetchone()[0] == 0
    assert paid(rows_about(conn, code)) == []


def test_a_simulated_leaders_group_sale_reaches_real_members_only_through_local(
        app, conn, config, world, clock):
    code = code_in(sim(app, conn, SIM_LEADER, "SELL KIMA 100 BAGS MAIZE @3000 BY 2026-12-10"
                                              " AT NAKURU"), "Sale")
    asked = [row for row in rows_about(conn, code) if row["inbound_id"] is None]
    assert {row["to_number"] for row in asked} >= {e164(MEMBER_A), e164(LEADER)}
    assert real(app, conn, MEMBER_A, f"SELL {code} 10") == apart(code)
    assert "10" in sim(app, conn, SIM_MEMBER, f"SELL {code} 10")
    listing = listings_db.by_code(conn, code)
    assert listing.pledged == 10

    listing_tick(config, now=clock.now + LATER)      # the leader's pledge update
    listing_tick(config, now=AFTER_DATES)             # it expires: summaries
    about = rows_about(conn, code)
    assert any(row["kind"] == "listing" and row["to_number"] == e164(SIM_LEADER)
               and row["inbound_id"] is None for row in about)
    assert paid(about) == [], paid(about)


def test_a_real_group_sale_takes_no_simulated_pledge(app, conn, world):
    code = code_in(real(app, conn, LEADER, "SELL KIMA 100 BAGS MAIZE @3000 AT NAKURU"),
                   "Sale")
    assert sim(app, conn, SIM_MEMBER, f"SELL {code} 10") == apart(code)
    assert "10" in real(app, conn, MEMBER_A, f"SELL {code} 10")
    assert listings_db.by_code(conn, code).pledged == 10


# ------------------------------------------------------------------------------ orders


def test_a_simulated_order_to_a_real_group_reaches_it_only_through_local_then_and_later(
        app, conn, config, world, clock):
    reply = sim(app, conn, SIM_BUYER, "ORDER 20 BAGS MAIZE BY 2026-12-20 AT NAKURU")
    code = code_in(reply, "Order")
    relayed = {row["to_number"] for row in rows_about(conn, code) if row["kind"] == "order"}
    assert relayed == {e164(LEADER), e164(SIM_LEADER)}   # the real leader too, but locally

    assert real(app, conn, LEADER, f"FWD {code}") == apart(code)
    assert "sent to 3 members of KIMA" in sim(app, conn, SIM_LEADER, f"FWD {code}")
    assert real(app, conn, MEMBER_A, f"OFFER {code} 5") == apart(code)
    assert "all groups 5 of 20" in sim(app, conn, SIM_MEMBER, f"OFFER {code} 5")

    updated, _ = order_tick(config, now=clock.now + LATER)
    assert updated == 1
    _, expired = order_tick(config, now=AFTER_DATES)
    assert expired == 1
    about = rows_about(conn, code)
    later = [row for row in about if row["inbound_id"] is None]
    to_real_leader = [row["text"] for row in later if row["to_number"] == e164(LEADER)]
    assert len(to_real_leader) == 3, to_real_leader   # relay, update, closing summary
    assert paid(about) == [], paid(about)


def test_a_simulated_offer_on_a_real_order_is_refused_and_changes_no_totals(
        app, conn, config, world, clock):
    code = code_in(real(app, conn, BUYER, "ORDER 20 BAGS MAIZE BY 2026-12-20 AT NAKURU"),
                   "Order")
    assert "sent to 3 members of KIMA" in real(app, conn, LEADER, f"FWD {code}")
    assert sim(app, conn, SIM_LEADER, f"FWD {code}") == apart(code)
    before = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert sim(app, conn, SIM_MEMBER, f"OFFER {code} 20") == apart(code)
    order = orders_db.by_code(conn, code)
    assert orders_db.total(conn, order.id) == 0 and orders_db.pledges(conn, order.id) == []
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == before + 1   # the reply

    # By USSD the simulated member is not shown the real order at all.
    session = simulator.UssdSession(app.extensions["smsgw"], conn, SIM_MEMBER, "*384*1234#")
    home = session.hop()
    entry = re.search(r"^(\d+)\. Buyer orders", home.text, re.M).group(1)
    assert code not in session.hop(entry).text

    # Real traffic is unchanged: a real offer counts, and the worker's update and closing
    # summary reach the real buyer and leader through Twilio (the simulated leader, local).
    assert "all groups 5 of 20" in real(app, conn, MEMBER_A, f"OFFER {code} 5")
    order_tick(config, now=clock.now + LATER)
    order_tick(config, now=AFTER_DATES)
    later = [row for row in rows_about(conn, code) if row["inbound_id"] is None]
    providers = {(row["to_number"], row["provider"]) for row in later}
    assert (e164(BUYER), "twilio") in providers and (e164(LEADER), "twilio") in providers
    assert (e164(MEMBER_A), "twilio") in providers
    assert {provider for number, provider in providers if number in SIMULATED} == {"local"}


# ------------------------------------------------------------------------------ pools


def test_a_simulated_leaders_pool_takes_no_real_answer_and_closes_through_local(
        app, conn, config, world, clock):
    reply = sim(app, conn, SIM_LEADER, "POOL KIMA DAP 50KG @3200 100+@3000 BY 2026-12-15")
    code = code_in(reply, "Pool")
    invited = {row["to_number"] for row in rows_about(conn, code) if row["inbound_id"] is None}
    assert e164(MEMBER_A) in invited and e164(LEADER) in invited
    assert real(app, conn, MEMBER_A, f"OFFER {code} 3") == apart(code)
    assert real(app, conn, LEADER, f"CLOSE {code}") == apart(code)
    assert real(app, conn, LEADER, f"POOL {code}") == apart(code)
    assert code in sim(app, conn, SIM_MEMBER, f"OFFER {code} 3")
    assert pools_db.by_code(conn, code).pledged == 3

    order_tick(config, now=clock.now + LATER)     # pools ride the orders' tick
    order_tick(config, now=AFTER_DATES)
    found = pools_db.by_code(conn, code)
    assert found.status == "closed"
    about = rows_about(conn, code)
    assert any(row["to_number"] == e164(SIM_MEMBER) and row["inbound_id"] is None
               for row in about)   # the member's line at the close
    assert paid(about) == [], paid(about)


def test_a_real_leaders_pool_takes_no_simulated_answer(app, conn, world):
    code = code_in(real(app, conn, LEADER, "POOL KIMA DAP 50KG @3200 BY 2026-12-15"), "Pool")
    assert sim(app, conn, SIM_MEMBER, f"OFFER {code} 3") == apart(code)
    assert sim(app, conn, SIM_LEADER, f"CLOSE {code}") == apart(code)
    assert pools_db.by_code(conn, code).pledged == 0
    assert pools_db.by_code(conn, code).status == "open"


def test_each_side_pools_only_against_its_own_suppliers_offers(app, conn, world):
    genuine = code_in(real(app, conn, SUPPLIER, "SUPPLY DAP 50KG @3200 100+@3000"), "Offer")
    simulated = code_in(sim(app, conn, SIM_SUPPLIER, "SUPPLY DAP 50KG @3100"), "Offer")
    choice = real(app, conn, LEADER, "POOL KIMA DAP")
    assert genuine in choice and simulated not in choice
    assert real(app, conn, LEADER, f"POOL KIMA {simulated}") == apart(simulated)
    assert sim(app, conn, SIM_LEADER, f"POOL KIMA {genuine}") == apart(genuine)
    assert "Sim Agrovet" not in real(app, conn, LEADER, "POOL KIMA DAP FROM SIM AGROVET")
    assert conn.execute("SELECT COUNT(*) FROM pools").fetchone()[0] == 0


# ------------------------------------------------------------------------------ groups


def test_a_leader_approves_only_people_of_their_own_side(app, conn, world):
    with db.transaction(conn):
        conn.execute("UPDATE groups SET approval = 1 WHERE code = 'KIMA'")
        contacts.simulated(conn, e164("0799000050"))
    real(app, conn, "0711000050", "JOIN KIMA")
    sim(app, conn, "0799000050", "JOIN KIMA")
    assert "approve" in sim(app, conn, SIM_LEADER, "APPROVE KIMA 0711000050").lower()
    assert "approve" in real(app, conn, LEADER, "APPROVE KIMA 0799000050").lower()
    kima = world.id
    for number in ("0711000050", "0799000050"):
        person = contacts.find(conn, e164(number))
        assert groups_db.membership(conn, kima, person.id) == ("member", "pending")
    assert "0711000050 is now a member" in real(app, conn, LEADER, "APPROVE KIMA 0711000050")
    assert groups_db.membership(conn, kima, contacts.find(conn, e164("0711000050")).id) == \
        ("member", "active")


def test_a_simulated_leaders_broadcast_and_join_requests_go_local(app, conn, world):
    sim(app, conn, SIM_LEADER, "BCAST Meeting on Friday")
    rows = conn.execute("SELECT to_number, provider FROM outbox WHERE kind = 'broadcast'")
    sent = {row["to_number"]: row["provider"] for row in rows}
    assert e164(MEMBER_A) in sent and set(sent.values()) == {"local"}


# ------------------------------------------------------------------ the rule where rows are made


def test_every_message_to_other_people_names_what_it_is_about(conn):
    """handlers.notify.Outbox cannot be made without `about`: no caller forgets the rule."""
    with pytest.raises(TypeError):
        Outbox(conn, {}, utcnow(), "order")   # type: ignore[call-arg]


def test_a_message_about_a_simulated_contacts_doing_goes_local_to_anyone(conn, world):
    sim_buyer = contacts.find(conn, e164(SIM_BUYER))
    buyer = contacts.find(conn, e164(BUYER))
    leader = contacts.find(conn, e164(LEADER))
    with db.transaction(conn):
        for about in (sim_buyer.id, buyer.id, None):
            db.outbox.enqueue_many(
                conn, [db.outbox.Outgoing(leader.id, leader.phone, f"about {about}", "GSM-7", 1)],
                provider="twilio", kind="order", not_before=utcnow(), now=utcnow(), about=about)
    providers = dict(conn.execute("SELECT text, provider FROM outbox"))
    assert providers == {f"about {sim_buyer.id}": "local", f"about {buyer.id}": "twilio",
                         "about None": "twilio"}
