"""Africa's Talking SMS: token check, parse inbound, parse delivery reports, send.

AT does not sign callbacks, so every callback URL carries a secret `?token=` that is
compared in constant time (see the shared reference, section 2.8).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from africastalking.SMS import SMSService

from db.outbox import OutboxMessage, OutboxStatus
from handlers.messages import InboundMessage
from smsgw.errors import MalformedRequest, PermanentSendError, SendError, TransientSendError
from smsgw.phone import InvalidNumber, to_e164

PROVIDER = "africastalking"

# Delivery report `status` -> our status (reference 2.3; courier maps the same way).
STATUS_MAP: dict[str, OutboxStatus] = {
    "Sent": OutboxStatus.SENT,
    "Submitted": OutboxStatus.SENT,
    "Buffered": OutboxStatus.SENT,
    "Success": OutboxStatus.DELIVERED,
    "Rejected": OutboxStatus.FAILED,
    "Failed": OutboxStatus.FAILED,
    "Expired": OutboxStatus.UNDELIVERED,
    "AbsentSubscriber": OutboxStatus.UNDELIVERED,
}
BLACKLISTED_REASON = "UserInBlackList"
# Per-recipient statusCode of a send: 100-102 accepted. 500/501 are AT's own transient
# errors; 405 (insufficient balance) and 409 (Nigeria's night-time DND window) succeed
# later without any change to the message, so they are retried too.
ACCEPTED_CODES = frozenset({100, 101, 102})
TRANSIENT_CODES = frozenset({405, 409, 500, 501})
BLACKLISTED_CODE = 406


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    provider_message_id: str
    status: OutboxStatus | None
    provider_status: str
    failure_reason: str | None
    recipient: str | None

    @property
    def opted_out(self) -> bool:
        """The recipient is on AT's blacklist for our sender (they opted out)."""
        # AT's docs spell it UserInBlacklist in places and UserInBlackList in others.
        return (self.failure_reason or "").casefold() == BLACKLISTED_REASON.casefold()


def token_ok(expected: str, given: str | None) -> bool:
    """Constant-time check of the callback token; an unset token never matches."""
    return bool(expected) and given is not None and hmac.compare_digest(
        expected.encode(), given.encode())


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if value is None or (name != "text" and not value.strip()):
        raise MalformedRequest(f"missing field {name}")
    return value


