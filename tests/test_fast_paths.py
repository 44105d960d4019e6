"""The cheaper ways of the webhook path give exactly what the general ones gave.

Each fast path is checked against the library or code it stands in for: the twilio SDK's
RequestValidator and MessagingResponse, werkzeug's form parser, the character-by-character
segment count.
"""

from __future__ import annotations

import random

import pytest
from support import PUBLIC_URL, TWILIO_TOKEN, twilio_inbound
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from handlers import segments
from smsgw.errors import MalformedRequest
from smsgw.providers import twilio_sms

SMS_URL = PUBLIC_URL + "/webhooks/twilio/sms"


# --- X-Twilio-Signature -----------------------------------------------------------------

def test_one_hmac_gives_the_reference_signature():
    form = MultiDict(twilio_inbound("Hello gateway"))
    assert twilio_sms.signature_of(TWILIO_TOKEN, SMS_URL, form) == "tqfMkjQPVe9taNYSDLOkMmg5dE8="


def test_repeated_parameters_are_signed_as_the_sdk_signs_them():
    # protocols.md 1.3.5: duplicates are sorted by value and exact repeats dropped
    form = MultiDict([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                      ("Digits", "1234"), ("Digits", "1234")])
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_sms.signature_of("12345", url, form) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_one_hmac_agrees_with_the_sdk_on_random_forms():
    rng = random.Random(7)
    alphabet = "aAzZ09 +%&=é€😀\n_-"
    validator = RequestValidator(TWILIO_TOKEN)
    for _ in range(300):
        pairs = [("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 6))),
                  "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8))))
                 for _ in range(rng.randrange(0, 8))]
        pairs += [(pairs[0][0], "again")] if pairs and rng.random() < 0.3 else []
        form = MultiDict(pairs)
        assert twilio_sms.signature_of(TWILIO_TOKEN, SMS_URL, form) == \
            validator.compute_signature(SMS_URL, form)


def test_the_exact_url_needs_one_hmac_and_no_sdk(monkeypatch):
    def no_sdk(*_args, **_kwargs):
        raise AssertionError("the SDK validator should not be needed")

    monkeypatch.setattr(RequestValidator, "validate", no_sdk)
    form = MultiDict(twilio_inbound("HELP"))
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(SMS_URL, form)
    assert twilio_sms.verify(TWILIO_TOKEN, SMS_URL, form, signature)


def test_the_port_443_form_is_accepted_through_the_sdk():
    # protocols.md 1.3.5: the same request signed over https://gateway.example.com:443/...
    form = MultiDict(twilio_inbound("Hello gateway"))
    assert twilio_sms.verify(TWILIO_TOKEN, SMS_URL, form, "vEEygjE2idYKl59dk7wNp6De4O0=")


@pytest.mark.parametrize("signature", [
    RequestValidator("not-the-real-token").compute_signature(
        SMS_URL, twilio_inbound("Hello gateway")),          # forged: another key
    RequestValidator(TWILIO_TOKEN).compute_signature(
        "http://gateway.example.com/webhooks/twilio/sms", twilio_inbound("Hello gateway")),
    RequestValidator(TWILIO_TOKEN).compute_signature(
        SMS_URL + "/", twilio_inbound("Hello gateway")),     # re-targeted URLs
    RequestValidator(TWILIO_TOKEN).compute_signature(
        SMS_URL, twilio_inbound("Hello gatewaY")),            # another body
    "tqfMkjQPVe9taNYSDLOkMmg5dE8",                            # truncated
    "tqfMkjQPVe9taNYSDLOkMmg5dE8=é",                          # not even ASCII
    "",
])
def test_forged_and_retargeted_signatures_fail_both_checks(signature):
    form = MultiDict(twilio_inbound("Hello gateway"))
    assert not twilio_sms.verify(TWILIO_TOKEN, SMS_URL, form, signature)


def test_no_token_verifies_nothing():
    form = MultiDict(twilio_inbound("Hello gateway"))
    assert not twilio_sms.verify("", SMS_URL, form, "tqfMkjQPVe9taNYSDLOkMmg5dE8=")


# --- TwiML ------------------------------------------------------------------------------

TRICKY = ["HELP", "", "Tom & Jerry <3 \"quotes\" 'single' >", "Bei ya mahindi 🌽 €5",
          "line one\r\nline two\n", "&amp; already escaped", "]]> <![CDATA[", "tab\there",
          "PRICE MAIZE NAKURU: latest price. " * 8]


@pytest.mark.parametrize("texts", [[], *[[t] for t in TRICKY], TRICKY[:4]])
def test_twiml_is_byte_for_byte_what_the_sdk_prints(texts):
    response = MessagingResponse()
    for text in texts:
        response.message(text)
    assert twilio_sms.render(texts) == str(response)


# --- Form bodies ------------------------------------------------------------------------

def request_for(body: bytes | str, content_type: str = "application/x-www-form-urlencoded"
                ) -> Request:
    return Request(EnvironBuilder(method="POST", data=body, content_type=content_type)
                   .get_environ())


@pytest.mark.parametrize("body", [
    "Body=HELP&From=%2B254722123456&To=%2B254711000000&ToZip=&ToCity=",
    "Body=PRICE+MAIZE+NAKURU&Body=again&Empty=&NoValue&&=orphan&a=b=c",
    "Body=Bei+ya+mahindi+%F0%9F%8C%BD&Broken=%ZZ%4&Half=%F0%9F&Plus=%2B+%20",
    "Body=caf%C3%A9&N%C3%A4me=v%C3%A4lue&semi=a;b",
    "",
])
def test_form_bodies_are_read_as_werkzeug_reads_them(body):
    assert twilio_sms.read_form(request_for(body)) == request_for(body).form


def test_twilio_form_bodies_are_read_as_werkzeug_reads_them():
    from urllib.parse import urlencode

    body = urlencode(twilio_inbound("Habari 😀 & <karibu> +254 100%"))
    assert twilio_sms.read_form(request_for(body)) == request_for(body).form


def test_other_bodies_are_refused():
    request = request_for(b'{"Body": "HELP"}', content_type="application/json")
    with pytest.raises(MalformedRequest, match="form"):
        twilio_sms.read_form(request)


# --- Segment counting -------------------------------------------------------------------

def reference_count(text: str) -> segments.SegmentInfo:
    """The character-by-character count the fast path replaced."""
    if all(ch in segments._GSM7_ALL for ch in text):
        costs = list(segments._gsm7_costs(text))
        return segments.SegmentInfo(segments.Encoding.GSM7,
                                    segments._segment_count(costs, 160, 153), sum(costs))
    costs = list(segments._ucs2_costs(text))
    return segments.SegmentInfo(segments.Encoding.UCS2,
                                segments._segment_count(costs, 70, 67), sum(costs))


def test_fast_segment_count_equals_the_character_by_character_count():
    rng = random.Random(11)
    basic = segments._GSM7_BASIC_TABLE.replace("\x1b", "")
    extension = "".join(segments._GSM7_EXTENSION)
    for _ in range(3000):
        pool = rng.choice([basic, basic + extension, "abc €{}", basic + "é😀ç`"])
        length = rng.choice([0, 1, 70, 152, 153, 154, 159, 160, 161, 306, 307, 460,
                             rng.randrange(0, 700)])
        text = "".join(rng.choice(pool) for _ in range(length))
        assert segments.count(text) == reference_count(text), text
