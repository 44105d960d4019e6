"""What a provider is, and what its webhook routes share.

A provider is one module (or small package) under smsgw/providers that declares a
`Provider`: its name, its settings with their defaults, the keys it needs once enabled, a
check of its own settings, its webhook routes (a Flask blueprint), how to build its sender
and, if it has any, its admin commands (a click group). smsgw/providers/__init__.py lists them; adding one touches that module and the
list, nothing else (courier's skeleton, in Python).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Blueprint, abort, request

from db import contacts, outbox, transaction
from db.outbox import OutboxMessage
from handlers.messages import InboundMessage
from smsgw.context import connection, services
from smsgw.errors import SendError
from smsgw.phone import InvalidNumber, mask, to_e164
from smsgw.settings import Setting

log = logging.getLogger(__name__)


class Sender(Protocol):
    """What the worker calls: one message, or one text to many numbers in one call."""

    provider: str
    max_per_second: float  # segments; a phone's few hundred an hour is a fraction
    max_recipients: int   # numbers one call may take (1: one message per call)

    def send(self, message: OutboxMessage) -> str: ...

    def send_many(self, messages: Sequence[OutboxMessage]) -> dict[int, str | SendError]: ...


class OneAtATime:
    """For senders whose provider takes one number per call: `send_many` sends each."""

    max_recipients = 1

    def send(self, message: OutboxMessage) -> str:
        raise NotImplementedError

    def send_many(self, messages: Sequence[OutboxMessage]) -> dict[int, str | SendError]:
        """Each message on its own; each answer or error under its message's id."""
        results: dict[int, str | SendError] = {}
        for message in messages:
            try:
                results[message.id] = self.send(message)
            except SendError as exc:
                results[message.id] = exc
        return results


class Inbox(Protocol):
    """Where a polled provider hands what it collected (the worker implements it)."""

    def receive(self, message: InboundMessage) -> None:
        """A received SMS: stored, answered through the outbox, exactly once per id."""

    def report(self, provider_message_id: str, status: outbox.OutboxStatus | None,
               provider_status: str, error_code: str | None = None) -> None:
        """A sent, delivered or failed report about one of our messages."""


@dataclass(frozen=True)
class Provider:
    """A provider's declaration: everything the app, the config and the worker need."""

    name: str
    settings: tuple[Setting, ...]         # every key starts with providers.<name>.
    sender: Callable[[Mapping[str, Any]], Sender]
    blueprint: Blueprint | None = None    # its webhook routes
    required: tuple[str, ...] = ()        # keys that must be set while it is enabled
    check: Callable[[Any], None] | None = None   # more checks of a loaded Config
    cli: Any = None                       # a click group of its admin commands (smsgw NAME)
    on_worker_start: Callable[[Mapping[str, Any]], None] | None = None   # once, if enabled
    # For a provider that does not call our webhooks (a modem writing files): the worker
    # calls it on every round; it hands what it collected to the Inbox and says how many.
    poll: Callable[[Mapping[str, Any], Inbox], int] | None = None

    def __post_init__(self) -> None:
        prefix = f"providers.{self.name}."
        for setting in self.settings:
            if not setting.key.startswith(prefix):
                raise ValueError(f"{setting.key}: a setting of {self.name} starts with {prefix}")
        if f"{prefix}enabled" not in {s.key for s in self.settings}:
            raise ValueError(f"{self.name} declares no {prefix}enabled")


# ------------------------------------------------------------------ what routes share


def require_enabled(name: str) -> None:
    """404 unless the provider is enabled: a disabled provider has no routes to speak of."""
    if not services().config.provider_enabled(name):
        abort(404, description=f"provider {name} is not enabled")


def raw_uri() -> str:
    """The path and query exactly as requested (percent escapes kept)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def region() -> str:
    """The country for numbers written without a country code."""
    return str(services().config["app.default_region"])


def apply_report(provider: str, provider_message_id: str, status: outbox.OutboxStatus | None,
                 provider_status: str, error_code: str | None, opted_out: bool,
                 recipient: str | None) -> None:
    """Move an outbox message forward on a provider's delivery report (in a request)."""
    record_report(connection(), services().clock(), region(), provider, provider_message_id,
                  status, provider_status, error_code, opted_out, recipient)


def record_report(conn: Any, now: Any, default_region: str, provider: str,
                  provider_message_id: str, status: outbox.OutboxStatus | None,
                  provider_status: str, error_code: str | None, opted_out: bool,
                  recipient: str | None) -> None:
    """Move an outbox message forward on a provider's delivery report, on any connection
    (a request's, or the worker's when it collects reports from a spool folder)."""
    with transaction(conn):
        message = outbox.apply_provider_status(
            conn, provider=provider, provider_message_id=provider_message_id, status=status,
            provider_status=provider_status, error_code=error_code, now=now,
            opted_out=opted_out)
        # Only the recipient of a message we sent can be opted out by a report about it:
        # a report for an id we do not know, or naming another number, changes nobody.
        number = message.to_number if message else None
        if opted_out and number and (not recipient or
                                     _e164_or_none(recipient, default_region) == number):
            contacts.opt_out_number(conn, number, source="provider")
            log.info("%s reports %s opted out", provider, mask(number))
    if message is None:
        log.info("%s report for a message not (yet) known: %s (%s), kept until its id is",
                 provider, provider_message_id, provider_status)
    elif status is None:
        log.warning("%s report with unknown status %r for message %d kept, not applied",
                    provider, provider_status, message.id)


def _e164_or_none(raw: str | None, default_region: str) -> str | None:
    if not raw:
        return None
    try:
        return to_e164(raw, default_region)
    except InvalidNumber:
        return None


__all__ = ["OneAtATime", "Provider", "Sender", "apply_report", "raw_uri", "region",
           "require_enabled"]
