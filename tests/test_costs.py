"""One SMS cannot run up the bill (issue 12): whatever a command queues for other people is
confirmed with YES above a number of segments, counted against an hourly quota, and
broadcasts and orders have their own limits. Numbers are shown only where announced."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from support import make_config
from test_orders import (
    BUYER,
    KIMA_A,
    KIMA_LEADER,
    MARI_A,
    MARI_LEADER,
    OUTSIDER,
    e164,
    inbox,
    say,
    setup_groups,
)

import db
from db import contacts
from db import groups as groups_db
from smsgw.app import create_app
from smsgw.cli import main

ORDER = "ORDER 200 BAGS MAIZE @3400 AT NAKURU"


@pytest.fixture
def db_file(kenya_db, tmp_path):
    import shutil

    shutil.copy(kenya_db, tmp_path / "test.db")
    return tmp_path


def app_with(tmp_path, clock, **settings):
    config = make_config(tmp_path, **settings)
    return config, create_app(config, clock=clock).test_client()


@pytest.fixture
def conn(db_file):
    connection = db.connect(db_file / "test.db")
    yield connection
    connection.close()


def outbox_count(conn) -> int:
    return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def test_an_order_relayed_beyond_the_threshold_waits_for_yes_with_its_cost(db_file, conn,
                                                                          clock):
    _, client = app_with(db_file, clock, **{"limits.confirm_above_segments": 2,
                                            "bulletins.cost_per_segment": 1.5})
    setup_groups(conn)
    before = outbox_count(conn)
    reply = say(client, ORDER, BUYER)
    assert reply.startswith("Your ORDER will send ") and "about KES " in reply
    assert "Reply YES within 10 minutes" in reply
    # Nothing was posted or queued for anyone: the order does not exist yet.
    assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    assert outbox_count(conn) == before + 1                      # the question itself
    confirmed = say(client, "YES", BUYER)
    assert confirmed.startswith("Order ") and "Sent to 2 group(s)" in confirmed
    assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1
    assert inbox(conn, KIMA_LEADER)[0].startswith("Order ")
    caused = conn.execute("SELECT COUNT(*) FROM outbox WHERE caused_by IS NOT NULL").fetchone()[0]
    assert caused >= 3


def test_one_request_waits_per_sender_and_yes_answers_the_newest(db_file, conn, clock):
    _, client = app_with(db_file, clock, **{"limits.confirm_above_segments": 2})
    setup_groups(conn)
    assert say(client, "BCAST First message", KIMA_LEADER).startswith("Your BCAST will send 3")
    second = say(client, "BCAST Second message", KIMA_LEADER)
    assert second.endswith("Your earlier request is cancelled.")
    assert say(client, "YES", KIMA_LEADER) == "Sent to 3 members of KIMA."
    assert inbox(conn, KIMA_A) == ["KIMA: Second message"]


def test_a_yes_after_the_group_grew_past_the_allowance_asks_again(db_file, conn, clock):
    _, client = app_with(db_file, clock, **{"limits.confirm_above_segments": 2})
    setup_groups(conn)
    say(client, "BCAST Market day moved", KIMA_LEADER)
    with db.transaction(conn):
        group = groups_db.by_code(conn, "KIMA")
        for n in range(5):
            person = contacts.get_or_create(conn, f"+25470155500{n}")
            groups_db.set_member(conn, group.id, person.id)
    again = say(client, "YES", KIMA_LEADER)
    assert again.startswith("Your BCAST will send 8 SMS")
    assert "cancelled" not in again
    assert inbox(conn, KIMA_A) == []
    assert say(client, "YES", KIMA_LEADER) == "Sent to 8 members of KIMA."


def test_the_hourly_quota_refuses_even_what_would_be_confirmed(db_file, conn, clock):
    _, client = app_with(db_file, clock, **{"limits.caused_segments_per_hour": 5,
                                            "limits.broadcasts_per_hour": 10})
    setup_groups(conn)
    assert say(client, "BCAST One", KIMA_LEADER) == "Sent to 3 members of KIMA."
    refused = say(client, "BCAST Two", KIMA_LEADER)
    assert refused.startswith("Not sent: it needs 3 SMS parts and you have 2 of 5 left")
    assert inbox(conn, KIMA_A) == ["KIMA: One"]
    clock.advance(3601)
    assert say(client, "BCAST Two", KIMA_LEADER) == "Sent to 3 members of KIMA."


def test_a_long_broadcast_is_refused_with_the_limit(db_file, conn, clock):
    _, client = app_with(db_file, clock)
    setup_groups(conn)
    reply = say(client, "BCAST " + "x" * 1585, KIMA_LEADER)
    assert reply.startswith("Not sent: a broadcast can have at most 306 characters and yours"
                            " has 1585.")
    assert inbox(conn, KIMA_A) == []


def test_broadcasts_per_hour_and_orders_per_day(db_file, conn, clock):
    _, client = app_with(db_file, clock, **{"limits.broadcasts_per_hour": 2,
                                            "limits.orders_per_day": 1})
    setup_groups(conn)
    for n in range(2):
        assert say(client, f"BCAST News {n}", MARI_LEADER).startswith("Sent to 1 members")
    assert say(client, "BCAST News 3", MARI_LEADER) == (
        "Not sent: at most 2 broadcasts an hour. Try again later.")
    assert say(client, ORDER, BUYER).startswith("Order ")
    assert say(client, ORDER, BUYER) == "Not posted: at most 1 orders a day. Try again tomorrow."


def test_every_inbound_message_stays_under_the_cost_bound_unless_confirmed(db_file, conn,
                                                                         clock):
    """The cost bound: no message causes more than the threshold without a YES."""
    bound = 4
    _, client = app_with(db_file, clock, **{"limits.confirm_above_segments": bound})
    setup_groups(conn)
    with db.transaction(conn):
        group = groups_db.by_code(conn, "KIMA")
        for n in range(30):
            groups_db.set_member(conn, group.id,
                                 contacts.get_or_create(conn, f"+2547016660{n:02d}").id)
    script = [(BUYER, ORDER), (KIMA_LEADER, "FWD {code}"), (KIMA_LEADER, "BCAST Hello all"),
              (KIMA_A, "OFFER {code} 150"), (OUTSIDER, "JOIN KIMA"), (BUYER, "CLOSE {code}")]
    code = ""
    for sender, text in script:
        before = conn.execute("SELECT IFNULL(MAX(id), 0) FROM outbox").fetchone()[0]
        reply = say(client, text.format(code=code), sender)
        code = code or conn.execute("SELECT IFNULL(MAX(code), '') FROM orders").fetchone()[0]
        caused = conn.execute("SELECT IFNULL(SUM(segments), 0) FROM outbox WHERE id > ?"
                              " AND inbound_id IS NULL", (before,)).fetchone()[0]
        assert caused <= bound, (text, reply, caused)


# ---------------------------------------------------------------------------- consent


def test_admin_made_leaders_and_members_are_told_who_sees_their_number(db_file, conn, clock):
    config, _ = app_with(db_file, clock)
    setup_groups(conn)
    env = {"SMSGW_DATABASE_PATH": config["database.path"]}
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["groups", "leader", "KIMA", "0766000001"]).exit_code == 0
    assert inbox(conn, "0766000001") == [
        "You are a leader of Kima Farmers (KIMA). You see members' numbers. When an order your"
        " group offered to closes, its buyer gets your number."]
    assert runner.invoke(main, ["groups", "member", "PWANI", "0766000002"]).exit_code == 0
    assert inbox(conn, "0766000002") == [
        "You are now a member of Pwani Coop (PWANI). Its leaders see your number. Buyers' orders"
        " reach you here."]
    # Made a member again: nothing new to tell.
    assert runner.invoke(main, ["groups", "member", "PWANI", "0766000002"]).exit_code == 0
    assert len(inbox(conn, "0766000002")) == 1


def test_a_group_that_does_not_share_keeps_its_leaders_numbers_from_buyers(db_file, conn,
                                                                          clock):
    _, client = app_with(db_file, clock)
    setup_groups(conn)  # KIMA shares its leaders' numbers, MARIGAT does not
    code = say(client, ORDER, BUYER).split()[1]
    say(client, f"FWD {code}", KIMA_LEADER)
    say(client, f"OFFER {code} 20", KIMA_A)
    say(client, f"OFFER {code} 30", MARI_A)
    summary = say(client, f"CLOSE {code}", BUYER)
    assert "MARIGAT 30" in summary and "KIMA 20 (0711000001)" in summary
    assert "0722000001" not in summary                   # MARIGAT's leader, not shared
    assert e164(MARI_LEADER)[4:] not in summary
