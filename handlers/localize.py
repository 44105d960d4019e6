"""Names, units and numbers in the reader's language.

**Numbers.** `number` writes every figure a reader sees: rounded half up (2.675 -> 2.68,
16,088.5 -> 16,089, where Python's round and format would round half to even, on the
binary value), with the language's thousands and decimal separators (3 200,50 in French).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from handlers.texts import text


def number(language: str, value: float | int | Decimal, decimals: int = 0) -> str:
    """A figure with `decimals` places, rounded half up, in the language's own format."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value)) \
        if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        rounded = rounded.copy_abs()   # never "-0.00"
    marks = {ord(","): text(language, "thousands_sep"), ord("."): text(language, "decimal_sep")}
    return f"{rounded:,f}".translate(marks)
