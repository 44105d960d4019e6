"""Produce for sale, the whole story by SMS (issue 16): a farmer's SELL reaching following
buyers as one digest each, bids, the seller's answer and the exchange of numbers; a
group's sale with members' pledges; every SELL grammar error; refusals; expiry; what a
sale may cost its seller; and that no number leaves before both sides agree."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from support import e164, kenya_config, market_id, post_local

import db
from db import codes, contacts
from db import groups as groups_db
from db import listings as listings_db
from db import orders as orders_db
from db import pledges as pledges_db
from db.timeutil import utcnow
from handlers.segments import count
from smsgw.bulletins import listing_tick

_ids = itertools.count()
FARMER, FARMER_2 = "0791357246", "0793579135"
BUYER, BUYER_2, FAR_BUYER = "0700246813", "0700468024", "0700680246"
# Numbers whose digits (but the 07 prefix) share no run of four with each other, a price,
# a date or a code (codes have no 0, 1, 2, 5, 8, 9), so that a leak can be searched for.
LEADER, MEMBER_A, MEMBER_B, MEMBER_C = "0711000001", "0722913584", "0733814692", "0755619283"
OUTSIDER = "0744000001"
SALE = re.compile(r"^(?:Sale|Mauzo|Vente) (\w{4})")
BID = re.compile(r"^(?:Bid|Zabuni|Enchère) (\w{4})")


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"limits.confirm_above_segments": 10})


def setup(conn) -> None:
    """Buyers Unga Millers and Other Foods, one far buyer, and group KIMA at Nakuru."""
    with db.transaction(conn):
        for phone, name in ((BUYER, "Unga Millers"), (BUYER_2, "Other Foods"),
                            (FAR_BUYER, "Pwani Traders")):
            groups_db.set_role(conn, contacts.get_or_create(conn, e164(phone)).id, "buyer", name)
        group = groups_db.create(conn, code="KIMA", name="Kima Farmers",
                                 market_id=market_id(conn, "Nakuru"), region=None,
                                 products=["MAIZE"])
        groups_db.set_member(conn, group.id, contacts.get_or_create(conn, e164(LEADER)).id,
                             role="leader")
        for member in (MEMBER_A, MEMBER_B, MEMBER_C):
            groups_db.set_member(conn, group.id, contacts.get_or_create(conn, e164(member)).id)


def say(client, text: str, sender: str, msg_id: str | None = None) -> str:
    """Send an SMS; every reply must be GSM-7 and one SMS."""
    response = post_local(client, text, msg_id=msg_id or f"l{next(_ids)}", sender=sender)
    assert response.status_code == 200
    replies = [r["text"] for r in response.get_json()["replies"]]
    assert len(replies) == 1, replies
    info = count(replies[0])
    assert info.encoding == "GSM-7" and info.segments == 1, replies[0]
    return replies[0]


def inbox(conn, phone: str, since: int = 0) -> list[str]:
    """Messages queued for a phone (not inline replies), oldest first; each one SMS."""
    rows = [r[0] for r in conn.execute(
        "SELECT text FROM outbox WHERE to_number = ? AND inbound_id IS NULL AND id > ?"
        " ORDER BY id", (e164(phone), since))]
    for text in rows:
        info = count(text)
        assert info.encoding == "GSM-7" and info.segments == 1, text
    return rows


def last_id(conn) -> int:
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]


def tick(client, **later) -> tuple[int, int, int]:
    services = client.application.extensions["smsgw"]
    return listing_tick(services.config, now=services.clock() + timedelta(**later))


def code_of(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.match(text)
    assert found, text
    return found.group(1)


def digit_windows(phone: str) -> set[str]:
    """Every run of four digits of a number's last eight (what follows 07 or +2547)."""
    tail = e164(phone)[-8:]
    return {tail[i:i + 4] for i in range(len(tail) - 3)}


def leaks(conn, phones: list[str]) -> list[str]:
    """Outbox texts naming any of these numbers in any format: whole (+254722913584,
    0722 913 584, 0722-913-584, 722913584) or masked (0722***584, +2547*****584). Separators
    between digits are taken out, then each text is searched for any four digits in a row
    of a number's tail, and for its last three digits right after a mask."""
    windows = set().union(*(digit_windows(p) for p in phones))
    masked = [re.compile(r"[*x#]+" + e164(p)[-3:] + r"(?!\d)") for p in phones]
    found = []
    for (text,) in conn.execute("SELECT text FROM outbox ORDER BY id"):
        joined = re.sub(r"(?<=[\d*])[\s.\-()]+(?=[\d*])", "", text)
        runs = re.findall(r"\d+", joined)
        if any(w in run for run in runs for w in windows) or any(m.search(joined)
                                                                for m in masked):
            found.append(text)
    return found


def test_the_leak_search_finds_numbers_however_written():
    class Rows:
        def __init__(self, texts): self.texts = texts
        def execute(self, *_): return [(t,) for t in self.texts]
    number = MEMBER_A
    for text in ("call +254722913584", "call 0722 913 584", "(0722) 913-584", "722913584",
                 "0722***584", "+2547*****584", "0722.913.584"):
        assert leaks(Rows([text]), [number]) == [text], text
    clean = ["Sale K7Q3: 20 bags @KES 3,500, until 10 Dec 2026", "BUY K7Q3 10", "0711000001"]
    assert leaks(Rows(clean), [number]) == []


