"""The webhook routes: each verifies, parses through its adapter, and hands over to the gateway."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import sqlite3

from flask import Blueprint, Flask, Response, abort, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from db import contacts, outbox, schema_version, transaction
from smsgw import app as application
from smsgw import at_sms, at_ussd, local_sms, twilio_sms
from smsgw.errors import MalformedRequest
from smsgw.gateway import Delivery
from smsgw.phone import InvalidNumber, mask, to_e164

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    """Register the routes and the error answers."""
    app.register_blueprint(bp)
    app.register_error_handler(MalformedRequest, _malformed)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(sqlite3.OperationalError, _database_busy)
    app.register_error_handler(HTTPException, _refused)


def _refused(exc: HTTPException) -> tuple[Response, int]:
    """403, 404, 405...: the reason as JSON, like every other answer of these routes."""
    return jsonify(error=exc.description), exc.code or 500


def _malformed(exc: MalformedRequest) -> tuple[Response, int]:
    log.warning("400 on %s: %s", request.path, exc)
    return jsonify(error=str(exc)), 400


def _too_large(exc: HTTPException) -> tuple[Response, int]:
    limit = application.services().config["server.max_request_bytes"]
    return jsonify(error=f"request body larger than {limit} bytes"), 413


def _database_busy(exc: sqlite3.OperationalError) -> tuple[Response, int, dict[str, str]]:
    # Nothing was committed (the transaction rolled back), so the provider's retry is safe.
    log.error("database unavailable on %s: %s", request.path, exc)
    return jsonify(error="temporarily unavailable, try again"), 503, {"Retry-After": "5"}


def _require_provider(name: str) -> None:
    if not application.services().config.provider_enabled(name):
        abort(404, description=f"provider {name} is not enabled")


def _raw_uri() -> str:
    """The path and query exactly as requested (percent escapes kept)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def _region() -> str:
    return str(application.services().config["app.default_region"])


def _verify_twilio() -> MultiDict[str, str]:
    """The posted form, once its X-Twilio-Signature is checked (403 otherwise)."""
    config = application.services().config
    form = twilio_sms.read_form(request)
    url = twilio_sms.signed_url(config["app.public_url"], _raw_uri())
    if not twilio_sms.verify(config["providers.twilio.auth_token"], url, form,
                             request.headers.get("X-Twilio-Signature")):
        log.warning("403: bad Twilio signature on %s", request.path)
        abort(403, description="invalid X-Twilio-Signature")
    return form


def _verify_at_token() -> None:
    expected = application.services().config["providers.africastalking.callback_token"]
    if not at_sms.token_ok(expected, request.args.get("token")):
        log.warning("403: bad or missing token on %s", request.path)
        abort(403, description="missing or wrong token")


@bp.post("/webhooks/twilio/sms")
def twilio_inbound() -> Response:
    """Inbound SMS from Twilio, answered with TwiML holding the replies."""
    _require_provider(twilio_sms.PROVIDER)
    form = _verify_twilio()
    services = application.services()
    message = twilio_sms.parse_inbound(form, region=str(services.config["app.default_region"]),
                                       now=services.clock())
    received = services.gateway.receive(application.connection(), message,
                                        delivery=Delivery.INLINE, reply_provider=twilio_sms.PROVIDER)
    return Response(twilio_sms.render([reply.text for reply in received.replies]),
                    content_type="text/xml; charset=utf-8")


@bp.post("/webhooks/twilio/status")
def twilio_status() -> Response:
    """Twilio status callbacks move an outbox message forward."""
    _require_provider(twilio_sms.PROVIDER)
    report = twilio_sms.parse_status(_verify_twilio())
    _apply_report(twilio_sms.PROVIDER, report.provider_message_id, report.status,
                  report.provider_status, report.error_code, report.opted_out, report.recipient)
    return Response(twilio_sms.render([]), content_type="text/xml; charset=utf-8")


@bp.post("/webhooks/africastalking/sms")
def at_inbound() -> Response:
    """Inbound SMS from Africa's Talking: acknowledged at once, replies go to the outbox."""
    _require_provider(at_sms.PROVIDER)
    _verify_at_token()
    services = application.services()
    message = at_sms.parse_inbound(request.form, region=_region(), now=services.clock())
    services.gateway.receive(application.connection(), message, delivery=Delivery.QUEUE,
                             reply_provider=at_sms.PROVIDER)
    return Response("OK", content_type="text/plain")


