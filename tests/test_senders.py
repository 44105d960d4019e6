"""TwilioSender and AfricasTalkingSender against the real SDKs, with only HTTP faked.

Twilio: a `twilio.http.HttpClient` subclass answers the SDK (reference 1.7).
Africa's Talking: the SDK calls `requests.post`, answered by `responses` (reference 2.5).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses
from twilio.http import HttpClient
from twilio.http.response import Response

from db.outbox import OutboxMessage, OutboxStatus
from smsgw.providers.africastalking.sms import AfricasTalkingSender
from smsgw.errors import PermanentSendError, TransientSendError
from smsgw.providers.twilio_sms import TwilioSender
from support import AT_KEY, TWILIO_SID, TWILIO_TOKEN, make_config

TO = "+254722123456"
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
AT_URL = "https://api.sandbox.africastalking.com/version1/messaging"
AT_JSON = "application/json; charset=utf-8"  # what AT sends; the SDK then returns a str


# --------------------------------------------------------------------------- helpers


def outbox_message(text: str = "Hello from the co-op", to: str = TO, provider: str = "twilio",
                   message_id: int = 7) -> OutboxMessage:
    return OutboxMessage(id=message_id, contact_id=None, to_number=to, text=text,
                         provider=provider, kind="reply", status=OutboxStatus.SENDING,
                         encoding="GSM-7", segments=1, attempts=1, provider_message_id=None)


Answer = Response | BaseException | Callable[[dict[str, Any]], Response]


class FakeTwilioHttp(HttpClient):
    """The twilio SDK's HTTP transport, answering from a script and recording every request."""

    def __init__(self, *answers: Answer) -> None:
        super().__init__(logging.getLogger("tests.fake_twilio"), False)
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def request(self, method: str, url: str, params: Any = None, data: Any = None,
                headers: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = False) -> Response:
        call = {"method": method, "url": url, "params": params, "data": dict(data or {}),
                "headers": headers, "auth": auth}
        self.requests.append(call)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(call)
        return answer


def twilio_created(sid: str = "SM0123456789abcdef0123456789abcdef", to: str = TO) -> Response:
    """Twilio's 201 answer to a create (a Message resource)."""
    return Response(201, json.dumps({
        "sid": sid, "account_sid": TWILIO_SID, "to": to, "from": "+15005550006",
        "body": "Hello from the co-op", "status": "queued", "num_segments": "1",
        "direction": "outbound-api", "error_code": None, "error_message": None,
        "api_version": "2010-04-01", "price": None, "uri": f"/2010-04-01/Accounts/{TWILIO_SID}"
        f"/Messages/{sid}.json",
    }))


def twilio_error(status: int, code: int, message: str) -> Response:
    """Twilio's error answer (legacy JSON shape, reference 1.7)."""
    return Response(status, json.dumps({
        "code": code, "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status,
    }))


def at_body(status_code: int, status: str,
            message_id: str = "ATXid_dda018a640edfcc5d2ce455de3e4a6e7",
            number: str = TO) -> dict[str, Any]:
    """AT's answer to a bulk send for one recipient (reference 2.5)."""
    accepted = status_code in (100, 101, 102)
    return {"SMSMessageData": {
        "Message": f"Sent to {int(accepted)}/1 Total Cost: KES {'0.8000' if accepted else '0'}",
        "Recipients": [{
            "statusCode": status_code, "number": number, "status": status,
            "cost": "KES 0.8000" if accepted else "0",
            "messageId": message_id if accepted else "None",
        }],
    }}


@pytest.fixture
def at_http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def at_answer(mock: responses.RequestsMock, payload: Any, status: int = 201,
              content_type: str = AT_JSON) -> None:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    mock.add(responses.POST, AT_URL, body=body, status=status, content_type=content_type)


def posted_form(mock: responses.RequestsMock, index: int = 0) -> dict[str, list[str]]:
    body = mock.calls[index].request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


# --------------------------------------------------------------------------- Twilio


