"""Producer groups and buyer orders: the whole story by SMS, every refusal and grammar error,
duplicate pledges, expiry, broadcasts with confirmation, and the admin CLI."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from support import e164, kenya_config, market_id, post_local

import db
import db.timeutil
from db import contacts
from db import groups as groups_db
from db import orders as orders_db
from handlers.segments import count
from smsgw.app import create_app
from smsgw.bulletins import order_tick
from smsgw.cli import main
from smsgw.config import load as load_config

_ids = itertools.count()
BUYER, OTHER_BUYER = "0700000001", "0700000002"
KIMA_LEADER, KIMA_A, KIMA_B, KIMA_C = "0711000001", "0711000002", "0711000003", "0711000004"
MARI_LEADER, MARI_A = "0722000001", "0722000002"
PWANI_LEADER, PWANI_A = "0733000001", "0733000002"
OUTSIDER = "0744000001"


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"limits.confirm_above_segments": 10})


def setup_groups(conn) -> None:
    """KIMA at Nakuru and MARIGAT 83 km away offer maize (MARIGAT forwards by itself);
    PWANI at Mombasa, 580 km away, offers maize too; KISU at Kisumu offers beans only."""
    with db.transaction(conn):
        def group(code, name, market_name, products, leader, members, **flags):
            made = groups_db.create(conn, code=code, name=name,
                                    market_id=market_id(conn, market_name), region=None,
                                    products=products, **flags)
            groups_db.set_member(conn, made.id, contacts.get_or_create(conn, e164(leader)).id,
                                 role="leader")
            for member in members:
                groups_db.set_member(conn, made.id, contacts.get_or_create(conn, e164(member)).id)
        group("KIMA", "Kima Farmers", "Nakuru", ["MAIZE"], KIMA_LEADER, [KIMA_A, KIMA_B, KIMA_C],
              share_leader_numbers=True)
        group("MARIGAT", "Marigat Growers", "Marigat (Baringo)", ["MAIZE", "SORGHUM"],
              MARI_LEADER, [MARI_A], auto_forward=True)
        group("PWANI", "Pwani Coop", "Mombasa", ["MAIZE"], PWANI_LEADER, [PWANI_A])
        group("KISU", "Kisumu Beans", "Kisumu", ["BEANS"], "0755000001", ["0755000002"])
        for phone, name in ((BUYER, "Unga Millers"), (OTHER_BUYER, "Other Foods")):
            groups_db.set_role(conn, contacts.get_or_create(conn, e164(phone)).id, "buyer", name)


def say(client, text: str, sender: str, msg_id: str | None = None) -> str:
    response = post_local(client, text, msg_id=msg_id or f"o{next(_ids)}", sender=sender)
    assert response.status_code == 200
    replies = [r["text"] for r in response.get_json()["replies"]]
    assert len(replies) >= 1, replies
    for reply in replies:
        assert count(reply).encoding == "GSM-7", reply
    return " | ".join(replies)


def inbox(conn, phone: str, since: int = 0) -> list[str]:
    """Messages queued for a phone (not inline replies), oldest first."""
    rows = conn.execute("SELECT text FROM outbox WHERE to_number = ? AND inbound_id IS NULL"
                        " AND id > ? ORDER BY id", (e164(phone), since))
    return [row[0] for row in rows]


def last_id(conn) -> int:
    return conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]


ORDER = "ORDER 200 BAGS MAIZE GRADE1 @3400 BY 2026-12-20 AT NAKURU"


def post_order(client, conn) -> str:
    reply = say(client, ORDER, BUYER)
    code = re.match(r"Order (\w{4}):", reply).group(1)
    return code


def test_the_whole_story(client, conn):
    setup_groups(conn)
    # The buyer posts; the two maize groups near Nakuru hear of it, the far one does not.
    reply = say(client, ORDER, BUYER)
    code = re.match(r"Order (\w{4}):", reply).group(1)
    assert reply == (f"Order {code}: 200 bags maize grade 1 @KES 3,400, by 20 Dec at Nakuru."
                     f" Sent to 2 group(s). We will update you as offers come. CLOSE {code} to"
                     f" end it.")
    relay = (f"Order {code} from Unga Millers: 200 bags maize grade 1 @KES 3,400, by 20 Dec"
             f" at Nakuru. FWD {code} sends it to your members.")
    assert inbox(conn, KIMA_LEADER) == [relay]
    assert inbox(conn, MARI_LEADER) == [relay]
    assert inbox(conn, PWANI_LEADER) == [] and inbox(conn, "0755000001") == []
    forwarded = (f"Order {code} from Unga Millers: 200 bags maize grade 1 @KES 3,400, by 20 Dec"
                 f" at Nakuru. To offer, send OFFER {code} and how many bags.")
    assert inbox(conn, MARI_A) == [forwarded]          # MARIGAT forwards by itself
    assert inbox(conn, KIMA_A) == []                   # KIMA waits for its leader

    # The KIMA leader forwards to the members (not to the leader again).
    assert say(client, f"FWD {code}", KIMA_LEADER) == f"Order {code} sent to 3 members of KIMA."
    assert inbox(conn, KIMA_A) == inbox(conn, KIMA_B) == [forwarded]
    assert say(client, f"fwd {code.lower()}", KIMA_LEADER) == (
        f"Order {code} was already sent to KIMA members.")
    assert len(inbox(conn, KIMA_A)) == 1

    # Members pledge, change and withdraw; totals are right at each step.
    assert say(client, f"OFFER {code} 50", KIMA_A) == (
        f"Your offer: 50 bags for order {code}. KIMA has 50; all groups 50 of 200 bags.")
    assert say(client, f"OFFER {code} 30", KIMA_B).endswith("KIMA has 80; all groups 80 of 200 bags.")
    assert say(client, f"OFFER {code} 60", KIMA_A).endswith("KIMA has 90; all groups 90 of 200 bags.")
    assert say(client, f"OFFER {code} 20", KIMA_C).endswith("all groups 110 of 200 bags.")
    assert say(client, f"OFFER {code} 0", KIMA_C) == (
        f"Your offer for order {code} is withdrawn. All groups now have 90 of 200 bags.")
    order = orders_db.by_code(conn, code)
    assert orders_db.total(conn, order.id) == 90
    kept = orders_db.group_totals(conn, order.id)
    assert kept == {groups_db.by_code(conn, "KIMA").id: 90, groups_db.by_code(conn, "MARIGAT").id: 0}
    assert orders_db.recount(conn, order.id) == (90, {groups_db.by_code(conn, "KIMA").id: 90})

    # Updates are batched: one per tick for the buyer and each leader whose group moved.
    before = last_id(conn)
    order_tick(client.application.extensions["smsgw"].config, now=_now(client))
    assert inbox(conn, BUYER, before) == [
        f"Order {code}: 90 of 200 bags offered so far, by 1 group(s)."]
    assert inbox(conn, KIMA_LEADER, before) == [
        f"Order {code}: KIMA has offered 90 bags; all groups 90 of 200."]
    assert inbox(conn, MARI_LEADER, before) == []      # nothing moved in MARIGAT
    before = last_id(conn)
    order_tick(client.application.extensions["smsgw"].config, now=_now(client))
    assert last_id(conn) == before                     # nothing new, nothing sent

    # MARIGAT fills the order: buyer and leaders hear at once.
    before = last_id(conn)
    assert say(client, f"OFFER {code} 110", MARI_A).endswith(
        "MARIGAT has 110; all groups 200 of 200 bags.")
    filled = f"Order {code} is filled: 200 of 200 bags offered."
    assert inbox(conn, BUYER, before) == [f"{filled} Send CLOSE {code} to close it."]
    assert inbox(conn, KIMA_LEADER, before) == [f"{filled} The buyer will be in touch."]
    assert inbox(conn, MARI_LEADER, before) == [f"{filled} The buyer will be in touch."]

    # The buyer closes; everyone involved gets a summary.
    before = last_id(conn)
    assert say(client, f"CLOSE {code}", BUYER) == (
        f"Order {code} closed: 200 of 200 bags. By group (leader numbers if shared): MARIGAT 110;"
        f" KIMA 90 (0711000001).")
    assert inbox(conn, KIMA_LEADER, before) == [
        (f"Order {code} closed. KIMA offered 90 bags from 2 member(s): 0711000002 60;"
         f" 0711000003 30.")]
    assert inbox(conn, KIMA_A, before) == [
        (f"Order {code} is closed. Your offer was 60 bags. Your group leader will tell you about"
         f" delivery.")]
    assert inbox(conn, KIMA_C, before) == []           # withdrew: nothing to summarise
    assert say(client, f"OFFER {code} 5", KIMA_B) == (
        f"Order {code} is closed; it takes no more offers.")

    actions = [row["action"] for row in groups_db.audit_rows(conn, order_id=order.id)]
    assert actions.count("pledge") == 6
    assert {"order", "relay", "forward", "filled", "closed"} <= set(actions)


def _now(client):
    return client.application.extensions["smsgw"].clock()


def test_a_pledge_delivered_twice_counts_once(client, conn):
    setup_groups(conn)
    code = post_order(client, conn)
    say(client, f"FWD {code}", KIMA_LEADER)
    first = say(client, f"OFFER {code} 40", KIMA_A, msg_id="same-sms")
    again = say(client, f"OFFER {code} 40", KIMA_A, msg_id="same-sms")   # provider retry
    assert first == again
    say(client, f"OFFER {code} 40", KIMA_A)            # the farmer sends it again himself
    order = orders_db.by_code(conn, code)
    assert orders_db.total(conn, order.id) == 40
    assert [p.quantity for p in orders_db.pledges(conn, order.id)] == [40]


def test_permission_refusals(client, conn):
    setup_groups(conn)
    assert say(client, ORDER, KIMA_A) == (
        "Only registered buyers can post orders. Ask the service to register you as a buyer.")
    code = post_order(client, conn)
    assert say(client, f"FWD {code}", KIMA_A).startswith("Only a group leader can do that.")
    assert say(client, "BCAST hello", KIMA_A).startswith("Only a group leader can do that.")
    assert say(client, f"FWD {code}", PWANI_LEADER) == f"Order {code} was not sent to your group."
    assert say(client, f"OFFER {code} 10", OUTSIDER) == (
        f"Order {code} is for members of the groups it was sent to.")
    assert say(client, f"OFFER {code} 10", PWANI_A) == (
        f"Order {code} is for members of the groups it was sent to.")
    assert say(client, f"CLOSE {code}", OTHER_BUYER) == (
        f"Only the buyer who posted order {code} can close it.")
    assert say(client, "OFFER ZZZZ 10", KIMA_A) == "There is no order ZZZZ. Check the order id."
    assert say(client, f"OFFER {code} many", KIMA_A) == (
        f"How many? Send OFFER {code} and a number, e.g. OFFER {code} 10.")
    assert orders_db.total(conn, orders_db.by_code(conn, code).id) == 0


@pytest.mark.parametrize("text, expected", [
    ("ORDER", "Send e.g. ORDER 200 BAGS MAIZE GRADE1 @3400 BY 2026-12-20 AT NAKURU"),
    ("ORDER 2OO BAGS MAIZE", "The quantity 2OO is not a number. Write it like 200 or 1,500."),
    ("ORDER BAGS MAIZE", ("The quantity is missing or not a number (BAGS). Start with it:"
                          " ORDER 200 BAGS MAIZE ...")),
    ("ORDER -5 BAGS MAIZE", "The quantity -5 is below zero. Write how many, e.g. 200."),
    ("ORDER 0 BAGS MAIZE", "The quantity must be more than 0."),
    ("ORDER 99999999999 BAGS MAIZE", "The quantity 99999999999 is too large: at most 10,000,000."),
    ("ORDER 0.001 BAGS MAIZE", "The quantity 0.001 is too small: the least is 0.1."),
    ("ORDER 200 BAGS MAIZE AT", "Write the market after AT, e.g. AT NAKURU, or leave AT out."),
    ("ORDER 200 BAGS @3400", "Which product? Put it after the quantity: ORDER 200 BAGS MAIZE ..."),
    ("ORDER 200 BAGS MAIZE @34O0", "The price @34O0 is not a number. Write it like @3400."),
    ("ORDER 200 BAGS MAIZE BY 31/02", ("The date 31/02 is not a date we can read. Write it like"
                                       " BY 2026-12-20 or BY 20/12.")),
    ("ORDER 200 BAGS MAIZE BY 2026-01-05", ("The date 2026-01-05 has passed. Give a later date"
                                            " after BY.")),
    ("ORDER 200 BAGS MAIZE GRADE", "GRADE needs a value, e.g. GRADE1 or GRADE A."),
    ("ORDER 200 BAGS MAIZE GRADE A NAKURU", ("We did not understand NAKURU. Put a place after AT,"
                                             " e.g. AT NAKURU.")),
    ("ORDER 200 BAGS MAIZE AT ATLANTIS", ("We do not know the place ATLANTIS. Use a market name"
                                          " after AT, or leave AT out.")),
])
def test_grammar_errors_name_the_part(client, conn, text, expected):
    setup_groups(conn)
    assert say(client, text, BUYER) == expected
    assert orders_db.listed(conn) == []


def test_forgiving_orders_in_other_words_and_languages(client, conn):
    setup_groups(conn)
    reply = say(client, "agizo 2,000kg mahindi kabla 20/12 sokoni nakru", BUYER)
    code = re.search(r"Agizo (\w{4}):", reply).group(1)
    order = orders_db.by_code(conn, code)
    assert (order.quantity, order.unit, order.product, str(order.deliver_by)) == (
        2000, "kg", "MAIZE", "2026-12-20")
    assert len(orders_db.relays(conn, order.id)) == 2
    crafts = say(client, "ORDER 500 BASKETS @250", BUYER)
    assert "Order" in crafts and "no group offers that near there yet: 500 baskets" in crafts


def test_orders_expire_at_their_date_with_summaries(client, conn, clock):
    setup_groups(conn)
    reply = say(client, "ORDER 100 BAGS MAIZE BY 2026-11-30 AT NAKURU", BUYER)
    code = re.match(r"Order (\w{4}):", reply).group(1)
    say(client, f"FWD {code}", KIMA_LEADER)
    say(client, f"OFFER {code} 25", KIMA_A)
    config = client.application.extensions["smsgw"].config
    assert order_tick(config, now=clock() + timedelta(days=6))[1] == 0    # 29 Nov: still open
    before = last_id(conn)
    assert order_tick(config, now=clock() + timedelta(days=8))[1] == 1    # 1 Dec: expired
    assert orders_db.by_code(conn, code).status == "expired"
    assert inbox(conn, BUYER, before) == [
        f"Order {code} expired: 25 of 100 bags. By group (leader numbers if shared):"
        f" KIMA 25 (0711000001)."]
    assert inbox(conn, KIMA_A, before)[0].startswith(f"Order {code} is expired. Your offer was 25")
    assert say(client, f"OFFER {code} 30", KIMA_B) == (
        f"Order {code} is closed; it takes no more offers.")


def test_stop_is_honoured_for_forwards_and_broadcasts(client, conn):
    setup_groups(conn)
    say(client, "STOP", KIMA_B)
    code = post_order(client, conn)
    assert say(client, f"FWD {code}", KIMA_LEADER) == f"Order {code} sent to 2 members of KIMA."
    assert inbox(conn, KIMA_B) == []


@pytest.fixture
def strict(config, clock, conn):
    """The app with confirmation above 2 SMS segments (a broadcast to KIMA's 3 members)."""
    values = dict(config) | {"limits.confirm_above_segments": 2}
    return create_app(load_config(None, environ={}, overrides=values), clock=clock).test_client()


def test_broadcast_above_the_threshold_waits_for_yes(strict, conn):
    setup_groups(conn)
    reply = say(strict, "BCAST Meeting Friday 10am at the store", KIMA_LEADER)
    assert reply == ("Your BCAST will send 3 SMS to others (3 SMS parts). Reply YES within 10"
                     " minutes to send it.")
    assert inbox(conn, KIMA_A) == []
    assert groups_db.count_actions(conn, "broadcast", actor_id=contacts.find(
        conn, e164(KIMA_LEADER)).id, since=db.timeutil.utcnow() - timedelta(days=9)) == 0
    assert say(strict, "YES", KIMA_LEADER) == "Sent to 3 members of KIMA."
    assert inbox(conn, KIMA_A) == ["KIMA: Meeting Friday 10am at the store"]
    assert inbox(conn, KIMA_LEADER) == []
    kinds = {row[0] for row in conn.execute(
        "SELECT kind FROM outbox WHERE text LIKE 'KIMA: Meeting%'")}
    assert kinds == {"broadcast"}                      # held in quiet hours by the worker
    # YES again: nothing waits, so it means what it always means.
    assert say(strict, "YES", KIMA_LEADER).startswith("You are already receiving our messages")
    assert len(inbox(conn, KIMA_A)) == 1


def test_small_broadcast_goes_at_once_and_expired_confirmation_does_not(strict, conn, clock):
    setup_groups(conn)
    assert say(strict, "BCAST Rain tomorrow, cover the maize", MARI_LEADER) == (
        "Sent to 1 members of MARIGAT.")
    assert inbox(conn, MARI_A) == ["MARIGAT: Rain tomorrow, cover the maize"]
    say(strict, "BCAST Late", KIMA_LEADER)
    clock.advance(11 * 60)
    assert say(strict, "YES", KIMA_LEADER).startswith("You are already receiving")
    assert inbox(conn, KIMA_A) == []


def test_join_with_approval_and_leave(client, conn):
    setup_groups(conn)
    with db.transaction(conn):
        groups_db.update(conn, groups_db.by_code(conn, "KIMA").id, approval=1)
    assert say(client, "JOIN kima", OUTSIDER) == (
        "Your request to join Kima Farmers (KIMA) is with its leaders, who see your number. We"
        " will tell you when it is approved.")
    assert inbox(conn, KIMA_LEADER) == [
        "0744000001 asks to join KIMA. Send APPROVE KIMA 0744000001 to accept."]
    assert say(client, "APPROVE KIMA 0744000001", KIMA_A).startswith("Only a group leader")
    assert say(client, "APPROVE KIMA 0744000001", KIMA_LEADER) == (
        "0744000001 is now a member of KIMA.")
    assert inbox(conn, OUTSIDER)[-1].startswith("You are now a member of Kima Farmers (KIMA).")
    assert say(client, "JOIN KIMA", OUTSIDER) == "You are already a member of Kima Farmers (KIMA)."
    assert say(client, "LEAVE KIMA", OUTSIDER) == "You have left Kima Farmers (KIMA)."
    assert say(client, "LEAVE KIMA", OUTSIDER) == "You are not a member of group KIMA."
    assert say(client, "JOIN NOPE", OUTSIDER) == (
        "There is no group NOPE. Check the code with your group leader.")
    assert say(client, "JIUNGE MARIGAT", OUTSIDER).startswith("Karibu Marigat Growers (MARIGAT).")


# ---------------------------------------------------------------------------- the CLI


def test_admin_cli_groups_buyers_orders(config, conn, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{config["database.path"]}"\n[logging]\n'
                    f'level = "WARNING"\n', encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, [*args, "--config", str(path)])
        assert result.exit_code == 0, result.output
        return result.output

    csv_file = tmp_path / "groups.csv"
    csv_file.write_text(
        "code,name,market,region,products,approval,auto_forward,leaders,members\n"
        "KIMA,Kima Farmers,Nakuru,,maize;beans,no,no,0711000001,0711000002;0711000003\n"
        "BAD,,Nakuru,,maize,no,no,,\n"
        "WEAVE,Weavers,Nairobi,,woven baskets,yes,yes,0766000001,not-a-phone\n",
        encoding="utf-8")
    result = runner.invoke(main, ["groups", "import", str(csv_file), "--config", str(path)])
    assert result.exit_code == 1
    assert "line 3: code and name are required" in result.output
    assert "line 4: members: 'not-a-phone' is not a phone number" in result.output
    assert "1 added, 0 updated, 2 rejected" in result.output
    assert "3 members" in run("groups", "list")   # the leader and two members
    assert "added group WEAVE" in run("groups", "add", "WEAVE", "Weavers", "--market", "Nairobi",
                                      "--products", "woven baskets", "--auto-forward")
    run("groups", "leader", "WEAVE", "0766000001")
    run("groups", "member", "WEAVE", "0766000002")
    assert "is a buyer: Craft Exports" in run("buyers", "add", "0700000009", "Craft Exports")
    posted = run("orders", "post", "--buyer", "0700000009", "300 WOVEN BASKETS @450 AT NAIROBI")
    code = re.search(r"order (\w{4}):", posted).group(1)
    assert "relayed to 1 group(s)" in posted
    assert inbox(conn, "0766000002")[-1].startswith(f"Order {code} from Craft Exports: 300 woven"
                                                    f" baskets @KES 450")
    assert code in run("orders", "list")
    assert "closed" in run("orders", "close", code)
    shown = run("orders", "show", code)
    assert "order" in shown and "relay" in shown and "forward" in shown and "closed" in shown
    bad = runner.invoke(main, ["groups", "add", "X1", "X", "--market", "Atlantis",
                               "--config", str(path)])
    assert bad.exit_code == 2 and "no market 'Atlantis'" in bad.output
    assert "0 order(s) updated, 0 expired" in run("orders", "tick")


@pytest.mark.parametrize("words, unit, expected", [
    (["1,000"], "bags", 1000.0), (["1", "000"], "bags", 1000.0), (["1.000"], "bags", 1000.0),
    (["12", "500"], "kg", 12500.0), (["1,000.5"], "kg", 1000.5), (["1.000,5"], "kg", 1000.5),
    (["1,5"], "bags", 1.5), (["1.5"], "bags", 1.5), (["2.25"], "bags", 2.3),   # half up
    (["2.25"], "tonnes", 2.25), (["2.5"], "pieces", 3.0), (["0.5"], "tonnes", 0.5),
])
def test_quantities_as_people_write_them(words, unit, expected):
    from handlers.order_grammar import read_quantity

    assert read_quantity(words, unit)[0] == expected


def test_a_currency_after_the_price_is_understood(client, conn):
    setup_groups(conn)
    reply = say(client, "ORDER 1 000 BAGS MAIZE @3,400 KES AT NAKURU", BUYER)
    assert "1,000 bags maize @KES 3,400" in reply, reply


@pytest.mark.parametrize("language, word, expected", [
    ("en", "BCAST", "Sent to 3 members of KIMA. They get it at 07:00, after quiet hours."),
    ("sw", "TANGAZA", "Wataupata saa 07:00, baada ya saa za utulivu."),
    ("fr", "DIFFUSER", "Ils le recoivent à 07:00, après les heures calmes."),
])
def test_a_send_that_waits_for_quiet_hours_says_when_it_goes(client, conn, clock, language,
                                                             word, expected):
    from datetime import UTC, datetime

    setup_groups(conn)
    with db.transaction(conn):
        contacts.set_language(conn, contacts.find(conn, e164(KIMA_LEADER)).id, language)
    clock.now = datetime(2026, 12, 1, 18, 20, tzinfo=UTC)        # 21:20 in Nairobi
    reply = say(client, f"{word} Meeting moved to Friday", KIMA_LEADER)
    assert reply.endswith(expected) and count(reply).segments == 1, reply
    clock.now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)          # 09:00: it goes at once
    assert "07:00" not in say(client, f"{word} Meeting moved again", KIMA_LEADER)


