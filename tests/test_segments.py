"""Tests for handlers.segments against protocols.md section 3 (Twilio's segment calculator)."""

from __future__ import annotations

import dataclasses

import pytest

from handlers.segments import Encoding, SegmentInfo, count, fits, is_gsm7, non_gsm_characters

GSM7 = Encoding.GSM7
UCS2 = Encoding.UCS2

DIGITS = "1234567890" * 31  # 310 GSM-7 digits, sliced below
ESCAPE_CHARS = ["|", "^", "€", "{", "}", "[", "]", "~", "\\"]  # as in the calculator's tests
EXTENSION_CHARS = ["\f", "^", "{", "}", "\\", "[", "]", "~", "|", "€"]  # section 3.2: all ten
ONE_GRAPHEME_UCS2 = ["Á", "Ú", "ú", "ç", "í", "Í", "ó", "Ó"]  # calculator's "one grapheme" list

WINK = "\U0001f61c"  # 😜, 2 UTF-16 units
GRIN = "\U0001f600"  # 😀, 2 UTF-16 units
FLAG_IT = "\U0001f1ee\U0001f1f9"  # 🇮🇹: two regional indicators, 4 units, one grapheme
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 🏳️‍🌈: 4 scalars, 6 units, one grapheme
E_THREE_ACUTES = "e\u0301\u0301\u0301"  # one grapheme, 4 units

# Every row of the table in protocols.md section 3.5: (id, body, encoding, segments, units).
# Units come from the table's messageSize (bits / 7 for GSM-7, bits / 16 for UCS-2) where it
# gives one, otherwise from the body itself.
VECTORS: list[tuple[str, str, Encoding, int, int]] = [
    ("160-digits", DIGITS[:160], GSM7, 1, 160),
    ("161-digits", DIGITS[:161], GSM7, 2, 161),
    ("307-digits", DIGITS[:307], GSM7, 3, 307),
    ("306-a", "a" * 306, GSM7, 2, 306),
    ("307-a", "a" * 307, GSM7, 3, 307),
    *[(f"esc-{c!r}+158", c + DIGITS[:158], GSM7, 1, 160) for c in ESCAPE_CHARS],
    *[(f"esc-{c!r}+159", c + DIGITS[:159], GSM7, 2, 161) for c in ESCAPE_CHARS],
    ("wink+68", WINK + DIGITS[:68], UCS2, 1, 70),
    ("wink+69", WINK + DIGITS[:69], UCS2, 2, 71),
    ("wink+133", WINK + DIGITS[:133], UCS2, 3, 135),
    ("flag-it+66", FLAG_IT + DIGITS[:66], UCS2, 1, 70),
    ("rainbow-flag+64", RAINBOW_FLAG + DIGITS[:64], UCS2, 1, 70),
    *[(f"70x{c}", c * 70, UCS2, 1, 70) for c in ONE_GRAPHEME_UCS2],
    *[(f"71x{c}", c * 71, UCS2, 2, 71) for c in ONE_GRAPHEME_UCS2],
    ("grin+68-brackets", GRIN + "]" * 68, UCS2, 1, 70),
    ("grin+69-brackets", GRIN + "]" * 69, UCS2, 2, 71),
    ("e-3-acutes+66a", E_THREE_ACUTES + "a" * 66, UCS2, 1, 70),
    ("e-3-acutes+67a", E_THREE_ACUTES + "a" * 67, UCS2, 2, 71),
    ("134-zhe", "ж" * 134, UCS2, 2, 134),
    ("135-zhe", "ж" * 135, UCS2, 3, 135),
    # The two-segment flag rows of the calculator's own tests/index.test.js main table.
    ("flag-it+67", FLAG_IT + DIGITS[:67], UCS2, 2, 71),
    ("rainbow-flag+65", RAINBOW_FLAG + DIGITS[:65], UCS2, 2, 71),
]


