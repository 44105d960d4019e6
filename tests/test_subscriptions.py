"""SUB, UNSUB, MY, and STOP/START with subscriptions: transcripts over the Kenya data."""

from __future__ import annotations

import shutil

import pytest
from support import make_config, post_local
from test_price_commands import say

import db
from db import subscriptions
from smsgw.app import create_app

PHONE = "+254712345678"


@pytest.fixture
def app(kenya_db, tmp_path, clock):
    shutil.copy(kenya_db, tmp_path / "test.db")
    return create_app(make_config(tmp_path), clock=clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def conn(tmp_path, app):
    connection = db.connect(tmp_path / "test.db")
    yield connection
    connection.close()


def followed(conn, phone: str = PHONE) -> list[tuple[str, str | None]]:
    contact = conn.execute("SELECT id FROM contacts WHERE phone = ?", (phone,)).fetchone()
    return [(s.commodity, s.market) for s in subscriptions.for_contact(conn, contact[0])]


def test_english_transcript(client, conn):
    # > SUB MAIZE NAKURU   (the default schedule is Mondays 07:00 Nairobi; the clock is
    #                       Monday 23 Nov 2026 12:00 Nairobi, so the next is 30 Nov)
    assert say(client, "SUB MAIZE NAKURU") == (
        "You now follow Maize at Nakuru. Next bulletin 30 Nov. Send MY for your list,"
        " UNSUB MAIZE to stop.")
    assert say(client, "sub beans") == (
        "You now follow Beans, best markets. Next bulletin 30 Nov. Send MY for your list,"
        " UNSUB BEANS to stop.")
    assert say(client, "SUB MAIZE NAKURU") == (
        "You already follow Maize at Nakuru. Send MY for your list.")
    assert say(client, "MY") == (
        "You follow: Maize at Nakuru, Beans, best markets. Send UNSUB and a product to stop one.")
    assert followed(conn) == [("MAIZE", "Nakuru"), ("BEANS", None)]
    assert say(client, "UNSUB BEANS") == "You no longer follow Beans. Send MY for what is left."
    assert say(client, "UNSUB RICE") == "You do not follow Rice. Send MY for your list."
    assert say(client, "UNSUB ALL") == (
        "You follow nothing now and get no more bulletins. Send SUB and a product to start again.")
    assert followed(conn) == []
    assert say(client, "MY").startswith("You follow nothing yet.")


def test_swahili_transcript_with_a_typo_and_the_local_names(client, conn):
    assert say(client, "FUATA MAHINDI NAKRU") == (
        "Sasa unafuata Mahindi soko la Nakuru. Taarifa ijayo 30 Nov. Tuma ZANGU kwa orodha"
        " yako, ONDOA MAHINDI kusitisha.")
    assert say(client, "ZANGU") == (
        "Unafuata: Mahindi soko la Nakuru. Tuma ONDOA na bidhaa kusitisha moja.")
    assert followed(conn) == [("MAIZE", "Nakuru")]    # stored by meaning, not by the word
    assert say(client, "ONDOA MAHINDI") == (
        "Hufuati tena Mahindi. Tuma ZANGU kuona zilizobaki.")
    assert say(client, "ONDOA ZOTE").startswith("Hufuati chochote sasa")


def test_french_transcript(client, conn):
    assert say(client, "SUIVRE MAIS MOMBASA") == (
        "Vous suivez Mais à Mombasa. Prochain bulletin le 30 nov. Envoyez MES pour votre"
        " liste, RETIRER MAIS pour arreter.")
    assert say(client, "MES") == (
        "Vous suivez: Mais à Mombasa. Envoyez RETIRER et un produit pour en arreter un.")
    assert say(client, "RETIRER TOUT").startswith("Vous ne suivez plus rien")


def test_sub_without_market_follows_the_registered_market(client, conn):
    say(client, "REG KISUMU")
    assert say(client, "SUB BEANS").startswith("You now follow Beans at your market.")
    assert followed(conn) == [("BEANS", None)]


def test_sub_asks_back_on_ambiguous_and_unknown_names(client, conn):
    assert say(client, "SUB").startswith("Send SUB and a product")
    assert say(client, "SUB XYZZY").startswith("We have no prices for that product. Try:")
    assert say(client, "SUB MAIZE ATLANTIS").startswith("We do not know that market.")
    assert say(client, "SUB MAIZE ATLANTIS").endswith("or SUB MAIZE alone.")
    assert followed(conn) == []


def test_subscriptions_are_capped(client, conn):
    for market in ("NAKURU", "KISUMU", "MOMBASA", "ELDORET", "NAIROBI"):
        assert say(client, f"SUB MAIZE {market}").startswith("You now follow")
    assert say(client, "SUB BEANS") == (
        "You already follow 5 products, the most one bulletin holds. Send UNSUB and one of them"
        " first.")
    reply = say(client, "MY")
    assert reply.startswith("You follow: Maize at Nakuru, Maize at Kisumu")
    assert len(followed(conn)) == 5


def test_unsub_one_market_keeps_the_others(client, conn):
    say(client, "SUB MAIZE NAKURU")
    say(client, "SUB MAIZE KISUMU")
    assert say(client, "UNSUB MAIZE KISUMU").startswith("You no longer follow Maize")
    assert followed(conn) == [("MAIZE", "Nakuru")]


def test_stop_keeps_subscriptions_and_start_restores_them(client, conn):
    say(client, "SUB MAIZE NAKURU")
    say(client, "SUB BEANS")
    assert say(client, "STOP").startswith("You will get no more messages")
    assert len(followed(conn)) == 2     # kept, but nothing is sent (see test_bulletins)
    # STOP wins: while opted out, a SUB gets no answer at all.
    response = post_local(client, "SUB RICE", msg_id="while-stopped")
    assert response.get_json()["replies"] == []
    assert say(client, "START") == (
        "Welcome back. You will receive our messages again, and your 3 bulletin subscription(s)"
        " are back on.")


def test_unsubscribe_alone_is_still_stop(client, conn):
    say(client, "SUB MAIZE NAKURU")
    assert say(client, "UNSUBSCRIBE").startswith("You will get no more messages")


# The next bulletin's date reaches SUB through the Context its gateway builds, asked with each
# message's time: nothing is set at start-up, so the date moves on as the weeks go by and
# two apps with different schedules in one process each keep their own.


def test_the_next_bulletin_date_moves_on_with_the_clock(client, clock):
    assert "Next bulletin 30 Nov." in say(client, "SUB MAIZE NAKURU")   # Mon 23 Nov, 12:00
    clock.advance(7 * 24 * 3600)                                          # Mon 30 Nov, 12:00
    say(client, "UNSUB MAIZE")
    assert "Next bulletin 7 Dec." in say(client, "SUB MAIZE NAKURU")
    clock.advance(6 * 24 * 3600 + 18 * 3600)                              # Mon 7 Dec, 06:00
    say(client, "UNSUB MAIZE")
    assert "Next bulletin 7 Dec." in say(client, "SUB MAIZE NAKURU")     # 07:00 is still ahead


def test_each_app_keeps_its_own_schedule(app, client, clock, tmp_path):
    cron_only = create_app(make_config(tmp_path, **{"bulletins.prices_schedule": ""}),
                           clock=clock).test_client()
    assert say(cron_only, "SUB MAIZE NAKURU", sender="0711000001") == (
        "You now follow Maize at Nakuru. Send MY for your list, UNSUB MAIZE to stop.")
    fridays = create_app(make_config(tmp_path, **{"bulletins.prices_schedule": "0 7 * * fri"}),
                         clock=clock).test_client()
    assert "Next bulletin 27 Nov." in say(fridays, "SUB MAIZE NAKURU", sender="0711000002")
    # The first app, built before both, still answers with its own Monday schedule.
    assert "Next bulletin 30 Nov." in say(client, "SUB MAIZE NAKURU", sender="0711000003")
