"""Read-only commands (PRICE, STD) are answered before the write transaction, safely.

The gateway works out such an answer in a read transaction of its own, and uses it inside
the write transaction only if the contact read there is the same. These tests check the
answer is the one the transaction would have given, and each case where it must not be
used: a contact changed in between, a command wrongly marked as reading only, a failure.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import threading

import pytest
from conftest import make_config, post_local
from test_price_commands import kenya_db  # noqa: F401

import db
from handlers.locale import en
from handlers.messages import Reply
from handlers.registry import build_router
from handlers.router import Command, Router
from smsgw.app import create_app
from smsgw.gateway import Gateway

_ids = itertools.count()


@pytest.fixture
def config(kenya_db, tmp_path):  # noqa: F811
    shutil.copy(kenya_db, tmp_path / "test.db")
    return make_config(tmp_path)


def say(client, text: str, sender: str = "0712345678") -> list[str]:
    response = post_local(client, text, msg_id=f"a{next(_ids)}", sender=sender)
    assert response.status_code == 200
    return [reply["text"] for reply in response.get_json()["replies"]]


def spy_ahead(monkeypatch) -> list[object]:
    """Record what each answer ahead came to (None: answered inside the transaction)."""
    seen: list[object] = []
    original = Gateway._answer_ahead

    def recording(self, conn, message):
        ahead = original(self, conn, message)
        seen.append(ahead)
        return ahead

    monkeypatch.setattr(Gateway, "_answer_ahead", recording)
    return seen


def test_which_messages_only_read_and_which_are_answered_ahead():
    router = build_router()
    for text in ("PRICE MAIZE NAKURU", "bei mahindi", "PRIX MAIS", "MAIZE NAKURU", "STD MAIZE",
                 "what is this"):
        assert router.reading(text) == (True, True), text
    assert router.reading("HELP") == (True, False)   # reads, but too little to be worth it
    for text in ("STOP", "START", "YES", "REG NAKURU", "LANG SW", "SUB MAIZE", "MY",
                 "ORDER 10 BAGS MAIZE", "OFFER 3 5", "JOIN KIMA"):
        assert router.reading(text) == (False, False), text


def test_a_keyword_of_two_commands_reads_only_if_both_do():
    router = Router()
    router.register(Command("look", {"en": frozenset({"LOOK"})}, lambda c, r: [],
                            reads_only=True, ahead=True))
    router.register(Command("mark", {"sw": frozenset({"LOOK"})}, lambda c, r: []))
    assert router.reading("LOOK HERE") == (False, False)
    assert router.reading("ANYTHING") == (True, True)   # no fallback yet: "unknown" reads
    router.add_fallback(lambda c, t: None)  # a fallback not marked as reading only
    assert router.reading("ANYTHING") == (False, False)
    with pytest.raises(ValueError, match="reads only"):
        Command("odd", {"en": frozenset({"ODD"})}, lambda c, r: [], ahead=True)


def test_a_known_sender_gets_the_same_price_answer_worked_out_ahead(config, clock, monkeypatch):
    client = create_app(config, clock=clock).test_client()
    first = say(client, "PRICE MAIZE NAKURU")   # a new sender: answered inside
    seen = spy_ahead(monkeypatch)
    again = say(client, "PRICE MAIZE NAKURU")   # known now: answered ahead
    assert again == first and first[0].startswith("Maize, Nakuru, 15 Apr 2022: wholesale KES")
    assert len(seen) == 1 and seen[0] is not None
    assert say(client, "STD MAIZE") == [en.TEXTS["std_none"]]   # none imported in this db
    assert seen[-1] is not None
    conn = db.connect(config["database.path"])
    stored = [r[0] for r in conn.execute("SELECT text FROM outbox ORDER BY id")]
    assert stored[:2] == first + again and len(stored) == 3   # each answer stored once
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 3


def test_a_contact_changed_in_between_is_answered_again_inside(config, clock, monkeypatch):
    client = create_app(config, clock=clock).test_client()
    say(client, "HELP")
    original = Gateway._answer_ahead

    def then_language_changes(self, conn, message):
        ahead = original(self, conn, message)
        assert ahead is not None and ahead.replies[0].text.startswith("Maize")
        other = db.connect(config["database.path"])
        with db.transaction(other):   # as if a LANG SW committed meanwhile
            other.execute("UPDATE contacts SET language = 'sw'")
        other.close()
        return ahead

    monkeypatch.setattr(Gateway, "_answer_ahead", then_language_changes)
    assert say(client, "PRICE MAIZE NAKURU")[0].startswith("Mahindi, Nakuru")


def test_an_opted_out_sender_gets_no_answer_ahead_and_no_answer(config, clock, monkeypatch):
    client = create_app(config, clock=clock).test_client()
    say(client, "STOP")
    seen = spy_ahead(monkeypatch)
    assert say(client, "PRICE MAIZE NAKURU") == []
    assert seen == [None]


def test_a_repeat_of_a_message_gets_the_first_answer_not_a_new_one(config, clock):
    client = create_app(config, clock=clock).test_client()
    say(client, "HELP")
    first = post_local(client, "PRICE MAIZE NAKURU", msg_id="same").get_json()
    again = post_local(client, "PRICE MAIZE NAKURU", msg_id="same").get_json()
    assert again["replies"] == first["replies"] and again["duplicate"] is True
    conn = db.connect(config["database.path"])
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2  # HELP's and one


def test_a_command_wrongly_marked_as_reading_only_writes_once_inside(config, clock, caplog):
    def sneaky(ctx, rest):
        ctx.conn.execute("UPDATE contacts SET language = 'fr' WHERE id = ?", (ctx.contact.id,))
        return [Reply("done")]

    router = build_router()
    router.register(Command("sneak", {"en": frozenset({"SNEAK"})}, sneaky, reads_only=True,
                            ahead=True))
    client = create_app(config, router=router, clock=clock).test_client()
    say(client, "HELP")
    with caplog.at_level(logging.ERROR, logger="smsgw.gateway"):
        assert say(client, "SNEAK") == ["done"]
    assert "marked as reading only wrote" in caplog.text
    conn = db.connect(config["database.path"])
    # The write ahead was rolled back; the one inside the transaction stayed.
    assert conn.execute("SELECT language FROM contacts").fetchone()[0] == "fr"


def test_a_failure_ahead_is_answered_inside_where_failures_are_handled(config, clock):
    calls: list[bool] = []

    def flaky(ctx, rest):
        calls.append(ctx.conn.in_transaction)
        raise RuntimeError("bug")

    router = build_router()
    router.register(Command("flaky", {"en": frozenset({"FLAKY"})}, flaky, reads_only=True,
                            ahead=True))
    client = create_app(config, router=router, clock=clock).test_client()
    say(client, "HELP")
    assert say(client, "FLAKY") == [en.TEXTS["error"]]
    assert len(calls) == 2   # tried ahead, then inside, where the message is kept as failed
    conn = db.connect(config["database.path"])
    assert conn.execute("SELECT outcome FROM inbound ORDER BY id DESC").fetchone()[0] == "failed"


def test_price_questions_from_many_threads_each_get_their_answer(config, clock):
    app = create_app(config, clock=clock)
    questions = {"PRICE MAIZE NAKURU": "Maize, Nakuru", "PRICE BEANS KISUMU": "Beans",
                 "PRICE SORGHUM KITUI": "Sorghum", "HELP": en.TEXTS["help"][:20]}
    for n in range(8):   # known senders, so PRICE is answered ahead
        post_local(app.test_client(), "HELP", msg_id=f"warm{n}", sender=f"07123456{n:02d}")
    failures: list[str] = []

    def ask(n: int) -> None:
        client = app.test_client()
        for i in range(15):
            text = list(questions)[(n + i) % len(questions)]
            got = post_local(client, text, msg_id=f"t{n}-{i}", sender=f"07123456{n:02d}")
            replies = got.get_json()["replies"]
            if got.status_code != 200 or len(replies) != 1 or \
                    not replies[0]["text"].startswith(questions[text]):
                failures.append(f"{text}: {got.status_code} {replies}")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    conn = db.connect(config["database.path"])
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 8 + 8 * 15
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 8 + 8 * 15


def test_a_command_that_only_reads_runs_without_a_savepoint(config, clock):
    client = create_app(config, clock=clock).test_client()
    say(client, "HELP")
    conn = db.connect(config["database.path"])
    statements: list[str] = []
    from smsgw import context as application

    with client.application.app_context():
        application.connection().set_trace_callback(statements.append)
    assert say(client, "HELP") == [en.TEXTS["help"]]
    assert not [s for s in statements if "SAVEPOINT" in s]
    assert say(client, "LANG SW")
    assert [s for s in statements if s.startswith("SAVEPOINT")] == ["SAVEPOINT handler"]
    conn.close()


def test_a_reading_command_that_writes_then_fails_is_undone_whole_and_kept_as_failed(
        config, clock, caplog):
    calls: list[int] = []

    def liar(ctx, rest):
        ctx.conn.execute("UPDATE contacts SET language = 'fr' WHERE id = ?", (ctx.contact.id,))
        calls.append(1)
        raise RuntimeError("bug")

    router = build_router()
    router.register(Command("liar", {"en": frozenset({"LIAR"})}, liar, reads_only=True))
    client = create_app(config, router=router, clock=clock).test_client()
    say(client, "HELP")
    with caplog.at_level(logging.ERROR, logger="smsgw.gateway"):
        assert say(client, "LIAR") == [en.TEXTS["error"]]
    assert "marked as reading only wrote, then failed" in caplog.text
    assert len(calls) == 2   # once without a savepoint, undone whole; once with one
    conn = db.connect(config["database.path"])
    assert conn.execute("SELECT language FROM contacts").fetchone()[0] is None
    outcomes = [r[0] for r in conn.execute("SELECT outcome FROM inbound ORDER BY id")]
    assert outcomes == ["handled", "failed"]   # the message is stored once, as failed
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2
