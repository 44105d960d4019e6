"""Provider-neutral message types: what adapters produce and what handlers return."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.contacts import Contact


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One SMS as the gateway received it, with the sender already in E.164."""

    provider: str
    provider_message_id: str
    sender: str
    recipient: str
    text: str
    received_at: datetime
    link_id: str | None = None   # AT's on-demand premium session: a reply must carry it


@dataclass(frozen=True, slots=True)
class Reply:
    """A message a handler wants sent back; `kind` lets opt-out confirmations through."""

    text: str
    kind: str = "reply"


OPTOUT_CONFIRMATION = "optout_confirmation"

# When the next price bulletin goes out after a given time (None: none is scheduled). The
# schedule belongs to smsgw/ (apscheduler lives there), which puts this into each Context.
NextBulletin = Callable[[datetime], datetime | None]


def no_bulletin(now: datetime) -> datetime | None:
    """No scheduled bulletin: what a Context knows unless its gateway says otherwise."""
    return None


@dataclass(slots=True)
class Context:
    """What a handler may use: the database, the contact, the language, the clock, settings
    and the bulletin schedule."""

    conn: sqlite3.Connection
    contact: Contact
    language: str
    now: datetime
    settings: Mapping[str, Any]   # every setting (smsgw.config): read as settings["key"]
    confirmed: bool = False   # the sender said YES to this very request (handlers.costs)
    next_bulletin: NextBulletin = no_bulletin   # asked with `now` when a reply names it
    message_id: int | None = None   # the inbound SMS being answered (None: USSD, the CLI)

    def t(self, key: str, **values: Any) -> str:
        """The reply text `key` in the contact's language, filled with values."""
        from handlers.texts import text

        return text(self.language, key, **values)


@dataclass(frozen=True, slots=True)
class UssdRequest:
    """One hop of a USSD session: `text` is every input so far, joined with `*`."""

    provider: str
    session_id: str
    phone: str              # E.164
    service_code: str
    network_code: str
    text: str
    received_at: datetime
