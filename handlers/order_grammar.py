"""The ORDER grammar: `ORDER 200 BAGS MAIZE GRADE1 @3400 BY 2026-12-20 AT NAKURU`.

    ORDER <quantity> [<unit>] <product...> [GRADE <grade>] [@<price>] [BY <date>] [AT <place...>]

- quantity: a number first (200, 2,000, 1.5); a unit word may be stuck to it (200KG).
- unit: one of UNITS right after the quantity; without one, the product is the unit
  (`ORDER 500 BASKETS` is 500 baskets).
- product: the words up to the next marker; any language (MAHINDI, MAIS).
- GRADE1, GRADE 1 or GRADE A (also DARAJA, QUALITE).
- @3400, @ 3400, @KES3400 or @3,400: the price per unit; the currency defaults to
  `orders.currency`.
- BY 2026-12-20, BY 20/12/2026, BY 20/12 or BY 20 DEC (also KABLA, AVANT): the day the
  order closes; without it, `orders.default_days` from today.
- AT NAKURU (also SOKONI, A): the market or place it is for; without it, every group that
  offers the product hears of it.

The markers may come in any order after the product. Each mistake names the part that is
wrong (GrammarError.key is the reply text to send), never a generic "not understood".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from prices.folding import fold

UNITS = {
    "KG": "kg", "KGS": "kg", "KILO": "kg", "KILOS": "kg", "BAG": "bags", "BAGS": "bags",
    "GUNIA": "bags", "MAGUNIA": "bags", "SAC": "bags", "SACS": "bags", "SACK": "bags", "SACKS": "bags",
    "T": "tonnes", "TON": "tonnes", "TONS": "tonnes", "TONNE": "tonnes", "TONNES": "tonnes",
    "TANI": "tonnes", "CRATE": "crates", "CRATES": "crates", "PIECE": "pieces",
    "PIECES": "pieces", "PCS": "pieces", "PC": "pieces", "L": "litres", "LITRE": "litres",
    "LITRES": "litres", "LITRES.": "litres", "BUNCH": "bunches", "BUNCHES": "bunches",
    "DEBE": "debes", "DEBES": "debes", "TRAY": "trays", "TRAYS": "trays",
    # The words replies use in Swahili and French (handlers/locale/words_*.toml), so that
    # what a farmer copies back from a reply reads as the same unit.
    "KRETI": "crates", "VIPANDE": "pieces", "KIPANDE": "pieces", "LITA": "litres",
    "MAFUNGU": "bunches", "FUNGU": "bunches", "MADEBE": "debes", "TREI": "trays",
    "CAGEOT": "crates", "CAGEOTS": "crates", "BOTTE": "bunches",
    "BOTTES": "bunches", "BIDON": "debes", "BIDONS": "debes", "PLATEAU": "trays",
    "PLATEAUX": "trays",
}
GRADE_WORDS = ("GRADE", "DARAJA", "QUALITE")
BY_WORDS = frozenset({"BY", "KABLA", "AVANT"})
AT_WORDS = frozenset({"AT", "SOKONI", "A"})
MONTHS = {name: number for number, names in enumerate(
    [("JAN", "JANV"), ("FEB", "FEV", "FEVR"), ("MAR", "MARS", "MAC"), ("APR", "AVR"),
     ("MAY", "MAI", "MEI"), ("JUN", "JUIN"), ("JUL", "JUIL"), ("AUG", "AOUT", "AGO"),
     ("SEP", "SEPT"), ("OCT", "OKT"), ("NOV",), ("DEC", "DES")], start=1) for name in names}
_NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")
# A quantity as people write it: a separator followed by exactly three digits groups
# thousands (1,000  1.000  1 000  12,500,000), any other separator is the decimal mark
# (1.5  1,5  0.25). One of each may be mixed (1,000.5  1.000,5).
_GROUPED = re.compile(r"^[1-9]\d{0,2}(?:(?P<sep>[,.])\d{3})(?:(?P=sep)\d{3})*(?:[,.]\d+)?$")
_PLAIN = re.compile(r"^\d+(?:[,.]\d+)?$")
# How finely each unit is counted: a quantity is rounded (half up) to this many decimals,
# and one that rounds to nothing is refused. Units not listed are counted whole.
PRECISION = {"tonnes": 2, "kg": 1, "litres": 1, "bags": 1}
_STUCK = re.compile(r"^(\d[\d,.]*)([A-Z]+)$")
MAX_QUANTITY = 10_000_000


class GrammarError(ValueError):
    """A part of the order cannot be read; `key` is the reply text, `values` fill it."""

    def __init__(self, key: str, **values: str | int | Decimal) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class OrderRequest:
    quantity: float
    unit: str
    product: str                      # as typed, folded
    grade: str | None = None
    price: float | None = None
    currency: str | None = None
    deliver_by: date | None = None
    place: str | None = None


def number(word: str) -> float | None:
    """'2,000' -> 2000.0, '1.5' -> 1.5; None if it is not a plain number."""
    found = _NUMBER.match(word)
    if not found:
        return None
    return float(found.group(1).replace(",", "") + (f".{found.group(2)}" if found.group(2) else ""))


def read_quantity(words: list[str], unit: str | None = None, *,
                  allow_zero: bool = False) -> tuple[float, int]:
    """The quantity the first words write (1,000 / 1 000 / 1.000 / 1,5), rounded to the
    unit's precision, and how many words it took; GrammarError says what is wrong with it
    (negative, zero, too big, too small for the unit, not a number)."""
    if not words:
        raise GrammarError("quantity_missing")
    first = words[0]
    if first.startswith(("-", "\u2212")):
        raise GrammarError("quantity_negative", word=echo(first))
    taken, text = 1, first
    if re.fullmatch(r"\d{1,3}", first):   # 1 000 000: groups of three after a space
        while taken < len(words) and re.fullmatch(r"\d{3}", words[taken]):
            text += words[taken]
            taken += 1
    value = _decimal(text)
    if value is None:
        raise GrammarError("quantity_not_number", word=echo(first))
    if value > MAX_QUANTITY:
        raise GrammarError("quantity_too_big", word=echo(text), max=MAX_QUANTITY)
    places = PRECISION.get(unit or "", 0)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0 and not (allow_zero and value == 0):
        if value == 0:
            raise GrammarError("quantity_zero")
        raise GrammarError("quantity_too_small", word=echo(text),
                           least=Decimal(1).scaleb(-places))
    return float(rounded), taken


def _decimal(text: str) -> Decimal | None:
    grouped = _GROUPED.match(text)
    if grouped:
        sep = grouped.group("sep")
        decimal_mark = "," if sep == "." else "."
        whole, _, fraction = text.partition(decimal_mark) if decimal_mark in text else \
            (text, "", "")
        return Decimal(whole.replace(sep, "") + (f".{fraction}" if fraction else ""))
    if _PLAIN.match(text):
        return Decimal(text.replace(",", "."))
    return None


def echo(word: str) -> str:
    """A typed word, safe to repeat in a reply: letters, digits and a few signs, short."""
    kept = "".join(ch for ch in word if ch.isascii() and (ch.isalnum() or ch in "@/-.,"))
    return kept[:16] or "?"


def parse(text: str, today: date, *, currency: str, default_days: int) -> OrderRequest:
    """Read an order (the words after ORDER); raise GrammarError naming the bad part."""
    if text.strip().startswith(("-", "\u2212")):   # folding would drop the sign
        raise GrammarError("quantity_negative", word=echo(text.split()[0]))
    words = fold(text).split()
    if not words:
        raise GrammarError("order_usage")
    stuck = _STUCK.match(words[0])
    if stuck and stuck.group(2) in UNITS:
        words[0:1] = [stuck.group(1), stuck.group(2)]
    if not words[0][:1].isdigit():
        raise GrammarError("order_bad_quantity", word=echo(words[0]))
    # The unit decides the quantity's precision: find it after the number's words first.
    end = 1
    while end < len(words) and re.fullmatch(r"\d{3}", words[end]):
        end += 1
    unit = UNITS.get(words[end]) if end < len(words) else None
    quantity, taken = read_quantity(words, unit)
    del words[:taken]
    if unit:
        words.pop(0)
    product, markers = _split_product(words)
    if not product:
        raise GrammarError("order_no_product")
    grade, price, price_currency, deliver_by, place = _markers(markers, today)
    if deliver_by is None:
        deliver_by = today + timedelta(days=default_days)
    return OrderRequest(quantity, unit or product.lower(), product, grade, price,
                        price_currency or (currency if price is not None else None),
                        deliver_by, place)


def _is_marker(word: str) -> bool:
    return word.startswith("@") or word.startswith(GRADE_WORDS) or word in BY_WORDS \
        or word in AT_WORDS


def _split_product(words: list[str]) -> tuple[str, list[str]]:
    product: list[str] = []
    while words and not _is_marker(words[0]):
        product.append(words.pop(0))
    return " ".join(product), words


def _markers(words: list[str], today: date) -> tuple[str | None, float | None, str | None,
                                                       date | None, str | None]:
    grade = price = currency = deliver_by = place = None
    while words:
        word = words.pop(0)
        if word.startswith("@"):
            price, currency = price_word(word[1:] or (words.pop(0) if words else ""))
            if currency is None and words and is_currency(words[0]):   # @3400 KES
                currency = words.pop(0)
        elif word.startswith(GRADE_WORDS):
            rest = next(word[len(w):] for w in GRADE_WORDS if word.startswith(w))
            # GRADE A: "A" is also the French AT, but right after GRADE it is the grade.
            if not rest and words and not (words[0] != "A" and _is_marker(words[0])):
                rest = words.pop(0)
            if not rest:
                raise GrammarError("order_bad_grade")
            grade = rest
        elif word in BY_WORDS:
            taken = []
            while words and not _is_marker(words[0]) and len(taken) < 3:
                taken.append(words.pop(0))
            deliver_by = date_words(taken, today)
        elif word in AT_WORDS:  # the place is every word up to the next marker
            taken = []
            while words and not _is_marker(words[0]):
                taken.append(words.pop(0))
            if not taken:
                raise GrammarError("order_no_place")
            place = " ".join(taken)
        else:
            raise GrammarError("order_unexpected", word=echo(word))
    return grade, price, currency, deliver_by, place


def is_currency(word: str) -> bool:
    """KES, UGX, XOF: three letters that are not a unit or a marker of the grammar."""
    return len(word) == 3 and word.isalpha() and word not in UNITS and not _is_marker(word)


def price_word(word: str) -> tuple[float, str | None]:
    found = re.match(r"^([A-Z]{3})?([\d,.]+)(?:/[A-Z]+)?$", word)
    amount = _decimal(found.group(2)) if found else None
    value = float(amount) if amount is not None else None
    if value is None or value <= 0:
        raise GrammarError("order_bad_price", word=echo("@" + word))
    return value, found.group(1) if found else None


def date_words(words: list[str], today: date) -> date:
    """BY 2026-12-20 | 20/12/2026 | 20/12/26 | 20/12 | 20 DEC [2026] | 20DEC."""
    text = " ".join(words)
    when = _read_date(words, today)
    if when is None:
        raise GrammarError("order_bad_date", word=echo(text or "?"))
    if when < today:
        raise GrammarError("order_past_date", word=when.isoformat())
    return when


def _read_date(words: list[str], today: date) -> date | None:
    if not words:
        return None
    first = words[0]
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", first):
            return date.fromisoformat(first)
        found = re.match(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?$", first)
        if found:
            day, month = int(found.group(1)), int(found.group(2))
            year = _year(found.group(3), today, month, day)
            return date(year, month, day)
        found = re.match(r"^(\d{1,2})([A-Z]+)?$", first)
        if found:
            month_word = found.group(2) or (words[1] if len(words) > 1 else "")
            month = MONTHS.get(month_word[:4]) or MONTHS.get(month_word[:3])
            if month is None:
                return None
            year_word = words[2] if not found.group(2) and len(words) > 2 else (
                words[1] if found.group(2) and len(words) > 1 else None)
            year = int(year_word) if year_word and year_word.isdigit() and len(year_word) == 4 \
                else _year(None, today, month, int(found.group(1)))
            return date(year, month, int(found.group(1)))
    except ValueError:
        return None
    return None


def _year(text: str | None, today: date, month: int, day: int) -> int:
    """A written year (26 -> 2026), or the next time that day comes round."""
    if text:
        return int(text) + (2000 if len(text) == 2 else 0)
    return today.year if (month, day) >= (today.month, today.day) else today.year + 1


def read_price(words: list[str]) -> tuple[float, str | None, int]:
    """A price as the grammar reads it after @ (@3400, @ 3400, @KES3400, @3400 KES), for
    commands that take one without the rest of an order (BUY): (amount, currency or None,
    how many words it took); GrammarError order_bad_price when it is not one."""
    text, taken = words[0][1:], 1
    if not text and len(words) > 1:
        text, taken = words[1], 2
    amount, currency = price_word(text)
    if currency is None and len(words) > taken and is_currency(words[taken]):
        currency, taken = words[taken], taken + 1
    return amount, currency, taken
