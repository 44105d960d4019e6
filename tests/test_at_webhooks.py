"""Africa's Talking callbacks: token check, inbound to the outbox, delivery reports."""

from __future__ import annotations

import pytest
from support import PUBLIC_URL, outbox_rows, post_at, sent_message

from db import outbox

SMS = "/webhooks/africastalking/sms"
DLR = "/webhooks/africastalking/delivery"


def inbound(text: str = "HELP", msg_id: str = "ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3",
            date: str = "2026-11-22 11:30:00") -> dict[str, str]:
    return {"linkId": "03090445075804249226", "text": text, "to": "21512", "id": msg_id,
            "date": date, "from": "+254722123456", "networkCode": "63902"}


def test_inbound_is_acknowledged_and_reply_is_queued(client, conn):
    response = post_at(client, SMS, inbound())
    assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    rows = outbox_rows(conn)
    assert len(rows) == 1
    assert rows[0]["status"] == "queued" and rows[0]["provider"] == "africastalking"
    assert rows[0]["to_number"] == "+254722123456" and "STOP" in rows[0]["text"]


@pytest.mark.parametrize("token", [None, "", "wrong", "s3cret-callback-tokeN"])
def test_callbacks_without_the_right_token_are_refused(client, conn, token):
    assert post_at(client, SMS, inbound(), token=token).status_code == 403
    assert post_at(client, DLR, {"id": "ATXid_1", "status": "Success"},
                   token=token).status_code == 403
    assert outbox_rows(conn) == []


def test_token_in_a_form_field_does_not_count(client):
    form = inbound() | {"token": "s3cret-callback-token"}
    assert client.post(PUBLIC_URL + SMS, data=form).status_code == 403


@pytest.mark.parametrize("date", ["2026-11-22T11:30:00Z", "2026-11-22 11:30:00"])
def test_both_date_formats_are_accepted(client, conn, date):
    assert post_at(client, SMS, inbound(date=date)).status_code == 200
    received = conn.execute("SELECT received_at FROM inbound").fetchone()[0]
    # AT's date is checked but not stored as the receive time: that is our clock's.
    assert received.startswith("2026-11-23T09:00:00")


def test_duplicate_inbound_queues_no_second_reply(client, conn):
    for _ in range(3):
        assert post_at(client, SMS, inbound("STOP")).status_code == 200
    assert len(outbox_rows(conn)) == 1
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 1


@pytest.mark.parametrize("field", ["id", "text", "from"])
def test_missing_required_fields_are_400(client, conn, field):
    form = inbound()
    del form[field]
    response = post_at(client, SMS, form)
    assert response.status_code == 400
    assert response.get_json()["error"] == f"missing field {field}"
    assert conn.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 0


def test_bad_date_and_bad_number_are_400(client):
    assert post_at(client, SMS, inbound(date="yesterday")).status_code == 400
    form = inbound() | {"from": "12"}
    assert post_at(client, SMS, form).status_code == 400


def test_empty_text_gets_a_helpful_reply(client, conn):
    assert post_at(client, SMS, inbound(text="")).status_code == 200
    assert "HELP" in outbox_rows(conn)[0]["text"]


def _sent(conn, at_id: str) -> int:
    return sent_message(conn, "africastalking", at_id)


@pytest.mark.parametrize("status,expected", [
    ("Sent", "sent"), ("Submitted", "sent"), ("Buffered", "sent"), ("Success", "delivered"),
    ("Rejected", "failed"), ("Failed", "failed"), ("Expired", "undelivered"),
    ("AbsentSubscriber", "undelivered"),
])
def test_every_reference_status_maps(client, conn, status, expected):
    message_id = _sent(conn, "ATXid_" + status)
    response = post_at(client, DLR, {"id": "ATXid_" + status, "status": status,
                                     "phoneNumber": "+254722123456", "networkCode": "63902"})
    assert response.status_code == 200
    assert outbox.get(conn, message_id).status == expected


def test_final_state_never_regresses(client, conn):
    message_id = _sent(conn, "ATXid_x")
    for status in ("Success", "Sent", "Failed", "Buffered"):
        post_at(client, DLR, {"id": "ATXid_x", "status": status})
    assert outbox.get(conn, message_id).status == "delivered"


def test_unknown_status_is_logged_not_crashing(client, conn, caplog):
    message_id = _sent(conn, "ATXid_y")
    response = post_at(client, DLR, {"id": "ATXid_y", "status": "Teleported"})
    assert response.status_code == 200
    assert outbox.get(conn, message_id).status == "sent"
    assert any("unknown status" in r.getMessage() for r in caplog.records)
    events = conn.execute("SELECT provider_status FROM status_events").fetchall()
    assert [e[0] for e in events] == ["Teleported"]


def test_blacklist_failure_marks_contact_opted_out(client, conn):
    _sent(conn, "ATXid_dda018a640edfcc5d2ce455de3e4a6e7")
    form = {"id": "ATXid_dda018a640edfcc5d2ce455de3e4a6e7", "status": "Failed",
            "phoneNumber": "+254722123456", "networkCode": "63902",
            "failureReason": "UserInBlackList", "retryCount": "0"}
    assert post_at(client, DLR, form).status_code == 200
    opted = conn.execute("SELECT opted_out FROM contacts WHERE phone = '+254722123456'")
    assert opted.fetchone()[0] == 1


def test_delivery_report_missing_fields_is_400(client):
    assert post_at(client, DLR, {"status": "Success"}).status_code == 400
    assert post_at(client, DLR, {"id": "ATXid_z"}).status_code == 400


def test_oversized_body_is_413_not_500(client):
    form = inbound(text="x" * 70_000)
    response = post_at(client, SMS, form)
    assert response.status_code == 413
    assert "larger than" in response.get_json()["error"]


# linkId: a reply to an on-demand premium short code must carry the linkId of the message it
# answers, and go out from the short code the farmer texted (shared reference, 2.2 and 2.5).


def test_a_reply_keeps_the_short_code_and_the_link_id_of_the_message(client, conn):
    assert post_at(client, SMS, inbound("HELP")).status_code == 200
    row = conn.execute("SELECT reply_from, link_id FROM outbox").fetchone()
    assert tuple(row) == ("21512", "03090445075804249226")


def test_the_at_sender_sends_a_premium_reply_with_its_link_id_from_the_short_code(config):
    import json
    from urllib.parse import parse_qs

    import responses

    from db.outbox import OutboxMessage, OutboxStatus
    from smsgw.providers.africastalking.sms import AfricasTalkingSender

    answer = {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [{
        "statusCode": 101, "number": "+254722123456", "status": "Success",
        "cost": "KES 0.8000", "messageId": "ATPid_1"}]}}
    reply = OutboxMessage(1, None, "+254722123456", "Maize KES 35", "africastalking", "reply",
                          OutboxStatus.SENDING, "GSM-7", 1, 1, None, reply_from="21512",
                          link_id="03090445075804249226")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for host in ("api.sandbox.africastalking.com", "content.africastalking.com"):
            mock.add(responses.POST, f"https://{host}/version1/messaging",
                     body=json.dumps(answer), status=201, content_type="application/json")
        assert AfricasTalkingSender(config).send(reply) == "ATPid_1"
        form = parse_qs(mock.calls[0].request.body)
    assert form["linkId"] == ["03090445075804249226"] and form["from"] == ["21512"]
    assert form["bulkSMSMode"] == ["0"]
