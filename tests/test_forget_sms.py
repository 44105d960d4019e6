"""A farmer asks to be forgotten by SMS (FORGET, SAHAU, OUBLIER) and confirms with YES: the
answer is the last SMS they get, and the worker erases them once it has gone."""

from __future__ import annotations

import pytest
from support import outbox_rows, post_at, post_local

import db
from db import contacts, subscriptions
from smsgw.bulletins import forget_tick

PHONE = "+254712345678"


def say(client, text: str, n=[0]) -> list[str]:  # noqa: B006 - a counter for message ids
    n[0] += 1
    response = post_local(client, text, msg_id=f"f{n[0]}", sender=PHONE)
    assert response.status_code == 200
    return [r["text"] for r in response.get_json()["replies"]]


def everywhere(conn, needle: str) -> list[str]:
    """Every table and column whose text holds `needle`."""
    found = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for column in [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]:
            hit = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{column}" AS TEXT)'
                               f" LIKE ?", (f"%{needle}%",)).fetchone()[0]
            if hit:
                found.append(f"{table}.{column}")
    return found


@pytest.mark.parametrize("word,yes,language", [("FORGET", "YES", "en"),
                                                ("SAHAU", "NDIYO", "sw"),
                                                ("OUBLIER", "OUI", "fr")])
def test_forget_asks_then_yes_forgets_after_the_last_answer(client, conn, config, word, yes,
                                                           language):
    say(client, f"LANG {language.upper()}")
    say(client, "SUB MAIZE NAKURU")
    asked = say(client, word)
    assert len(asked) == 1 and ("YES" in asked[0] or yes in asked[0])
    assert not contacts.find(conn, PHONE).opted_out      # nothing happens before YES
    done = say(client, yes)
    assert len(done) == 1
    assert contacts.find(conn, PHONE).opted_out           # nothing more goes to them
    assert say(client, "HELP") == []
    assert forget_tick(config) == 1                        # the answer went inline
    assert contacts.find(conn, PHONE) is None
    assert everywhere(conn, "712345678") == []
    assert subscriptions.count_for(conn, conn.execute(
        "SELECT id FROM contacts WHERE forgotten_at IS NOT NULL").fetchone()[0]) == 0
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 5  # counts stay
    assert forget_tick(config) == 0


def test_forget_waits_for_its_queued_answer_to_go(client, conn, config):
    form = {"id": "a1", "from": PHONE, "to": "21512", "text": "FORGET",
            "date": "2026-11-22 11:30:00"}
    assert post_at(client, "/webhooks/africastalking/sms", form).status_code == 200
    assert post_at(client, "/webhooks/africastalking/sms",
                   form | {"id": "a2", "text": "YES"}).status_code == 200
    assert forget_tick(config) == 0                        # the answer still waits to be sent
    with db.transaction(conn):
        conn.execute("UPDATE outbox SET status = 'sent' WHERE status = 'queued'")
    assert forget_tick(config) == 1
    assert everywhere(conn, "712345678") == []
    assert all(row["text"] == "" for row in outbox_rows(conn))


def test_start_before_the_erasure_withdraws_the_request(client, conn, config):
    say(client, "FORGET")
    say(client, "YES")
    assert say(client, "START")
    assert forget_tick(config) == 0
    assert contacts.find(conn, PHONE) is not None and not contacts.find(conn, PHONE).opted_out


def test_forget_without_yes_expires_and_changes_nothing(client, conn, config, clock):
    say(client, "FORGET")
    clock.advance(11 * 60)
    assert say(client, "YES")[0].startswith("You are already receiving")
    assert forget_tick(config) == 0
    assert contacts.find(conn, PHONE) is not None
