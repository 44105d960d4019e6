"""The shared error vocabulary of adapters and senders (courier's, in Python)."""

from __future__ import annotations


class MalformedRequest(ValueError):
    """A provider call we cannot use; answered with 400 and this message as the reason."""


class SendError(Exception):
    """Sending one message failed."""


class TransientSendError(SendError):
    """Worth trying again later: network trouble, throttling, a provider's 5xx."""


class PermanentSendError(SendError):
    """Will never succeed; `opted_out` says the recipient blocked us (also stop sending)."""

    def __init__(self, message: str, *, opted_out: bool = False) -> None:
        super().__init__(message)
        self.opted_out = opted_out
