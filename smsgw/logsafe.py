"""Logging that never shows a secret or a whole phone number, and never forges a line.

A filter on the root handlers rewrites every record after formatting its arguments: any
configured secret, any Twilio account SID and any `token=` query value becomes `***`;
any phone number (8 to 15 digits, with an optional + and single spaces, dashes, dots or
brackets between the digit groups) keeps only its first and last digits; and control
characters (CR, LF and the other C0 and C1 controls, U+2028, U+2029) are written as
escapes such as `\\n`, so a value from a request can never start a log line of its own.
A traceback keeps its newlines (it is redacted all the same). The filter is the safety
net; code also masks on purpose. `redact_secrets` is the part that also cleans the error
texts the worker stores in the outbox.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from smsgw.phone import mask

# A separator between two digits of a phone number: one space, dash or dot, or a bracket
# with at most one of those next to it: "0711 000-002", "(0711) 000 002", "+254 (0) 711".
_SEP = r"(?:[ .\-]|\)[ .\-]?|[ .\-]?\()"
_PHONE = re.compile(
    r"(?<![\w.+])"               # not inside a word or another number
    r"(?:\+\(?|\(\+?)?"          # an optional + and/or opening bracket
    rf"\d(?:{_SEP}?\d){{7,14}}"  # 8 to 15 digits (E.164 has at most 15)
    r"(?!\w|[.\-]?\d)"           # not followed by more of a word or number
)
# Candidates that are not phone numbers: dates (2026-12-01, 01.12.2026), decimals
# (3.14159265, 1234.5678) and IPv4 addresses.
_DATE = re.compile(r"\d{4}([-.])\d{1,2}\1\d{1,2}(?!\d)|\d{1,2}([-.])\d{1,2}\2\d{4}(?!\d)")
_LONG_DECIMAL = re.compile(r"\.\d{5}|\d{5}\.")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
_NOT_DIGIT = re.compile(r"[^\d+]")

_TOKEN_QUERY = re.compile(r"(token=)[^&\s]+", re.IGNORECASE)
_TWILIO_ACCOUNT_SID = re.compile(r"(?<![0-9A-Za-z])AC[0-9a-fA-F]{32}(?![0-9A-Za-z])")
# What must not reach a log line as itself: C0 and C1 controls (DEL too) and the Unicode
# line and paragraph separators, all of which some reader takes as a line break.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def redact_secrets(text: str, secrets: Sequence[str] = ()) -> str:
    """The text with every secret, Twilio account SID and `token=` query value as ***.

    `secrets` longest first (as `sorted_secrets` gives them), so a secret that contains
    another is hidden whole.
    """
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _TWILIO_ACCOUNT_SID.sub("***", text)
    return _TOKEN_QUERY.sub(r"\1***", text)


def sorted_secrets(secrets: Iterable[str]) -> tuple[str, ...]:
    """The non-empty secrets, longest first, for `redact_secrets`."""
    return tuple(sorted({s for s in secrets if s}, key=len, reverse=True))


def mask_phones(text: str) -> str:
    """The text with every phone number masked, however its digits are grouped."""
    return _PHONE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group(0)
    if "." in found or "-" in found:
        if _DATE.match(found) or _LONG_DECIMAL.search(found):
            return found
        if found.count(".") == 1 and not re.search(r"[ \-()]", found):
            return found                                     # a decimal: 1234.5678
        ip = _IPV4.fullmatch(found)
        if ip and all(int(part) <= 255 for part in ip.groups()):
            return found
    if found.startswith("(") and found.count("(") > found.count(")"):
        # "(0711 000 002)": the opening bracket is the text's, not the number's.
        return "(" + mask(_NOT_DIGIT.sub("", found))
    return mask(_NOT_DIGIT.sub("", found))


def escape_controls(text: str) -> str:
    """The text on one line: control characters as \\n, \\r, \\t or \\xNN / \\uNNNN."""
    return _CONTROL.sub(_escape_match, text)


def _escape_match(match: re.Match[str]) -> str:
    char = match.group(0)
    escaped = _ESCAPES.get(char)
    if escaped is None:
        code = ord(char)
        escaped = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return escaped


class RedactingFilter(logging.Filter):
    """Masks phone numbers, replaces known secrets and escapes control characters in every
    log record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted_secrets(secrets)

    def redact(self, text: str) -> str:
        """The text with secrets and phone numbers hidden."""
        return mask_phones(redact_secrets(text, self.secrets))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        # Redacted first, then escaped: an escape such as "\n" must not hide a number
        # next to it from the phone pattern.
        record.msg, record.args = escape_controls(self.redact(message)), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def setup(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactingFilter:
    """Send logs to stderr through the redacting filter; return the filter."""
    redactor = RedactingFilter(secrets)
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not any(getattr(h, "_smsgw", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._smsgw = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor
