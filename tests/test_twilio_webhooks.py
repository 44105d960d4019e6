"""Twilio webhooks, signed with the SDK's own RequestValidator and posted to the public URL."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import parse_qsl, urlencode

from support import (
    PUBLIC_URL,
    TWILIO_TOKEN,
    outbox_rows,
    post_twilio,
    sent_message,
    twilio_inbound,
    twilio_signature,
)
from twilio.request_validator import RequestValidator

from db import outbox

SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def test_reference_vector_signature_is_reproduced_by_the_sdk():
    params = twilio_inbound("Hello gateway")
    url = "https://gateway.example.com/webhooks/twilio/sms"
    assert RequestValidator(TWILIO_TOKEN).compute_signature(url, params) == (
        "tqfMkjQPVe9taNYSDLOkMmg5dE8=")


def test_signed_help_is_answered_with_twiml(client):
    response = post_twilio(client, SMS, twilio_inbound("HELP"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    body = response.get_data(as_text=True)
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert "STOP" in body and body.endswith("</Message></Response>")


def test_reply_is_recorded_in_outbox_before_it_leaves(client, conn):
    post_twilio(client, SMS, twilio_inbound("HELP"))
    rows = outbox_rows(conn)
    assert len(rows) == 1
    assert rows[0]["status"] == "replied" and rows[0]["provider"] == "twilio"
    assert rows[0]["to_number"] == "+254722123456"
    assert rows[0]["encoding"] == "GSM-7" and rows[0]["segments"] == 1


def test_signature_over_port_443_variant_is_accepted(client):
    params = twilio_inbound("HELP")
    signature = twilio_signature("https://gateway.example.com:443" + SMS, params)
    assert post_twilio(client, SMS, params, signature=signature).status_code == 200


def test_forged_signature_is_refused(client, conn):
    params = twilio_inbound("HELP")
    forged = twilio_signature(PUBLIC_URL + SMS, params, token="not-the-real-token")
    response = post_twilio(client, SMS, params, signature=forged)
    assert response.status_code == 403
    assert outbox_rows(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def test_tampered_body_is_refused(client):
    params = twilio_inbound("HELP")
    signature = twilio_signature(PUBLIC_URL + SMS, params)
    params["Body"] = "STOP"
    assert post_twilio(client, SMS, params, signature=signature).status_code == 403


def test_retargeted_signature_is_refused(client):
    """A signature made for another URL (http, other host, trailing slash) does not pass."""
    params = twilio_inbound("HELP")
    for url in ("http://gateway.example.com" + SMS, "https://evil.example.com" + SMS,
                PUBLIC_URL + SMS + "/", PUBLIC_URL + STATUS):
        assert post_twilio(client, SMS, params, url=url).status_code == 403, url


def test_missing_signature_is_refused(client):
    params = twilio_inbound("HELP")
    response = client.post(PUBLIC_URL + SMS, data=params)
    assert response.status_code == 403


def test_query_string_is_part_of_the_signed_url(client):
    params = twilio_inbound("HELP")
    path = SMS + "?tenant=acme&x=1"
    good = post_twilio(client, path, params)
    assert good.status_code == 200
    signature_without_query = twilio_signature(PUBLIC_URL + SMS, params)
    assert post_twilio(client, path, params, signature=signature_without_query).status_code == 403


def test_duplicate_delivery_gets_the_same_reply_and_no_second_effect(client, conn):
    params = twilio_inbound("STOP", sid="SM" + "1" * 32)
    first = post_twilio(client, SMS, params)
    second = post_twilio(client, SMS, params)
    assert first.status_code == second.status_code == 200
    assert first.get_data() == second.get_data()
    assert "START" in first.get_data(as_text=True)
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 1
    assert len(outbox_rows(conn)) == 1


def test_message_from_opted_out_contact_gets_empty_twiml(client):
    post_twilio(client, SMS, twilio_inbound("STOP", sid="SM" + "2" * 32))
    response = post_twilio(client, SMS, twilio_inbound("HELP", sid="SM" + "3" * 32))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == EMPTY_TWIML


def test_malformed_signed_requests_get_400_with_reason(client, conn):
    cases = {
        "MessageSid": "missing field MessageSid",
        "From": "missing field From",
    }
    for field, reason in cases.items():
        params = twilio_inbound("HELP")
        del params[field]
        response = post_twilio(client, SMS, params)
        assert response.status_code == 400, field
        assert response.get_json()["error"] == reason
    bad_from = twilio_inbound("HELP", sender="not-a-number")
    response = post_twilio(client, SMS, bad_from)
    assert response.status_code == 400 and "From" in response.get_json()["error"]
    too_long = twilio_inbound("x" * 1601)
    assert post_twilio(client, SMS, too_long).status_code == 400
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def raw_post(client, body: bytes, **environ):
    """POST raw bytes as a Twilio form, signed over the form they decode to (if any)."""
    try:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        params = {}
    return client.post(PUBLIC_URL + SMS, data=body, environ_overrides=environ, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(PUBLIC_URL + SMS, params)})


def test_a_body_that_is_not_utf8_is_a_clear_400_not_a_500(client, conn):
    body = urlencode(twilio_inbound("HELP")).encode() + b"&Note=\xff\xfe"
    response = raw_post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "the body is not UTF-8 form data"
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def test_the_body_is_read_to_its_announced_length_and_no_further(client, conn):
    body = urlencode(twilio_inbound("HELP")).encode()
    # The server's stream holds more than the request (the start of a next one):
    # only Content-Length bytes belong to this request, and the signature covers them.
    longer = BytesIO(body + b"&Body=STOP")
    response = raw_post(client, body, **{"wsgi.input": longer, "CONTENT_LENGTH": str(len(body))})
    assert response.status_code == 200 and "<Message>" in response.get_data(as_text=True)
    # A client that sends less than it announced gets a 400, and nothing is stored.
    short = BytesIO(body[:-10])
    response = raw_post(client, body, **{"wsgi.input": short, "CONTENT_LENGTH": str(len(body))})
    assert response.status_code == 400
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 1


def test_an_oversized_twilio_body_is_413_and_nothing_is_stored(client, conn):
    response = raw_post(client, b"Body=" + b"x" * 70_000)
    assert response.status_code == 413
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def test_1600_character_message_with_emoji_gets_an_answer(client):
    body = "PRICE " + "🌽" * 797
    assert len(body) <= 1600
    response = post_twilio(client, SMS, twilio_inbound(body))
    assert response.status_code == 200
    assert "<Message>" in response.get_data(as_text=True)


def test_whatsapp_style_sender_is_a_clear_400(client):
    params = twilio_inbound("HELP", sender="whatsapp:+254722123456")
    response = post_twilio(client, SMS, params)
    assert response.status_code == 400
    assert "not a phone number" in response.get_json()["error"]


def test_twilio_disabled_answers_404(tmp_path):
    from support import make_config

    from smsgw.app import create_app

    config = make_config(tmp_path, **{"providers.twilio.enabled": False})
    client = create_app(config).test_client()
    assert post_twilio(client, SMS, twilio_inbound("HELP")).status_code == 404


def _queue_sent(conn, sid: str) -> int:
    return sent_message(conn, "twilio", sid)


def status_form(sid: str, status: str, error: str | None = None) -> dict[str, str]:
    form = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status,
            "To": "+254722123456", "MessageSid": sid,
            "AccountSid": "AC0123456789abcdef0123456789abcdef", "From": "+15005550006",
            "ApiVersion": "2010-04-01"}
    if error:
        form["ErrorCode"] = error
    return form


def test_reference_status_callback_vector():
    form = status_form("SMfedcba9876543210fedcba9876543210", "delivered")
    form["RawDlrDoneDate"] = "2611221130"
    url = "https://gateway.example.com/webhooks/twilio/status"
    assert twilio_signature(url, form) == "6xYbl3jf6M3UiPByFQStAqltm5M="


def test_status_callbacks_move_forward_and_never_regress(client, conn):
    sid = "SM" + "a" * 32
    message_id = _queue_sent(conn, sid)
    for status, expected in [("sent", "sent"), ("delivered", "delivered"),
                             ("sent", "delivered"), ("undelivered", "delivered")]:
        response = post_twilio(client, STATUS, status_form(sid, status))
        assert response.status_code == 200
        assert outbox.get(conn, message_id).status == expected, status


def test_status_callback_duplicate_is_idempotent(client, conn):
    sid = "SM" + "b" * 32
    message_id = _queue_sent(conn, sid)
    for _ in range(2):
        assert post_twilio(client, STATUS, status_form(sid, "failed", "30008")).status_code == 200
    assert outbox.get(conn, message_id).status == "failed"


def test_status_21610_marks_contact_opted_out(client, conn):
    sid = "SM" + "c" * 32
    _queue_sent(conn, sid)
    post_twilio(client, STATUS, status_form(sid, "failed", "21610"))
    row = conn.execute("SELECT opted_out, opt_out_source FROM contacts WHERE phone = ?",
                       ("+254722123456",)).fetchone()
    assert tuple(row) == (1, "provider")


def test_status_for_unknown_message_is_acknowledged_and_kept_for_later(client, conn):
    response = post_twilio(client, STATUS, status_form("SM" + "d" * 32, "delivered"))
    assert response.status_code == 200
    rows = conn.execute("SELECT outbox_id, status FROM status_events").fetchall()
    assert [tuple(row) for row in rows] == [(None, "delivered")]


def test_status_callback_unsigned_is_refused(client):
    response = client.post(PUBLIC_URL + STATUS, data=status_form("SM" + "e" * 32, "sent"))
    assert response.status_code == 403


def test_status_callback_without_status_is_400(client):
    form = status_form("SM" + "f" * 32, "sent")
    del form["MessageStatus"], form["SmsStatus"]
    assert post_twilio(client, STATUS, form).status_code == 400


def test_an_mms_without_a_body_is_answered_like_an_empty_sms(client, conn):
    """Twilio sends no Body field at all for a picture with no caption (twilio-python's own
    MMS payloads); that was a 400, and Twilio retried it."""
    params = twilio_inbound("")
    del params["Body"]
    params |= {"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1",
               "MediaContentType0": "image/jpeg"}
    response = post_twilio(client, SMS, params)
    assert response.status_code == 200
    assert "<Message>" in response.get_data(as_text=True)
    assert conn.execute("SELECT text FROM inbound").fetchone()[0] == ""


def test_bodies_that_are_not_forms_are_refused_and_so_is_a_body_hash(client, conn):
    """A JSON body is signed only through ?bodySHA256= in the URL, which was never checked
    against the body: such requests are refused instead of half-verified."""
    url = PUBLIC_URL + SMS
    json_body = b'{"Body": "STOP", "From": "+254722123456", "MessageSid": "SM1"}'
    signature = twilio_signature(url, {})
    response = client.post(url, data=json_body, content_type="application/json",
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 400 and "form" in response.get_json()["error"]
    hashed = SMS + "?bodySHA256=0123"
    params = twilio_inbound("STOP")
    response = post_twilio(client, hashed, params, url=PUBLIC_URL + hashed)
    assert response.status_code == 400 and "bodySHA256" in response.get_json()["error"]
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0