def test_a_sale_reaches_following_buyers_as_one_digest_and_ends_in_a_deal(client, conn):
    setup(conn)
    # Buyers follow: one near Nakuru, one anywhere in Kenya, one near Mombasa only.
    assert say(client, "WANT MAIZE NAKURU", BUYER) == (
        "You follow maize near Nakuru. New sales come in one SMS every 60 min at most. 0 open"
        " now: LIST MAIZE. WANT MAIZE 0 stops.")
    assert say(client, "want mahindi", BUYER_2).startswith(
        "You follow maize anywhere in your country.")
    assert say(client, "WANT MAIZE MOMBASA", FAR_BUYER).startswith("You follow maize near Mombasa")
    assert say(client, "WANT MAIZE NAKURU", BUYER) == (
        "You already follow maize near Nakuru. WANT alone lists what you follow.")
    assert say(client, "WANT MAIZE NAKURU", OUTSIDER).startswith("Only registered buyers")

    # A farmer registered at Nakuru sells; another at Marigat (83 km away) too.
    say(client, "REG NAKURU", FARMER)
    reply = say(client, "SELL 20 BAGS MAIZE GRADE1 @3500 BY 2026-12-10", FARMER)
    sale = code_of(SALE, reply)
    assert reply == (f"Sale {sale}: 20 bags maize grade 1 @KES 3,500 at Nakuru, until 10 Dec."
                     f" 2 buyer(s) near there will hear. SOLD {sale} or WITHDRAW {sale} ends it.")
    other = code_of(SALE, say(client, "SELL 5 BAGS MAIZE AT MARIGAT", FARMER_2))
    assert codes.kind_of(conn, sale) == "listing"
    # Nothing reaches the buyers yet: sales wait for the digest.
    assert inbox(conn, BUYER) == inbox(conn, BUYER_2) == []

    # The worker's digest: one SMS per following buyer with both sales, none for the far one.
    assert tick(client)[0] == 2
    digest = (f"For sale near you: {other} 5 bags maize Marigat (Baringo); {sale} 20 bags maize"
              f" gr 1 @3,500 Nakuru. To bid: BUY and the id.")
    assert inbox(conn, BUYER) == [digest]
    assert inbox(conn, BUYER_2) == [digest]
    assert inbox(conn, FAR_BUYER) == []
    before = last_id(conn)
    assert tick(client)[0] == 0 and last_id(conn) == before      # told once
    assert say(client, "LIST MAIZE NAKURU", OUTSIDER) == (
        f"Maize for sale near Nakuru: {other} 5 bags maize Marigat (Baringo); {sale} 20 bags"
        f" maize gr 1 @3,500 Nakuru. To bid: BUY and the id.")

    # A bid: the seller hears it with the words to answer; no number on either side.
    reply = say(client, f"BUY {sale} 10 @3400", BUYER)
    bid = code_of(BID, reply)
    assert reply == (f"Bid {bid}: 10 bags maize grade 1 @KES 3,400, sent to the seller of sale"
                     f" {sale}. If they agree, you get their number here.")
    assert inbox(conn, FARMER) == [
        f"Bid {bid} on sale {sale}: 10 bags maize grade 1 @KES 3,400 from Unga Millers. AGREE"
        f" {bid} sells, DECLINE {bid} refuses. Numbers swap on AGREE."]
    assert codes.kind_of(conn, bid) == "bid" and bid != sale
    assert say(client, f"BUY {sale} 10 @3400", BUYER) == reply    # the same bid again: no news
    assert len(inbox(conn, FARMER)) == 1
    assert leaks(conn, [FARMER, BUYER]) == []

    # The seller agrees: each gets the other's number; the quantity goes down.
    before = last_id(conn)
    assert say(client, f"AGREE {bid}", FARMER) == (
        f"Deal {bid}: 10 bags maize grade 1 @KES 3,400 to Unga Millers. Call them on"
        f" {BUYER}. Sale {sale} has 10 bags left.")
    assert inbox(conn, BUYER, before) == [
        f"Deal {bid}: the seller agrees to 10 bags maize grade 1 @KES 3,400 (sale {sale},"
        f" Nakuru). Call the seller on {FARMER}."]
    assert listings_db.by_code(conn, sale).quantity == 10
    assert say(client, f"AGREE {bid}", FARMER) == f"Bid {bid} is no longer open."

    # A bid for more than is left is refused; one for the rest sells it out.
    assert say(client, f"BUY {sale} 15", BUYER_2) == (
        f"Sale {sale} has 10 bags left: bid for that or less.")
    second = code_of(BID, say(client, f"BUY {sale}", BUYER_2))
    late = code_of(BID, say(client, f"BUY {sale} 2", FAR_BUYER))
    before = last_id(conn)
    assert say(client, f"DEAL {second}", FARMER).endswith(f"Sale {sale} has 0 bags left.")
    assert listings_db.by_code(conn, sale).status == "sold"
    assert inbox(conn, FAR_BUYER, before) == [f"Sale {sale} is sold, so your bid {late} is closed."]
    assert say(client, f"BUY {sale} 1", BUYER) == (
        f"Sale {sale} is closed; it takes no more bids or pledges.")
    actions = [row["action"] for row in listings_db.audit_rows(conn, sale)]
    assert {"sell", "alerted", "bid", "agree", "sold"} <= set(actions)
    assert actions.count("bid") == 3


