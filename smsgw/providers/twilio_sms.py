"""Twilio Programmable Messaging: settings, routes, verify, parse inbound and status,
render TwiML, send.

Named twilio_sms.py, not twilio.py, so it does not shadow the SDK.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from flask import Blueprint, Response, abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wrappers import Request

from db.outbox import OutboxMessage, OutboxStatus
from handlers.messages import InboundMessage
from smsgw.context import connection, services
from smsgw.errors import MalformedRequest, PermanentSendError, TransientSendError
from smsgw.phone import InvalidNumber, to_e164
from smsgw.providers.base import OneAtATime, Provider, apply_report, raw_uri, require_enabled
from smsgw.settings import ConfigError, Setting

PROVIDER = "twilio"
MAX_BODY = 1600  # Twilio's own limit for one (reassembled) message

# MessageStatus -> our status. Twilio's pre-send states all mean "accepted by Twilio".
STATUS_MAP: dict[str, OutboxStatus | None] = {
    "accepted": OutboxStatus.SENT,
    "scheduled": OutboxStatus.SENT,
    "queued": OutboxStatus.SENT,
    "sending": OutboxStatus.SENT,
    "sent": OutboxStatus.SENT,
    "delivered": OutboxStatus.DELIVERED,
    "read": OutboxStatus.DELIVERED,
    "partially_delivered": OutboxStatus.DELIVERED,
    "undelivered": OutboxStatus.UNDELIVERED,
    "failed": OutboxStatus.FAILED,
    "canceled": OutboxStatus.FAILED,
    "receiving": None,
    "received": None,
}
OPTED_OUT_CODE = 21610
# Errors on create that no retry can fix (bad or unreachable number, body too long, ...).
PERMANENT_CODES = frozenset({21211, 21212, 21408, 21602, 21603, 21604, 21606, 21608, 21612,
                             21614, 21617, 21635, OPTED_OUT_CODE})


@dataclass(frozen=True, slots=True)
class StatusReport:
    provider_message_id: str
    status: OutboxStatus | None
    provider_status: str
    error_code: str | None
    recipient: str | None

    @property
    def opted_out(self) -> bool:
        """Twilio says the recipient replied STOP to our number."""
        return self.error_code == str(OPTED_OUT_CODE)


def signed_url(public_url: str, raw_uri: str) -> str:
    """The URL Twilio signed: the configured public URL plus the path and raw query."""
    return public_url.rstrip("/") + raw_uri


def verify(auth_token: str, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """Check X-Twilio-Signature over every posted parameter (reference section 1.3).

    First one HMAC over the URL exactly as configured, the form Twilio signs when it
    calls that URL; only if that does not match, the SDK's RequestValidator, which tries
    the URL with and without its port (Twilio signs some requests over https://host:443/).
    So an honest request costs one HMAC instead of the SDK's two, and anything the SDK
    accepts is still accepted; a forged or re-targeted signature fails both.
    """
    if not signature or not auth_token:
        return False
    expected = signature_of(auth_token, url, form)
    if hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return True
    return bool(RequestValidator(auth_token).validate(url, form, signature))


def signature_of(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """What Twilio signs a form POST to `url` with: HMAC-SHA1, base64 (reference 1.3.1).

    As the SDK's compute_signature: names sorted by code point, each followed by its
    values, a repeated parameter's distinct values sorted; nothing between them.
    """
    lists = form.lists() if isinstance(form, MultiDict) else ((k, [v]) for k, v in form.items())
    parts = [url]
    for name, values in sorted(lists):
        for value in (values if len(values) == 1 else sorted(set(values))):
            parts.append(name)
            parts.append(value)
    digest = hmac.digest(auth_token.encode("utf-8"), "".join(parts).encode("utf-8"), "sha1")
    return base64.b64encode(digest).decode("ascii")


def read_form(request: Request) -> MultiDict[str, str]:
    """The posted parameters of a Twilio webhook.

    Twilio posts application/x-www-form-urlencoded: that body is decoded here with the
    very call werkzeug's form parser makes (parse_qsl, blank values kept, bad escapes
    kept escaped), without the rest of its general machinery, which cost a third more.
    Any other body goes through `request.form` as before. A body that is not UTF-8 (no
    Twilio request is) is a MalformedRequest, answered 400.
    """
    if request.mimetype != "application/x-www-form-urlencoded":
        # Twilio signs a form's parameters; a JSON body would be signed only through a
        # bodySHA256 in the URL, which no messaging webhook uses. Rather than check one more
        # scheme, such bodies are refused: nothing unsigned gets through.
        raise MalformedRequest("Twilio webhooks are application/x-www-form-urlencoded forms")
    if request.args.get("bodySHA256") is not None:
        raise MalformedRequest("bodySHA256 is for JSON bodies; a form is signed as a form")
    try:
        text = _body(request).decode()
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8 form data") from None
    return MultiDict(parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"))


def _body(request: Request) -> bytes:
    """The request body, as `request.get_data()` reads it, with the same limits: 413 over
    MAX_CONTENT_LENGTH, 400 if the client sends less than it announced.

    With a Content-Length, exactly that many bytes are read from the server's input
    stream, as PEP 3333 asks; werkzeug's guarded stream reads on to the end of the input
    a chunk at a time, and `get_data` was 4 % of a HELP's GIL time in the server. Without
    one (a chunked body), `get_data` reads it as before.
    """
    length = request.content_length
    stream = request.environ.get("wsgi.input")
    if length is None or stream is None:
        return request.get_data()
    limit = request.max_content_length
    if limit is not None and length > limit:
        raise RequestEntityTooLarge()
    data = stream.read(length) if length else b""
    if len(data) != length:
        raise ClientDisconnected()
    return data


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if value is None or (name != "Body" and not value.strip()):
        raise MalformedRequest(f"missing field {name}")
    return value


def parse_inbound(form: Mapping[str, str], *, region: str, now: datetime) -> InboundMessage:
    """An inbound SMS webhook as a neutral message; MalformedRequest names what is wrong."""
    sid = _required(form, "MessageSid")
    sender = _required(form, "From")
    body = form.get("Body", "")   # an MMS of a picture alone comes with no Body at all
    if len(body) > MAX_BODY:
        raise MalformedRequest(f"Body longer than {MAX_BODY} characters")
    try:
        e164 = to_e164(sender, region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"From is not a phone number: {exc}") from None
    return InboundMessage(PROVIDER, sid, e164, form.get("To", ""), body, now)


def parse_status(form: Mapping[str, str]) -> StatusReport:
    """A status callback as a report; unknown statuses are kept with status None."""
    sid = _required(form, "MessageSid")
    raw = form.get("MessageStatus") or form.get("SmsStatus")
    if not raw:
        raise MalformedRequest("missing field MessageStatus")
    return StatusReport(sid, STATUS_MAP.get(raw.lower()), raw, form.get("ErrorCode") or None,
                        form.get("To"))


_TWIML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_EMPTY_TWIML = _TWIML_HEAD + "<Response />"
# What XML 1.0 does not allow anywhere in a document, even escaped: the C0 controls but
# tab, LF and CR, the surrogates (a lone one cannot even be encoded) and U+FFFE, U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render(texts: list[str]) -> str:
    """TwiML answering with each reply as a <Message> (an empty <Response/> for none).

    Byte for byte what the SDK's MessagingResponse prints (a test compares them), as a
    string template: ElementTree took longer than the rest of rendering a reply. Text is
    escaped as ElementTree escapes a text node: &, < and >; quotes stay as they are.
    Characters XML cannot hold (a NUL or other control character, a lone surrogate, say,
    from a stored text or a price file) are left out, so the answer is always well-formed.
    """
    if not texts:
        return _EMPTY_TWIML
    texts = [_XML_INVALID.sub("", text) for text in texts]
    messages = "".join(f"<Message>{escape(text)}</Message>" if text else
                       "<Message />" for text in texts)
    return f"{_TWIML_HEAD}<Response>{messages}</Response>"


class TwilioSender(OneAtATime):
    """Sends outbox messages through the twilio SDK's REST client."""

    provider = PROVIDER

    def __init__(self, settings: Mapping[str, Any], *, http_client: HttpClient | None = None) -> None:
        self._client = Client(settings["providers.twilio.account_sid"],
                              settings["providers.twilio.auth_token"], http_client=http_client)
        self._from = settings["providers.twilio.from_number"]
        public_url = str(settings["app.public_url"]).rstrip("/")
        # Twilio can only call back a public https URL; a localhost URL would be refused.
        self._callback = public_url + "/webhooks/twilio/status" if public_url.startswith(
            "https://") else None
        self.max_per_second = int(settings["providers.twilio.max_per_second"])

    def send(self, message: OutboxMessage) -> str:
        """Send one message; return Twilio's MessageSid or raise a SendError."""
        options: dict[str, Any] = {"to": message.to_number, "from_": self._from,
                                   "body": message.text}
        if self._callback:
            options["status_callback"] = self._callback
        try:
            created = self._client.messages.create(**options)
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise TransientSendError(f"twilio: {type(exc).__name__}: {exc}") from exc
        return str(created.sid)


