"""Africa's Talking USSD callbacks: token, CON/END as text/plain, malformed hops, repeats,
sessions that end or are replaced, a page that fails, and session-end notifications."""

from __future__ import annotations

import pytest
from support import AT_TOKEN, PUBLIC_URL, make_config, outbox_rows, post_at

from db import contacts
from handlers.registry import build_menu
from handlers.segments import count
from handlers.ussd import Finish, Item, MenuEntry, Page, View
from smsgw.app import create_app

USSD = "/webhooks/africastalking/ussd"
EVENTS = "/webhooks/africastalking/ussd/events"
SESSION = "ATUid_5d3b4c2bc589f4811820a7184eed4df5"
HOME = ("CON Welcome. Reply with a number:\n1. Market prices\n2. Buyer standards\n3. My market"
        "\n4. Language\n5. Price alerts\n6. Sell produce")


def hop(text: str = "", session: str = SESSION, phone: str = "+254722123456") -> dict[str, str]:
    """The form of a real AT USSD hop (reference 2.6)."""
    return {"sessionId": session, "serviceCode": "*384*1234#", "phoneNumber": phone,
            "networkCode": "63902", "text": text}


def screen(client, text: str = "", **kwargs) -> str:
    response = post_at(client, USSD, hop(text, **kwargs))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    body = response.get_data(as_text=True)
    assert body.startswith(("CON ", "END "))
    info = count(body[4:])
    assert info.encoding == "GSM-7" and info.units <= 182, body
    return body


def test_first_hop_is_the_home_menu_as_text_plain(client):
    assert screen(client) == HOME


def test_hops_follow_the_cumulative_text(client):
    screen(client)
    assert screen(client, "3").startswith("CON You have no market yet.\nType the name of your")
    assert screen(client, "3*0") == HOME
    assert screen(client, "3*0*4").startswith("CON Choose your language:\n1. English")


@pytest.mark.parametrize("token", [None, "", "wrong", AT_TOKEN.upper()])
def test_ussd_callbacks_without_the_right_token_are_refused(client, conn, token):
    assert post_at(client, USSD, hop(), token=token).status_code == 403
    assert post_at(client, EVENTS, {"sessionId": SESSION, "status": "Success"},
                   token=token).status_code == 403
    assert conn.execute("SELECT COUNT(*) FROM ussd_sessions").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM ussd_events").fetchone()[0] == 0


def test_token_in_a_form_field_does_not_count(client):
    assert client.post(PUBLIC_URL + USSD, data=hop() | {"token": AT_TOKEN}).status_code == 403


def test_ussd_is_404_when_africas_talking_is_off(tmp_path, clock):
    config = make_config(tmp_path, **{"providers.africastalking.enabled": False})
    client = create_app(config, clock=clock).test_client()
    assert post_at(client, USSD, hop()).status_code == 404


@pytest.mark.parametrize("field", ["sessionId", "phoneNumber", "text"])
def test_missing_fields_are_400_with_the_reason(client, conn, field):
    form = hop()
    del form[field]
    response = post_at(client, USSD, form)
    assert response.status_code == 400
    assert response.get_json()["error"] == f"missing field {field}"
    assert conn.execute("SELECT COUNT(*) FROM ussd_sessions").fetchone()[0] == 0


@pytest.mark.parametrize("form,reason", [
    (hop(phone="12"), "phoneNumber is not a phone number"),
    (hop(phone="whatsapp:+254722123456"), "phoneNumber is not a phone number"),
    (hop(session="   "), "missing field sessionId"),
    (hop(session="A" * 201), "sessionId longer than 200"),
    (hop(text="1*" * 1001), "text longer than 2000"),
])
def test_malformed_hops_are_400_with_the_reason(client, form, reason):
    response = post_at(client, USSD, form)
    assert response.status_code == 400 and response.get_json()["error"].startswith(reason)


@pytest.mark.parametrize("text", ["***", "1**2", "*", "1*", "é*ü", "0*0*0*0*00*98*98",
                                  "\u202e1", "1" * 300, "%", "NAKURU"])
def test_odd_input_never_fails(client, text):
    screen(client, text, session="odd")   # a session we have not seen: replayed from home


def test_an_unknown_service_code_is_400_when_codes_are_configured(tmp_path, clock):
    config = make_config(tmp_path, **{"ussd.service_codes": "*384*1234#, *384*99#"})
    client = create_app(config, clock=clock).test_client()
    assert post_at(client, USSD, hop()).status_code == 200
    response = post_at(client, USSD, hop() | {"serviceCode": "*999#"})
    assert response.status_code == 400 and "serviceCode" in response.get_json()["error"]


def test_a_session_id_is_tied_to_its_phone(client):
    screen(client)
    response = post_at(client, USSD, hop("1", phone="+254733000111"))
    assert response.status_code == 400
    assert response.get_json()["error"] == "sessionId belongs to another phoneNumber"