def test_the_seller_declines_and_the_buyer_bids_again(client, conn):
    setup(conn)
    sale = code_of(SALE, say(client, "SELL 8 CRATES TOMATOES AT NAKURU", FARMER))
    assert say(client, "LIST TOMATOES NAKURU", BUYER) == (
        f"Tomatoes for sale near Nakuru: {sale} 8 crates tomatoes Nakuru. To bid: BUY and the id.")
    bid = code_of(BID, say(client, f"BUY {sale} 8", BUYER))
    assert inbox(conn, FARMER)[-1].startswith(
        f"Bid {bid} on sale {sale}: 8 crates tomatoes at a price to agree from Unga Millers.")
    before = last_id(conn)
    assert say(client, f"DECLINE {bid}", FARMER) == f"Bid {bid} declined; the buyer is told."
    assert inbox(conn, BUYER, before) == [
        f"The seller declined your bid {bid} on sale {sale}. You may bid again: BUY {sale} with"
        f" another quantity or price."]
    again = code_of(BID, say(client, f"BUY {sale} 8 @900 KES", BUYER))
    replaced = code_of(BID, say(client, f"BUY {sale} 6 @950", BUYER))   # a new bid replaces it
    assert again != replaced
    assert say(client, f"AGREE {again}", FARMER) == f"Bid {again} is no longer open."
    assert say(client, f"AGREE {sale}", FARMER) == (
        f"{sale} is a sale, not a bid. AGREE and DECLINE take the bid id from our SMS.")
    assert leaks(conn, [FARMER, BUYER]) == []
    assert say(client, f"KATAA {replaced}", FARMER).startswith(f"Zabuni {replaced} imekataliwa")


def test_a_group_sells_what_its_members_pledge(client, conn):
    setup(conn)
    say(client, "WANT MAIZE NAKURU", BUYER)
    reply = say(client, "SELL KIMA 100 BAGS MAIZE @3400", LEADER)
    sale = code_of(SALE, reply)
    assert reply == (f"Sale {sale} (KIMA): 100 bags maize @KES 3,400 at Nakuru, until 7 Dec. 3"
                     f" member(s) asked to pledge; 1 buyer(s) will hear.")
    asked = (f"KIMA sells 100 bags maize @KES 3,400 at Nakuru, until 7 Dec (sale {sale}). Reply"
             f" SELL {sale} and how many bags you bring.")
    assert inbox(conn, MEMBER_A) == inbox(conn, MEMBER_C) == [asked]
    assert inbox(conn, LEADER) == []
    assert say(client, "SELL KIMA 10 BAGS MAIZE", MEMBER_A) == (
        "Only a group leader can do that. Ask the service to make you a leader.")

    # Members pledge with the order mechanism: a value, replaced, never counted twice.
    assert say(client, f"SELL {sale} 40", MEMBER_A) == (
        f"You bring 40 bags to sale {sale}. KIMA has 40 of 100 bags pledged.")
    assert say(client, f"SELL {sale} 70", MEMBER_B) == (
        f"Sale {sale} needs at most 60 more bags. Pledge that or less.")
    assert say(client, f"uza {sale.lower()} 60", MEMBER_B).startswith(
        f"Utaleta 60 magunia kwa mauzo {sale}. KIMA imeahidiwa 100 kati ya 100 magunia.")
    assert say(client, f"SELL {sale} 30", MEMBER_A, msg_id="same").endswith("90 of 100 bags pledged.")
    assert say(client, f"SELL {sale} 30", MEMBER_A, msg_id="same").endswith("90 of 100 bags pledged.")
    say(client, f"SELL {sale} 30", MEMBER_A)
    assert say(client, f"SELL {sale} 5", MEMBER_C).endswith("95 of 100 bags pledged.")
    assert say(client, f"SELL {sale} 0", MEMBER_C) == (
        f"Your pledge to sale {sale} is taken back. KIMA has 90 of 100 bags pledged.")
    assert say(client, f"SELL {sale} 10", OUTSIDER) == f"Sale {sale} is for members of KIMA."
    listing = listings_db.by_code(conn, sale)
    assert pledges_db.total(conn, pledges_db.LISTINGS, listing.id) == 90
    assert pledges_db.recount(conn, pledges_db.LISTINGS, listing.id)[0] == 90

    # The worker tells the leader how pledges stand, and the buyer of the sale.
    before = last_id(conn)
    tick(client)
    assert inbox(conn, LEADER, before) == [f"Sale {sale}: KIMA members have pledged 90 of 100 bags."]
    assert inbox(conn, BUYER, before)[0].startswith(f"For sale near you: {sale} 100 bags maize")

    # A bid reaches the leader, with the pledges; agreeing shows only the leader's number.
    bid = code_of(BID, say(client, f"BUY {sale} 50", BUYER))
    assert inbox(conn, LEADER)[-1] == (
        f"Bid {bid} on KIMA sale {sale}: 50 bags maize @KES 3,400. Pledged 90 of 100. AGREE"
        f" {bid} sells, DECLINE {bid} refuses.")
    assert say(client, f"AGREE {bid}", MEMBER_A) == (
        f"Only the seller of sale {sale} can answer its bids.")
    before = last_id(conn)
    assert say(client, f"AGREE {bid}", LEADER).startswith(f"Deal {bid}: 50 bags maize @KES 3,400"
                                                         f" to Unga Millers. Call them on {BUYER}.")
    to_buyer = inbox(conn, BUYER, before)
    assert to_buyer == [f"Deal {bid}: KIMA agrees to 50 bags maize @KES 3,400 (sale {sale},"
                        f" Nakuru). Call their leader on {LEADER}."]
    assert leaks(conn, [MEMBER_A, MEMBER_B, MEMBER_C]) == []   # only the leader's number

    # SOLD ends it: the leader gets who pledged what, each member their line.
    before = last_id(conn)
    assert say(client, f"SOLD {sale}", LEADER) == (
        f"Sale {sale} is sold and off the list. 0 open bid(s) closed; their buyers are told.")
    assert inbox(conn, LEADER, before) == [
        f"Sale {sale} sold. KIMA members pledged 90 bags (2): {MEMBER_B} 60; {MEMBER_A} 30."]
    assert inbox(conn, MEMBER_A, before) == [
        f"Sale {sale} is sold. You pledged 30 bags. Your leader will tell you about delivery."]
    assert inbox(conn, MEMBER_C, before) == []
    assert inbox(conn, BUYER, before) == []
    assert say(client, f"SELL {sale} 10", MEMBER_C) == (
        f"Sale {sale} is closed; it takes no more bids or pledges.")


