"""Fitting a view on one USSD screen: numbered lines, pages of 98, GSM-7 only.

A screen carries at most 182 GSM-7 characters after `CON `/`END ` (160 octets of 7-bit
characters; shared reference 2.6), fewer where `ussd.screen_chars` says an operator cuts
earlier. One character outside GSM-7 would switch the screen to UCS-2 and halve what fits,
so names from the data are folded to GSM-7 letters before they are shown.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.messages import Context
from handlers.segments import count, is_gsm7
from handlers.ussd.menu import Item, View

MAX_SCREEN = 182      # GSM-7 characters a USSD screen carries
MAX_ITEMS = 8         # numbered lines on one screen: one key each, and readable
LABEL_MAX = 30        # a longer name is cut (WFP market names run to about 30)
ELLIPSIS = "..."


# The GSM-7 characters (basic and extension tables), as sets for fast checks: every one is
# below U+0400 except the euro sign. handlers.segments stays the one definition.
_GSM = frozenset(ch for ch in [*map(chr, range(0x400)), "\u20ac"] if is_gsm7(ch))
_DOUBLE = tuple(ch for ch in _GSM if count(ch).units == 2)   # ESC + code: 2 septets


@dataclass(frozen=True, slots=True)
class Laid:
    """A screen's text, what each number on it means, and where its next page starts."""

    text: str
    options: list[Any]
    more: int | None


def gsm_safe(text: str) -> str:
    """`text` with every character outside GSM-7 replaced: accents dropped, else '?'."""
    if _GSM.issuperset(text):
        return text
    out = []
    for ch in text:
        if ch in _GSM:
            out.append(ch)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(bare if bare and _GSM.issuperset(bare) else "?")
    return "".join(out)


def size(text: str) -> int:
    """Septets a GSM-7 text takes (extension characters such as [ ] count two)."""
    return len(text) + sum(text.count(ch) for ch in _DOUBLE)


def cut(text: str, width: int) -> str:
    """The text, shortened with '...' to fit `width` septets."""
    if size(text) <= width:
        return text
    while text and size(text + ELLIPSIS) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def footer(ctx: Context, *, more: bool, depth: int) -> str:
    """'98 More  0 Back  00 Home', each part only where it applies."""
    parts = []
    if more:
        parts.append(ctx.t("ussd_nav_more"))
    if depth >= 1:
        parts.append(ctx.t("ussd_nav_back"))
    if depth >= 2:
        parts.append(ctx.t("ussd_nav_home"))
    return "  ".join(parts)


def _compose(*lines: str) -> str:
    return "\n".join(line for line in lines if line)


def _numbered(items: Sequence[Item]) -> list[str]:
    return [f"{n}. {cut(gsm_safe(item.label), LABEL_MAX)}" for n, item in enumerate(items, 1)]


def lay_out(ctx: Context, view: View, *, start: int, hint: str, depth: int,
            width: int) -> Laid:
    """The screen for `view` from position `start` (an item index, or a body offset)."""
    width = min(width, MAX_SCREEN)
    head = [gsm_safe(hint), gsm_safe(view.title)]
    if view.end:
        return Laid(cut(_compose(*head, gsm_safe(view.body)), width), [], None)
    body = gsm_safe(view.body)
    if body and start < len(body):
        return _body_page(ctx, view, head, body, start, depth, width)
    return _item_page(ctx, view, head, 0 if body else start, depth, width)


def _item_page(ctx: Context, view: View, head: list[str], start: int, depth: int,
               width: int) -> Laid:
    items = list(view.items)
    start = min(max(start, 0), max(len(items) - 1, 0))
    rest = items[start:]
    for nav_depth in (depth, 0):  # fewer lines rather than no way back, if at all possible
        for shown in range(min(len(rest), MAX_ITEMS), 0, -1):
            more = start + shown < len(items)
            text = _compose(*head, *_numbered(rest[:shown]), footer(ctx, more=more,
                                                                    depth=nav_depth))
            if size(text) <= width:
                return Laid(text, [i.value for i in rest[:shown]],
                            start + shown if more else None)
    text = _compose(*head, *_numbered(rest[:1]), footer(ctx, more=False, depth=depth))
    return Laid(cut(text, width), [i.value for i in rest[:1]], None)


def _body_page(ctx: Context, view: View, head: list[str], body: str, start: int, depth: int,
               width: int) -> Laid:
    rest = body[start:]
    lines = _numbered(view.items)
    for foot in (footer(ctx, more=False, depth=depth), ""):
        text = _compose(*head, rest, *lines, foot)
        if size(text) <= width:
            return Laid(text, [i.value for i in view.items], None)
    foot = footer(ctx, more=True, depth=depth)
    taken = _longest_prefix(rest, lambda part: size(_compose(*head, part, foot)) <= width)
    if taken == 0:  # the head alone fills the screen: show what fits, nothing more
        return Laid(cut(_compose(*head, rest), width), [], None)
    return Laid(_compose(*head, rest[:taken].rstrip(), foot), [], start + taken)


def _longest_prefix(text: str, fits: Any) -> int:
    """How much of `text` fits, cut after a space when one is in reach."""
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits (binary search on length)
        mid = (low + high + 1) // 2
        if fits(text[:mid]):
            low = mid
        else:
            high = mid - 1
    if low == len(text) or low == 0:
        return low
    space = text.rfind(" ", 0, low + 1)
    return space + 1 if space > low // 2 else low
