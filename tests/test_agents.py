"""Market agents report prices by SMS (RPT): transcripts through the real gateway over the
WFP Kenya data, the review queue and withdrawals through the CLI, and every grammar error."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner
from support import kenya_config, post_at, post_local

import db
from db import contacts
from db import reviews as reviews_db
from handlers import keywords
from handlers.messages import Context
from handlers.registry import build_router
from handlers.reports import RPT_WORDS, report
from handlers.report_grammar import CURRENCY_WORDS, PRICE_TYPES
from handlers.segments import count
from smsgw.cli import main

_ids = itertools.count()
AGENT, ELDORET_AGENT, SLOW_AGENT, FARMER = "0711000001", "0711000002", "0711000003", "0722000001"
WFP_NAKURU_MAIZE = "35.88"   # Nakuru, Maize, KG, wholesale, 2022-04-15: the file's last


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path)


@pytest.fixture
def admin(config, tmp_path):
    """`smsgw ARGS...` against the test's database; returns the result."""
    path = tmp_path / "cli.toml"
    path.write_text(f'[database]\npath = "{config["database.path"]}"\n'
                    '[logging]\nlevel = "WARNING"\n', encoding="utf-8")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, [*args, "--config", str(path)])

    return run


@pytest.fixture
def agents(admin):
    """AGENT covers Nakuru and Eldoret and is trusted; ELDORET_AGENT covers Eldoret only;
    SLOW_AGENT covers Nakuru and needs approval."""
    for phone, markets, auto in ((AGENT, "NAKURU,ELDORET", True),
                                 (ELDORET_AGENT, "Eldoret", True),
                                 (SLOW_AGENT, "nakuru", False)):
        result = admin("agents", "add", phone, "--markets", markets,
                       "--auto-approve" if auto else "--no-auto-approve", "--by", "amina")
        assert result.exit_code == 0, result.output


def say(client, text: str, sender: str, msg_id: str | None = None) -> str:
    """One SMS in, its one reply out: GSM-7 and one segment, as every reply here must be."""
    response = post_local(client, text, msg_id=msg_id or f"a{next(_ids)}", sender=sender)
    assert response.status_code == 200
    replies = [r["text"] for r in response.get_json()["replies"]]
    assert len(replies) == 1, replies
    info = count(replies[0])
    assert (info.encoding, info.segments) == ("GSM-7", 1), (info, replies[0])
    return replies[0]


def reviews(conn) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT * FROM price_reviews ORDER BY id")]


def nakuru_maize(conn) -> tuple[str, float, str]:
    """The newest Nakuru maize (KG, wholesale) observation: date, price, source."""
    return tuple(conn.execute(
        "SELECT p.date, p.price, p.source FROM prices p JOIN markets m ON m.id = p.market_id"
        " JOIN commodities c ON c.id = p.commodity_id WHERE m.name = 'Nakuru'"
        " AND c.name = 'Maize' AND p.unit = 'KG' AND p.price_type = 'wholesale'"
        " ORDER BY p.date DESC LIMIT 1").fetchone())


# ---------------------------------------------------------------------------- the story