@bp.post("/webhooks/africastalking/delivery")
def at_delivery() -> Response:
    """Africa's Talking delivery reports move an outbox message forward."""
    _require_provider(at_sms.PROVIDER)
    _verify_at_token()
    report = at_sms.parse_delivery(request.form)
    _apply_report(at_sms.PROVIDER, report.provider_message_id, report.status,
                  report.provider_status, report.failure_reason, report.opted_out,
                  report.recipient)
    return Response("OK", content_type="text/plain")


@bp.post("/webhooks/africastalking/ussd")
def at_ussd_hop() -> Response:
    """One hop of an AT USSD session, answered with `CON ...` or `END ...` as text/plain."""
    _require_provider(at_ussd.PROVIDER)
    _verify_at_token()
    services = application.services()
    hop = at_ussd.parse_session(
        request.form, region=_region(), now=services.clock(),
        allowed_codes=at_ussd.service_codes(services.config["ussd.service_codes"]))
    answer = services.ussd.answer(application.connection(), hop, reply_provider=at_ussd.PROVIDER)
    return Response(at_ussd.render(answer.text, end=answer.end),
                    content_type="text/plain; charset=utf-8")


@bp.post("/webhooks/africastalking/ussd/events")
def at_ussd_end() -> Response:
    """AT's session-end notification: recorded, acknowledged with 200."""
    _require_provider(at_ussd.PROVIDER)
    _verify_at_token()
    end = at_ussd.parse_end(request.form, region=_region())
    if end.status not in at_ussd.END_STATUSES:
        log.warning("USSD session end with unknown status %r kept as sent", end.status)
    application.services().ussd.record_end(application.connection(), end)
    return Response("OK", content_type="text/plain")


# Headers a proxy adds: a request carrying one came through a proxy, so its loopback
# address says nothing about who sent it (a TLS proxy on this machine forwards everyone).
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host")


def _verify_local() -> None:
    """The local webhook fails closed: a token when one is set, else this machine only,
    and only while no paying provider is enabled (403 otherwise, with the reason)."""
    config = application.services().config
    token = str(config["providers.local.token"])
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8", "replace"), token.encode("utf-8")):
            log.warning("403: bad or missing bearer token on %s", request.path)
            abort(403, description="missing or wrong Authorization: Bearer token")
        return
    if not config.local_open():
        abort(403, description="the local webhook needs providers.local.token while another"
                               " provider is enabled")
    if not _from_loopback():
        log.warning("403: local webhook called from outside this machine")
        abort(403, description="without providers.local.token the local webhook answers only"
                               " this machine")


def _from_loopback() -> bool:
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.post("/webhooks/local/sms")
def local_inbound() -> tuple[Response, int]:
    """The offline gateway: JSON in, the replies back as JSON."""
    _require_provider(local_sms.PROVIDER)
    _verify_local()
    payload = local_sms.read_json(request.get_data(cache=False))
    services = application.services()
    message = local_sms.parse_inbound(payload, region=_region(), now=services.clock())
    received = services.gateway.receive(application.connection(), message,
                                        delivery=Delivery.INLINE, reply_provider=local_sms.PROVIDER)
    replies = [{"id": r.id, "to": r.to_number, "text": r.text, "segments": r.segments,
                "encoding": r.encoding} for r in received.replies]
    return jsonify(duplicate=received.duplicate, replies=replies), 200


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers, 503 when it does not."""
    try:
        version = schema_version(application.connection())
    except sqlite3.Error as exc:
        log.error("health check: database unreachable: %s", exc)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok", schema=version), 200


def _apply_report(provider: str, provider_message_id: str, status: outbox.OutboxStatus | None,
                  provider_status: str, error_code: str | None, opted_out: bool,
                  recipient: str | None) -> None:
    conn = application.connection()
    now = application.services().clock()
    with transaction(conn):
        message = outbox.apply_provider_status(
            conn, provider=provider, provider_message_id=provider_message_id, status=status,
            provider_status=provider_status, error_code=error_code, now=now)
        # Only the recipient of a message we sent can be opted out by a report about it:
        # a report for an id we do not know, or naming another number, changes nobody.
        number = message.to_number if message else None
        if opted_out and number and (not recipient or _e164_or_none(recipient) == number):
            contacts.opt_out_number(conn, number, source="provider")
            log.info("%s reports %s opted out", provider, mask(number))
    if message is None:
        log.warning("%s report for unknown message %s (%s) ignored", provider,
                    provider_message_id, provider_status)
    elif status is None:
        log.warning("%s report with unknown status %r for message %d kept, not applied",
                    provider, provider_status, message.id)


def _e164_or_none(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return to_e164(raw, _region())
    except InvalidNumber:
        return None
