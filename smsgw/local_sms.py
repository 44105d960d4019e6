"""The offline provider: a JSON webhook for local tools and a sender that needs no network.

With no internet, a cooperative's laptop runs everything through this provider: `smsgw
sim` and any local tool post `{"from","to","text","id"}` and get the replies back as JSON.
Queued messages (bulletins, relayed orders) are "sent" by the local sender, which records
them as delivered so that an operator can read them with `smsgw outbox list`.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from db.outbox import OutboxMessage
from handlers.messages import InboundMessage
from smsgw.errors import MalformedRequest
from smsgw.phone import InvalidNumber, mask, to_e164

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


class LocalSender:
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
