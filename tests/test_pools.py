"""Input pooling (issue 16): a group purchase by SMS from opening to the leader's purchase
list, with price steps; suppliers' offers pooled against; every grammar error and refusal;
the worker's tick; the cost bound; forgetting; the admin CLI. Every reply and every queued
message is checked to be one GSM-7 segment, in each language."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from support import e164, kenya_config, post_local

import db
from db import codes, contacts, privacy
from db import groups as groups_db
from db import pools as pools_db
from db import suppliers as suppliers_db
from db.timeutil import utcnow
from handlers.order_grammar import GrammarError
from handlers.pool_grammar import parse, price_at
from handlers.segments import count
from handlers.texts import LANGUAGES, text
from smsgw.app import create_app
from smsgw.bulletins import order_tick
from smsgw.cli import main
from smsgw.config import load as load_config
from smsgw.quiet import HELD_KINDS

_ids = itertools.count()
LEADER, MARY, JOHN, ANNE = "0711000001", "0711000002", "0711000003", "0711000004"
TWO_GROUPS_LEADER, MARI_MEMBER = "0722000001", "0722000002"
SUPPLIER, OTHER_SUPPLIER, OUTSIDER = "0700000101", "0700000102", "0744000001"
WORDS = {"en": ("POOL", "OFFER", "CLOSE", "BY", "SUPPLY"),
         "sw": ("CHANGA", "AHADI", "FUNGA", "KABLA", "UGAVI"),
         "fr": ("GROUPAGE", "OFFRE", "FERMER", "AVANT", "TARIF")}


NAMES = [a + b for a in "ABCDEFGH" for b in "KLMNP"]   # names never keep digits


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"limits.confirm_above_segments": 10})


def setup(conn) -> None:
    """KIMA (Nakuru): a leader and three members. MARI: its own leader, who also leads
    KIMA-2, and a member. Two registered suppliers."""
    with db.transaction(conn):
        nakuru = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]

        def group(code, leader, members):
            made = groups_db.create(conn, code=code, name=f"{code} Farmers", market_id=nakuru,
                                    region=None, products=["MAIZE"])
            groups_db.set_member(conn, made.id, contacts.get_or_create(conn, e164(leader)).id,
                                 role="leader")
            for member in members:
                groups_db.set_member(conn, made.id, contacts.get_or_create(conn, e164(member)).id)
        group("KIMA", LEADER, [MARY, JOHN, ANNE])
        group("MARI", TWO_GROUPS_LEADER, [MARI_MEMBER])
        group("NJORO", TWO_GROUPS_LEADER, [])
        for phone, name, products in ((SUPPLIER, "Nakuru Agrovet", ["DAP", "CAN"]),
                                      (OTHER_SUPPLIER, "Rift Agro Supplies", [])):
            suppliers_db.save(conn, contacts.get_or_create(conn, e164(phone)).id, name,
                              products, by="test", now=utcnow())


def say(client, message: str, sender: str, msg_id: str | None = None) -> str:
    """Send an SMS; every reply must be one GSM-7 segment."""
    response = post_local(client, message, msg_id=msg_id or f"p{next(_ids)}", sender=sender)
    assert response.status_code == 200
    replies = [r["text"] for r in response.get_json()["replies"]]
    assert replies, message
    for reply in replies:
        info = count(reply)
        assert (info.encoding, info.segments) == ("GSM-7", 1), (len(reply), reply)
    return " | ".join(replies)


def inbox(conn, phone: str, since: int = 0) -> list[str]:
    """Messages queued for a phone (not inline replies), oldest first; each one segment."""
    rows = conn.execute("SELECT text, segments, encoding FROM outbox WHERE to_number = ? AND"
                        " inbound_id IS NULL AND id > ? ORDER BY id", (e164(phone), since))
    found = []
    for message, segments, encoding in rows:
        assert (segments, encoding) == (1, "GSM-7"), message
        found.append(message)
    return found


def last_id(conn) -> int:
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]


def code_in(reply: str) -> str:
    return re.search(r"\b(?:Pool|Mchango|Groupage|Offer|Ofa|Offre) (\w{4})\b", reply).group(1)


def config_of(client):
    return client.application.extensions["smsgw"].config


def now_of(client):
    return client.application.extensions["smsgw"].clock()


# ---------------------------------------------------------------------------- the story


def test_a_pool_from_opening_to_the_purchase_list(client, conn):
    setup(conn)
    reply = say(client, "POOL DAP 50KG @3200 100+@3000 500+@2900 BY 2026-12-15", LEADER)
    code = code_in(reply)
    assert reply == (f"Pool {code} for KIMA: DAP 50kg, KES 3,200; 3,000 from 100; 2,900 from 500;"
                     f" until 15 Dec. Sent to 3 members. CLOSE {code} ends it.")
    invite = (f"KIMA buys DAP 50kg together: KES 3,200; 3,000 from 100; 2,900 from 500. Send"
              f" OFFER {code} and how many by 15 Dec.")
    assert inbox(conn, MARY) == inbox(conn, JOHN) == inbox(conn, ANNE) == [invite]
    assert inbox(conn, LEADER) == []                   # the leader who opened it knows
    assert codes.kind_of(conn, code) == "pool"

    # Members answer, change and withdraw; the price step moves with the total.
    assert say(client, f"OFFER {code} 30 Mary W.", MARY) == (
        f"Pool {code}: you want 30 x DAP 50kg = KES 96,000 at 3,200 each now. Pool total 30;"
        f" from 100 each costs 3,000.")
    assert say(client, f"offer {code.lower()} 80", JOHN) == (
        f"Pool {code}: you want 80 x DAP 50kg = KES 240,000 at 3,000 each now. Pool total 110;"
        f" from 500 each costs 2,900.")
    assert say(client, f"PLEDGE {code} 50", MARY).startswith(
        f"Pool {code}: you want 50 x DAP 50kg = KES 150,000 at 3,000 each now. Pool total 130;")
    assert say(client, f"OFFER {code} 20", ANNE).endswith("Pool total 150; from 500 each costs"
                                                          " 2,900.")
    assert say(client, f"OFFER {code} 0", ANNE) == (
        f"Pool {code}: your answer is withdrawn. Pool total 130 x DAP 50kg.")
    assert say(client, f"POOL {code}", ANNE) == (
        f"Pool {code} (KIMA) DAP 50kg: 130 from 2 members, KES 3,000 each now, 2,900 from 500."
        f" Yours: 0. Until 15 Dec.")
    found = pools_db.by_code(conn, code)
    assert found.pledged == pools_db.recount(conn, found.id) == 130

    # The same SMS twice (a provider's retry, or the farmer again) counts once.
    first = say(client, f"OFFER {code} 80", JOHN, msg_id="same")
    assert say(client, f"OFFER {code} 80", JOHN, msg_id="same") == first
    say(client, f"OFFER {code} 80", JOHN)
    assert pools_db.total(conn, found.id) == 130

    # The leader hears where the pool stands in batches, not once per answer.
    before = last_id(conn)
    order_tick(config_of(client), now=now_of(client))
    assert inbox(conn, LEADER, before) == [
        f"Pool {code}: 130 x DAP 50kg from 2 members, KES 3,000 each now; 2,900 from 500."]
    before = last_id(conn)
    order_tick(config_of(client), now=now_of(client))
    assert last_id(conn) == before                     # nothing moved, nothing sent

    # A big answer reaches the last step.
    assert say(client, f"OFFER {code} 400", ANNE) == (
        f"Pool {code}: you want 400 x DAP 50kg = KES 1,160,000 at 2,900 each. Pool total 530.")

    # The leader closes: the purchase list comes back, each member gets a line.
    before = last_id(conn)
    assert say(client, f"CLOSE {code}", LEADER) == (    # two SMS: it does not fit one
        f"Pool {code} closed: 530 x DAP 50kg at KES 2,900 = KES 1,537,000, from 3 members. |"
        f" {code} 0711000004 400 = 1,160,000; 0711000003 80 = 232,000; Mary W. 0711000002 50"
        f" = 145,000.")
    assert inbox(conn, MARY, before) == [
        f"Pool {code} closed at KES 2,900 each. Yours: 50 x DAP 50kg = KES 145,000. Your leader"
        f" will tell you how to pay and collect."]
    assert len(inbox(conn, JOHN, before)) == len(inbox(conn, ANNE, before)) == 1
    assert inbox(conn, LEADER, before) == []           # the list came as the reply
    assert pools_db.by_code(conn, code).price == 2900
    assert say(client, f"OFFER {code} 5", MARY) == (
        f"Pool {code} is closed; it takes no more answers.")
    assert say(client, f"CLOSE {code}", LEADER) == (
        f"Pool {code} is closed; it takes no more answers.")
    actions = [row[0] for row in conn.execute(
        "SELECT action FROM audit WHERE json_extract(detail, '$.pool') = ?", (code,))]
    assert actions.count("pool_pledge") == 8
    assert {"pool", "pool_sent", "pool_closed"} <= set(actions)
    kinds = {row[0] for row in conn.execute("SELECT kind FROM outbox WHERE inbound_id IS NULL")}
    assert kinds == {"pool"} and "pool" in HELD_KINDS   # they wait out quiet hours


@pytest.mark.parametrize("language", ["en", "sw", "fr"])
def test_the_story_in_every_language_fits_one_sms_each(client, conn, language):
    setup(conn)
    pool_word, offer_word, close_word, by_word, _ = WORDS[language]
    for phone in (LEADER, MARY, JOHN, ANNE):
        say(client, f"LANG {language}", phone)
    code = code_in(say(client, f"{pool_word} DAP 50KG @3200 100+@3000 500+@2900 {by_word}"
                               f" 15/12", LEADER))
    assert code in inbox(conn, MARY)[-1]
    assert code in say(client, f"{offer_word} {code} 60 Mary", MARY)
    assert "3" in say(client, f"{offer_word} {code} 50", JOHN)
    assert code in say(client, f"{offer_word} {code} 0", JOHN)
    assert code in say(client, f"{pool_word} {code}", ANNE)
    order_tick(config_of(client), now=now_of(client))
    assert code in inbox(conn, LEADER)[-1]
    closing = say(client, f"{close_word} {code}", LEADER)
    assert code in closing and "Mary" in closing and "3,200" in closing.replace(" ", ",")
    assert code in inbox(conn, MARY)[-1] and len(inbox(conn, JOHN)) == 1
    assert say(client, f"HELP {pool_word}", MARY) == text(language, "help_pool")
    for key in ("pool_opened", "pool_invite", "pool_answered", "pool_withdrawn", "pool_status",
                "pool_update", "pool_list", "pool_member_line"):
        assert LANGUAGES[language][key] != LANGUAGES["en"][key] or language == "en", key


@pytest.mark.parametrize("most", [10, 3])
def test_a_long_purchase_list_comes_in_numbered_parts(client, conn, monkeypatch, most):
    """Numbered parts, the largest answers first; past `most` parts (10 in the product,
    3 here to see it with 40 members) the rest is summed up in the last part."""
    from handlers import pools as pool_handlers

    monkeypatch.setattr(pool_handlers, "LIST_MAX_PARTS", most)
    setup(conn)
    with db.transaction(conn):
        kima = groups_db.by_code(conn, "KIMA")
        for n in range(40):
            groups_db.set_member(conn, kima.id, contacts.get_or_create(
                conn, e164(f"07330{n:05d}")).id)
    strict = create_app(load_config(None, environ={}, overrides=dict(config_of(client)) | {
        "limits.confirm_above_segments": 100}), clock=client.application.extensions[
        "smsgw"].clock).test_client()
    code = code_in(say(strict, "POOL CAN 50KG @2800", LEADER))
    for n in range(40):
        say(strict, f"OFFER {code} {n + 1} Farmer {NAMES[n]}", f"07330{n:05d}")
    response = post_local(strict, f"CLOSE {code}", msg_id="close-long", sender=LEADER)
    parts = [r["text"] for r in response.get_json()["replies"]]
    assert len(parts) > 3
    assert parts[0] == (f"Pool {code} closed: 820 x CAN 50kg at KES 2,800 = KES 2,296,000, from"
                        f" 40 members.")
    total = len(parts) - 1
    for n, part in enumerate(parts[1:], start=1):
        assert part.startswith(f"{code} ({n}/{total}) ")
        assert count(part).segments == 1, part
    listed = " ".join(parts[1:])
    assert total <= most
    assert parts[1].startswith(f"{code} (1/{total}) Farmer {NAMES[39]} 0733000039 40 =")
    if most == 10:
        assert all(f"Farmer {NAMES[n]} 07330{n:05d} {n + 1} =" in listed for n in range(40))
    else:
        shown = [n for n in range(40) if f"Farmer {NAMES[n]} 07330{n:05d} {n + 1} =" in listed]
        left = [n for n in range(40) if n not in shown]
        assert left and shown == list(range(40 - len(shown), 40))      # the largest kept
        assert (f"And {len(left)} more members: {sum(n + 1 for n in left)} x CAN 50kg."
                in parts[-1]), parts[-1]
        assert f"smsgw pools show {code}" in parts[-1]


# ---------------------------------------------------------------------------- suppliers


def test_a_suppliers_offer_pooled_against(client, conn):
    setup(conn)
    reply = say(client, "SUPPLY DAP 50KG @3300 100+@3100", SUPPLIER)
    first = code_in(reply)
    reply = say(client, "SUPPLY DAP 50KG @3200 100+@3000 500+@2900 BY 2026-12-31", SUPPLIER)
    offer = code_in(reply)
    assert reply == (f"Offer {offer}: DAP 50kg, KES 3,200; 3,000 from 100; 2,900 from 500; until"
                     f" 31 Dec. Leaders pool with POOL {offer} and get your number; CLOSE {offer}"
                     f" withdraws it.")     # (too long to add "It replaces ...")
    assert suppliers_db.by_code(conn, first).status == "replaced"
    assert codes.kind_of(conn, offer) == "supply"
    assert say(client, f"POOL {first}", LEADER) == (
        f"Offer {first} is no longer open. Ask the supplier for their new one.")
    # A leader finds the offers for a product, then pools against one.
    assert say(client, "POOL DAP", LEADER) == (
        f"Offers for DAP: {offer} Nakuru Agrovet 50kg KES 3,200 (2,900 from 500). To pool one,"
        f" send POOL and its id, e.g. POOL {offer}.")
    assert say(client, f"POOL {offer} BY 2027-01-05", LEADER) == (
        f"Offer {offer} holds until 31 Dec. Give that day or an earlier one after BY.")
    assert say(client, f"OFFER {offer} 5", MARY) == (
        f"{offer} is a supplier's offer. A group leader pools against it with POOL {offer};"
        f" members then answer the pool.")
    reply = say(client, f"POOL {offer} BY 20/12", LEADER)
    code = code_in(reply)
    assert reply == (f"Pool {code} (KIMA): DAP 50kg, KES 3,200; 3,000 from 100; 2,900 from 500;"
                     f" until 20 Dec. Sent to 3 members. At the end Nakuru Agrovet gets your"
                     f" number.")
    found = pools_db.by_code(conn, code)
    assert found.tiers == ((0, 3200), (100, 3000), (500, 2900)) and found.supply_id
    say(client, f"OFFER {code} 60 Mary", MARY)
    say(client, f"OFFER {code} 50", JOHN)
    # The supplier withdraws the offer: the open pool keeps its prices.
    assert say(client, f"CLOSE {offer}", LEADER) == (
        f"Only the supplier who posted offer {offer} can withdraw it.")
    assert say(client, f"CLOSE {offer}", SUPPLIER) == (
        f"Offer {offer} is withdrawn. Pools already open keep its prices.")
    assert say(client, f"POOL {offer}", LEADER).startswith(f"Offer {offer} is no longer open.")
    before = last_id(conn)
    assert say(client, f"CLOSE {code}", LEADER) == (
        f"Pool {code} closed: 110 x DAP 50kg at KES 3,000 = KES 330,000, from 2 members. |"
        f" {code} Mary 0711000002 60 = 180,000; 0711000003 50 = 150,000. Order from Nakuru"
        f" Agrovet, 0700000101.")
    assert inbox(conn, SUPPLIER, before) == [
        f"Pool {code} of group KIMA closed: 110 x DAP 50kg at KES 3,000 = KES 330,000. Its"
        f" leader will call you: 0711000001."]


def test_a_pool_names_its_supplier_with_from(client, conn):
    setup(conn)
    offer = code_in(say(client, "SUPPLY CAN 50KG @2800 200+@2600", SUPPLIER))
    code = code_in(say(client, "POOL CAN FROM agrovet", LEADER))
    assert pools_db.by_code(conn, code).supply_id == suppliers_db.by_code(conn, offer).id
    # With a price of the leader's own, the supplier is only told the total at the close.
    code = code_in(say(client, "POOL UREA 50KG @2500 FROM RIFT AGRO", LEADER))
    found = pools_db.by_code(conn, code)
    assert found.supply_id is None and found.tiers == ((0, 2500),)
    say(client, f"OFFER {code} 4", MARY)
    before = last_id(conn)
    say(client, f"CLOSE {code}", LEADER)
    assert inbox(conn, OTHER_SUPPLIER, before)[0].startswith(f"Pool {code} of group KIMA closed:"
                                                             f" 4 x UREA 50kg at KES 2,500")
    assert say(client, "POOL UREA 50KG FROM AGRO", LEADER) == (
        "Which supplier: Nakuru Agrovet, Rift Agro Supplies? Send POOL again with one of the"
        " names after FROM.")
    assert say(client, "POOL UREA 50KG @1 FROM NOBODY", LEADER) == (
        "We know no supplier NOBODY. Check the name, or leave FROM out and give the price.")


@pytest.mark.parametrize("message, expected", [
    ("SUPPLY", "Send e.g. SUPPLY DAP 50KG @3200 100+@3000 500+@2900 BY 31/01: your price,"
               " cheaper from 100 and from 500."),
    ("SUPPLY DAP 50KG", "What does one cost? Add your price after @, e.g. SUPPLY DAP 50KG @3200"
                        " 100+@3000."),
    ("SUPPLY UREA 50KG @2500", "You are registered to offer CAN, DAP, not UREA. Ask the service"
                               " to add it."),
    ("SUPPLY DAP 50KG @3200 FROM X", "We did not understand FROM. Send e.g. POOL DAP 50KG @3200"
                                     " 100+@3000 BY 15/01."),
    ("SUPPLY DAP 50KG @3200 100+@3300", "Each price step must start at more units and be"
                                        " cheaper, e.g. @3200 100+@3000 500+@2900."),
])
def test_supply_mistakes_are_named(client, conn, message, expected):
    setup(conn)
    assert say(client, message, SUPPLIER) == expected
    assert suppliers_db.offers_of(conn, contacts.find(conn, e164(SUPPLIER)).id) == []


# ---------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize("message, expected", [
    ("POOL", "Send e.g. POOL DAP 50KG @3200 100+@3000 BY 15/01, or POOL and a supplier's offer"
             " id. HELP POOL explains."),
    ("POOL @3200", "Which product? Start with it: POOL DAP 50KG @3200 ..."),
    ("POOL DAP 50 @3200", "We could not read the pack 50. Write its size with the unit, e.g."
                          " 50KG or 20L."),
    ("POOL DAP 50XG @3200", "We could not read the pack 50XG. Write its size with the unit,"
                            " e.g. 50KG or 20L."),
    ("POOL DAP 50KG", "What does one cost? Add the price, e.g. POOL DAP 50KG @3200 BY 15/01, or"
                      " send POOL and a supplier's offer id."),
    ("POOL DAP 50KG @32O0", "The price @32O0 is not a number. Write it like @3400."),
    ("POOL DAP 50KG 100+@3000", "Give the price before the step 100+@3000, e.g. @3200"
                                " 100+@3000."),
    ("POOL DAP 50KG @3200 100+", "We could not read the price step 100+. Write it like"
                                 " 100+@3000: 3,000 each from 100."),
    ("POOL DAP 50KG @3200 X+@3000", "We did not understand X+@3000. Send e.g. POOL DAP 50KG"
                                    " @3200 100+@3000 BY 15/01."),
    ("POOL DAP 50KG @3200 500+@3000 100+@2900", "Each price step must start at more units and"
                                               " be cheaper, e.g. @3200 100+@3000 500+@2900."),
    ("POOL DAP 50KG @3200 100+@3100 200+@3000 300+@2900 400+@2800", "At most 3 price steps"
                                                                   " after the price, e.g."
                                                                   " @3200 100+@3000"
                                                                   " 500+@2900."),
    ("POOL DAP 50KG @3200 BY 31/02", "The date 31/02 is not a date we can read. Write it like"
                                     " BY 2026-12-20 or BY 20/12."),
    ("POOL DAP 50KG @3200 BY 2026-01-05", "The date 2026-01-05 has passed. Give a later date"
                                          " after BY."),
    ("POOL DAP 50KG @3200 NOW", "We did not understand NOW. Send e.g. POOL DAP 50KG @3200"
                                " 100+@3000 BY 15/01."),
    ("POOL DAP 50KG @3200 FROM", "Write the supplier's name after FROM, e.g. FROM AGROVET, or"
                                 " leave FROM out."),
    ("POOL MAIZE SEED HYBRID H614D LONG NAME 2KG @700", "The product name is too long: at most"
                                                        " 24 letters."),
    ("POOL \u0414\u0410\u041f 50KG @3200", "Write the product in Latin letters and digits,"
                                           " e.g. DAP or MAIZE SEED."),
])
def test_pool_mistakes_name_the_part_and_store_nothing(client, conn, message, expected):
    setup(conn)
    before = last_id(conn)
    assert say(client, message, LEADER) == expected
    assert pools_db.listed(conn) == [] and last_id(conn) == before + 1   # only the reply


@pytest.mark.parametrize("words, expected", [
    (["-3"], "The quantity -3 is below zero. Write how many, e.g. 200."),
    (["many"], "The quantity MANY is not a number. Write it like 200 or 1,500."),
    (["99999999999"], "The quantity 99999999999 is too large: at most 10,000,000."),
    ([], "How many? Send OFFER {code} and a number, e.g. OFFER {code} 3. OFFER {code} 0"
         " withdraws."),
])
def test_answer_mistakes_change_nothing(client, conn, words, expected):
    setup(conn)
    code = code_in(say(client, "POOL DAP 50KG @3200", LEADER))
    assert say(client, " ".join(["OFFER", code, *words]), MARY) == expected.format(code=code)
    assert pools_db.total(conn, pools_db.by_code(conn, code).id) == 0


def test_answers_read_quantities_as_people_write_them(client, conn):
    setup(conn)
    code = code_in(say(client, "POOL MAIZE SEED BAGS @700", LEADER))
    assert "you want 1,000 MAIZE SEED bags" in say(client, f"OFFER {code} 1 000 Mary", MARY)
    assert "you want 2.5 MAIZE SEED bags" in say(client, f"OFFER {code} 2,5", JOHN)
    pack = code_in(say(client, "POOL DAP 50KG @3200", LEADER))
    assert "you want 3 x DAP 50kg" in say(client, f"OFFER {pack} 2.5", ANNE)   # whole packs
    say(client, f"OFFER {code} 4 - 07 !", ANNE)          # no letters: no name
    assert [a.name for a in pools_db.answers(conn, pools_db.by_code(conn, code).id)] == [
        "Mary", "", ""]


def test_a_leader_of_two_groups_names_one(client, conn):
    setup(conn)
    assert say(client, "POOL DAP 50KG @3200", TWO_GROUPS_LEADER) == (
        "You lead MARI, NJORO. Send POOL, the group code, then the rest, e.g. POOL MARI DAP"
        " 50KG @3200.")
    code = code_in(say(client, "POOL mari DAP 50KG @3200", TWO_GROUPS_LEADER))
    assert pools_db.by_code(conn, code).group_id == groups_db.by_code(conn, "MARI").id
    assert inbox(conn, MARI_MEMBER)[-1].startswith("MARI buys DAP 50kg together")


# ---------------------------------------------------------------------------- who may


def test_who_may_do_what_and_a_refusal_changes_nothing(client, conn):
    setup(conn)
    code = code_in(say(client, "POOL DAP 50KG @3200", LEADER))
    offer = code_in(say(client, "SUPPLY DAP 50KG @3100", SUPPLIER))
    refusals = [
        ("POOL DAP 50KG @3200", MARY, "Only a group leader can do that. Ask the service to make"
                                      " you a leader."),
        ("POOL DAP 50KG @3200", OUTSIDER, "Only a group leader can do that."),
        ("SUPPLY DAP 50KG @3000", LEADER, "Only registered suppliers can post offers. Ask the"
                                          " service to register you as a supplier."),
        ("SUPPLY DAP 50KG @3000", OUTSIDER, "Only registered suppliers can post offers."),
        (f"OFFER {code} 3", OUTSIDER, f"Pool {code} is for members of KIMA."),
        (f"OFFER {code} 3", MARI_MEMBER, f"Pool {code} is for members of KIMA."),
        (f"POOL {code}", OUTSIDER, f"Pool {code} is for members of KIMA."),
        (f"CLOSE {code}", MARY, f"Only a leader of KIMA can close pool {code}."),
        (f"CLOSE {code}", TWO_GROUPS_LEADER, f"Only a leader of KIMA can close pool {code}."),
        (f"POOL {offer}", MARY, "Only a group leader can do that."),
        (f"CLOSE {offer}", OTHER_SUPPLIER, f"Only the supplier who posted offer {offer} can"
                                           f" withdraw it."),
    ]
    for message, sender, refusal in refusals:
        audit = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        queued = conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id IS NULL").fetchone()[0]
        assert say(client, message, sender).startswith(refusal), message
        assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == audit, message
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id IS NULL"
                            ).fetchone()[0] == queued, message
    assert pools_db.by_code(conn, code).status == "open" and len(pools_db.listed(conn)) == 1
    assert suppliers_db.by_code(conn, offer).status == "open"


# ---------------------------------------------------------------------------- the worker


def test_pools_close_after_their_date_from_the_tick(client, conn, clock):
    setup(conn)
    code = code_in(say(client, "POOL DAP 50KG @3200 100+@3000 BY 2026-11-30", LEADER))
    quiet = code_in(say(client, "POOL CAN 50KG @2800 BY 2026-11-30", LEADER))
    say(client, f"OFFER {code} 120 Mary", MARY)
    config = config_of(client)
    order_tick(config, now=clock() + timedelta(days=6))        # 29 Nov: still open
    assert pools_db.by_code(conn, code).status == "open"
    before = last_id(conn)
    order_tick(config, now=clock() + timedelta(days=8))        # 1 Dec: closed
    assert pools_db.by_code(conn, code).status == "closed"
    assert inbox(conn, LEADER, before) == [
        f"Pool {code} closed: 120 x DAP 50kg at KES 3,000 = KES 360,000, from 1 members: Mary"
        f" 0711000002 120 = 360,000.", f"Pool {quiet} closed: nobody answered."]
    assert inbox(conn, MARY, before) == [
        f"Pool {code} closed at KES 3,000 each. Yours: 120 x DAP 50kg = KES 360,000. Your leader"
        f" will tell you how to pay and collect."]
    before = last_id(conn)
    order_tick(config, now=clock() + timedelta(days=9))
    assert last_id(conn) == before


def test_opening_for_a_big_group_waits_for_yes(client, conn, clock):
    setup(conn)
    strict = create_app(load_config(None, environ={}, overrides=dict(config_of(client)) | {
        "limits.confirm_above_segments": 2}), clock=clock).test_client()
    assert say(strict, "POOL DAP 50KG @3200", LEADER) == (
        "Your POOL will send 3 SMS to others (3 SMS parts). Reply YES within 10 minutes to"
        " send it.")
    assert pools_db.listed(conn) == [] and inbox(conn, MARY) == []
    code = code_in(say(strict, "YES", LEADER))
    assert pools_db.by_code(conn, code).status == "open" and len(inbox(conn, MARY)) == 1


def test_forgetting_a_member_keeps_the_total_not_the_name(client, conn):
    setup(conn)
    code = code_in(say(client, "POOL DAP 50KG @3200", LEADER))
    say(client, f"OFFER {code} 7 Mary Wanjiku", MARY)
    say(client, f"OFFER {code} 3", JOHN)
    erased = privacy.forget_contact(conn, contacts.find(conn, e164(MARY)).id, now=utcnow())
    found = pools_db.by_code(conn, code)
    assert erased.pledges_kept == 1 and found.pledged == pools_db.recount(conn, found.id) == 10
    assert conn.execute("SELECT name FROM pool_pledges WHERE quantity = 7").fetchone()[0] == ""
    supplier = contacts.find(conn, e164(SUPPLIER)).id
    offer = code_in(say(client, "SUPPLY DAP 50KG @3100", SUPPLIER))
    assert privacy.forget_contact(conn, supplier, now=utcnow()).roles == 1
    assert suppliers_db.find(conn, supplier) is None
    assert suppliers_db.by_code(conn, offer).status == "withdrawn"


# ---------------------------------------------------------------------------- the grammar


def test_the_grammar_reads_packs_steps_and_suppliers():
    from datetime import date

    today = date(2026, 11, 23)
    read = parse("dap 50 kg @KES3,200 100+ @3000 1,000+@2900 kabla 15/12 from nakuru agrovet",
                 today)
    assert (read.product, read.unit, read.currency, str(read.close_on), read.supplier) == (
        "DAP", "x 50kg", "KES", "2026-12-15", "NAKURU AGROVET")
    assert read.tiers == ((0, 3200), (100, 3000), (1000, 2900))
    assert parse("CAN 50KG BAGS @3000", today).unit == "x 50kg"
    assert parse("MAIZE SEED BAGS @700", today).unit == "bags"
    assert parse("CRATES @250", today).unit == "CRATES"
    assert parse("OIL 0,5L @300", today).unit == "x 0.5L"
    with pytest.raises(GrammarError) as error:
        parse("DAP @3200 FROM AGROVET", today, allow_supplier=False)
    assert error.value.key == "pool_unexpected"
    steps = ((0, 3200), (100, 3000), (500, 2900))
    assert price_at(steps, 0) == (3200, (100, 3000))
    assert price_at(steps, 100) == (3000, (500, 2900))
    assert price_at(steps, 5000) == (2900, None)


def test_ids_come_from_one_space(client, conn, monkeypatch):
    setup(conn)
    picks = iter("AAA3" "AAA3" "CCC4")
    monkeypatch.setattr(codes.secrets, "choice", lambda alphabet: next(picks))
    assert code_in(say(client, "POOL DAP 50KG @3200", LEADER)) == "AAA3"
    assert code_in(say(client, "SUPPLY DAP 50KG @3100", SUPPLIER)) == "CCC4"   # AAA3 is taken
    assert (codes.kind_of(conn, "AAA3"), codes.kind_of(conn, "CCC4"),
            codes.kind_of(conn, "DDD6")) == ("pool", "supply", None)


def test_every_pool_text_fits_one_sms_with_the_longest_values():
    """The texts with a short fallback (handlers.pool_texts.fitted) may not fit; their
    fallback must, and so must every other text, filled with the longest values."""
    longest = dict(code="P4K2", codes="KIMA01, NAKU01, MARI01, PWANI1", group="KIMA01",
                   word="2026-12-20", max="24", items="S7K3 Nakuru Agrovet Supp 50kg KES"
                   " 3,200 (2,900 from 500)", options="Nakuru Agrovet Supplies, Eldoret Farm"
                   " Inputs", product="MAIZE SEED H614D HYBRID", date="15 sept. 2026",
                   what="MAIZE SEED H614D HYBRID 25kg", tiers="KES 12,345; 12,000 from 1,000;"
                   " 11,500 from 5,000; 11,000 from 10,000", members="10,000",
                   supplier="Nakuru Agrovet Supplies", amount="123,450,000", quantity="10,000",
                   total="100,000", count="10,000", currency="KES", price="12,345",
                   next_price="12,000", next_quantity="10,000", phone="0712345678",
                   goods="10,000 x MAIZE SEED H614D HYBRID 25kg", products="DAP, CAN, UREA, NPK",
                   name="Nakuru Agrovet Supplies", n="9,990")
    for language in LANGUAGES:
        keys = [k for k in LANGUAGES[language] if k.startswith(("pool_", "supply_", "supplier_"))
                or k in ("not_supplier", "help_pool", "help_supply")]
        assert len(keys) > 50
        for key in keys:
            filled = text(language, key, **longest)
            if f"{key}_short" in LANGUAGES[language]:
                filled = text(language, f"{key}_short", **longest)
            info = count(filled)
            assert (info.encoding, info.segments) == ("GSM-7", 1), (language, key, filled)


# ---------------------------------------------------------------------------- the CLI


def test_admin_cli_suppliers_and_pools(config, conn, tmp_path):
    setup(conn)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{config["database.path"]}"\n[logging]\n'
                    f'level = "WARNING"\n', encoding="utf-8")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*args, "--config", str(path)])
        assert result.exit_code == code, result.output
        return result.output

    added = run("suppliers", "add", "0700000103", "--name", "Eldoret Inputs", "--products",
                "dap, urea")
    assert added == "+254******103 is now a supplier: Eldoret Inputs; may offer DAP, UREA\n"
    assert inbox(conn, "0700000103") == [
        "You are registered as supplier Eldoret Inputs. Send SUPPLY DAP 50KG @3200 100+@3000 to"
        " post an offer; leaders who pool against it get your number."]
    run("suppliers", "add", "0700000103", "--name", "Eldoret Inputs Ltd")
    assert len(inbox(conn, "0700000103")) == 1          # told once, when new
    listed = run("suppliers", "list")
    assert "Eldoret Inputs Ltd" in listed and "3 supplier(s)" in listed
    assert "0700000103" not in listed and "+254******103" in listed
    assert "0700000103 " in run("suppliers", "list", "--show-numbers")
    assert json.loads(run("suppliers", "list", "--json"))[0]["name"] == "Eldoret Inputs Ltd"
    too_long = runner.invoke(main, ["suppliers", "add", "0700000104", "--name", "X" * 25,
                                    "--config", str(path)])
    assert too_long.exit_code == 2 and "1 to 24 characters" in too_long.output
    not_gsm = runner.invoke(main, ["suppliers", "add", "0700000104", "--name", "Agro \u0414",
                                   "--config", str(path)])
    assert not_gsm.exit_code == 2 and "GSM-7" in not_gsm.output
    assert "is no longer a supplier" in run("suppliers", "remove", "0700000103")
    assert "was not a supplier" in run("suppliers", "remove", "0700000103")

    with db.transaction(conn):
        kima = groups_db.by_code(conn, "KIMA")
        made = pools_db.create(conn, group_id=kima.id, leader_id=contacts.find(
            conn, e164(LEADER)).id, supply_id=None, supplier_id=None, product="DAP",
            unit="x 50kg", currency="KES", tiers=((0, 3200), (100, 3000)),
            close_on=utcnow().date() + timedelta(days=3), now=utcnow())
        pools_db.pledge(conn, made.id, contacts.find(conn, e164(MARY)).id, 4, "Mary", utcnow())
    assert made.code in run("pools", "list") and "wanted 4" in run("pools", "list")
    shown = run("pools", "show", made.code)
    assert "KES 3200 from 0; 3000 from 100" in shown and "+254******002 4 Mary" in shown
    assert "0711000002 4 Mary" in run("pools", "show", made.code, "--show-numbers")
    assert run("pools", "close", made.code) == f"pool {made.code} closed\n"
    assert "was not open" in run("pools", "close", made.code)
    assert "pool_closed" in run("pools", "show", made.code)
    assert inbox(conn, LEADER)[-1].startswith(f"Pool {made.code} closed: 4 x DAP 50kg")
    assert run("pools", "tick") == "0 pool(s) closed, 0 leader(s) updated\n"
    assert "no pool ZZZZ" in run("pools", "show", "ZZZZ", code=1)


def test_units_and_figures_in_the_readers_language(client, conn):
    setup(conn)
    say(client, "LANG SW", MARY)
    say(client, "LANG FR", JOHN)
    code = code_in(say(client, "POOL MAIZE SEED BAGS @1250", LEADER))
    assert "MAIZE SEED magunia" in inbox(conn, MARY)[-1]
    assert "MAIZE SEED sacs" in inbox(conn, JOHN)[-1] and "KES 1 250. Avant le 7 déc.," in inbox(conn, JOHN)[-1]
    assert "12 506 MAIZE SEED sacs" in say(client, f"OFFRE {code} 12 506", JOHN)
    assert say(client, f"OFFRE {code} 99999999999", JOHN) == (
        "La quantité 99999999999 est trop grande: au plus 10 000 000.")


def test_a_pool_opened_in_quiet_hours_says_when_members_get_it(client, conn, clock):
    setup(conn)
    clock.now = clock.now.replace(hour=18, minute=20)     # 21:20 in Nairobi
    reply = say(client, "POOL DAP 50KG @3200 BY 2026-12-15", LEADER)
    code = code_in(reply)
    assert reply == (f"Pool {code} for KIMA: DAP 50kg, KES 3,200; until 15 Dec. Sent to 3 members."
                     f" CLOSE {code} ends it. They get it at 07:00, after quiet hours.")
    say(client, f"OFFER {code} 4", MARY)
    assert say(client, f"CLOSE {code}", LEADER).endswith(
        "= 12,800. They get it at 07:00, after quiet hours.")
    kinds = {row[0] for row in conn.execute("SELECT kind FROM outbox WHERE inbound_id IS NULL")}
    assert kinds == {"pool"} <= HELD_KINDS                # the worker holds them, by kind


def test_every_short_id_has_a_digit_so_no_id_is_a_product_word(conn):
    from db import codes

    with db.transaction(conn):
        made = [codes.new_code(conn, "pool") for _ in range(300)]
    assert all(any(ch.isdigit() for ch in code) for code in made)
    assert len(set(made)) == 300