def test_an_agent_reports_and_a_farmer_gets_the_price_with_its_source(client, conn, agents,
                                                                     config):
    assert say(client, "RPT MAIZE NAKURU 3400 90KG", AGENT) == (
        "Thanks, prices of 23 Nov: Maize Nakuru wholesale KES 37.78/kg (3,400/90kg):"
        " published.")
    assert nakuru_maize(conn) == ("2026-11-23", 37.7778, "Market agent report")
    reply = say(client, "PRICE MAIZE NAKURU", FARMER)
    assert reply == "Maize, Nakuru, 23 Nov: wholesale KES 37.78/kg (agent) (up 1.90 since Apr 2022)."
    assert "Old price" not in reply
    # The same price in the farmer's language, in the USSD menu and in the bulletin.
    assert say(client, "BEI MAHINDI NAKURU", "0722000002").startswith(
        "Mahindi, Nakuru, 23 Nov: jumla KES 37.78/kg (wakala)")
    assert "KES 37.78/kg (agent)" in ussd(client, "1*MAIZE*NAKURU")
    from smsgw import bulletins
    from db import subscriptions

    with db.transaction(conn):
        farmer = contacts.get_or_create(conn, "+254722000003")
        nakuru = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]
        subscriptions.add(conn, farmer.id, "MAIZE", nakuru)
    bulletins.price_bulletin(conn, config, now=datetime.fromisoformat("2026-11-23T12:00:00+00:00"))
    text = conn.execute("SELECT text FROM outbox WHERE to_number = '+254722000003'"
                        ).fetchone()[0]
    assert text.startswith("Prices 23 Nov: Maize Nakuru KES 37.78/kg")
    # Audited: who reported what, and that it was published at once.
    row = conn.execute("SELECT actor_id, detail FROM audit WHERE action = 'price_report'"
                       ).fetchone()
    assert row["actor_id"] == contacts.find(conn, "+254711000001").id
    assert json.loads(row["detail"])["status"] == "published"


def ussd(client, text: str) -> str:
    response = post_at(client, "/webhooks/africastalking/ussd",
                       {"sessionId": f"s{next(_ids)}", "serviceCode": "*384*1234#",
                        "phoneNumber": "+254722000009", "networkCode": "63902", "text": text})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_an_outlier_is_held_then_approved_through_the_cli(client, conn, agents, admin):
    reply = say(client, "RPT MAIZE NAKURU 340000 90KG", AGENT)
    assert reply == ("Thanks, prices of 23 Nov: Maize Nakuru wholesale KES 3,778/kg"
                     " (340,000/90kg): waits for review (far from recent prices).")
    assert nakuru_maize(conn)[2] == "WFP via HDX"            # not served while it waits
    assert say(client, "PRICE MAIZE NAKURU", FARMER).startswith(
        f"Maize, Nakuru, 15 Apr 2022: wholesale KES {WFP_NAKURU_MAIZE}/kg")
    listed = admin("prices", "review")
    assert listed.exit_code == 0
    [held] = [r for r in reviews(conn) if r["origin"] == "agent"]
    assert f"{held['id']}  agent   Maize, Nakuru, 2026-11-23: wholesale KES 3,777.78/KG" \
        in listed.stdout
    assert "outlier (median" in listed.stdout and "+254******001" in listed.stdout
    assert "reported 340000/90 KG" in listed.stdout
    accepted = admin("prices", "accept", str(held["id"]), "--by", "amina")
    assert accepted.exit_code == 0, accepted.output
    assert say(client, "PRICE MAIZE NAKURU", FARMER).startswith(
        "Maize, Nakuru, 23 Nov: wholesale KES 3,778/kg (agent)")
    decided = reviews_db.get(conn, held["id"])
    assert (decided.status, decided.decided_by) == ("published", "amina")
    actions = [r[0] for r in conn.execute("SELECT action FROM audit WHERE action LIKE 'price%'"
                                          " ORDER BY id")]
    assert actions == ["price_report", "price_accepted"]


def test_a_report_for_a_market_not_assigned_is_held(client, conn, agents):
    reply = say(client, "RPT MAIZE NAKURU 3400 90KG", ELDORET_AGENT)
    assert reply.endswith("waits for review (not your market).")
    assert nakuru_maize(conn)[2] == "WFP via HDX"
    assert [(r["status"], r["reason"]) for r in reviews(conn) if r["origin"] == "agent"] == [
        ("pending", "unassigned")]


