"""Splitting what people type into a command word and the rest."""

from __future__ import annotations

from prices.folding import fold

__all__ = ["fold", "single_word", "split_command"]


def split_command(text: str) -> tuple[str, str]:
    """Split a message into its folded first word and the rest as typed."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return fold(parts[0]), parts[1].strip() if len(parts) > 1 else ""


def single_word(text: str) -> str | None:
    """The folded word if the message is exactly one word (punctuation around it ignored)."""
    folded = fold(text)
    return folded if folded and len(folded.split()) == 1 else None