@pytest.mark.parametrize(
    ("body", "encoding", "segments", "units"),
    [row[1:] for row in VECTORS],
    ids=[row[0] for row in VECTORS],
)
def test_reference_vectors(body: str, encoding: Encoding, segments: int, units: int) -> None:
    assert count(body) == SegmentInfo(encoding=encoding, segments=segments, units=units)
    assert is_gsm7(body) is (encoding is GSM7)
    assert fits(body, segments=segments)
    assert not fits(body, segments=segments - 1)


def test_vector_bodies_are_what_the_table_says() -> None:
    # Guard the fixtures themselves: grapheme and scalar counts quoted in section 3.5.
    assert len(RAINBOW_FLAG + DIGITS[:64]) == 68  # 68 scalars
    assert len(WINK + DIGITS[:68]) == 69
    assert len(E_THREE_ACUTES) == 4
    assert len(DIGITS[:307]) == 307


@pytest.mark.parametrize("char", EXTENSION_CHARS, ids=[repr(c) for c in EXTENSION_CHARS])
def test_each_extension_character_costs_two_septets(char: str) -> None:
    assert count(char) == SegmentInfo(GSM7, 1, 2)
    assert count("a" + char + "a") == SegmentInfo(GSM7, 1, 4)
    assert count(char * 80) == SegmentInfo(GSM7, 1, 160)
    assert count(char * 81).segments == 2
    assert non_gsm_characters(char) == []


def test_extension_characters_cost_one_unit_in_ucs2() -> None:
    assert count("ж" + "".join(EXTENSION_CHARS)) == SegmentInfo(UCS2, 1, 11)


# Section 3.1 traps: (character, is it GSM-7?).
TRAPS: list[tuple[str, bool]] = [
    ("$", True),
    ("@", True),
    ("`", False),
    ("ç", False),
    ("Ç", True),
    ("á", False),
    ("í", False),
    ("ó", False),
    ("ú", False),
    ("\t", False),
    ("\n", True),
    ("\r", True),
]


@pytest.mark.parametrize(("char", "gsm"), TRAPS, ids=[repr(c) for c, _ in TRAPS])
def test_trap_characters(char: str, gsm: bool) -> None:
    assert is_gsm7(char) is gsm
    assert is_gsm7("abc" + char + "xyz") is gsm
    info = count("abc" + char)
    assert info.encoding is (GSM7 if gsm else UCS2)
    assert info.units == 4
    assert non_gsm_characters("abc" + char) == ([] if gsm else [char])


def test_basic_and_extension_tables_match_the_calculator_by_code_point() -> None:
    # The 137 code points of UnicodeToGsm in TwilioDevEd/message-segment-calculator
    # (src/libs/UnicodeToGSM.ts), so a look-alike glyph in the hand-written table fails here.
    expected = (
        (set(range(0x20, 0x7F)) - {0x60})
        | {0x0A, 0x0C, 0x0D}
        | {0xA1, 0xA3, 0xA4, 0xA5, 0xA7, 0xBF, 0xC4, 0xC5, 0xC6, 0xC7, 0xC9, 0xD1, 0xD6}
        | {0xD8, 0xDC, 0xDF, 0xE0, 0xE4, 0xE5, 0xE6, 0xE8, 0xE9, 0xEC, 0xF1, 0xF2, 0xF6}
        | {0xF8, 0xF9, 0xFC, 0x393, 0x394, 0x398, 0x39B, 0x39E, 0x3A0, 0x3A3, 0x3A6, 0x3A8}
        | {0x3A9, 0x20AC}
    )
    assert len(expected) == 137
    found = {cp for cp in range(0x10000) if is_gsm7(chr(cp))}
    assert found == expected
    assert not is_gsm7("\x1b")  # ESC is the escape prefix, not a character
    assert not is_gsm7(GRIN)


def test_non_gsm_characters_mas() -> None:
    assert non_gsm_characters("más") == ["á"]


