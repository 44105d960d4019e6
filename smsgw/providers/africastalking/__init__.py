"""Africa's Talking: SMS (sms.py) and USSD (ussd.py), their callback routes, settings and
sender. AT does not sign its callbacks, so every callback URL carries a secret `?token=`
compared in constant time (shared reference, 2.8); a token in a form field does not count.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request

from smsgw.context import connection, services
from smsgw.providers.africastalking import sms, ussd
from smsgw.providers.base import Provider, apply_report, region, require_enabled
from smsgw.settings import Setting

PROVIDER = sms.PROVIDER
bp = Blueprint("africastalking", __name__)
log = logging.getLogger(__name__)


def _verified() -> None:
    """403 unless the callback carries our token (and the provider is enabled: 404)."""
    require_enabled(PROVIDER)
    expected = services().config["providers.africastalking.callback_token"]
    if not sms.token_ok(expected, request.args.get("token")):
        log.warning("403: bad or missing token on %s", request.path)
        abort(403, description="missing or wrong token")


@bp.post("/webhooks/africastalking/sms")
def inbound() -> Response:
    """Inbound SMS: acknowledged at once, replies go to the outbox."""
    from smsgw.gateway import Delivery

    _verified()
    found = services()
    message = sms.parse_inbound(request.form, region=region(), now=found.clock())
    found.gateway.receive(connection(), message, delivery=Delivery.QUEUE, reply_provider=PROVIDER)
    return Response("OK", content_type="text/plain")


@bp.post("/webhooks/africastalking/delivery")
def delivery() -> Response:
    """Delivery reports move an outbox message forward."""
    _verified()
    report = sms.parse_delivery(request.form)
    apply_report(PROVIDER, report.provider_message_id, report.status, report.provider_status,
                 report.failure_reason, report.opted_out, report.recipient)
    return Response("OK", content_type="text/plain")


@bp.post("/webhooks/africastalking/ussd")
def ussd_hop() -> Response:
    """One hop of a USSD session, answered with `CON ...` or `END ...` as text/plain."""
    _verified()
    found = services()
    hop = ussd.parse_session(
        request.form, region=region(), now=found.clock(),
        allowed_codes=ussd.service_codes(found.config["ussd.service_codes"]))
    answer = found.ussd.answer(connection(), hop, reply_provider=PROVIDER)
    return Response(ussd.render(answer.text, end=answer.end),
                    content_type="text/plain; charset=utf-8")


@bp.post("/webhooks/africastalking/ussd/events")
def ussd_end() -> Response:
    """The session-end notification: recorded, acknowledged with 200."""
    _verified()
    end = ussd.parse_end(request.form, region=region())
    if end.status not in ussd.END_STATUSES:
        log.warning("USSD session end with unknown status %r kept as sent", end.status)
    services().ussd.record_end(connection(), end)
    return Response("OK", content_type="text/plain")


DECLARATION = Provider(
    name=PROVIDER,
    settings=(
        Setting("providers.africastalking.enabled", bool, False,
                "Accept Africa's Talking callbacks (on by itself when it is the default"
                " provider)"),
        Setting("providers.africastalking.username", str, "sandbox",
                "AT username; sandbox = AT sandbox"),
        Setting("providers.africastalking.api_key", str, "", "AT API key", secret=True),
        Setting("providers.africastalking.sender_id", str, "",
                "Short code or sender ID; empty = AT's"),
        Setting("providers.africastalking.callback_token", str, "",
                "Required in the ?token= query of every AT callback", secret=True),
        Setting("providers.africastalking.max_per_second", int, 20,
                "Segments per second sent to Africa's Talking", minimum=1),
        Setting("providers.africastalking.batch_recipients", int, 100,
                "Most recipients of one identical message per Africa's Talking API call",
                minimum=1),
    ),
    required=("providers.africastalking.api_key", "providers.africastalking.callback_token"),
    blueprint=bp,
    sender=sms.AfricasTalkingSender,
)