def _classify(exc: TwilioRestException) -> Exception:
    code = exc.code if isinstance(exc.code, int) else None
    detail = f"twilio {exc.status} code {code}: {exc.msg}"
    if code in PERMANENT_CODES:
        return PermanentSendError(detail, opted_out=code == OPTED_OUT_CODE)
    if exc.status in (401, 403) or code == 20003:
        # Bad credentials are an operator's mistake, not the message's: keep it queued
        # (bounded by worker.max_attempts) so fixing the config sends it.
        return TransientSendError(detail + " (check providers.twilio credentials)")
    if exc.status == 429 or exc.status >= 500 or code in {20429, 21611}:
        return TransientSendError(detail)
    return PermanentSendError(detail)


# ------------------------------------------------------------------------------ routes

bp = Blueprint("twilio", __name__)
log = logging.getLogger(__name__)


def _verified_form() -> MultiDict[str, str]:
    """The posted form, once its X-Twilio-Signature is checked (403 otherwise)."""
    config = services().config
    form = read_form(request)
    url = signed_url(config["app.public_url"], raw_uri())
    if not verify(config["providers.twilio.auth_token"], url, form,
                  request.headers.get("X-Twilio-Signature")):
        log.warning("403: bad Twilio signature on %s", request.path)
        abort(403, description="invalid X-Twilio-Signature")
    return form


