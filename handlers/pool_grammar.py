"""The POOL and SUPPLY grammar: `POOL DAP 50KG @3200 100+@3000 BY 2027-01-15 FROM AGROVET`.

    POOL   [<group>] <product...> [<pack>] [@<price> [<from>+@<price>]...] [BY <date>]
           [FROM <supplier...>]
    POOL   [<group>] <offer id> [BY <date>]
    SUPPLY <product...> [<pack>] @<price> [<from>+@<price>]... [BY <date>]

- product: the words up to the first marker: DAP, CAN, MAIZE SEED H614.
- pack: the size of one unit, last before the markers: 50KG, 50 KG, 25KG, 20L, 500ML, 1T.
  Members then count packs ("3 x DAP 50kg"). Without one, a unit word ends the product
  (DAP BAGS: bags) or else the product itself is counted (CRATES), as in ORDER.
- @3200, @KES3200, @3200 KES: the price of one unit (ORDER's reader of prices).
- 100+@3000 (or 100+ @3000): from 100 units in the whole pool, each costs 3,000. Up to
  MAX_STEPS steps after the price, each from more units and cheaper than the one before.
- BY 2027-01-15, BY 15/01, BY 15 JAN (KABLA, AVANT): the last day answers are taken
  (ORDER's reader of dates).
- FROM AGROVET (KUTOKA, CHEZ): a registered supplier, by (part of) their name.

Each mistake names the part that is wrong (GrammarError.key is the reply text), and the
quantities of answers are read by ORDER's `read_quantity` (thousands, precision, limits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import pycountry

from handlers.order_grammar import BY_WORDS, UNITS, GrammarError, echo, read_quantity
# ORDER's own readers of a price (@3,400, @KES3400) and a date, so both grammars read
# them alike and name the same mistakes.
from handlers.order_grammar import date_words as read_date
from handlers.order_grammar import is_currency
from handlers.order_grammar import price_word as read_price
from prices.folding import fold

FROM_WORDS = frozenset({"FROM", "KUTOKA", "CHEZ"})
# The size of one pack: 50KG, 20L. Stored and shown short ("50kg", "20L").
PACK_UNITS = {"KG": "kg", "KGS": "kg", "KILO": "kg", "KILOS": "kg", "G": "g", "GR": "g",
              "GRAMS": "g", "L": "L", "LT": "L", "LTR": "L", "LITRE": "L", "LITRES": "L",
              "ML": "ml", "T": "t", "TON": "t", "TONNE": "t", "TONNES": "t"}
MAX_STEPS = 3          # price steps after the price: four prices fit one SMS with the rest
MAX_PRODUCT = 24       # characters of a product name (it is repeated in every reply)
_SIZED = re.compile(r"^(\d+(?:[.,]\d+)?)([A-Z]+)?$")
_STEP = re.compile(r"^([\d][\d,.]*)\+(?:@(.*))?$")

Tiers = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class PoolRequest:
    product: str                      # as typed, folded
    unit: str                         # what is counted: "x 50kg", "bags", or the product (CRATES)
    tiers: Tiers = ()                 # (from quantity, price), the first from 0; () no price
    currency: str | None = None
    close_on: date | None = None
    supplier: str | None = None       # the words after FROM


def parse(text: str, today: date, *, allow_supplier: bool = True) -> PoolRequest:
    """Read a pool or an offer (the words after POOL or SUPPLY); GrammarError names the
    part that is wrong."""
    words = fold(f"X {text} X").split()[1:-1]   # (fold trims an @ or + at either end)
    product_words: list[str] = []
    while words and not _is_marker(words[0]):
        product_words.append(words.pop(0))
    product, unit = _product_and_unit(product_words)
    tiers, currency, close_on, supplier = _markers(words, today, allow_supplier)
    return PoolRequest(product, unit, tiers, currency, close_on, supplier)


def _is_marker(word: str) -> bool:
    return word.startswith("@") or word in BY_WORDS or word in FROM_WORDS \
        or _STEP.match(word) is not None


def _product_and_unit(words: list[str]) -> tuple[str, str]:
    """The product and what is counted, from the words before the first marker."""
    unit = pack = None
    if len(words) > 1 and words[-1] in UNITS and not _sized_pack(words):   # DAP 50KG BAGS
        unit, words = UNITS[words[-1]], words[:-1]
    if words:
        sized = _SIZED.match(words[-1])
        if sized and sized.group(2):                    # 50KG
            pack = _pack(sized.group(1), sized.group(2), words[-1])
            words = words[:-1]
        elif _sized_pack(words):                        # 50 KG
            pack = _pack(words[-2], words[-1], f"{words[-2]}{words[-1]}")
            words = words[:-2]
        elif sized:                                     # 50 alone: 50 of what?
            raise GrammarError("pool_bad_pack", word=echo(words[-1]))
    product = " ".join(words)
    if not product:
        raise GrammarError("pool_no_product")
    if not product.isascii():   # it is repeated in every reply: keep them GSM-7
        raise GrammarError("pool_bad_product")
    if len(product) > MAX_PRODUCT:
        raise GrammarError("pool_long_product", max=str(MAX_PRODUCT))
    return product, f"x {pack}" if pack else (unit or product)


def _sized_pack(words: list[str]) -> bool:
    """Whether the last two words are a number and a pack unit: 50 KG."""
    if len(words) < 2 or words[-1] not in PACK_UNITS:
        return False
    sized = _SIZED.match(words[-2])
    return sized is not None and not sized.group(2)


def _pack(number: str, unit_word: str, typed: str) -> str:
    unit = PACK_UNITS.get(unit_word)
    try:
        size = Decimal(number.replace(",", "."))
    except InvalidOperation:   # the pattern admits only digits and one mark: never here
        size = Decimal(0)
    if unit is None or size <= 0:
        raise GrammarError("pool_bad_pack", word=echo(typed))
    return f"{size.normalize():f}{unit}"


def _markers(words: list[str], today: date, allow_supplier: bool
             ) -> tuple[Tiers, str | None, date | None, str | None]:
    tiers: list[tuple[float, float]] = []
    currency = close_on = supplier = None
    while words:
        word = words.pop(0)
        step = _STEP.match(word)
        if word.startswith("@") and not tiers:
            price, currency = read_price(word[1:] or (words.pop(0) if words else ""))
            if currency is None and words and is_currency(words[0]):   # @3200 KES
                currency = words.pop(0)
            tiers.append((0.0, price))
        elif step:
            tiers.append(_step(step, word, words, bool(tiers)))
        elif word in BY_WORDS:
            taken = []
            while words and not _is_marker(words[0]) and len(taken) < 3:
                taken.append(words.pop(0))
            close_on = read_date(taken, today)
        elif word in FROM_WORDS and allow_supplier:
            taken = []
            while words and not _is_marker(words[0]):
                taken.append(words.pop(0))
            if not taken:
                raise GrammarError("pool_no_supplier")
            supplier = " ".join(taken)
        else:
            raise GrammarError("pool_unexpected", word=_echo(word))
    if currency is not None and pycountry.currencies.get(alpha_3=currency) is None:
        raise GrammarError("pool_unexpected", word=currency)   # @3200 NOW: not a currency
    _check_tiers(tiers)
    return tuple(tiers), currency, close_on, supplier


def _echo(word: str) -> str:
    """A typed step or price, safe to repeat in a reply (echo, keeping the +)."""
    return "".join(ch for ch in word if ch.isascii() and (ch.isalnum() or ch in "@+.,"))[:16]


def _step(found: re.Match[str], word: str, words: list[str], priced: bool) -> tuple[float, float]:
    """One price step, 100+@3000 or 100+ @3000; GrammarError names it when it cannot be read."""
    if not priced:
        raise GrammarError("pool_step_first", word=_echo(word))
    price_text = found.group(2)
    if price_text is None:
        if not (words and words[0].startswith("@")):
            raise GrammarError("pool_bad_step", word=_echo(word))
        price_text = words.pop(0)[1:]
    try:
        quantity, _ = read_quantity([found.group(1)])
    except GrammarError:
        raise GrammarError("pool_bad_step", word=_echo(word)) from None
    price, _ = read_price(price_text)
    return quantity, price


def _check_tiers(tiers: list[tuple[float, float]]) -> None:
    if len(tiers) > MAX_STEPS + 1:
        raise GrammarError("pool_many_steps", max=str(MAX_STEPS))
    for (low, dearer), (high, cheaper) in zip(tiers, tiers[1:]):
        if high <= low or cheaper >= dearer:
            raise GrammarError("pool_step_order")


def price_at(tiers: Tiers, total: float) -> tuple[float, tuple[float, float] | None]:
    """The unit price for a pool's total, and the next cheaper step (None at the last)."""
    price, following = tiers[0][1], None
    for quantity, step_price in tiers:
        if total >= quantity:
            price = step_price
        elif following is None:
            following = (quantity, step_price)
    return price, following
