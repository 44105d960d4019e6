"""The same webhook delivered 2 to 5 times, concurrently, for SMS, USSD, OFFER and STOP.

Providers retry a webhook whose answer they did not get in time, and some deliver one
message twice on their own, so copies of one request can arrive at the same moment, on
two server processes. Through the REAL server (`smsgw serve`: gunicorn, 2 workers x 4
threads, on 127.0.0.1), threads post the identical request at once (a barrier), over
connections spread across both workers. Whatever the interleaving: exactly one inbound
row, its effect applied once (one subscription, one pledge with the right quantity and
order total, one opt-out, one registered market), one set of replies, and every copy
answered 200 with the same replies (Twilio and local answer inline, Africa's Talking
answers OK and queues the replies once).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from support import (AT_KEY, AT_TOKEN, LOCAL_TOKEN, TWILIO_SID, TWILIO_TOKEN, twilio_inbound,
                      twilio_signature)
from fakes.real_server import RealServer

import db
from smsgw.cli import main

COPIES = [2, 3, 4, 5]
PROVIDERS = ["local", "twilio", "africastalking"]
QUANTITY = 7                      # bags each member offers
ORDER_BAGS = 500
MEMBERS = [f"07111{n:05d}" for n in range(1, 17)]   # one per OFFER round (3 x 4 = 12)
_numbers = itertools.count(1)
_ids = itertools.count(1)


def e164(local: str) -> str:
    return "+254" + local[1:]


def fresh_phone() -> str:
    return f"+25472{next(_numbers):07d}"


# ------------------------------------------------------------------------------ the server


class Setup:
    def __init__(self, server: RealServer, order_code: str) -> None:
        self.server = server
        self.order_code = order_code
        self.members = iter(MEMBERS)


@pytest.fixture(scope="module")
def setup(kenya_db, tmp_path_factory) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("duplicates")
    server = RealServer(directory, {
        "providers.twilio": {"enabled": True, "account_sid": TWILIO_SID,
                             "auth_token": TWILIO_TOKEN, "from_number": "+15005550006",
                             "allow_http": True},
        "providers.africastalking": {"enabled": True, "api_key": AT_KEY,
                                     "callback_token": AT_TOKEN},
        "providers.local": {"token": LOCAL_TOKEN},
    })
    shutil.copy(kenya_db, server.db_path)   # the Kenya prices: markets, maize at Nakuru

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, [*args, "--config", str(server.config_path)])
        assert result.exit_code == 0, result.output
        return result.output

    # A group at Nakuru selling maize, its members, a buyer and an open order relayed to it.
    cli("groups", "add", "KIMA", "Kima Farmers", "--market", "Nakuru", "--products", "maize")
    cli("groups", "leader", "KIMA", "0711000001")
    csv_file = directory / "members.csv"
    csv_file.write_text("code,name,market,region,products,approval,auto_forward,leaders,members\n"
                        f"KIMA,Kima Farmers,Nakuru,,maize,no,no,,{';'.join(MEMBERS)}\n",
                        encoding="utf-8")
    cli("groups", "import", str(csv_file))
    cli("buyers", "add", "0700000001", "Unga Millers")
    by = (date.today() + timedelta(days=30)).isoformat()
    posted = cli("orders", "post", "--buyer", "0700000001",
                 f"{ORDER_BAGS} BAGS MAIZE @3400 BY {by} AT NAKURU")
    code = re.search(r"order (\w{4}):", posted)
    assert code is not None and "relayed to 1 group(s)" in posted, posted
    try:
        server.start()
        yield Setup(server, code.group(1))
    finally:
        server.stop()


@pytest.fixture
def conn(setup: Setup) -> Iterator[sqlite3.Connection]:
    connection = db.connect(setup.server.db_path)
    yield connection
    connection.close()


# ------------------------------------------------------------------------------ requests


def sms_request(server: RealServer, provider: str, text: str, message_id: str,
                sender: str) -> tuple[str, bytes, dict[str, str]]:
    """The webhook a provider posts for one inbound SMS: path, body, headers."""
    if provider == "local":
        body = json.dumps({"from": sender, "to": "local", "text": text, "id": message_id})
        return "/webhooks/local/sms", body.encode(), {
            "Content-Type": "application/json", "Authorization": f"Bearer {LOCAL_TOKEN}"}
    if provider == "twilio":
        path = "/webhooks/twilio/sms"
        form = twilio_inbound(text, sid=message_id, sender=sender)
        return path, urlencode(form).encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(server.url + path, form)}
    form = {"from": sender, "to": "12345", "text": text, "id": message_id,
            "date": "2026-12-01 09:00:00", "linkId": "", "networkCode": "63902"}
    return f"/webhooks/africastalking/sms?token={AT_TOKEN}", urlencode(form).encode(), {
        "Content-Type": "application/x-www-form-urlencoded"}


def ussd_request(session: str, phone: str, text: str) -> tuple[str, bytes, dict[str, str]]:
    form = {"sessionId": session, "serviceCode": "*384*1234#", "phoneNumber": phone,
            "networkCode": "63902", "text": text}
    return f"/webhooks/africastalking/ussd?token={AT_TOKEN}", urlencode(form).encode(), {
        "Content-Type": "application/x-www-form-urlencoded"}


def post_at_once(server: RealServer, copies: int,
                 request: tuple[str, bytes, dict[str, str]]) -> list[tuple[int, bytes]]:
    """Post `copies` identical requests at the same moment, over connections held by both
    workers; every answer, in the order the threads were started."""
    path, body, headers = request
    conns = server.connections(copies)
    barrier = threading.Barrier(copies)
    answers: list[tuple[int, bytes] | BaseException | None] = [None] * copies

    def post(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            conns[n].request("POST", path, body=body, headers=headers)
            response = conns[n].getresponse()
            answers[n] = (response.status, response.read())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            answers[n] = exc

    threads = [threading.Thread(target=post, args=(n,)) for n in range(copies)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for c in conns:
            c.close()
    for answer in answers:
        assert isinstance(answer, tuple), f"a copy got no answer: {answer!r}"
    return answers  # type: ignore[return-value]


# ------------------------------------------------------------------------------ checks


def inbound_row(conn, provider: str, message_id: str) -> dict:
    rows = conn.execute("SELECT * FROM inbound WHERE provider = ? AND provider_message_id = ?",
                        (provider, message_id)).fetchall()
    assert len(rows) == 1, f"{len(rows)} inbound rows for {provider} {message_id}"
    return dict(rows[0])


def replies_of(conn, inbound_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(
        "SELECT * FROM outbox WHERE inbound_id = ? ORDER BY id", (inbound_id,))]


def twiml_texts(body: bytes) -> list[str]:
    root = ElementTree.fromstring(body)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


def check_answers(provider: str, answers: list[tuple[int, bytes]],
                  replies: list[dict]) -> None:
    """Every copy 200, all with the same replies: the stored ones."""
    statuses = [status for status, _ in answers]
    assert statuses == [200] * len(answers), [(s, b[:200]) for s, b in answers]
    texts = [r["text"] for r in replies]
    assert texts, "no reply stored"
    if provider == "local":
        bodies = [json.loads(body) for _, body in answers]
        assert sorted(b["duplicate"] for b in bodies) == [False] + [True] * (len(bodies) - 1)
        for answer in bodies:
            assert [(r["id"], r["text"]) for r in answer["replies"]] == [
                (r["id"], r["text"]) for r in replies]
        assert {r["status"] for r in replies} == {"replied"}
    elif provider == "twilio":
        assert len({body for _, body in answers}) == 1, "copies answered different TwiML"
        assert twiml_texts(answers[0][1]) == texts
        assert {r["status"] for r in replies} == {"replied"}
    else:
        assert {body for _, body in answers} == {b"OK"}
        assert {r["status"] for r in replies} == {"queued"}


def round_of(setup: Setup, conn, provider: str, copies: int, text: str,
             sender: str) -> tuple[dict, list[dict]]:
    message_id = f"dup-{provider}-{next(_ids)}"
    if provider == "twilio":
        message_id = f"SM{next(_ids):032x}"
    mark = conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
    answers = post_at_once(setup.server, copies,
                           sms_request(setup.server, provider, text, message_id, sender))
    row = inbound_row(conn, provider, message_id)
    replies = replies_of(conn, row["id"])
    check_answers(provider, answers, replies)
    assert row["outcome"] == "handled"
    sent_to_sender = conn.execute("SELECT COUNT(*) FROM outbox WHERE to_number = ? AND id > ?",
                                  (sender, mark)).fetchone()[0]
    assert sent_to_sender == len(replies), "the sender got more than one set of replies"
    return row, replies


def contact_id(conn, phone: str) -> int:
    return conn.execute("SELECT id FROM contacts WHERE phone = ?", (phone,)).fetchone()[0]


# ------------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("copies", COPIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_help_repeated_concurrently_is_answered_once(setup, conn, provider, copies):
    _, replies = round_of(setup, conn, provider, copies, "HELP", fresh_phone())
    assert len(replies) == 1 and "PRICE MAIZE NAKURU" in replies[0]["text"]


@pytest.mark.parametrize("copies", COPIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_sub_repeated_concurrently_subscribes_once(setup, conn, provider, copies):
    phone = fresh_phone()
    _, replies = round_of(setup, conn, provider, copies, "SUB MAIZE NAKURU", phone)
    assert len(replies) == 1 and replies[0]["text"].startswith("You now follow Maize at Nakuru")
    rows = conn.execute("SELECT s.commodity, m.name FROM subscriptions s JOIN markets m"
                        " ON m.id = s.market_id WHERE s.contact_id = ?",
                        (contact_id(conn, phone),)).fetchall()
    assert [tuple(r) for r in rows] == [("MAIZE", "Nakuru")]


@pytest.mark.parametrize("copies", COPIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_offer_repeated_concurrently_pledges_once(setup, conn, provider, copies):
    member = e164(next(setup.members))
    order_id, before = conn.execute("SELECT id, pledged FROM orders WHERE code = ?",
                                    (setup.order_code,)).fetchone()
    _, replies = round_of(setup, conn, provider, copies,
                          f"OFFER {setup.order_code} {QUANTITY}", member)
    assert len(replies) == 1, replies
    member_id = contact_id(conn, member)
    pledges = conn.execute("SELECT quantity FROM pledges WHERE order_id = ? AND contact_id = ?",
                           (order_id, member_id)).fetchall()
    assert [p[0] for p in pledges] == [QUANTITY]
    audit = conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'pledge' AND actor_id = ?",
                         (member_id,)).fetchone()[0]
    assert audit == 1, "the pledge was recorded more than once"
    pledged, total = conn.execute(
        "SELECT pledged, (SELECT SUM(quantity) FROM pledges WHERE order_id = orders.id)"
        " FROM orders WHERE id = ?", (order_id,)).fetchone()
    assert pledged == total == before + QUANTITY
    assert f"all groups {pledged:g} of {ORDER_BAGS} bags" in replies[0]["text"], replies


@pytest.mark.parametrize("copies", COPIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stop_repeated_concurrently_opts_out_once(setup, conn, provider, copies):
    phone = fresh_phone()
    _, replies = round_of(setup, conn, provider, copies, "STOP", phone)
    assert [r["kind"] for r in replies] == ["optout_confirmation"]
    opted_out, source = conn.execute("SELECT opted_out, opt_out_source FROM contacts"
                                     " WHERE phone = ?", (phone,)).fetchone()
    assert opted_out == 1 and source == "keyword"
    confirmations = conn.execute("SELECT COUNT(*) FROM outbox WHERE to_number = ?"
                                 " AND kind = 'optout_confirmation'", (phone,)).fetchone()[0]
    assert confirmations == 1


@pytest.mark.parametrize("copies", COPIES)
def test_ussd_hops_repeated_concurrently_register_a_market_once(setup, conn, copies):
    server, phone = setup.server, fresh_phone()
    session = f"ATUid_dup{next(_ids):024x}"

    def hop(text: str) -> bytes:
        answers = post_at_once(server, copies, ussd_request(session, phone, text))
        assert [status for status, _ in answers] == [200] * copies, answers
        assert len({body for _, body in answers}) == 1, f"copies of {text!r} answered apart"
        return answers[0][1]

    assert hop("").startswith(b"CON Welcome.")            # the session starts once
    assert hop("3").startswith(b"CON You have no market yet.")
    assert hop("3*NAKURU").startswith(b"CON Make Nakuru your market?")
    done = hop("3*NAKURU*1")
    assert done == b"END Your market is now Nakuru. Send PRICE MAIZE for its maize price."
    sessions = conn.execute("SELECT hops, ended FROM ussd_sessions WHERE session_id = ?",
                            (session,)).fetchall()
    assert [tuple(s) for s in sessions] == [(4, 1)]
    hops = conn.execute("SELECT text FROM ussd_hops WHERE session_id = ? ORDER BY text",
                        (session,)).fetchall()
    assert [h[0] for h in hops] == ["", "3", "3*NAKURU", "3*NAKURU*1"]
    person = contact_id(conn, phone)
    market = conn.execute("SELECT m.name FROM contacts c JOIN markets m ON m.id ="
                          " c.home_market_id WHERE c.id = ?", (person,)).fetchone()
    assert market[0] == "Nakuru"
    sms = conn.execute("SELECT text, status FROM outbox WHERE contact_id = ? AND kind = 'ussd'",
                       (person,)).fetchall()
    assert [tuple(s) for s in sms] == [(done[4:].decode(), "queued")]


def test_the_copies_really_raced_on_both_workers(setup):
    """The spread the tests above rely on: connections held by two different workers."""
    conns = setup.server.connections(2)
    try:
        owners = setup.server.connection_owners()
        held = {owners.get(c.sock.getsockname()[1]) for c in conns}
        assert len(held) == 2 and None not in held, held
    finally:
        for c in conns:
            c.close()