def parse_date(raw: str | None, now: datetime) -> datetime:
    """AT sends `2017-05-03T06:04:45Z` or `2017-05-03 06:04:45` (UTC); absent means now."""
    if not raw:
        return now
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(raw.strip(), layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise MalformedRequest(f"date is not a date AT sends: {raw!r}")


def parse_inbound(form: Mapping[str, str], *, region: str, now: datetime) -> InboundMessage:
    """An incoming-message callback as a neutral message."""
    message_id = _required(form, "id")
    sender = _required(form, "from")
    text = _required(form, "text")
    parse_date(form.get("date"), now)  # checked, but not trusted: see below
    try:
        e164 = to_e164(sender, region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"from is not a phone number: {exc}") from None
    # Stamped with the time we received it, not AT's `date`: whoever holds the callback
    # token could back-date messages to slip past the per-sender limit.
    link_id = (form.get("linkId") or "").strip()[:64] or None
    return InboundMessage(PROVIDER, message_id, e164, form.get("to", "")[:32], text, now,
                          link_id=link_id)


def parse_delivery(form: Mapping[str, str]) -> DeliveryReport:
    """A delivery report; an unknown status keeps status None (logged, not an error)."""
    message_id = _required(form, "id")
    raw = _required(form, "status")
    return DeliveryReport(message_id, STATUS_MAP.get(raw), raw,
                          form.get("failureReason") or None, form.get("phoneNumber"))


class AfricasTalkingSender:
    """Sends outbox messages through the africastalking SDK."""

    provider = PROVIDER

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._sms = SMSService(settings["providers.africastalking.username"],
                               settings["providers.africastalking.api_key"])
        self._sender_id = settings["providers.africastalking.sender_id"] or None
        self.max_per_second = int(settings["providers.africastalking.max_per_second"])
        self.max_recipients = int(settings["providers.africastalking.batch_recipients"])

    def send(self, message: OutboxMessage) -> str:
        """Send one message; return AT's messageId or raise a SendError.

        A reply to an on-demand premium message carries its linkId and goes out from the
        short code the farmer texted (AT's premium send); any other reply goes out from that
        short code too, when it came in on one.
        """
        if message.link_id:
            answer = self._call(message.text, [message.to_number], premium=message)
        else:
            answer = self._call(message.text, [message.to_number],
                                sender_id=message.reply_from or self._sender_id)
        return _judge(_recipient(_recipients(answer), message.to_number))

    def send_many(self, messages: Sequence[OutboxMessage]) -> dict[int, str | SendError]:
        """Send one text to several numbers in one API call (bulletins): AT answers per
        recipient, so each message gets its own messageId or error."""
        answer = self._call(messages[0].text, [m.to_number for m in messages])
        listed = _recipients(answer)
        results: dict[int, str | SendError] = {}
        for message in messages:
            found = next((r for r in listed if r.get("number") == message.to_number), None)
            if found is None:
                results[message.id] = TransientSendError(
                    "africastalking: the answer does not list this recipient")
                continue
            try:
                results[message.id] = _judge(found)
            except SendError as exc:
                results[message.id] = exc
        return results

    def _call(self, text: str, numbers: list[str], *, sender_id: str | None = None,
              premium: OutboxMessage | None = None) -> Any:
        try:
            if premium is not None:
                return self._sms.send_premium(text, premium.reply_from or self._sender_id,
                                              numbers, link_id=premium.link_id)
            return self._sms.send(text, numbers, sender_id=sender_id or self._sender_id)
        except (requests.RequestException, OSError) as exc:
            # First: requests' JSONDecodeError (an unreadable 2xx body) is also a ValueError.
            raise TransientSendError(f"africastalking: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # the SDK's own E.164 check, before any HTTP call
            raise PermanentSendError(f"africastalking: {exc}") from exc
        except Exception as exc:  # AfricasTalkingException: non-2xx, status code not kept
            # The SDK keeps only the response text, so a 401 cannot be told from a 503;
            # retrying is bounded by worker.max_attempts, and losing nothing matters more.
            raise TransientSendError(f"africastalking: {str(exc)[:200]}") from exc


def _recipients(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, str):  # the SDK returns text unless Content-Type is exactly JSON
        try:
            answer = json.loads(answer)
        except json.JSONDecodeError:
            raise TransientSendError(f"africastalking: unreadable answer {answer[:100]!r}") from None
    try:
        recipients = answer["SMSMessageData"]["Recipients"]
        if not isinstance(recipients, list) or not recipients:
            raise TypeError
    except (KeyError, TypeError):
        raise TransientSendError(f"africastalking: unexpected answer {str(answer)[:200]}") from None
    return recipients


def _recipient(recipients: list[dict[str, Any]], number: str) -> dict[str, Any]:
    return next((r for r in recipients if r.get("number") == number), recipients[0])


def _judge(result: Any) -> str:
    """AT's verdict on one recipient: its messageId, or the SendError it amounts to."""
    try:
        code = int(result["statusCode"])
    except (KeyError, TypeError, ValueError):
        raise TransientSendError(f"africastalking: unexpected answer {str(result)[:200]}") from None
    detail = f"africastalking {code} {result.get('status', '')}"
    if code in ACCEPTED_CODES:
        return str(result.get("messageId"))
    if code in TRANSIENT_CODES:
        raise TransientSendError(detail)
    raise PermanentSendError(detail, opted_out=code == BLACKLISTED_CODE)
