"""Logging that never shows a secret or a whole phone number.

A filter on the root handlers rewrites every record after formatting its arguments: any
configured secret becomes `***` and any run of 8 or more digits (with an optional +) keeps
only its first and last digits. The filter is the safety net; code also masks on purpose.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from smsgw.phone import mask

_PHONE = re.compile(r"(?<![\w.])\+?\d[\d ]{6,18}\d(?![\w.])")
_TOKEN_QUERY = re.compile(r"(token=)[^&\s]+", re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Masks phone numbers and replaces known secrets in every log record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """The text with secrets and phone numbers hidden."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _TOKEN_QUERY.sub(r"\1***", text)
        return _PHONE.sub(lambda m: mask(m.group(0).replace(" ", "")), text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
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