def test_no_prices_loaded_says_so_and_ends(client):
    screen(client)
    assert screen(client, "1") == "END No market prices are loaded yet. Please try again later."
    assert screen(client, "2") == "END This session has ended. Please dial again."


def test_a_repeated_hop_gets_the_same_screen_and_changes_nothing_twice(client, conn):
    screen(client)
    screen(client, "4")
    first = screen(client, "4*2")
    assert first == "END Sasa utapokea majibu kwa Kiswahili."
    for _ in range(3):
        assert screen(client, "4*2") == first
    assert screen(client, "4") == screen(client, "4")  # an earlier hop, repeated late
    rows = outbox_rows(conn)
    assert [(r["text"], r["provider"], r["kind"], r["status"]) for r in rows] == [
        ("Sasa utapokea majibu kwa Kiswahili.", "africastalking", "ussd", "queued")]
    hops = conn.execute("SELECT hops FROM ussd_sessions WHERE session_id = ?", (SESSION,))
    assert hops.fetchone()[0] == 3
    assert contacts.find(conn, "+254722123456").language == "sw"


def test_input_after_the_end_gets_a_polite_end(client):
    screen(client)
    screen(client, "4")
    screen(client, "4*1")
    assert screen(client, "4*1*1") == "END This session has ended. Please dial again."


def test_a_session_quiet_for_too_long_is_over(client, clock):
    screen(client)
    clock.advance(301)
    assert screen(client, "1") == "END This session has ended. Please dial again."
    assert screen(client, "") == HOME   # the first hop, repeated: its stored answer


def test_a_new_session_from_the_same_phone_starts_at_home_and_closes_the_old(client, conn):
    screen(client)
    in_old = screen(client, "3")
    assert screen(client, session="ATUid_second") == HOME
    assert screen(client, "4", session="ATUid_second").startswith("CON Choose your language")
    assert screen(client, "3") == in_old                      # a late repeat: same answer
    assert screen(client, "3*NAKURU") == "END This session has ended. Please dial again."
    ended = conn.execute("SELECT session_id, ended FROM ussd_sessions ORDER BY session_id")
    assert [tuple(r) for r in ended] == [("ATUid_5d3b4c2bc589f4811820a7184eed4df5", 1),
                                         ("ATUid_second", 0)]


def test_old_sessions_are_deleted_after_keep_days(client, conn, clock):
    screen(client, session="ATUid_old")
    screen(client, "1", session="ATUid_old")
    clock.advance(29 * 86400)
    screen(client, session="ATUid_recent", phone="+254733000111")
    clock.advance(2 * 86400)
    screen(client, session="ATUid_new")
    kept = conn.execute("SELECT session_id FROM ussd_sessions ORDER BY session_id").fetchall()
    assert [r[0] for r in kept] == ["ATUid_new", "ATUid_recent"]
    hops = conn.execute("SELECT DISTINCT session_id FROM ussd_hops ORDER BY 1").fetchall()
    assert [r[0] for r in hops] == ["ATUid_new", "ATUid_recent"]


def test_a_shortcut_dial_is_played_from_home(client):
    assert screen(client, "4", session="ATUid_direct").startswith("CON Choose your language")


def test_a_failing_page_ends_politely_and_undoes_its_writes(tmp_path, clock, caplog):
    def broken(ctx, params):
        contacts.set_language(ctx.conn, ctx.contact.id, "fr")
        raise RuntimeError("bug in a page")

    menu = build_menu()
    menu.add_page("broken", Page(broken))
    menu.add_entry(MenuEntry("broken", "ussd_menu_prices", "broken", order=1))
    app = create_app(make_config(tmp_path), clock=clock, menu=menu)
    client = app.test_client()
    screen(client)
    assert screen(client, "1") == ("END Sorry, something went wrong on our side. "
                                   "Please try again later.")
    assert any("USSD menu failed" in r.getMessage() for r in caplog.records)
    import db
    conn = db.connect(tmp_path / "test.db")
    assert contacts.find(conn, "+254722123456").language is None
    assert tuple(conn.execute("SELECT hops, ended FROM ussd_sessions").fetchone()) == (2, 1)
    conn.close()


def test_an_action_is_confirmed_on_screen_and_by_sms_once(tmp_path, clock):
    menu = build_menu()
    menu.add_page("pledge", Page(lambda c, p: View(title="Pledge?", items=[Item("10 bags", 10)]),
                                 lambda c, p, v: Finish(f"Pledged {v} bags.",
                                                        sms=(f"You pledged {v} bags.",))))
    menu.add_entry(MenuEntry("pledge", "ussd_menu_prices", "pledge", order=1))
    app = create_app(make_config(tmp_path), clock=clock, menu=menu)
    client = app.test_client()
    screen(client)
    assert screen(client, "1") == "CON Pledge?\n1. 10 bags\n0 Back"
    assert screen(client, "1*1") == screen(client, "1*1") == "END Pledged 10 bags."
    import db
    conn = db.connect(tmp_path / "test.db")
    assert [r["text"] for r in outbox_rows(conn)] == ["You pledged 10 bags."]
    conn.close()