def test_an_agent_without_auto_approval_waits_and_a_rejected_report_never_shows(
        client, conn, agents, admin):
    assert say(client, "RPT MAIZE NAKURU 3400 90KG", SLOW_AGENT).endswith(
        "waits for review (approval).")
    [waiting] = [r for r in reviews(conn) if r["origin"] == "agent"]
    assert admin("prices", "reject", str(waiting["id"]), "--note", "too early").exit_code == 0
    assert nakuru_maize(conn)[2] == "WFP via HDX"
    assert admin("prices", "accept", str(waiting["id"])).exit_code == 1   # decided already


def test_someone_who_is_not_an_agent_is_refused(client, conn, agents):
    assert say(client, "RPT MAIZE NAKURU 3400 90KG", FARMER) == (
        "Only registered market agents can report prices. Ask the service to register you as"
        " an agent.")
    assert say(client, "RIPOTI MAHINDI NAKURU 3400", "0722000005").startswith(
        "Ni mawakala wa soko waliosajiliwa tu")
    assert [r for r in reviews(conn) if r["origin"] == "agent"] == []


def test_the_same_sms_twice_is_one_report(client, conn, agents):
    first = say(client, "RPT MAIZE NAKURU 3400 90KG", AGENT, msg_id="same-sms")
    again = say(client, "RPT MAIZE NAKURU 3400 90KG", AGENT, msg_id="same-sms")
    assert first == again
    assert len([r for r in reviews(conn) if r["origin"] == "agent"]) == 1
    # Handled twice below the gateway too (the key is the inbound message id).
    inbound_id = conn.execute("SELECT inbound_id FROM price_reviews WHERE origin = 'agent'"
                              ).fetchone()[0]
    agent = contacts.find(conn, "+254711000001")
    ctx = Context(conn, agent, "en", datetime.fromisoformat("2026-11-23T09:00:00+00:00"),
                  client.application.extensions["smsgw"].config, message_id=inbound_id)
    with db.transaction(conn):
        assert report(ctx, "MAIZE NAKURU 3400 90KG")[0].text == first
    assert len([r for r in reviews(conn) if r["origin"] == "agent"]) == 1


def test_an_admin_withdraws_a_published_report(client, conn, agents, admin):
    say(client, "RPT MAIZE NAKURU 3400 90KG", AGENT)
    [published] = [r for r in reviews(conn) if r["origin"] == "agent"]
    result = admin("prices", "withdraw", str(published["id"]), "--by", "amina")
    assert result.exit_code == 0 and f"{published['id']} withdrawn" in result.stdout
    assert nakuru_maize(conn) == ("2022-04-15", float(WFP_NAKURU_MAIZE), "WFP via HDX")
    assert say(client, "PRICE MAIZE NAKURU", FARMER).startswith(
        "Maize, Nakuru, 15 Apr 2022: wholesale KES 35.88/kg")
    listed = admin("prices", "review", "--all")
    assert "withdrawn by amina" in listed.stdout
    assert admin("prices", "withdraw", str(published["id"])).exit_code == 1
    detail = json.loads(conn.execute("SELECT detail FROM audit WHERE action ="
                                     " 'price_withdrawn'").fetchone()[0])
    assert detail["by"] == "amina" and detail["review"] == published["id"]


# ---------------------------------------------------------------------------- the grammar


def test_several_items_in_one_sms_in_swahili_and_french(client, conn, agents):
    reply = say(client, "RIPOTI MAHINDI NAKURU 3400 90KG; maharagwe nakuru 120 kg rejareja",
                AGENT)
    assert reply.startswith("Asante, bei za 23 Nov: Mahindi Nakuru jumla KES 37.78/kg")
    assert "rejareja KES 120/kg" in reply and reply.count("imechapishwa") == 2
    reply = say(client, "RELEVE MAIS ELDORET 3500 90 KG GROS", AGENT)
    assert re.match(r"Merci, prix du 23 nov\.: Mais Eldoret town \(Uasin Gishu\) gros"
                    r" KES 38[.,]89/kg \(3 500/90kg\): publié\.$", reply), reply
    # Items on separate lines are separate items too.
    assert say(client, "RPT MAIZE NAKURU 36 KG\nBEANS NAKURU 110", AGENT).count(
        "published") == 2