def test_twilio_success_returns_sid_and_sends_the_wire_fields(config: Any) -> None:
    http = FakeTwilioHttp(twilio_created("SMaaaabbbbccccddddeeeeffff00001111"))
    sender = TwilioSender(config, http_client=http)

    sid = sender.send(outbox_message("Maize price today: KES 42/kg"))

    assert sid == "SMaaaabbbbccccddddeeeeffff00001111"
    assert len(http.requests) == 1
    call = http.requests[0]
    assert call["method"] == "POST"
    assert call["url"] == TWILIO_URL
    assert call["auth"] == (TWILIO_SID, TWILIO_TOKEN)
    assert call["data"] == {
        "To": TO,
        "From": "+15005550006",
        "Body": "Maize price today: KES 42/kg",
        "StatusCallback": "https://gateway.example.com/webhooks/twilio/status",
    }


def test_twilio_no_status_callback_without_public_https_url(tmp_path: Path) -> None:
    config = make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                       "providers.twilio.allow_http": True})
    http = FakeTwilioHttp(twilio_created())
    TwilioSender(config, http_client=http).send(outbox_message())

    assert set(http.requests[0]["data"]) == {"To", "From", "Body"}


def test_twilio_21610_is_permanent_and_opted_out(config: Any) -> None:
    http = FakeTwilioHttp(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    with pytest.raises(PermanentSendError) as caught:
        TwilioSender(config, http_client=http).send(outbox_message())
    assert caught.value.opted_out is True
    assert "21610" in str(caught.value)


def test_twilio_21211_is_permanent_not_opted_out(config: Any) -> None:
    http = FakeTwilioHttp(twilio_error(400, 21211, "The 'To' number +1500555 is not a valid "
                                                   "phone number."))
    with pytest.raises(PermanentSendError) as caught:
        TwilioSender(config, http_client=http).send(outbox_message())
    assert caught.value.opted_out is False
    assert "21211" in str(caught.value)


@pytest.mark.parametrize("answer", [
    pytest.param(twilio_error(429, 20429, "Too Many Requests"), id="429"),
    pytest.param(twilio_error(500, 20500, "Internal Server Error"), id="500-json"),
    pytest.param(Response(503, "<html><body>Service Unavailable</body></html>"), id="503-html"),
    pytest.param(twilio_error(400, 21611, "This 'From' number has exceeded the maximum number"
                                          " of queued messages"), id="21611-queue-full"),
])
def test_twilio_throttling_and_server_errors_are_transient(config: Any, answer: Response) -> None:
    http = FakeTwilioHttp(answer)
    with pytest.raises(TransientSendError):
        TwilioSender(config, http_client=http).send(outbox_message())
    assert len(http.requests) == 1


@pytest.mark.parametrize("error", [
    requests.ConnectionError("Connection refused"),
    requests.Timeout("read timed out"),
], ids=["connection", "timeout"])
def test_twilio_network_errors_are_transient(config: Any, error: Exception) -> None:
    http = FakeTwilioHttp(error)
    with pytest.raises(TransientSendError) as caught:
        TwilioSender(config, http_client=http).send(outbox_message())
    assert type(error).__name__ in str(caught.value)


def test_twilio_other_client_errors_are_permanent(config: Any) -> None:
    http = FakeTwilioHttp(twilio_error(400, 21612, "The 'To' phone number is not currently "
                                                   "reachable via SMS"))
    with pytest.raises(PermanentSendError) as caught:
        TwilioSender(config, http_client=http).send(outbox_message())
    assert caught.value.opted_out is False


# --------------------------------------------------------------------------- Africa's Talking


def test_at_101_returns_message_id_and_posts_the_form(config: Any,
                                                      at_http: responses.RequestsMock) -> None:
    at_answer(at_http, at_body(101, "Success", "ATXid_aaaa"))

    message = outbox_message("Habari", provider="africastalking")
    message_id = AfricasTalkingSender(config).send(message)

    assert message_id == "ATXid_aaaa"
    assert len(at_http.calls) == 1
    request = at_http.calls[0].request
    assert request.url == AT_URL
    assert request.headers["apiKey"] == AT_KEY
    assert posted_form(at_http) == {"username": ["sandbox"], "to": [TO], "message": ["Habari"],
                                    "bulkSMSMode": ["1"]}


def test_at_sender_id_is_posted_as_from(tmp_path: Path, at_http: responses.RequestsMock) -> None:
    config = make_config(tmp_path, **{"providers.africastalking.sender_id": "FARMCOOP"})
    at_answer(at_http, at_body(101, "Success", "ATXid_bbbb"))

    assert AfricasTalkingSender(config).send(outbox_message()) == "ATXid_bbbb"
    assert posted_form(at_http)["from"] == ["FARMCOOP"]


@pytest.mark.parametrize("code,status", [(100, "Processed"), (102, "Queued")])
def test_at_other_accepted_codes(config: Any, at_http: responses.RequestsMock, code: int,
                                 status: str) -> None:
    at_answer(at_http, at_body(code, status, "ATXid_cccc"))
    assert AfricasTalkingSender(config).send(outbox_message()) == "ATXid_cccc"


def test_at_content_type_exactly_json_also_works(config: Any,
                                                 at_http: responses.RequestsMock) -> None:
    at_answer(at_http, at_body(101, "Success", "ATXid_dddd"), content_type="application/json")
    assert AfricasTalkingSender(config).send(outbox_message()) == "ATXid_dddd"


def test_at_string_json_quirk_is_parsed(config: Any, at_http: responses.RequestsMock) -> None:
    """With `; charset=utf-8` the SDK hands back the raw text; the sender must parse it."""
    at_answer(at_http, json.dumps(at_body(101, "Success", "ATXid_eeee")), content_type=AT_JSON)
    sender = AfricasTalkingSender(config)

    # The quirk is real in this SDK version: it returns a str for this content type.
    assert isinstance(sender._sms.send("x", [TO]), str)
    assert sender.send(outbox_message()) == "ATXid_eeee"


def test_at_406_blacklisted_is_permanent_and_opted_out(config: Any,
                                                       at_http: responses.RequestsMock) -> None:
    at_answer(at_http, at_body(406, "UserInBlacklist"))
    with pytest.raises(PermanentSendError) as caught:
        AfricasTalkingSender(config).send(outbox_message())
    assert caught.value.opted_out is True
    assert "406" in str(caught.value)


def test_at_403_invalid_number_is_permanent(config: Any, at_http: responses.RequestsMock) -> None:
    at_answer(at_http, at_body(403, "InvalidPhoneNumber"))
    with pytest.raises(PermanentSendError) as caught:
        AfricasTalkingSender(config).send(outbox_message())
    assert caught.value.opted_out is False


@pytest.mark.parametrize("code,status", [(500, "InternalServerError"), (501, "GatewayError")])
def test_at_500_501_recipient_codes_are_transient(config: Any, at_http: responses.RequestsMock,
                                                  code: int, status: str) -> None:
    at_answer(at_http, at_body(code, status))
    with pytest.raises(TransientSendError) as caught:
        AfricasTalkingSender(config).send(outbox_message())
    assert str(code) in str(caught.value)


def test_at_http_500_is_transient(config: Any, at_http: responses.RequestsMock) -> None:
    at_answer(at_http, "Internal Server Error", status=500, content_type="text/plain")
    with pytest.raises(TransientSendError) as caught:
        AfricasTalkingSender(config).send(outbox_message())
    assert "Internal Server Error" in str(caught.value)
    assert len(at_http.calls) == 1


def test_at_connection_error_is_transient(config: Any, at_http: responses.RequestsMock) -> None:
    at_http.add(responses.POST, AT_URL, body=requests.ConnectionError("Connection refused"))
    with pytest.raises(TransientSendError) as caught:
        AfricasTalkingSender(config).send(outbox_message())
    assert "ConnectionError" in str(caught.value)


@pytest.mark.parametrize("body,content_type", [
    ("<html><body>502 Bad Gateway</body></html>", "text/html"),
    ("not json at all", AT_JSON),
    ('{"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}', AT_JSON),
    ('{"unexpected": true}', AT_JSON),
    ("{truncated", "application/json"),
], ids=["html", "text", "no-recipients", "wrong-shape", "broken-json-exact-type"])
def test_at_garbage_answer_is_transient(config: Any, at_http: responses.RequestsMock, body: str,
                                        content_type: str) -> None:
    at_answer(at_http, body, status=200, content_type=content_type)
    with pytest.raises(TransientSendError):
        AfricasTalkingSender(config).send(outbox_message())


def test_at_invalid_number_fails_before_any_http(config: Any,
                                                 at_http: responses.RequestsMock) -> None:
    with pytest.raises(PermanentSendError):
        AfricasTalkingSender(config).send(outbox_message(to="0722123456"))
    assert len(at_http.calls) == 0
