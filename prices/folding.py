"""Folding what people type into comparable words: case, accents, punctuation, spacing."""

from __future__ import annotations

import unicodedata

import regex

_EDGE_PUNCTUATION = regex.compile(r"^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$")
_INNER_PUNCTUATION = regex.compile(r"[\p{P}\p{S}\s]+")


def fold(text: str) -> str:
    """Upper-case, accent-free, trimmed form of a word or phrase: 'Arrêt!' -> 'ARRET'."""
    if text.isascii():   # most of what feature phones send: nothing to decompose
        return _EDGE_PUNCTUATION.sub("", text).upper()
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _EDGE_PUNCTUATION.sub("", bare).upper()


def phrase(text: str) -> str:
    """A name folded with inner punctuation as single spaces: 'Wakulima (Nakuru)' -> 'WAKULIMA NAKURU'."""
    return _INNER_PUNCTUATION.sub(" ", fold(text)).strip()