def test_units_are_kept_when_they_match_or_cannot_be_converted(client, conn, agents):
    # Maize (white) is priced per 90 KG bag at Nakuru: kept as it is.
    assert "Maize (white) Nakuru wholesale KES 3,400/90kg: published" in say(
        client, "RPT MAIZE WHITE NAKURU 3400 90KG", AGENT)
    # A bunch converts to no weight: kept as reported (and a new series is not checked).
    assert "KES 300/bunch: published" in say(client, "RPT MAIZE NAKURU 300 BUNCH", AGENT)
    # No unit: the unit the market's series uses.
    assert "Maize Nakuru wholesale KES 36/kg: published" in say(
        client, "RPT MAIZE NAKURU KSH 36", AGENT)


@pytest.mark.parametrize("text, expected", [
    ("RPT", "Send RPT, product, market, price and unit, e.g. RPT MAIZE NAKURU 3400 90KG."
            " Add RETAIL for a retail price. Several: separate them with ;"),
    ("RPT MAIZE NAKURU", "Not saved. The price is missing. Put it after the market, e.g. RPT"
                         " MAIZE NAKURU 3400 90KG"),
    ("RPT 3400 90KG", "Not saved. Put the product and market before the price, e.g. RPT MAIZE"
                      " NAKURU 3400 90KG"),
    ("RPT MAIZE NAKURU 34OO 90KG", "Not saved. The price 34OO is not a number above zero."
                                   " Write it like 3400."),
    ("RPT MAIZE NAKURU 0 KG", "Not saved. The price 0 is not a number above zero. Write it"
                              " like 3400."),
    ("RPT MAIZE NAKURU -5 KG", "Not saved. The price -5 is not a number above zero. Write it"
                               " like 3400."),
    ("RPT MAIZE NAKURU 3400 BASKETS", "Not saved. We do not know the unit BASKETS. Use e.g."
                                      " KG, 90KG, L, 500ML, BUNCH."),
    ("RPT MAIZE NAKURU 3400 KG RETAIL WHOLESALE", "Not saved. Say WHOLESALE or RETAIL, not"
                                                  " both."),
    ("RPT CHOCOLATE NAKURU 3400 KG", "Not saved. We do not know the product CHOCOLATE NAKURU."
                                     " Check its name, e.g. MAIZE, BEANS."),
    ("RPT MAIZE 3400 KG", "Not saved. Which market? Put it after the product: RPT MAIZE"
                          " NAKURU 3400."),
    ("RPT MAIZE ATLANTIS 3400 KG", "Not saved. We do not know the market ATLANTIS. Check its"
                                   " name."),
    ("RPT MAIZE TURKANA 3400 KG", "Not saved. Which market: "),
    ("RPT MAIZE NAKURU 3400 KG; BEANS NAKURU 120 FOO", "Not saved. Item 2: We do not know the"
                                                       " unit FOO. Use e.g. KG, 90KG, L,"
                                                       " 500ML, BUNCH."),
    ("RPT A 1;B 2;C 3;D 4;E 5;F 6", "Not saved: at most 5 prices in one SMS, yours has 6. Send"
                                    " the rest in another SMS."),
])
def test_each_mistake_is_named_and_nothing_is_saved(client, conn, agents, text, expected):
    reply = say(client, text, AGENT)
    assert reply.startswith(expected), reply
    assert [r for r in reviews(conn) if r["origin"] == "agent"] == []


