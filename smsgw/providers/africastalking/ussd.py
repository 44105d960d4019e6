"""Africa's Talking USSD: parse a session hop and a session-end notification, render CON/END.

The callbacks carry the same secret `?token=` as the SMS callbacks (checked in
smsgw.providers.africastalking). A hop is answered in the HTTP response, `text/plain`,
starting with `CON ` (show and wait) or `END ` (show and close); see the shared
reference, 2.6 and 2.7.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from db.ussd import SessionEnd
from handlers.messages import UssdRequest
from smsgw.errors import MalformedRequest
from smsgw.phone import InvalidNumber, to_e164

PROVIDER = "africastalking"
MAX_SESSION_ID = 200   # AT's look like ATUid_ + 32 hex; anything far longer is not AT
MAX_TEXT = 2000        # a whole session's input; a screen takes at most 182 characters
END_STATUSES = frozenset({"Success", "Incomplete", "Failed"})


def _required(form: Mapping[str, str], name: str, *, empty_ok: bool = False) -> str:
    value = form.get(name)
    if value is None or (not empty_ok and not value.strip()):
        raise MalformedRequest(f"missing field {name}")
    return value


def _session_id(form: Mapping[str, str]) -> str:
    session_id = _required(form, "sessionId").strip()
    if len(session_id) > MAX_SESSION_ID:
        raise MalformedRequest(f"sessionId longer than {MAX_SESSION_ID} characters")
    return session_id


def service_codes(setting: str) -> frozenset[str]:
    """The configured codes ('*384*1234#, *384*99#') as a set; empty means any."""
    return frozenset(code.strip() for code in setting.split(",") if code.strip())


def parse_session(form: Mapping[str, str], *, region: str, now: datetime,
                  allowed_codes: frozenset[str] = frozenset()) -> UssdRequest:
    """A USSD hop as a neutral request; a field missing or wrong is a MalformedRequest."""
    session_id = _session_id(form)
    phone = _required(form, "phoneNumber")
    text = _required(form, "text", empty_ok=True)
    if len(text) > MAX_TEXT:
        raise MalformedRequest(f"text longer than {MAX_TEXT} characters")
    code = form.get("serviceCode", "").strip()
    if allowed_codes and code not in allowed_codes:
        raise MalformedRequest(f"serviceCode {code[:20]!r} is not one of ours")
    try:
        e164 = to_e164(phone, region)
    except InvalidNumber as exc:
        raise MalformedRequest(f"phoneNumber is not a phone number: {exc}") from None
    return UssdRequest(PROVIDER, session_id, e164, code, form.get("networkCode", "").strip(),
                       text, now)


def _number(raw: str | None) -> int | None:
    """An optional count (durationInMillis, hopsCount); None when absent, not a number, or
    too large for SQLite's 64-bit integers (an OverflowError was a 500)."""
    try:
        value = int(raw) if raw not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or abs(value) < 2**63 else None


def parse_end(form: Mapping[str, str], *, region: str) -> SessionEnd:
    """A session-end notification; optional fields that do not parse are kept empty."""
    session_id = _session_id(form)
    status = _required(form, "status").strip()[:40]
    phone = form.get("phoneNumber", "")
    try:
        phone = to_e164(phone, region) if phone else ""
    except InvalidNumber:
        phone = phone[:32]
    return SessionEnd(
        session_id=session_id, status=status, phone=phone,
        service_code=form.get("serviceCode", "")[:40], network_code=form.get("networkCode", "")[:20],
        cost=form.get("cost", "")[:40], duration_ms=_number(form.get("durationInMillis")),
        hops_count=_number(form.get("hopsCount")), input=form.get("input", "")[:MAX_TEXT],
        last_app_response=form.get("lastAppResponse", "")[:400],
        error_message=form.get("errorMessage", "")[:400], reported_date=form.get("date", "")[:40])


def render(text: str, *, end: bool) -> str:
    """The response body: `CON text` to wait for input, `END text` to close."""
    return ("END " if end else "CON ") + text