@pytest.mark.parametrize("text, expected", [
    ("SELL", "Send e.g. SELL 20 BAGS MAIZE GRADE1 @3500 BY 2027-01-10 AT NAKURU. Without @price,"
             " buyers make an offer."),
    ("SELL 2OO BAGS MAIZE AT NAKURU", "The quantity 2OO is not a number. Write it like 200 or 1,500."),
    ("SELL BAGS MAIZE", "The quantity is missing or not a number (BAGS). Start with it: SELL 20"
                        " BAGS MAIZE ..."),
    ("SELL -5 BAGS MAIZE", "The quantity -5 is below zero. Write how many, e.g. 200."),
    ("SELL 0 BAGS MAIZE", "The quantity must be more than 0."),
    ("SELL 99999999999 BAGS MAIZE", "The quantity 99999999999 is too large: at most 10,000,000."),
    ("SELL 0.001 BAGS MAIZE", "The quantity 0.001 is too small: the least is 0.1."),
    ("SELL 20 BAGS MAIZE AT", "Write the market after AT, e.g. AT NAKURU, or leave AT out."),
    ("SELL 20 BAGS @3500", "Which product? Put it after the quantity: SELL 20 BAGS MAIZE ..."),
    ("SELL 20 BAGS MAIZE @35O0", "The price @35O0 is not a number. Write it like @3400."),
    ("SELL 20 BAGS MAIZE BY 31/02", "The date 31/02 is not a date we can read. Write it like BY"
                                    " 2026-12-20 or BY 20/12."),
    ("SELL 20 BAGS MAIZE BY 2026-01-05", "The date 2026-01-05 has passed. Give a later date after"
                                         " BY."),
    ("SELL 20 BAGS MAIZE GRADE", "GRADE needs a value, e.g. GRADE1 or GRADE A."),
    ("SELL 20 BAGS MAIZE GRADE A NAKURU", "We did not understand NAKURU. Put a place after AT, e.g."
                                          " AT NAKURU."),
    ("SELL 20 BAGS MAIZE AT ATLANTIS", "We do not know the place ATLANTIS. Use a market name after"
                                       " AT, or leave AT out."),
    ("SELL 20 BAGS MAIZE", "Where is it for sale? Add AT and the market, e.g. AT NAKURU, or send"
                           " REG and your market first."),
    ("UZA 20 BAGS @3500", "Bidhaa gani? Iweke baada ya kiasi: UZA 20 BAGS MAHINDI ..."),
    ("UZA MAHINDI", "Kiasi hakipo au si nambari (MAHINDI). Anza nacho: UZA 20 BAGS MAHINDI ..."),
    ("VENDRE 20 BAGS MAIS", "Où est-ce en vente? Ajoutez AT et le marché, ex. AT NAKURU, ou envoyez"
                            " d'abord INSCRIRE et votre marché."),
    ("VENDRE SACS MAIS", "La quantité manque ou n'est pas un nombre (SACS). Commencez par elle:"
                         " VENDRE 20 BAGS MAIS ..."),
])
def test_each_sell_grammar_error_names_the_part_and_stores_nothing(client, conn, text, expected):
    setup(conn)
    assert say(client, text, FARMER) == expected
    assert listings_db.listed(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM codes WHERE kind = 'listing'").fetchone()[0] == 0


def test_refusals_change_nothing(client, conn):
    setup(conn)
    sale = code_of(SALE, say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER))
    bid = code_of(BID, say(client, f"BUY {sale} 5", BUYER))
    audit = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    queued = conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id IS NULL").fetchone()[0]
    refusals = {
        (f"BUY {sale} 5", OUTSIDER): "Only registered buyers can bid.",
        (f"BUY {sale} 5", FARMER): "Only registered buyers can bid.",
        (f"AGREE {bid}", BUYER): f"Only the seller of sale {sale} can answer its bids.",
        (f"DECLINE {bid}", OUTSIDER): f"Only the seller of sale {sale} can answer its bids.",
        (f"SOLD {sale}", BUYER): f"Only the seller of sale {sale} can do that.",
        (f"WITHDRAW {sale}", OUTSIDER): f"Only the seller of sale {sale} can do that.",
        (f"SELL {sale} 5", OUTSIDER): f"Sale {sale} is not a group's sale.",
        ("WANT MAIZE", FARMER): "Only registered buyers can follow sales.",
        ("BUY ZZZZ", BUYER): "There is no sale ZZZZ. Check the id.",
        ("AGREE ZZZZ", FARMER): "There is no bid ZZZZ. Check the id in our SMS.",
        (f"BUY {bid}", BUYER): f"{bid} is a bid. The seller answers it:",
        (f"BUY {sale} many", BUYER): f"We did not understand MANY. Send e.g. BUY {sale} 10 @3400.",
        (f"BUY {sale} 5 @lots", BUYER): "The price @LOTS is not a number.",
        (f"BUY {sale} -5", BUYER): "The quantity -5 is below zero.",
        ("LIST MAIZE ATLANTIS", BUYER): "We do not know the market ATLANTIS.",
        ("WANT MAIZE ATLANTIS", BUYER): "We do not know the market ATLANTIS.",
    }
    for (text, sender), answer in refusals.items():
        assert say(client, text, sender).startswith(answer), text
    assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == audit
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id IS NULL").fetchone()[0] \
        == queued
    with db.transaction(conn):
        order = orders_db.create(
            conn, buyer_id=contacts.find(conn, e164(BUYER)).id, product="MAIZE", quantity=5,
            unit="bags", grade=None, price=None, currency=None,
            deliver_by=listings_db.by_code(conn, sale).expires_on, place=None, market_id=None,
            now=utcnow())
    assert say(client, f"BUY {order.code}", BUYER).startswith(
        f"{order.code} is a buyer's order, not a sale. To offer to it: OFFER {order.code}")
    assert codes.kind_of(conn, order.code) == "order"


