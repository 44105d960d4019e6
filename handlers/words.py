"""Folding what people type into comparable words: case, accents, punctuation, spacing."""

from __future__ import annotations

import unicodedata

import regex

_EDGE_PUNCTUATION = regex.compile(r"^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$")


def fold(text: str) -> str:
    """Upper-case, accent-free, trimmed form of a word or phrase: 'Arrêt!' -> 'ARRET'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _EDGE_PUNCTUATION.sub("", bare).upper()


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
