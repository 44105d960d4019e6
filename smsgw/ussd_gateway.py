"""Answering one USSD hop: find the session, move the menu on, store it, queue any SMS.

Everything happens in one write (db.write), as for an SMS (smsgw.gateway): the new
state, the answer to this exact request and any SMS it sends are stored together or not at
all. A repeated request (same session, same input; providers retry) gets the stored
answer back, so a change it made (a registration, a language) and its SMS happen once.
Nothing here calls out to the network: SMS go to the outbox for the worker.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from db import contacts, write
from db import ussd as sessions
from db.timeutil import utcnow
from handlers.messages import Context, UssdRequest
from handlers.ussd import Menu, Screen, State, answer
from prices import countries
from smsgw.bulletins import next_price_bulletin
from smsgw.errors import MalformedRequest
from smsgw.gateway import queue_message
from smsgw.phone import mask

log = logging.getLogger(__name__)
PRUNE_BATCH = 200     # old sessions deleted when a new one starts


@dataclass(frozen=True, slots=True)
class Answer:
    """What to show: the screen's text, and whether it closes the session."""

    text: str
    end: bool
    repeat: bool = False


class UssdGateway:
    """Turns USSD hops into screens, with the session kept in the database."""

    def __init__(self, settings: Mapping[str, Any], menu: Menu,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.menu = menu
        self.clock = clock
        self._next_bulletin = next_price_bulletin(settings)   # as smsgw.gateway does
        # What a simulated contact causes goes to the local provider (as smsgw.gateway):
        # a menu's effects reach other people too (an offer that fills an order).
        self._simulated_settings = ChainMap({"providers.default": "local"}, dict(settings))

    def answer(self, conn: sqlite3.Connection, request: UssdRequest, *,
               reply_provider: str) -> Answer:
        """The screen for one hop; a repeated hop gets the first answer and changes nothing."""
        return write(conn, lambda writer: self._answer(writer, request, reply_provider))

    def _answer(self, conn: sqlite3.Connection, request: UssdRequest,
                reply_provider: str) -> Answer:
        """`answer` inside the write, on the connection it runs on."""
        now = self.clock()
        # The owner first: a request that repeats another phone's session and inputs must
        # not be handed that phone's stored screens.
        contact = contacts.get_or_create(conn, request.phone)
        session = sessions.get_session(conn, request.session_id)
        if session is not None and session.contact_id != contact.id:
            raise MalformedRequest("sessionId belongs to another phoneNumber")
        seen = sessions.answered(conn, request.session_id, request.text)
        if seen is not None:
            log.info("repeated USSD hop on session %s answered again", request.session_id)
            return Answer(seen[0], seen[1], repeat=True)
        if contact.simulated:
            reply_provider = "local"
        language = contact.language or countries.language_of(self.settings, contact.phone)
        ctx = Context(conn, contact, language, now,
                      self._simulated_settings if contact.simulated else self.settings,
                      next_bulletin=self._next_bulletin)
        screen = self._screen(conn, ctx, session, request)
        self._store(conn, request, contact.id, session, screen, now)
        for text in screen.sms:
            self._send(conn, contact.id, contact.phone, text, reply_provider, now)
        log.info("USSD hop %d of session %s from %s: %s", (session.hops if session else 0) + 1,
                 request.session_id, mask(contact.phone), "END" if screen.end else "CON")
        return Answer(screen.text, screen.end)

    def _send(self, conn: sqlite3.Connection, contact_id: int, phone: str, text: str,
              provider: str, now: datetime) -> None:
        """Queue an SMS the menu sends, within the per-sender limit (one phone, one bill)."""
        window = int(self.settings["limits.sender_window_seconds"])
        since = now - timedelta(seconds=window)
        if sessions.sms_since(conn, contact_id, since) >= int(
                self.settings["limits.sender_messages"]):
            log.warning("USSD SMS to %s not queued: over the per-sender limit", mask(phone))
            return
        queue_message(conn, to_number=phone, text=text, provider=provider, kind=sessions.SMS_KIND,
                      now=now, contact_id=contact_id)

    def _screen(self, conn: sqlite3.Connection, ctx: Context,
                session: sessions.Session | None, request: UssdRequest) -> Screen:
        if session is not None and (session.ended or self._stale(session)):
            return Screen(ctx.t("ussd_expired"), True, State(ended=True))
        stored = State.loads(session.state) if session is not None else None
        last_text = session.last_text if session is not None else ""
        conn.execute("SAVEPOINT ussd_menu")
        try:
            screen = answer(self.menu, ctx, stored, last_text, request.text)
        except Exception:
            # A bug in one page must not answer the provider 500 (the user would see a
            # network error): undo the page's writes, close the session politely.
            conn.execute("ROLLBACK TO ussd_menu")
            log.exception("USSD menu failed on session %s", request.session_id)
            screen = Screen(ctx.t("error"), True, State(ended=True))
        conn.execute("RELEASE ussd_menu")
        return screen

    def _stale(self, session: sessions.Session) -> bool:
        timeout = int(self.settings["ussd.session_timeout_seconds"])
        return self.clock() - session.updated_at > timedelta(seconds=timeout)

    def _store(self, conn: sqlite3.Connection, request: UssdRequest, contact_id: int,
               session: sessions.Session | None, screen: Screen, now: datetime) -> None:
        if session is None:
            keep = int(self.settings["ussd.keep_days"])
            sessions.prune(conn, now - timedelta(days=keep), limit=PRUNE_BATCH)
            sessions.end_other_sessions(conn, contact_id, keep=request.session_id)
            sessions.start_session(conn, session_id=request.session_id, contact_id=contact_id,
                                   service_code=request.service_code,
                                   network_code=request.network_code,
                                   state=screen.state.dumps(), now=now)
        sessions.save_state(conn, request.session_id, state=screen.state.dumps(),
                            last_text=request.text, ended=screen.end, now=now)
        sessions.record_answer(conn, request.session_id, request.text, screen=screen.text,
                               ends=screen.end, now=now)

    def record_end(self, conn: sqlite3.Connection, end: sessions.SessionEnd) -> bool:
        """Store a session-end notification; False for a repeat of one already stored."""
        return write(conn, lambda writer: sessions.record_end(writer, end, self.clock()))
