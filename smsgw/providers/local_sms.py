"""The offline provider: a JSON webhook for local tools and a sender that needs no network.

With no internet, a cooperative's laptop runs everything through this provider: `smsgw
sim` and any local tool post `{"from","to","text","id"}` and get the replies back as JSON.
Queued messages (bulletins, relayed orders) are "sent" by the local sender, which records
them as delivered so that an operator can read them with `smsgw outbox list`.
"""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from db.outbox import OutboxMessage
from handlers.messages import InboundMessage
from smsgw.context import connection, services
from smsgw.errors import MalformedRequest
from smsgw.phone import InvalidNumber, mask, to_e164
from smsgw.providers.base import OneAtATime, Provider, region, require_enabled
from smsgw.settings import ConfigError, Setting

PROVIDER = "local"
MAX_TEXT = 1600
MAX_ID = 100
log = logging.getLogger(__name__)


def read_json(body: bytes) -> Any:
    """The request body as JSON; MalformedRequest with the reason for anything else.

    json.loads recurses once per nesting level, so a deeply nested body raises
    RecursionError rather than ValueError: both are the sender's mistake, not ours.
    """
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedRequest("body is not UTF-8") from None
    except RecursionError:
        raise MalformedRequest("body is JSON nested too deeply") from None
    except ValueError as exc:
        raise MalformedRequest(f"body is not JSON ({exc.args[0] if exc.args else exc})") from None


def _text_field(name: str, value: object) -> str:
    text = str(value)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        # A lone surrogate (JSON "\ud800") is no character at all and cannot be stored.
        raise MalformedRequest(f"field {name} holds a lone surrogate, not text")
    return text


def parse_inbound(payload: Any, *, region: str, now: datetime) -> InboundMessage:
    """A local JSON message as a neutral message."""
    if not isinstance(payload, dict):
        raise MalformedRequest("body must be a JSON object with from, to, text and id")
    for name in ("from", "text", "id"):
        if name not in payload:
            raise MalformedRequest(f"missing field {name}")
    fields = {name: payload.get(name) for name in ("from", "to", "text", "id")}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str | int):
            raise MalformedRequest(f"field {name} must be a string")
    text, message_id, to = (_text_field(name, "" if fields[name] is None else fields[name])
                         for name in ("text", "id", "to"))
    if len(text) > MAX_TEXT:
        raise MalformedRequest(f"text longer than {MAX_TEXT} characters")
    if not message_id.strip():
        raise MalformedRequest("field id is empty")
    if len(message_id) > MAX_ID or len(to) > MAX_ID:
        raise MalformedRequest(f"id and to are at most {MAX_ID} characters")
    try:
        sender = to_e164(str(fields["from"]), region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"from is not a phone number: {exc}") from None
    return InboundMessage(PROVIDER, message_id, sender, to, text, now)


class LocalSender(OneAtATime):
    """Delivers to nowhere but the log: the outbox row itself is the message."""

    provider = PROVIDER
    max_per_second = 1000
    _ids = itertools.count(1)

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = settings

    def send(self, message: OutboxMessage) -> str:
        """Record the message as handed over; return a local message id."""
        log.info("local delivery of message %d to %s (%d segment%s)", message.id,
                 mask(message.to_number), message.segments, "" if message.segments == 1 else "s")
        return f"local-{message.id}-{next(self._ids)}"


# ------------------------------------------------------------------------------ routes

bp = Blueprint("local", __name__)
# Headers a proxy adds: a request carrying one came through a proxy, so its loopback
# address says nothing about who sent it (a TLS proxy on this machine forwards everyone).
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host")


def _verified() -> None:
    """The local webhook fails closed: a token when one is set, else this machine only,
    and only while no paying provider is enabled (403 otherwise, with the reason)."""
    require_enabled(PROVIDER)
    config = services().config
    token = str(config["providers.local.token"])
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8", "replace"), token.encode("utf-8")):
            log.warning("403: bad or missing bearer token on %s", request.path)
            abort(403, description="missing or wrong Authorization: Bearer token")
        return
    if not open_without_token(config):
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
def inbound() -> tuple[Response, int]:
    """The offline gateway: JSON in, the replies back as JSON."""
    from smsgw.gateway import Delivery

    _verified()
    payload = read_json(request.get_data(cache=False))
    found = services()
    message = parse_inbound(payload, region=region(), now=found.clock())
    received = found.gateway.receive(connection(), message, delivery=Delivery.INLINE,
                                     reply_provider=PROVIDER)
    replies = [{"id": r.id, "to": r.to_number, "text": r.text, "segments": r.segments,
                "encoding": r.encoding} for r in received.replies]
    return jsonify(duplicate=received.duplicate, replies=replies), 200


# ------------------------------------------------------------------------- declaration


def open_without_token(config: Any) -> bool:
    """Whether the local webhook may be used without a token (from loopback only): local
    is the default provider and no other provider is enabled."""
    return config["providers.default"] == PROVIDER and not any(
        config.provider_enabled(name) for name in config.provider_names if name != PROVIDER)


def _check(config: Any) -> None:
    if (config["providers.local.enabled"] and not config["providers.local.token"]
            and not open_without_token(config)):
        raise ConfigError("providers.local.token is required when the local webhook is enabled"
                          " while another provider is the default or enabled")


DECLARATION = Provider(
    name=PROVIDER,
    settings=(
        Setting("providers.local.enabled", bool, False,
                "Accept the local JSON webhook when another provider is the default (needs"
                " providers.local.token); on by itself when local is the default provider"),
        Setting("providers.local.token", str, "",
                "Bearer token the local JSON webhook requires; empty = loopback callers only,"
                " and only while local is the default and no other provider is enabled",
                secret=True),
    ),
    check=_check,
    blueprint=bp,
    sender=LocalSender,
)