def test_sales_expire_and_withdrawn_ones_close_their_bids(client, conn, clock):
    setup(conn)
    sale = code_of(SALE, say(client, "SELL 20 BAGS MAIZE BY 2026-11-30 AT NAKURU", FARMER))
    kept = code_of(SALE, say(client, "SELL 3 BAGS BEANS AT NAKURU", FARMER))
    bid = code_of(BID, say(client, f"BUY {sale} 5", BUYER))
    assert say(client, "LIST", FARMER) == (
        f"Your sales: {kept} 3 bags beans (0 bid(s)); {sale} 20 bags maize (1 bid(s)). SOLD or"
        f" WITHDRAW and the id ends one.")
    assert tick(client, days=6)[1] == 0                           # 29 Nov: still open
    before = last_id(conn)
    assert tick(client, days=8)[1] == 1                           # 1 Dec: expired
    assert listings_db.by_code(conn, sale).status == "expired"
    assert inbox(conn, FARMER, before) == [
        f"Your sale {sale} is expired. Send SELL again to post it anew."]
    assert inbox(conn, BUYER, before) == [f"Sale {sale} is expired, so your bid {bid} is closed."]
    assert say(client, f"FUTA {kept}", FARMER) == (
        f"Mauzo {kept} yameondolewa; hayako kwenye orodha tena. Zabuni 0 zilizo wazi"
        f" zimefungwa; wanunuzi wamejulishwa.")
    assert say(client, f"WITHDRAW {kept}", FARMER) == (
        f"Sale {kept} is closed; it takes no more bids or pledges.")
    assert listings_db.by_code(conn, kept).status == "withdrawn"
    assert say(client, "LIST", FARMER).startswith("You have no open sales.")


def test_ten_sales_in_an_hour_make_one_sms_per_buyer_and_count_once(client, conn):
    setup(conn)
    for buyer in (BUYER, BUYER_2):
        say(client, "WANT MAIZE NAKURU", buyer)
    say(client, "WANT BEANS NAKURU", BUYER)
    say(client, "REG NAKURU", FARMER)
    for n in range(1, 10):
        say(client, f"SELL {n} BAGS MAIZE", FARMER)
    say(client, "SELL 2 BAGS BEANS", FARMER)
    farmer = contacts.find(conn, e164(FARMER)).id
    # The seller is charged the digests' SMS at most: one per buyer, not one per sale.
    assert conn.execute("SELECT SUM(segments) FROM promised WHERE contact_id = ?",
                        (farmer,)).fetchone()[0] == 2
    assert tick(client)[0] == 2
    for buyer in (BUYER, BUYER_2):
        texts = inbox(conn, buyer)
        assert len(texts) == 1 and "more: LIST MAIZE" in texts[0], texts
    assert "beans" in inbox(conn, BUYER)[0] or "BEANS" in inbox(conn, BUYER)[0]
    # After the digest went, the next sale is charged again.
    say(client, "SELL 10 BAGS MAIZE", FARMER)
    assert conn.execute("SELECT SUM(segments) FROM promised WHERE contact_id = ?",
                        (farmer,)).fetchone()[0] == 4


def test_a_sale_reaching_many_buyers_waits_for_yes_and_the_hourly_quota_holds(client, conn,
                                                                             clock):
    setup(conn)
    with db.transaction(conn):
        for n in range(12):
            person = contacts.get_or_create(conn, f"+2547015550{n:02d}")
            groups_db.set_role(conn, person.id, "buyer", f"Buyer {n}")
            listings_db.want(conn, person.id, "MAIZE", market_id(conn, "Nakuru"), "KE", clock())
    reply = say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER)
    assert reply == ("Your SELL will send 12 SMS to others (12 SMS parts). Reply YES within 10"
                     " minutes to send it.")
    assert listings_db.listed(conn) == []                      # undone until YES
    assert conn.execute("SELECT COUNT(*) FROM listing_alerts").fetchone()[0] == 0
    assert say(client, "YES", FARMER).startswith("Sale ")
    assert conn.execute("SELECT COUNT(*) FROM listing_alerts").fetchone()[0] == 12
    assert tick(client)[0] == 12


def test_the_hourly_quota_counts_promised_digests(kenya_db, tmp_path, clock):
    from smsgw.app import create_app

    config = kenya_config(kenya_db, tmp_path, **{"limits.caused_segments_per_hour": 3})
    client = create_app(config, clock=clock).test_client()
    conn = db.connect(config["database.path"])
    try:
        setup(conn)
        with db.transaction(conn):
            for n in range(2):
                person = contacts.get_or_create(conn, f"+2547015551{n:02d}")
                groups_db.set_role(conn, person.id, "buyer", f"Buyer {n}")
                listings_db.want(conn, person.id, "MAIZE", None, "KE", clock())
        say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER)        # 2 of 3
        tick(client)
        refused = say(client, "SELL 5 BAGS MAIZE AT NAKURU", FARMER)
        assert refused.startswith("Not sent: it needs 2 SMS parts and you have 1 of 3 left")
        assert len(listings_db.listed(conn)) == 1
        clock.advance(3601)
        assert say(client, "SELL 5 BAGS MAIZE AT NAKURU", FARMER).startswith("Sale ")
    finally:
        conn.close()


