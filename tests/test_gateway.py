"""The gateway's own rules: per-sender rate limit, a failing handler, opt-out filtering."""

from __future__ import annotations

import itertools

from support import make_config, outbox_rows, post_local

from handlers.locale import en
from handlers.messages import Reply
from handlers.registry import build_router
from handlers.router import Command
from smsgw.app import create_app

_ids = itertools.count()


def say(client, text: str) -> list[str]:
    response = post_local(client, text, msg_id=f"g{next(_ids)}")
    assert response.status_code == 200
    return [reply["text"] for reply in response.get_json()["replies"]]


def test_rate_limit_pauses_replies_and_stop_start_act_with_one_reply_per_window(tmp_path, clock):
    config = make_config(tmp_path, **{"limits.sender_messages": 3,
                                      "limits.sender_window_seconds": 600})
    client = create_app(config, clock=clock).test_client()
    for _ in range(3):
        assert say(client, "HELP") == [en.TEXTS["help"]]
    assert say(client, "HELP") == [en.TEXTS["rate_limited"].format(minutes=10)]
    assert say(client, "HELP") == []  # told once per window, then quiet
    # Opt-out always works, but the window's one reply (the notice) has been given.
    assert say(client, "STOP") == []
    import db

    conn = db.connect(config["database.path"])
    assert conn.execute("SELECT opted_out FROM contacts").fetchone()[0] == 1
    for _ in range(50):  # STOP/START over and over acts each time and answers nothing
        assert say(client, "START") == [] and say(client, "STOP") == []
    clock.advance(601)
    assert say(client, "START") == [en.TEXTS["started"]]
    assert say(client, "HELP") == [en.TEXTS["help"]]
    outcomes = [r[0] for r in conn.execute("SELECT outcome FROM inbound ORDER BY id")]
    assert outcomes.count("rate_limited") == 103 and len(outcomes) == 108


def test_a_limited_senders_first_stop_gets_the_windows_one_reply(tmp_path, clock):
    config = make_config(tmp_path, **{"limits.sender_messages": 2})
    client = create_app(config, clock=clock).test_client()
    assert say(client, "HELP") and say(client, "HELP")
    assert say(client, "STOP") == [en.TEXTS["stopped"]]   # the first over the limit: answered
    assert say(client, "START") == []                      # acted on, not answered
    assert say(client, "HELP") == []


def test_a_failing_handler_keeps_the_message_and_undoes_its_writes(tmp_path, clock):
    def explode(ctx, rest):
        ctx.conn.execute("UPDATE contacts SET language = 'fr' WHERE id = ?", (ctx.contact.id,))
        raise RuntimeError("bug")

    router = build_router()
    router.register(Command("boom", {"en": frozenset({"BOOM"})}, explode))
    config = make_config(tmp_path)
    client = create_app(config, router=router, clock=clock).test_client()
    assert say(client, "BOOM") == [en.TEXTS["error"]]
    import db

    conn = db.connect(config["database.path"])
    assert conn.execute("SELECT outcome FROM inbound").fetchone()[0] == "failed"
    assert conn.execute("SELECT language FROM contacts").fetchone()[0] is None
    assert len(outbox_rows(conn)) == 1


def test_handler_replies_are_counted_in_segments(tmp_path, clock):
    long_text = "Maize " * 40  # 240 GSM-7 characters: 2 segments

    router = build_router()
    router.register(Command("long", {"en": frozenset({"LONG"})},
                            lambda ctx, rest: [Reply(long_text), Reply("Bei ya mahindi 🌽")]))
    config = make_config(tmp_path)
    client = create_app(config, router=router, clock=clock).test_client()
    replies = post_local(client, "LONG", msg_id="long").get_json()["replies"]
    assert [(r["encoding"], r["segments"]) for r in replies] == [("GSM-7", 2), ("UCS-2", 1)]


def test_replies_returned_are_the_rows_stored(tmp_path, clock):
    """The gateway builds its answer from what it inserted instead of reading the outbox
    again; a repeat of the message reads them back, and both must agree."""
    import db
    from db import outbox
    from handlers.messages import InboundMessage
    from smsgw.gateway import Delivery

    router = build_router()
    router.register(Command("two", {"en": frozenset({"TWO"})},
                            lambda ctx, rest: [Reply("first 🌽"), Reply("second", kind="notice")]))
    config = make_config(tmp_path)
    app = create_app(config, router=router, clock=clock)
    gateway = app.extensions["smsgw"].gateway
    conn = db.connect(config["database.path"])
    message = InboundMessage("local", "same-id", "+254722123456", "local", "TWO", clock())
    for delivery in (Delivery.INLINE, Delivery.QUEUE):
        first = gateway.receive(conn, message, delivery=delivery, reply_provider="local")
        again = gateway.receive(conn, message, delivery=delivery, reply_provider="local")
        assert not first.duplicate and again.duplicate
        inbound_id = conn.execute("SELECT id FROM inbound WHERE provider_message_id = ?",
                                  (message.provider_message_id,)).fetchone()[0]
        assert first.replies == again.replies == outbox.for_inbound(conn, inbound_id)
        assert [r.text for r in first.replies] == ["first 🌽", "second"]
        message = InboundMessage("local", "other-id", "+254722999999", "local", "TWO", clock())


def test_an_opted_out_sender_gets_nothing_and_nothing_is_queued(tmp_path, clock):
    config = make_config(tmp_path)
    client = create_app(config, clock=clock).test_client()
    assert say(client, "STOP") == [en.TEXTS["stopped"]]
    assert say(client, "HELP") == []          # the handler wrote nothing: no second look-up
    assert say(client, "PRICE MAIZE") == []
    assert say(client, "START") == [en.TEXTS["started"]]  # it wrote: the contact is read again
    assert say(client, "HELP") == [en.TEXTS["help"]]
    import db

    conn = db.connect(config["database.path"])
    assert [r[0] for r in conn.execute("SELECT text FROM outbox ORDER BY id")] == [
        en.TEXTS["stopped"], en.TEXTS["started"], en.TEXTS["help"]]


def test_a_sender_is_read_with_its_recent_count_in_one_statement(tmp_path, clock):
    from datetime import timedelta

    import db
    from db import inbound

    config = make_config(tmp_path)
    client = create_app(config, clock=clock).test_client()
    conn = db.connect(config["database.path"])
    with db.transaction(conn):
        contact, recent = inbound.sender(conn, "+254722123456", clock.now)
    assert recent == 0 and not contact.opted_out
    for _ in range(3):
        say(client, "HELP")  # from 0712345678, the same number
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    with db.transaction(conn):
        again, recent = inbound.sender(conn, "+254712345678", clock.now - timedelta(minutes=1))
        assert inbound.sender(conn, "+254712345678", clock.now + timedelta(minutes=1))[1] == 0
    assert recent == 3 and again.phone == "+254712345678"
    assert len([s for s in statements if s.startswith("SELECT")]) == 2