@pytest.mark.parametrize("text, expected", [
    ("RIPOTI MAHINDI NAKURU 34OO", "Haijahifadhiwa. Bei 34OO si nambari iliyo juu ya sifuri."),
    ("RIPOTI MAHINDI NAKURU 3400 KG; MAHINDI 3400",
     "Haijahifadhiwa. Kipengele 2: Soko gani?"),
    ("RELEVE MAIS NAKURU 3400 PANIERS", "Non enregistré. Unité inconnue: PANIERS."),
    ("RELEVE MAIS NAKURU", "Non enregistré. Le prix manque."),
])
def test_mistakes_are_named_in_the_agents_language(client, conn, agents, text, expected):
    assert say(client, text, AGENT).startswith(expected)


def test_a_market_name_ending_in_a_number(client, conn, agents, admin):
    assert admin("agents", "add", AGENT, "--markets", "Kakuma 3", "--auto-approve").exit_code == 0
    assert "Salt Kakuma 3 retail KES 10/200g: published" in say(
        client, "RPT SALT KAKUMA 3 10 200G RETAIL", AGENT)


def test_the_keywords_clash_with_no_other_word():
    # (tests/test_keywords.py checks the whole table; here, RPT's words against it all)
    router = build_router()
    others = set().union(*(words for command in router.commands() if command.name != "rpt"
                           for words in command.keywords.values()))
    others |= keywords.all_words(keywords.OPT_OUT) | keywords.all_words(keywords.OPT_IN) \
        | keywords.all_words(keywords.HELP) | keywords.all_words(keywords.YES) \
        | set().union(*(keywords.all_words(table) for name, table in keywords.COMMANDS.items()
                        if name != "rpt"))
    ours = keywords.all_words(RPT_WORDS)
    assert ours and not ours & others, ours & others
    # The words inside a report cannot be taken for names or numbers either.
    assert not (set(PRICE_TYPES) | CURRENCY_WORDS) & (ours | others)
    assert {match.command.name for word in ours
            if (match := router.match(f"{word} MAIZE NAKURU 3400")) is not None} == {"rpt"}


# ---------------------------------------------------------------------------- the CLI


def test_agents_are_added_listed_masked_and_removed(admin, conn):
    added = admin("agents", "add", AGENT, "--markets", "NAKURU, eldoret town")
    assert added.exit_code == 0
    assert added.stdout == ("+254******001 is a market agent for Eldoret town (Uasin Gishu),"
                            " Nakuru; their reports wait for approval\n")
    listed = admin("agents", "list")
    assert listed.stdout.splitlines() == [
        "+254******001    approval     Eldoret town (Uasin Gishu), Nakuru", "1 agent(s)"]
    shown = admin("agents", "list", "--json", "--show-numbers")
    assert json.loads(shown.stdout) == [{"phone": "0711000001", "auto_approve": False,
                                         "markets": ["Eldoret town (Uasin Gishu)", "Nakuru"]}]
    assert admin("agents", "remove", AGENT).stdout == "+254******001 is no longer a market agent\n"
    assert admin("agents", "list").stdout == "0 agent(s)\n"


@pytest.mark.parametrize("markets, message", [
    ("NAKURU,ATLANTIS", "no market 'ATLANTIS'"),
    ("TURKANA", "'TURKANA' could be"),
    (",", "name at least one market"),
])
def test_an_unknown_market_is_named_and_nothing_is_saved(admin, conn, markets, message):
    result = admin("agents", "add", AGENT, "--markets", markets)
    assert result.exit_code == 2 and message in result.output
    assert conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0


def test_a_bad_phone_number_is_refused(admin):
    result = admin("agents", "add", "12", "--markets", "NAKURU")
    assert result.exit_code == 2 and "'12' is not a phone number" in result.output


def test_a_forgotten_agent_is_an_agent_no_more(client, conn, agents):
    from db import privacy

    person = contacts.find(conn, "+254711000001")
    with db.transaction(conn):
        privacy.forget_contact(conn, person.id, now=datetime.fromisoformat(
            "2026-11-23T09:00:00+00:00"))
    assert conn.execute("SELECT COUNT(*) FROM agents WHERE contact_id = ?",
                        (person.id,)).fetchone()[0] == 0