def test_non_gsm_characters_order_without_repeats() -> None:
    assert non_gsm_characters("ça, ça; á é ç à ó") == ["ç", "á", "ó"]
    assert non_gsm_characters("plain GSM text {€}") == []
    # Reported per grapheme cluster, like the calculator's getNonGsmCharacters().
    assert non_gsm_characters("ok " + FLAG_IT + " " + E_THREE_ACUTES + FLAG_IT) == [
        FLAG_IT,
        E_THREE_ACUTES,
    ]


def test_empty_string() -> None:
    assert count("") == SegmentInfo(encoding=GSM7, segments=1, units=0)
    assert is_gsm7("")
    assert non_gsm_characters("") == []
    assert fits("")


def test_1600_character_gsm_message() -> None:
    body = DIGITS[:10] * 160
    assert len(body) == 1600
    # 10 full segments of 153 septets hold 1,530; the remaining 70 need an 11th.
    assert count(body) == SegmentInfo(GSM7, 11, 1600)
    assert fits(body, segments=11)
    assert not fits(body, segments=10)


def test_1600_character_ucs2_message() -> None:
    assert count("ж" * 1600) == SegmentInfo(UCS2, 24, 1600)  # 23 * 67 = 1541 < 1600


def test_escape_pair_is_never_split() -> None:
    # 306 septets would fill exactly two 153-septet segments, but the euro sign would
    # straddle the boundary after 152 septets, so it moves and a third segment is needed.
    body = "a" * 152 + "€" + "a" * 152
    assert count(body) == SegmentInfo(GSM7, 3, 306)
    assert count("a" * 151 + "€" + "a" * 153) == SegmentInfo(GSM7, 2, 306)


def test_surrogate_pair_is_never_split() -> None:
    body = "a" * 66 + GRIN + "a" * 66  # 134 units, the emoji straddles the 67-unit boundary
    assert count(body) == SegmentInfo(UCS2, 3, 134)
    assert count("a" * 65 + GRIN + "a" * 67) == SegmentInfo(UCS2, 2, 134)


def test_grapheme_cluster_is_never_split() -> None:
    # Split by code point these would need 2 segments; kept whole, the cluster moves on.
    assert count("a" * 64 + FLAG_IT + "a" * 65) == SegmentInfo(UCS2, 3, 133)
    assert count("a" * 66 + "e\u0301" + "a" * 66) == SegmentInfo(UCS2, 3, 134)
    assert count("a" * 63 + FLAG_IT + "a" * 67) == SegmentInfo(UCS2, 2, 134)


def test_cluster_longer_than_a_segment_is_split_between_code_points() -> None:
    assert count("e" + "\u0301" * 100) == SegmentInfo(UCS2, 2, 101)


def test_crlf_counts_as_two_characters() -> None:
    assert count("\rabcde\r\n123") == SegmentInfo(GSM7, 1, 11)  # calculator line-break test
    assert count("\nabcde\n\n123\n") == SegmentInfo(GSM7, 1, 12)
    assert count("\r\n" * 80) == SegmentInfo(GSM7, 1, 160)
    assert count("ж" + "\r\n" * 35) == SegmentInfo(UCS2, 2, 71)


def test_one_non_gsm_character_switches_the_whole_message() -> None:
    assert count("a" * 100) == SegmentInfo(GSM7, 1, 100)
    assert count("a" * 100 + "ç") == SegmentInfo(UCS2, 2, 101)
    assert count("€" * 60 + "ç").units == 61  # extension chars are 1 unit once in UCS-2


def test_fits_default_is_one_segment() -> None:
    assert fits("a" * 160)
    assert not fits("a" * 161)
    assert fits("a" * 161, segments=2)
    assert not fits("a", segments=0)


def test_segment_info_is_frozen_and_encoding_is_a_string() -> None:
    info = count("hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.segments = 2  # type: ignore[misc]
    assert info.encoding == "GSM-7"
    assert count("ж").encoding == "UCS-2"
    assert not hasattr(info, "__dict__")  # slots=True
