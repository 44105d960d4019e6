"""Transcripts through the offline provider: HELP, STOP, START in every language."""

from __future__ import annotations

import itertools

import pytest
from support import LOCAL_AUTH, outbox_rows, post_local

from db import contacts
from handlers import keywords
from handlers.locale import en, fr, sw

_ids = itertools.count()


def say(client, text: str, sender: str = "0712345678") -> list[str]:
    """Send one message and return the reply texts."""
    response = post_local(client, text, msg_id=f"t{next(_ids)}", sender=sender)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [reply["text"] for reply in response.get_json()["replies"]]


@pytest.mark.parametrize("word,lang", [
    ("HELP", "en"), ("help", "en"), ("Info", "en"), ("AIDE", "fr"), ("aide", "fr"),
    ("MSAADA", "sw"), ("saidia", "sw"),
])
def test_help_answers_in_the_keyword_language(client, word, lang):
    expected = {"en": en.TEXTS, "fr": fr.TEXTS, "sw": sw.TEXTS}[lang]["help"]
    assert say(client, word) == [expected]


@pytest.mark.parametrize("lang", ["en", "fr", "sw"])
def test_every_opt_out_word_stops_and_every_opt_in_word_starts(client, conn, lang):
    table = {"en": en.TEXTS, "fr": fr.TEXTS, "sw": sw.TEXTS}[lang]
    for stop_word in sorted(keywords.OPT_OUT[lang]):
        replies = say(client, stop_word)
        assert replies in ([table["stopped"]], [en.TEXTS["stopped"]]), stop_word
        assert contacts.find(conn, "+254712345678").opted_out
        assert say(client, "HELP") == []  # nothing further while opted out
        start_word = sorted(keywords.OPT_IN[lang])[0]
        assert say(client, start_word)[0] in (table["started"], en.TEXTS["started"])
        assert not contacts.find(conn, "+254712345678").opted_out


def test_transcript_stop_then_start(client):
    assert say(client, "HELP") == [en.TEXTS["help"]]
    assert say(client, "stop") == [en.TEXTS["stopped"]]
    assert say(client, "PRICE MAIZE") == []
    assert say(client, "Stop.") == [en.TEXTS["stopped"]]  # confirmation again, nothing else
    assert say(client, "START") == [en.TEXTS["started"]]
    assert say(client, "START") == [en.TEXTS["already_started"]]


def test_swahili_transcript(client):
    assert say(client, "ACHA") == [sw.TEXTS["stopped"]]
    assert say(client, "msaada") == []
    assert say(client, "Anza!") == [sw.TEXTS["started"]]


def test_french_transcript_with_accents(client):
    assert say(client, "Arrêt") == [fr.TEXTS["stopped"]]
    assert say(client, "DÉMARRER") == [fr.TEXTS["started"]]


def test_stop_with_more_words_does_not_opt_out_but_explains(client, conn):
    assert say(client, "STOP SENDING ME THESE") == [en.TEXTS["stop_alone"]]
    assert not contacts.find(conn, "+254712345678").opted_out


def test_chosen_language_wins_over_keyword_language(client, conn):
    say(client, "HELP")
    contact = contacts.find(conn, "+254712345678")
    contacts.set_language(conn, contact.id, "sw")
    assert say(client, "HELP") == [sw.TEXTS["help"]]
    assert say(client, "STOP") == [sw.TEXTS["stopped"]]


@pytest.mark.parametrize("text", ["", "   ", "🌽🌽🌽", "x" * 1600, "hello there", "WHAT IS THE WEATHER"])
def test_anything_unknown_gets_a_short_helpful_answer(client, text):
    replies = say(client, text)
    assert replies == [en.TEXTS["unknown"]]


def test_local_webhook_json_shape_and_duplicate(client, conn):
    first = post_local(client, "HELP", msg_id="dup-1").get_json()
    second = post_local(client, "HELP", msg_id="dup-1").get_json()
    assert first["duplicate"] is False and second["duplicate"] is True
    assert first["replies"] == second["replies"]
    reply = first["replies"][0]
    assert set(reply) == {"id", "to", "text", "segments", "encoding"}
    assert reply["to"] == "+254712345678" and reply["segments"] == 1
    assert len(outbox_rows(conn)) == 1


@pytest.mark.parametrize("payload,reason", [
    ({"to": "x", "text": "HELP", "id": "1"}, "missing field from"),
    ({"from": "0712345678", "id": "1"}, "missing field text"),
    ({"from": "0712345678", "text": "HELP"}, "missing field id"),
    ({"from": "0712345678", "text": ["HELP"], "id": "1"}, "field text must be a string"),
    ({"from": "0712345678", "text": "HELP", "id": " "}, "field id is empty"),
    ({"from": "07", "text": "HELP", "id": "1"}, "from is not a phone number"),
    ([1, 2, 3], "body must be a JSON object"),
])
def test_local_malformed_payloads_are_400(client, conn, payload, reason):
    response = client.post("/webhooks/local/sms", json=payload, headers=LOCAL_AUTH)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(reason)
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def test_local_non_json_body_is_400(client):
    response = client.post("/webhooks/local/sms", data="from=1&text=2", headers=LOCAL_AUTH,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"
    assert response.get_json()["schema"] >= 1


def test_price_before_any_data_is_loaded_says_so(client):
    assert say(client, "PRICE MAIZE NAKURU") == [en.TEXTS["prices_none"]]


@pytest.mark.parametrize("text, expected", [
    ("HELP ORDER", "For buyers: ORDER 200 BAGS MAIZE GRADE1 @3400 BY 20/12 AT NAKURU."),
    ("HELP agizo", "For buyers: ORDER 200"),        # another language's word, same command
    ("MSAADA AHADI", "AHADI K7Q3 20: ahidi 20 kwa agizo K7Q3."),
    ("AIDE OUBLIER", "OUBLIER: après votre OUI, nous effacons"),
    ("HELP STOP", "STOP: no more messages from us."),
    ("HELP YES", "YES: confirms what we asked you to confirm."),
    ("HELP BANANA", "We have no command BANANA. Send HELP for the list."),
    ("HELP 🌽" + "x" * 40, "We have no command"),
])
def test_help_and_a_word_explains_that_command_in_one_sms(client, text, expected):
    from handlers.segments import count

    [reply] = say(client, text)
    assert reply.startswith(expected), reply
    assert count(reply).segments == 1
