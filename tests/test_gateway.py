"""The gateway's own rules: per-sender rate limit, a failing handler, opt-out filtering."""

from __future__ import annotations

import itertools

from conftest import make_config, outbox_rows, post_local

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


def test_rate_limit_pauses_replies_but_keeps_messages_and_lets_stop_through(tmp_path, clock):
    config = make_config(tmp_path, **{"limits.sender_messages": 3,
                                      "limits.sender_window_seconds": 600})
    client = create_app(config, clock=clock).test_client()
    for _ in range(3):
        assert say(client, "HELP") == [en.TEXTS["help"]]
    assert say(client, "HELP") == [en.TEXTS["rate_limited"].format(minutes=10)]
    assert say(client, "HELP") == []  # told once per window, then quiet
    assert say(client, "STOP") == [en.TEXTS["stopped"]]  # opt-out always works
    clock.advance(601)
    assert say(client, "START") == [en.TEXTS["started"]]
    assert say(client, "HELP") == [en.TEXTS["help"]]
    import db

    conn = db.connect(config["database.path"])
    outcomes = [r[0] for r in conn.execute("SELECT outcome FROM inbound ORDER BY id")]
    assert outcomes.count("rate_limited") == 2 and len(outcomes) == 8


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
