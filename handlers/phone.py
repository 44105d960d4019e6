"""Phone numbers to E.164 with phonenumbers (libphonenumber), as the reference recommends.

Here, below the web layer, because commands read numbers too (APPROVE KIMA 0712345678);
smsgw.phone re-exports these for the adapters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import phonenumbers

_NOISE = re.compile(r"[^\d+]")
_LETTERS = re.compile(r"[^\W\d_]")


class InvalidNumber(ValueError):
    """Not a phone number we can send to."""


def to_e164(raw: str, region: str) -> str:
    """Normalise a number as people and providers write it ('0712 345678') to '+254712345678'."""
    if _LETTERS.search(raw or ""):
        # A channel address such as "whatsapp:+2547..." is not a number we can text.
        raise InvalidNumber(f"not a phone number: {raw!r}")
    cleaned = _NOISE.sub("", raw or "")
    if cleaned.startswith("00") and not cleaned.startswith("000"):
        # Kenya's international prefix is 000, so libphonenumber keeps a leading 00 as
        # national digits; people still write 00254..., which means +254...
        cleaned = "+" + cleaned[2:]
    found = _e164(cleaned, region)
    if not found:
        reason = "not a valid phone number" if found is None else "not a phone number"
        raise InvalidNumber(f"{reason}: {raw!r}")
    return found


# Every message and every USSD screen names its sender, and the same people write again
# and again (a USSD session is a request per screen): libphonenumber takes about 35 us to
# parse and check a number, a look-up here well under 1. 32,768 numbers hold about 10 MB.
@functools.lru_cache(maxsize=32_768)
def _e164(cleaned: str, region: str) -> str | None:
    """The E.164 form of a cleaned number; "" if it cannot be read as one, None if it is
    not a valid number."""
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(number: str) -> str:
    """Hide the middle digits of a number for logs: '+254712345678' -> '+2547*****678'."""
    digits = len(number)
    if digits <= 6:
        return "*" * digits
    keep_start, keep_end = min(5, digits // 3), 3
    return number[:keep_start] + "*" * (digits - keep_start - keep_end) + number[-keep_end:]


def parse_phone(raw: str, settings: Mapping[str, Any]) -> str | None:
    """A number someone typed in a message, in E.164, or None if it is not one."""
    try:
        return to_e164(raw, str(settings["app.default_region"]))
    except InvalidNumber:
        return None


def display_phone(number: str, settings: Mapping[str, Any]) -> str:
    """A number as people of the service's country write it: '+254712345678' -> '0712345678'
    in Kenya; numbers of other countries keep their + form."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    region = str(settings["app.default_region"])
    if phonenumbers.region_code_for_number(parsed) == region:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return national.replace(" ", "")
    return number
