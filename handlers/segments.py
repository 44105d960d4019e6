"""SMS encoding and segment counting (GSM 03.38 / UCS-2), following Twilio's calculator.

The rules are those of shared/reference/protocols.md section 3, which documents the
behaviour of TwilioDevEd/message-segment-calculator (the tool behind Twilio's public
"segment calculator"):

* A message is GSM-7 when every character is in the GSM 03.38 basic table or its
  extension table; a single other character switches the whole message to UCS-2.
* GSM-7: 160 septets in a single message, 153 per segment once concatenated (the 6-octet
  user data header takes the rest).  Extension characters cost 2 septets (ESC + code) and
  an ESC pair is never split: the whole character moves to the next segment.
* UCS-2: 70 UTF-16 code units in a single message, 67 per concatenated segment.  Astral
  characters (most emoji) cost 2 units, GSM characters cost 1 unit like any BMP
  character, and a grapheme cluster (e.g. a flag, a ZWJ emoji sequence, a letter with its
  combining accents) is never split across segments.
* CR LF is treated as two separate characters, as the calculator does, even though
  Unicode makes it one grapheme cluster.

One case the calculator leaves undefined is handled here: a single grapheme cluster
longer than a whole segment (67 units, e.g. a letter carrying dozens of combining marks)
cannot move to the next segment intact, so it is split between code points (a surrogate
pair is still never split).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import regex

__all__ = [
    "Encoding",
    "SegmentInfo",
    "count",
    "fits",
    "is_gsm7",
    "non_gsm_characters",
]


class Encoding(StrEnum):
    """Character encoding an SMS is sent in."""

    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """Encoding, number of SMS segments and size of a message body."""

    encoding: Encoding
    segments: int  # number of SMS segments; an empty message is still 1 segment
    units: int  # septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2


# The GSM 03.38 basic character set, written out by hand as a 128-character string in code
# order (position = septet value), so it can be checked by eye against the table in
# protocols.md section 3.1 (each line below is one column of that table, 0x00-0x0F first).
# Hand-written because no well-kept PyPI library counts GSM-7 segments the way Twilio's
# calculator does: `gsm0338` is only a codec, `smsutil` (last release 2020, needs the
# `future` package) splits by code point with no grapheme rule, and `sms-counter` 0.0.1 is
# a brand-new stub.  Traps: `$` is 0x02 and `@` is 0x00 (not their ASCII positions); there
# is no backtick, no TAB, no lower-case `ç` (only capital `Ç`, 0x09) and no `á í ó ú`.
# Position 0x1B is the ESC prefix of the extension table, not a character of its own.
# The Greek capitals are the real Greek letters (U+0393 ... U+03A9), not look-alikes.
_GSM7_BASIC_TABLE: Final[str] = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10-0x1F (0x1B = ESC)
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)
if len(_GSM7_BASIC_TABLE) != 128:  # pragma: no cover - guards against editing mistakes
    raise RuntimeError("the GSM 03.38 basic table must have exactly 128 entries")

_ESC: Final[str] = "\x1b"

# Extension table (protocols.md section 3.2): each costs ESC + code = 2 septets.
_GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[]~|€")

_GSM7_BASIC: Final[frozenset[str]] = frozenset(_GSM7_BASIC_TABLE) - {_ESC}
_GSM7_ALL: Final[frozenset[str]] = _GSM7_BASIC | _GSM7_EXTENSION

_GSM7_SINGLE: Final[int] = 160  # septets in a single (unconcatenated) message
_GSM7_MULTI: Final[int] = 153  # septets per segment of a concatenated message
_UCS2_SINGLE: Final[int] = 70  # UTF-16 code units in a single message
_UCS2_MULTI: Final[int] = 67  # UTF-16 code units per segment of a concatenated message

_GRAPHEME: Final[regex.Pattern[str]] = regex.compile(r"\X")


def _utf16_units(chars: str) -> int:
    """Return the number of UTF-16 code units `chars` takes (astral characters take 2)."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in chars)


def _clusters(text: str) -> Iterator[str]:
    """Yield the grapheme clusters of `text`, with CR LF split into CR and LF."""
    for cluster in _GRAPHEME.findall(text):
        if cluster == "\r\n":
            yield "\r"
            yield "\n"
        else:
            yield cluster


def _ucs2_costs(text: str) -> Iterator[int]:
    """Yield the UTF-16 cost of each unit that must not be split across segments."""
    for cluster in _clusters(text):
        cost = _utf16_units(cluster)
        if cost > _UCS2_MULTI:
            # Cannot fit in any segment whole: fall back to code points.
            yield from (_utf16_units(ch) for ch in cluster)
        else:
            yield cost


def _gsm7_costs(text: str) -> Iterator[int]:
    """Yield the septet cost of each character (2 for extension characters)."""
    for ch in text:
        yield 2 if ch in _GSM7_EXTENSION else 1


def _segment_count(costs: list[int], single: int, multi: int) -> int:
    """Return how many segments the indivisible items of `costs` need."""
    if sum(costs) <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def is_gsm7(text: str) -> bool:
    """Return True if every character of `text` is in the GSM 03.38 basic or extension table."""
    return _GSM7_ALL.issuperset(text)


def non_gsm_characters(text: str) -> list[str]:
    """Return the characters (grapheme clusters) that force UCS-2, in order, without repeats."""
    found: dict[str, None] = {}
    for cluster in _clusters(text):
        if any(ch not in _GSM7_ALL for ch in cluster):
            found.setdefault(cluster, None)
    return list(found)


def count(text: str) -> SegmentInfo:
    """Return the encoding, segment count and size of `text` as Twilio's calculator counts them."""
    if is_gsm7(text):
        # Counted in C (set check, str.count) rather than character by character: every
        # reply is counted inside the gateway's write transaction.
        extended = sum(text.count(ch) for ch in _GSM7_EXTENSION)
        units = len(text) + extended
        if units <= _GSM7_SINGLE:
            return SegmentInfo(encoding=Encoding.GSM7, segments=1, units=units)
        if not extended:  # every character costs 1: no ESC pair to keep whole
            return SegmentInfo(encoding=Encoding.GSM7, segments=-(-units // _GSM7_MULTI),
                               units=units)
        return SegmentInfo(
            encoding=Encoding.GSM7,
            segments=_segment_count(list(_gsm7_costs(text)), _GSM7_SINGLE, _GSM7_MULTI),
            units=units,
        )
    costs = list(_ucs2_costs(text))
    return SegmentInfo(
        encoding=Encoding.UCS2,
        segments=_segment_count(costs, _UCS2_SINGLE, _UCS2_MULTI),
        units=sum(costs),
    )


def fits(text: str, *, segments: int = 1) -> bool:
    """Return True if `text` is sent in at most `segments` SMS segments."""
    return count(text).segments <= segments