@bp.post("/webhooks/twilio/sms")
def inbound() -> Response:
    """Inbound SMS from Twilio, answered with TwiML holding the replies."""
    from smsgw.gateway import Delivery

    require_enabled(PROVIDER)
    form = _verified_form()
    found = services()
    message = parse_inbound(form, region=str(found.config["app.default_region"]),
                            now=found.clock())
    received = found.gateway.receive(connection(), message, delivery=Delivery.INLINE,
                                     reply_provider=PROVIDER)
    return Response(render([reply.text for reply in received.replies]),
                    content_type="text/xml; charset=utf-8")


@bp.post("/webhooks/twilio/status")
def status() -> Response:
    """Twilio status callbacks move an outbox message forward."""
    require_enabled(PROVIDER)
    report = parse_status(_verified_form())
    apply_report(PROVIDER, report.provider_message_id, report.status, report.provider_status,
                 report.error_code, report.opted_out, report.recipient)
    return Response(render([]), content_type="text/xml; charset=utf-8")


# ------------------------------------------------------------------------- declaration


def _check(config: Any) -> None:
    if config.provider_enabled(PROVIDER) and not config["providers.twilio.allow_http"] \
            and not str(config["app.public_url"]).startswith("https://"):
        # Twilio signs each webhook over the https:// URL it calls: with an http:// URL no
        # signature would ever match, and every real request would be refused.
        raise ConfigError("app.public_url must start with https:// when twilio is enabled"
                          " (set providers.twilio.allow_http = true only for a local test"
                          " tunnel)")


DECLARATION = Provider(
    name=PROVIDER,
    settings=(
        Setting("providers.twilio.enabled", bool, False,
                "Accept Twilio webhooks (on by itself when twilio is the default provider)"),
        Setting("providers.twilio.account_sid", str, "", "Twilio account SID (AC...)",
                secret=True),
        Setting("providers.twilio.auth_token", str, "", "Twilio auth token", secret=True),
        Setting("providers.twilio.from_number", str, "", "Twilio number messages are sent from"),
        Setting("providers.twilio.max_per_second", int, 10, "Segments per second sent to Twilio",
                minimum=1),
        Setting("providers.twilio.allow_http", bool, False,
                "Accept an http:// app.public_url for Twilio (a local test tunnel only)"),
    ),
    required=("providers.twilio.account_sid", "providers.twilio.auth_token",
              "providers.twilio.from_number"),
    check=_check,
    blueprint=bp,
    sender=TwilioSender,
)