def test_want_lists_and_stops(client, conn):
    setup(conn)
    assert say(client, "WANT", BUYER) == "You follow no sales yet. Send e.g. WANT MAIZE NAKURU."
    say(client, "WANT MAIZE NAKURU", BUYER)
    say(client, "TAKA MAHARAGWE", BUYER)
    assert say(client, "WANT", BUYER) == (
        "You follow sales of: maize near Nakuru; beans anywhere in your country. WANT and a"
        " product with 0 stops one.")
    assert say(client, "WANT BEANS 0", BUYER) == "You no longer follow beans sales."
    assert say(client, "WANT BEANS 0", BUYER).startswith("You do not follow beans sales.")
    assert len(listings_db.wants_of(conn, contacts.find(conn, e164(BUYER)).id)) == 1


# ---------------------------------------------------------------------------- USSD

USSD = "/webhooks/africastalking/ussd"


def screen(client, text: str, phone: str, session: str) -> str:
    """One USSD hop as Africa's Talking sends it; every screen GSM-7 and 182 at most."""
    from support import post_at

    response = post_at(client, USSD, {"sessionId": session, "serviceCode": "*384*1234#",
                                      "phoneNumber": e164(phone), "networkCode": "63902",
                                      "text": text})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    info = count(body[4:])
    assert body.startswith(("CON ", "END ")) and info.encoding == "GSM-7" and info.units <= 182
    return body


def ussd_sms(conn, phone: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT text FROM outbox WHERE to_number = ? AND"
                                       " kind = 'ussd' ORDER BY id", (e164(phone),))]


def test_sell_and_withdraw_by_ussd(client, conn):
    setup(conn)
    say(client, "WANT MAIZE NAKURU", BUYER)
    say(client, "REG NAKURU", FARMER)
    assert "6. Sell produce" in screen(client, "", FARMER, "U1")
    assert screen(client, "6", FARMER, "U1") == "CON Sell produce\n1. Sell something\n0 Back"
    products = screen(client, "6*1", FARMER, "U1")
    assert products.startswith("CON Sell which product? Pick or type it")
    maize = next(line.split(".")[0] for line in products.splitlines() if line.endswith(". Maize"))
    path = f"6*1*{maize}"
    assert screen(client, path, FARMER, "U1").startswith(
        "CON Maize: how many? Type the number and unit, e.g. 20 BAGS or 500 KG")
    assert "The quantity 2OO is not a number" in screen(client, f"{path}*2OO BAGS", FARMER, "U1")
    assert "Add the unit, e.g. 20 BAGS or 500 KG." in screen(client, f"{path}*2OO BAGS*20",
                                                              FARMER, "U1")
    path += "*2OO BAGS*20*20 bags"
    assert screen(client, path, FARMER, "U1").startswith(
        "CON Price per bags in KES:\n1. I set the price\n2. Buyers make an offer")
    path += "*1"
    assert screen(client, path, FARMER, "U1").startswith(
        "CON Type the price per bags in KES, e.g. 3500:")
    assert "The price @35O0 is not a number" in screen(client, f"{path}*35O0", FARMER, "U1")
    path += "*35O0*3500"
    assert screen(client, path, FARMER, "U1").startswith(
        "CON Maize: where is it? Pick or type the market\n1. My market: Nakuru")
    path += "*1"
    assert screen(client, path, FARMER, "U1").startswith(
        "CON Sell 20 bags maize @KES 3,500 at Nakuru, until 7 Dec?\n1. Yes")
    done = screen(client, f"{path}*1", FARMER, "U1")
    sale = code_of(SALE, done[4:])
    assert done == (f"END Sale {sale}: 20 bags maize @KES 3,500 at Nakuru, until 7 Dec. 1"
                    f" buyer(s) near there will hear. SOLD {sale} or WITHDRAW {sale} ends it.")
    assert screen(client, f"{path}*1", FARMER, "U1") == done           # AT repeats the hop
    assert len(listings_db.listed(conn)) == 1
    assert ussd_sms(conn, FARMER) == [done[4:]]
    assert tick(client)[0] == 1

    # A new session: the sale is listed; choosing it withdraws it.
    screen(client, "", FARMER, "U2")
    assert screen(client, "6", FARMER, "U2") == (
        f"CON Your sales (pick one to withdraw it):\n1. {sale} 20 bags maize @3,500\n"
        f"2. Sell something\n0 Back")
    assert screen(client, "6*1", FARMER, "U2").startswith(
        f"CON Withdraw sale {sale}: 20 bags maize @KES 3,500 at Nakuru, until 7 Dec?\n1. Yes")
    withdrawn = screen(client, "6*1*1", FARMER, "U2")
    assert withdrawn == (f"END Sale {sale} is withdrawn and off the list. 0 open bid(s) closed;"
                         f" their buyers are told.")
    assert listings_db.by_code(conn, sale).status == "withdrawn"
    assert ussd_sms(conn, FARMER)[-1] == withdrawn[4:]


def test_a_ussd_sale_above_the_threshold_asks_for_yes_by_sms(client, conn, clock):
    setup(conn)
    with db.transaction(conn):
        for n in range(11):
            person = contacts.get_or_create(conn, f"+2547015552{n:02d}")
            groups_db.set_role(conn, person.id, "buyer", f"Buyer {n}")
            listings_db.want(conn, person.id, "MAIZE", None, "KE", clock())
    products = screen(client, "6*1", FARMER, "U3")
    maize = next(line.split(".")[0] for line in products.splitlines() if line.endswith(". Maize"))
    path = "6*1"
    for entry in (maize, "5 BAGS", "2", "NAKURU"):
        path += f"*{entry}"
        assert screen(client, path, FARMER, "U3").startswith("CON ")
    done = screen(client, f"{path}*1", FARMER, "U3")
    assert done == ("END Your SELL will send 11 SMS to others (11 SMS parts). Reply YES within"
                    " 10 minutes to send it.")
    assert listings_db.listed(conn) == []
    assert say(client, "YES", FARMER).startswith("Sale ")
    assert listings_db.listed(conn)[0].price is None      # buyers make an offer