def test_an_offer_past_the_quantity_is_refused_and_a_correction_unfills_at_once(client, conn):
    setup_groups(conn)
    code = re.match(r"Order (\w{4}):", say(client, ORDER, BUYER)).group(1)
    say(client, f"FWD {code}", KIMA_LEADER)
    # 1,000 on a 200-bag order: refused, naming what remains; nothing recorded.
    assert say(client, f"OFFER {code} 1,000", KIMA_A) == (
        f"Order {code} needs only 200 bags more. Send OFFER {code} 200 or less.")
    assert say(client, f"OFFER {code} 1 000", KIMA_A).startswith(f"Order {code} needs only 200")
    assert say(client, f"OFFER {code} -5", KIMA_A) == (
        "The quantity -5 is below zero. Write how many, e.g. 200.")
    assert say(client, f"OFFER {code} 0.001", KIMA_A) == (
        "The quantity 0.001 is too small: the least is 0.1.")
    order = orders_db.by_code(conn, code)
    assert orders_db.total(conn, order.id) == 0
    say(client, f"OFFER {code} 150", KIMA_A)
    assert say(client, f"OFFER {code} 60", KIMA_B) == (
        f"Order {code} needs only 50 bags more. Send OFFER {code} 50 or less.")
    before = last_id(conn)
    say(client, f"OFFER {code} 50", KIMA_B)                     # filled: told at once
    assert inbox(conn, BUYER, before)[0].startswith(f"Order {code} is filled: 200 of 200")
    assert say(client, f"OFFER {code} 5", KIMA_C) == (
        f"Order {code} is already filled (200 bags). You can still lower your offer.")
    # A correction takes it below the quantity: the buyer and leaders hear at once too.
    before = last_id(conn)
    assert say(client, f"OFFER {code} 20", KIMA_B).startswith("Your offer: 20 bags")
    unfilled = f"Order {code} is no longer filled: an offer was lowered. Now 170 of 200 bags."
    assert inbox(conn, BUYER, before) == [unfilled]
    assert inbox(conn, KIMA_LEADER, before) == [unfilled]
    # Raising it again within what remains fills it again.
    before = last_id(conn)
    say(client, f"OFFER {code} 50", KIMA_B)
    assert inbox(conn, BUYER, before)[0].startswith(f"Order {code} is filled")


def test_the_unit_words_replies_use_read_back_as_the_same_unit():
    """A reply says 'magunia' or 'cageots': copied into an ORDER or SELL it is that unit."""
    from datetime import date

    import tomllib
    from pathlib import Path

    from handlers.order_grammar import UNITS, parse

    for language in ("sw", "fr"):
        root = Path(__file__).resolve().parent.parent
        table = tomllib.loads((root / "handlers" / "locale" / f"words_{language}.toml")
                              .read_text(encoding="utf-8"))
        for unit, word in table["words"].items():
            if unit in set(UNITS.values()):
                request = parse(f"20 {word} MAHINDI", date(2026, 12, 1), currency="KES",
                                default_days=14)
                assert (request.unit, request.product) == (unit, "MAHINDI"), (language, word)
