"""The Simulator page: a phone on screen, acting as a simulated contact, by SMS and USSD.

Thin over smsgw.simulator, which `smsgw sim` and `smsgw ussd` use too: the number is
flagged as simulated (a real contact's number is refused), each message goes through the
same gateway as real traffic, and everything it causes goes to the local provider.

What the page shows is read back from the database, never kept by the browser: the
conversation from the inbound and outbox tables, the USSD screen from the session's stored
answer (db.ussd). The Flask session holds only which number is in use and the id of the
USSD session being walked. Every form is a plain POST answered by a redirect (or by the
page with the error, 400); static/simulator.js only sends the same forms without
reloading the page.

Each simulated SMS, each USSD hop and each number taken is in the audit trail with the
admin's name: the traffic is flagged as simulated already, but only the audit says which
admin typed a simulated leader's BCAST, POOL or group SELL (written to a real group's
members, through local only: simulated contacts cannot touch real people's orders, sales
and pools, handlers.sides).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from db import contacts, message_log
from db import ussd as ussd_db
from prices import countries
from smsgw.console.blueprint import actor, audit, bp, number, read, write
from smsgw.context import Services, services
from smsgw.errors import MalformedRequest
from smsgw.logsafe import mask_phones
from smsgw.providers import local_sms
from smsgw.simulator import NotSimulated, UssdSession, send_sms, simulated_phone

PHONE = "simulator_phone"      # Flask session: the E.164 number in use
USSD = "simulator_ussd"        # Flask session: {"id", "phone", "code"} of the USSD session
LANGUAGES = {"en": "English", "sw": "Kiswahili", "fr": "Français"}
DEFAULT_CODE = "*384*1234#"    # when ussd.service_codes is empty (any code is answered)
MAX_NUMBER = 32
MAX_ENTRY = 160                # one USSD reply: a phone's input line
SHOWN = 40                     # messages of the conversation on the page


class BadInput(ValueError):
    """What the admin typed in a field cannot be used; the message says why, in plain words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class UssdScreen:
    text: str
    end: bool
    stale: bool


def _codes(config: Any) -> list[str]:
    codes = [code.strip() for code in str(config["ussd.service_codes"]).split(",")]
    return [code for code in codes if code] or [DEFAULT_CODE]


def _typed(field: str, value: str, *, what: str, most: int, blank: str) -> str:
    """A field's text checked: not blank, not too long, and only real characters."""
    if not value.strip():
        raise BadInput(field, blank)
    if len(value) > most:
        raise BadInput(field, f"{what} can be at most {most:,} characters; this one has"
                              f" {len(value):,}. Shorten it.")
    if "\ufffd" in value or any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        # A browser sends a lone surrogate (half an emoji) as U+FFFD; one cannot be stored.
        raise BadInput(field, f"{what} holds a character that could not be read (a broken"
                              " emoji or symbol). Type it again.")
    return value


# --------------------------------------------------------------------------- the page


def _contact(conn: sqlite3.Connection) -> contacts.Contact | None:
    phone = session.get(PHONE)
    found = contacts.find(conn, phone) if isinstance(phone, str) else None
    return found if found is not None and found.simulated else None


def _screen(conn: sqlite3.Connection, contact: contacts.Contact, config: Any,
            now: Any) -> UssdScreen | None:
    held = session.get(USSD)
    if not isinstance(held, dict) or held.get("phone") != contact.phone:
        return None
    stored = ussd_db.get_session(conn, str(held.get("id")))
    if stored is None or stored.contact_id != contact.id:
        return None
    shown = ussd_db.answered(conn, stored.session_id, stored.last_text)
    if shown is None:
        return None
    quiet = now - stored.updated_at > timedelta(
        seconds=int(config["ussd.session_timeout_seconds"]))
    return UssdScreen(shown[0], shown[1], quiet and not shown[1])


@bp.get("/simulator")
def simulator() -> str:
    """The phone: pick a number and language, then text or dial."""
    return _page()


def _page(*, errors: dict[str, str] | None = None, typed: dict[str, str] | None = None,
          focus: str | None = None) -> str:
    conn, config = read(), services().config
    zone = ZoneInfo(str(config["app.timezone"]))
    contact = _contact(conn)
    values: dict[str, Any] = {"contact": None}
    if contact is not None:
        language = contact.language or countries.language_of(config, contact.phone)
        bubbles = message_log.conversation(conn, contact.id, limit=SHOWN)
        caused = message_log.caused(conn, contact.id)
        values = {
            "contact": contact, "language": language,
            "shown_number": number(contact.phone, shared=True),   # made up by the admin
            # Numbers in a text are masked, as everywhere in the console: a reply can name
            # a real person (a seller's number after AGREE, a leader in an order summary).
            "bubbles": [{"b": b, "text": mask_phones(b.text),
                         "time": b.at.astimezone(zone).strftime("%d %b, %H:%M")}
                        for b in bubbles],
            "limited": bool(bubbles) and bubbles[-1].sent
            and bubbles[-1].outcome == "rate_limited",
            "caused": caused, "caused_rows": [
                {"to": number(r.to_number), "text": mask_phones(r.text), "provider": r.provider,
                 "status": r.status, "kind": r.kind} for r in caused.latest],
            "paying": {p: n for p, n in caused.by_provider.items()
                       if p != local_sms.PROVIDER},
            "ussd": _screen(conn, contact, config, services().clock()),
        }
    typed = typed or {}
    if focus is None:
        focus = "number" if contact is None else session.get("simulator_focus", "sms")
    return render_template(
        "console/simulator.html", title="Simulator", languages=LANGUAGES,
        codes=_codes(config), errors=errors or {}, typed=typed, focus=focus,
        max_text=local_sms.MAX_TEXT, max_entry=MAX_ENTRY, sender_limit=int(
            config["limits.sender_messages"]), **values)


