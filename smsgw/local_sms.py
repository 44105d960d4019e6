"""The offline provider: a JSON webhook for local tools and a sender that needs no network.

With no internet, a cooperative's laptop runs everything through this provider: `smsgw
sim` and any local tool post `{"from","to","text","id"}` and get the replies back as JSON.
Queued messages (bulletins, relayed orders) are "sent" by the local sender, which records
them as delivered so that an operator can read them with `smsgw outbox list`.
"""

from __future__ import annotations

import itertools
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
log = logging.getLogger(__name__)


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
    text = str(fields["text"])
    if len(text) > MAX_TEXT:
        raise MalformedRequest(f"text longer than {MAX_TEXT} characters")
    if not str(fields["id"]).strip():
        raise MalformedRequest("field id is empty")
    try:
        sender = to_e164(str(fields["from"]), region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"from is not a phone number: {exc}") from None
    return InboundMessage(PROVIDER, str(fields["id"]), sender, str(fields["to"] or ""), text, now)


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
