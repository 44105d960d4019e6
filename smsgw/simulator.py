"""The simulator: an SMS or a USSD session typed by an admin, as a *simulated* contact.

It goes through the same gateway as real traffic, in-process (no webhook, so nothing here
depends on who may call the local route). The number it acts as is flagged as simulated
on first use, and everything a simulated contact causes goes to the local provider (see
db.outbox), never to a paying one, and it acts on simulated contacts' orders, sales and
pools only (handlers.sides). A number that belongs to a real contact is refused:
the simulator must not act as a real person. Used by `smsgw sim`, `smsgw ussd` and, later,
the console's phone.
"""

from __future__ import annotations

import sqlite3
import uuid

from db import contacts, transaction
from handlers.messages import UssdRequest
from smsgw.providers import local_sms
from smsgw.context import Services
from smsgw.errors import MalformedRequest
from smsgw.gateway import Delivery, Received
from smsgw.phone import InvalidNumber, to_e164
from smsgw.ussd_gateway import Answer


class NotSimulated(Exception):
    """The number cannot be simulated; the message says why."""


def simulated_phone(services: Services, conn: sqlite3.Connection, number: str) -> str:
    """The E.164 form of a number the simulator may act as, flagged as simulated."""
    try:
        phone = to_e164(number, str(services.config["app.default_region"]))
    except InvalidNumber as exc:
        raise NotSimulated(f"not a phone number: {exc}") from None
    try:
        with transaction(conn):
            contacts.simulated(conn, phone)
    except contacts.RealContact:
        raise NotSimulated("that number belongs to a real contact; the simulator acts only as"
                           " simulated contacts (pick another number)") from None
    return phone


def send_sms(services: Services, conn: sqlite3.Connection, number: str, text: str) -> Received:
    """One SMS from a simulated contact through the gateway; its replies come back."""
    phone = simulated_phone(services, conn, number)
    payload = {"from": phone, "to": "sim", "text": text, "id": f"sim-{uuid.uuid4()}"}
    try:
        message = local_sms.parse_inbound(payload, region=str(services.config["app.default_region"]),
                                          now=services.clock())
    except MalformedRequest as exc:
        raise NotSimulated(str(exc)) from None
    return services.gateway.receive(conn, message, delivery=Delivery.INLINE,
                                    reply_provider=local_sms.PROVIDER)


class UssdSession:
    """A USSD session dialled by a simulated contact: `hop("")` opens it, then each input."""

    def __init__(self, services: Services, conn: sqlite3.Connection, number: str,
                 service_code: str) -> None:
        self.services, self.conn, self.service_code = services, conn, service_code
        self.phone = simulated_phone(services, conn, number)
        self.session_id = f"sim-{uuid.uuid4()}"
        self.typed: list[str] = []

    def hop(self, entry: str | None = None) -> Answer:
        """Open the session (no entry) or type one more input; the screen shown."""
        if entry is not None:
            self.typed.append(entry)
        request = UssdRequest(local_sms.PROVIDER, self.session_id, self.phone, self.service_code,
                              "", "*".join(self.typed), self.services.clock())
        return self.services.ussd.answer(self.conn, request, reply_provider=local_sms.PROVIDER)