# ---------------------------------------------------------------------------- languages

WORDS = {
    "en": {"sell": "SELL", "buy": "BUY", "agree": "AGREE", "decline": "DECLINE",
           "want": "WANT", "list": "LIST", "sold": "SOLD", "withdraw": "WITHDRAW",
           "sale": "Sale", "bid": "Bid", "deal": "Deal"},
    "sw": {"sell": "UZA", "buy": "NUNUA", "agree": "RIDHIA", "decline": "KATAA",
           "want": "TAKA", "list": "ORODHA", "sold": "IMEUZWA", "withdraw": "FUTA",
           "sale": "Mauzo", "bid": "Zabuni", "deal": "Mapatano"},
    "fr": {"sell": "VENDRE", "buy": "ACHETER", "agree": "ACCORD", "decline": "REFUSER",
           "want": "CHERCHE", "list": "LISTE", "sold": "VENDU", "withdraw": "RETRAIT",
           "sale": "Vente", "bid": "Enchère", "deal": "Accord"},
}


@pytest.mark.parametrize("language", sorted(WORDS))
def test_every_reply_and_message_fits_one_sms_in_each_language(client, conn, language):
    """The whole story in one language, with long names: say() and inbox() check that each
    reply and each message to others is one GSM-7 SMS."""
    w = WORDS[language]
    setup(conn)
    people = [FARMER, BUYER, BUYER_2, LEADER, MEMBER_A, MEMBER_B, OUTSIDER]
    for phone in people:
        say(client, f"LANG {language.upper()}", phone)
    say(client, "REG ELDORET TOWN", FARMER)
    say(client, f"{w['want']} IRISH POTATOES ELDORET TOWN", BUYER)
    say(client, f"{w['want']} MAIZE", BUYER)
    say(client, f"{w['want']} WOVEN BASKETS", BUYER_2)
    say(client, f"{w['want']}", BUYER)
    sale = code_of(SALE, say(client, f"{w['sell']} 1,250 KG IRISH POTATOES GRADE A @12,345 BY"
                                      f" 2027-01-10", FARMER))
    craft = code_of(SALE, say(client, f"{w['sell']} 300 WOVEN BASKETS AT MARIGAT", FARMER))
    for n in range(12):
        say(client, f"{w['sell']} {n + 1} BAGS MAIZE GRADE 1 @3,500 AT ELDORET TOWN", FARMER_2)
    group_sale = code_of(SALE, say(client, f"{w['sell']} KIMA 2,000 BAGS MAIZE @3400 BY"
                                            f" 2026-12-20", LEADER))
    say(client, f"{w['sell']} {group_sale} 1,250", MEMBER_A)
    say(client, f"{w['sell']} {group_sale} 1,000", MEMBER_B)
    say(client, f"{w['sell']} {group_sale} 700", MEMBER_B)
    say(client, f"{w['sell']} {group_sale} 5", OUTSIDER)
    tick(client)
    say(client, f"{w['list']} IRISH POTATOES", OUTSIDER)
    say(client, f"{w['list']} MAIZE ELDORET TOWN", OUTSIDER)
    say(client, f"{w['list']} SORGHUM", OUTSIDER)
    say(client, w["list"], FARMER_2)
    say(client, w["list"], FARMER)
    bid = code_of(re.compile(rf"^{w['bid']} (\w{{4}})"),
                  say(client, f"{w['buy']} {sale} 1,000 @12,000", BUYER))
    say(client, f"{w['buy']} {sale} 9,999", BUYER)
    say(client, f"{w['buy']} {craft}", BUYER_2)
    group_bid = code_of(re.compile(rf"^{w['bid']} (\w{{4}})"),
                        say(client, f"{w['buy']} {group_sale} 1,500 @3,300", BUYER))
    say(client, f"{w['buy']} {group_sale} 100", BUYER_2)
    assert leaks(conn, [FARMER, BUYER, BUYER_2, MEMBER_A, MEMBER_B]) == []
    assert say(client, f"{w['agree']} {bid}", FARMER).startswith(f"{w['deal']} {bid}")
    say(client, f"{w['agree']} {group_bid}", LEADER)
    say(client, f"{w['decline']} {bid}", FARMER)
    say(client, f"{w['sold']} {group_sale}", LEADER)
    say(client, f"{w['withdraw']} {craft}", FARMER)
    say(client, f"{w['withdraw']} {craft}", FARMER)
    tick(client, days=60)
    for phone in people + [FARMER_2]:
        inbox(conn, phone)
    texts = [r[0] for r in conn.execute("SELECT text FROM outbox WHERE to_number = ?",
                                        (e164(BUYER),))]
    assert any(t.startswith(w["deal"]) for t in texts), texts
    if language != "en":   # the data's English (units, crops) never reaches the reader
        english = {"bags", "maize", "irish", "potatoes", "sorghum", "grade"}   # not typed words
        readers = [e164(p) for p in people]   # (who switched to the language)
        everything = [r[0] for r in conn.execute(
            f"SELECT text FROM outbox WHERE to_number IN ({','.join('?' * len(readers))})",
            readers)]
        assert len(everything) > 40
        assert [t for t in everything if set(re.findall(r"[a-z]+", t.lower())) & english] \
            == []