def _refused(field: str, message: str, typed: dict[str, str]) -> tuple[str, int]:
    return _page(errors={field: message}, typed=typed, focus=field), 400


def _back(focus: str) -> Response:
    session["simulator_focus"] = focus
    return redirect(url_for("console.simulator"), code=303)


# ----------------------------------------------------------------------- taking a number


@bp.post("/simulator/phone")
def simulator_phone() -> Any:
    """Act as this number (flagged as simulated) and read replies in this language."""
    raw, language = request.form.get("number", ""), request.form.get("language", "")
    typed = {"number": raw[:MAX_NUMBER * 2], "language": language}
    try:
        raw = _typed("number", raw, what="The number", most=MAX_NUMBER,
                     blank="Type the number to act as, e.g. 0799000001.")
        if language not in LANGUAGES:
            raise BadInput("language", "Pick English, Kiswahili or Français.")
        chosen = write(_take(services(), raw, language, actor()))
    except BadInput as exc:
        return _refused(exc.field, str(exc), typed)
    except NotSimulated as exc:
        return _refused("number", _plain(str(exc)), typed)
    session[PHONE] = chosen
    held = session.get(USSD)
    if isinstance(held, dict) and held.get("phone") != chosen:
        session.pop(USSD)
    return _back("sms")


def _take(services: Services, raw: str, language: str, who: dict[str, Any]) -> Any:
    def work(conn: sqlite3.Connection) -> str:
        phone = simulated_phone(services, conn, raw)
        contact = contacts.find(conn, phone)
        assert contact is not None   # simulated_phone made it
        contacts.set_language(conn, contact.id, language)
        audit(conn, "simulator_phone", **who, contact=contact.id, language=language)
        return phone
    return work


def _plain(reason: str) -> str:
    """NotSimulated's reason in the words of this page."""
    if reason.startswith("not a phone number"):
        return f"That is {reason}. Type a number such as 0799000001 or +254799000001."
    return reason[0].upper() + reason[1:] + "."


# --------------------------------------------------------------------------------- SMS


@bp.post("/simulator/sms")
def simulator_sms() -> Any:
    """Send one SMS as the simulated phone; its replies are read back from the database."""
    text = request.form.get("text", "")
    contact = _contact(read())
    typed = {"text": text[:local_sms.MAX_TEXT * 2]}
    if contact is None:
        return _refused("number", "Pick a number to act as first.", typed)
    try:
        text = _typed("text", text, what="A text message", most=local_sms.MAX_TEXT,
                      blank="Type a message to send, e.g. PRICE MAIZE NAKURU.")
        write(_send(services(), contact.phone, text, actor()))
    except BadInput as exc:
        return _refused(exc.field, str(exc), typed)
    except NotSimulated as exc:
        return _refused("text", _plain(str(exc)), typed)
    return _back("sms")


def _send(services: Services, phone: str, text: str, who: dict[str, Any]) -> Any:
    def work(conn: sqlite3.Connection) -> None:
        send_sms(services, conn, phone, text)
        contact = contacts.find(conn, phone)
        assert contact is not None
        newest = conn.execute("SELECT MAX(id) FROM inbound WHERE contact_id = ?",
                              (contact.id,)).fetchone()[0]
        audit(conn, "simulator_sms", **who, contact=contact.id, inbound=newest)
    return work


# -------------------------------------------------------------------------------- USSD


@bp.post("/simulator/ussd")
def simulator_ussd() -> Any:
    """Dial the USSD code, answer the screen shown, or hang up."""
    contact = _contact(read())
    action, entry = request.form.get("action", "send"), request.form.get("entry", "")
    typed = {"entry": entry[:MAX_ENTRY * 2]}
    if contact is None:
        return _refused("number", "Pick a number to act as first.", typed)
    if action == "hangup":
        session.pop(USSD, None)
        return _back("dial")
    held = session.get(USSD)
    try:
        if action == "dial":
            code = request.form.get("code", "")
            if code not in _codes(services().config):
                raise BadInput("entry", "Pick one of the USSD codes shown.")
            held = {"phone": contact.phone, "code": code, "id": None}
            entry_text = None
        else:
            if not isinstance(held, dict) or held.get("phone") != contact.phone:
                raise BadInput("entry", "Dial the USSD code first.")
            entry_text = _typed("entry", entry, what="A USSD reply", most=MAX_ENTRY,
                                blank="Type the number of a choice (or a name), then Send.")
        held["id"] = write(_hop(services(), held, entry_text, actor()))
    except BadInput as exc:
        return _refused(exc.field, str(exc), typed)
    except (NotSimulated, MalformedRequest) as exc:
        session.pop(USSD, None)
        return _refused("entry", _plain(str(exc)), typed)
    session[USSD] = held
    return _back("entry")


def _hop(services: Services, held: dict[str, Any], entry: str | None,
         who: dict[str, Any]) -> Any:
    """One hop of the session `held` (a new one when it has no id), rebuilt from what the
    database stored: UssdSession keeps its inputs in memory, and this request is new."""
    def work(conn: sqlite3.Connection) -> str:
        dialled = UssdSession(services, conn, held["phone"], held["code"])
        if held["id"] is not None:
            stored = ussd_db.get_session(conn, str(held["id"]))
            dialled.session_id = str(held["id"])
            dialled.typed = stored.last_text.split("*") if stored and stored.last_text else []
        dialled.hop(entry)
        contact = contacts.find(conn, dialled.phone)
        assert contact is not None
        audit(conn, "simulator_ussd", **who, contact=contact.id, session=dialled.session_id)
        return dialled.session_id
    return work