def test_no_sms_to_an_opted_out_contact(client, conn):
    contact = contacts.get_or_create(conn, "+254722123456")
    contacts.set_opted_out(conn, contact.id, source="keyword")
    screen(client)
    screen(client, "4")
    assert screen(client, "4*1") == "END You will now get replies in English."
    assert outbox_rows(conn) == []


def test_sms_from_the_menu_keep_to_the_per_sender_limit(tmp_path, clock, caplog):
    config = make_config(tmp_path, **{"limits.sender_messages": 2})
    client = create_app(config, clock=clock).test_client()
    for n in range(3):
        screen(client, session=f"ATUid_{n}")
        screen(client, "4", session=f"ATUid_{n}")
        assert screen(client, "4*1", session=f"ATUid_{n}") == (
            "END You will now get replies in English.")   # still confirmed on screen
    import db
    conn = db.connect(tmp_path / "test.db")
    assert len(outbox_rows(conn)) == 2
    assert any("over the per-sender limit" in r.getMessage() for r in caplog.records)
    clock.advance(3601)
    screen(client, session="ATUid_later")
    screen(client, "4", session="ATUid_later")
    screen(client, "4*2", session="ATUid_later")
    assert len(outbox_rows(conn)) == 3
    conn.close()


def end_form(**fields: str) -> dict[str, str]:
    """A session-end notification as in reference 2.7."""
    form = {"date": "2026-11-22 11:31:05", "sessionId": SESSION, "serviceCode": "*384*1234#",
            "networkCode": "63902", "phoneNumber": "+254722123456", "status": "Success",
            "cost": "KES 0.0000", "durationInMillis": "14250", "hopsCount": "3",
            "input": "4*1", "lastAppResponse": "END You will now get replies in English.",
            "errorMessage": ""}
    return form | fields


def test_session_end_is_recorded_once(client, conn):
    screen(client)
    for _ in range(2):
        response = post_at(client, EVENTS, end_form())
        assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    rows = conn.execute("SELECT * FROM ussd_events").fetchall()
    assert len(rows) == 1
    row = dict(rows[0])
    assert (row["status"], row["duration_ms"], row["hops_count"], row["input"], row["phone"]) == (
        "Success", 14250, 3, "4*1", "+254722123456")
    assert row["last_app_response"] == "END You will now get replies in English."
    session = conn.execute("SELECT end_status FROM ussd_sessions").fetchone()
    assert session[0] == "Success"


def test_session_end_for_a_session_never_seen_is_kept(client, conn):
    form = end_form(sessionId="ATUid_other", status="Failed", errorMessage="timeout",
                    durationInMillis="soon", phoneNumber="12")
    assert post_at(client, EVENTS, form).status_code == 200
    row = dict(conn.execute("SELECT * FROM ussd_events").fetchone())
    assert (row["status"], row["error_message"], row["duration_ms"], row["phone"]) == (
        "Failed", "timeout", None, "12")


def test_session_end_with_an_unknown_status_is_kept_and_logged(client, conn, caplog):
    assert post_at(client, EVENTS, end_form(status="Teleported")).status_code == 200
    assert conn.execute("SELECT status FROM ussd_events").fetchone()[0] == "Teleported"
    assert any("unknown status" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("field", ["sessionId", "status"])
def test_session_end_without_its_key_fields_is_400(client, conn, field):
    form = end_form()
    del form[field]
    response = post_at(client, EVENTS, form)
    assert response.status_code == 400 and response.get_json()["error"] == f"missing field {field}"
    assert conn.execute("SELECT COUNT(*) FROM ussd_events").fetchone()[0] == 0


def test_the_ussd_command_walks_the_menu_offline(tmp_path):
    from click.testing import CliRunner

    from smsgw.cli import main

    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[database]\npath = "{tmp_path / "cli.db"}"\n'
                           '[logging]\nlevel = "WARNING"\n')
    runner = CliRunner()
    result = runner.invoke(main, ["ussd", "4", "2", "--config", str(config_file)],
                           catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith(HOME + "\nCON Choose your language:\n1. English")
    assert result.output.endswith("END Sasa utapokea majibu kwa Kiswahili.\n")
    typed = runner.invoke(main, ["ussd", "--from", "0712345678", "--config", str(config_file)],
                          input="3\n0\n", catch_exceptions=False)
    assert typed.exit_code == 0
    screens = typed.output.split("> ")
    assert screens[0].startswith("CON Karibu.") and screens[1].startswith("CON Bado huna soko.")
    assert screens[2].startswith("CON Karibu.") and len(screens) == 4
    import db
    conn = db.connect(tmp_path / "cli.db")
    assert [(r["text"], r["provider"]) for r in outbox_rows(conn)] == [
        ("Sasa utapokea majibu kwa Kiswahili.", "local")]
    conn.close()
    bad = runner.invoke(main, ["ussd", "--from", "12", "--config", str(config_file)])
    assert bad.exit_code == 2 and "not a valid phone number" in bad.output