def test_forgetting_a_seller_closes_their_sales_and_bids(client, conn):
    setup(conn)
    sale = code_of(SALE, say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER))
    bid = code_of(BID, say(client, f"BUY {sale} 5", BUYER))
    say(client, "WANT MAIZE", BUYER)
    from db import privacy

    erased = privacy.forget_contact(conn, contacts.find(conn, e164(FARMER)).id, now=utcnow())
    assert erased.sales_closed == 2
    assert listings_db.by_code(conn, sale).status == "withdrawn"
    assert say(client, f"AGREE {bid}", FARMER).startswith(f"Only the seller of sale {sale}")
    erased = privacy.forget_contact(conn, contacts.find(conn, e164(BUYER)).id, now=utcnow())
    assert erased.wants == 1


def test_admin_cli_follows_lists_shows_and_ticks(client, conn, config, tmp_path):
    from click.testing import CliRunner

    from smsgw.cli import main

    setup(conn)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{config["database.path"]}"\n[logging]\n'
                    f'level = "WARNING"\n', encoding="utf-8")

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*args, "--config", str(path)])
        assert result.exit_code == code, result.output
        return result.output

    assert "You follow maize near Nakuru." in run("buyers", "want", BUYER, "maize",
                                                  "--market", "Nakuru")
    assert "is not a buyer" in run("buyers", "want", OUTSIDER, "maize", code=1)
    assert "no market" in run("buyers", "want", BUYER, "maize", "--market", "Atlantis", code=2)
    sale = code_of(SALE, say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER))
    say(client, f"BUY {sale} 5", BUYER)
    listed = run("listings", "list")
    assert sale in listed and "bids 1" in listed and "1 sale(s)" in listed
    shown = run("listings", "show", sale)
    assert "sell" in shown and "bid" in shown and e164(FARMER) not in shown   # masked
    assert e164(FARMER)[-3:] in run("listings", "show", sale, "--show-numbers")
    assert "1 digest(s) sent, 0 sale(s) expired" in run("listings", "tick")
    assert inbox(conn, BUYER)[-1].startswith(f"For sale near you: {sale} 20 bags maize")
    assert "You no longer follow maize sales." in run("buyers", "want", BUYER, "maize",
                                                      "--remove")
    assert "no sale ZZZZ" in run("listings", "show", "ZZZZ", code=1)


def test_odd_messages_get_a_clear_answer_and_write_nothing_half(client, conn, clock):
    setup(conn)
    sale = code_of(SALE, say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER))
    group_sale = code_of(SALE, say(client, "SELL KIMA 50 BAGS MAIZE", LEADER))
    bid = code_of(BID, say(client, f"BUY {sale} 5", BUYER))
    odd = ["SELL @", "SELL 20 @", "SELL 20 BAGS MAIZE @", "SELL 20 BAGS MAÏS AT NAKURU",
           "SELL 20 BAGS \U0001f33d AT NAKURU", "SELL 1e5 BAGS MAIZE", "SELL KIMA",
           "SELL KIMA @", "SELL KIMA 0 BAGS MAIZE", f"SELL {sale}", f"SELL {sale} x",
           f"SELL {group_sale} 1 2 3", f"SELL {group_sale} -3", f"SELL {group_sale} 0.01 KG",
           f"SELL {bid} 5", "SELL " + "MAIZE " * 200, "BUY", "BUY @", f"BUY {sale} @",
           f"BUY {sale} 5 @", f"BUY {sale} 1e5", f"BUY {sale} 5 BAGS @3400 KES extra",
           f"BUY {sale} 0", f"BUY {sale} 99999999999", f"BUY {group_sale} 5 KG", "LIST @@",
           "LIST 123", "LIST \U0001f33d", "WANT 0", "WANT @", "WANT MAIZE NAKURU 0 0",
           "AGREE", "AGREE @", f"AGREE {group_sale}", "DECLINE ???", "SOLD", "WITHDRAW ??",
           f"SOLD {bid}", "LISTE MAIS", "ORODHA", "TAKA"]
    error = "Sorry, something went wrong"
    for text in odd:
        clock.advance(3601)   # past the per-sender limit's window
        for sender in (FARMER, BUYER, MEMBER_A, LEADER):
            before = conn.execute("SELECT COUNT(*) FROM listings").fetchone()[0]
            answer = say(client, text, sender)
            assert not answer.startswith(error), (text, sender, answer)
            assert conn.execute("SELECT COUNT(*) FROM listings").fetchone()[0] in (
                before, before + 1)
    assert conn.execute("SELECT COUNT(*) FROM inbound WHERE outcome = 'failed'").fetchone()[0] == 0
    for listing in listings_db.listed(conn):
        assert listing.offered > 0 and listing.quantity >= 0
        total, _ = pledges_db.recount(conn, pledges_db.LISTINGS, listing.id)
        assert total == pledges_db.total(conn, pledges_db.LISTINGS, listing.id)


def test_at_night_replies_say_when_the_others_hear(client, conn, clock):
    from datetime import UTC, datetime

    from smsgw.quiet import HELD_KINDS

    setup(conn)
    say(client, "WANT MAIZE NAKURU", BUYER)
    clock.now = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)          # 21:30 in Nairobi
    later = " They get it at 07:00, after quiet hours."
    reply = say(client, "SELL 20 BAGS MAIZE AT NAKURU", FARMER)
    assert reply.endswith(later), reply
    sale = code_of(SALE, reply)
    assert say(client, f"BUY {sale} 5", BUYER).endswith(later)
    assert not say(client, "SELL 3 BAGS SORGHUM AT NAKURU", FARMER).endswith(later)  # nobody
    assert "listing" in HELD_KINDS       # the worker holds every sale message till 07:00
    kinds = {row[0] for row in conn.execute("SELECT kind FROM outbox WHERE inbound_id IS NULL")}
    assert kinds == {"listing"}
