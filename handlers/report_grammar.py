"""The RPT grammar: how a market agent reports prices by SMS (docs/agents.md).

    RPT <item> [; <item>]...
    <item> = <product...> <market...> <price> [<unit>] [WHOLESALE | RETAIL]

- product and market: names as PRICE reads them, in any language (MAHINDI, MAIS), with
  their usual forgiveness for case, accents and typos;
- price: a number (3400, 3,400, 35.5), per unit; a currency word before it (KES, KSH) is
  allowed and ignored: the price is in the market's country's currency;
- unit: KG, 90KG, 90 KG, G, 500G, L, 500ML, BUNCH, HEAD, UNIT, PIECE... (prices.units); a
  bag word after a weight says nothing more (90KG BAG). Without one, the unit the market's
  series uses;
- WHOLESALE / RETAIL (also JUMLA / REJAREJA, GROS / DETAIL) anywhere in the item; without
  one, the price is wholesale, what market agents (enumerators) report most;
- items are separated by `;` or a new line (a comma cannot be: 3,400 is a number), at most
  MAX_ITEMS in one SMS.

Names may end in digits (Kakuma 3): the price is the first number that only a unit (or
nothing) follows. Each mistake names the item and the part that is wrong (GrammarError.key
is the reply text to send).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.order_grammar import GrammarError, echo, number
from prices.folding import fold
from prices.units import Unit, parse_unit

MAX_ITEMS = 5
MAX_PRICE = 100_000_000
PRICE_TYPES = {
    "WHOLESALE": "wholesale", "JUMLA": "wholesale", "GROS": "wholesale",
    "RETAIL": "retail", "REJAREJA": "retail", "DETAIL": "retail",
}
CURRENCY_WORDS = frozenset({"KES", "KSH", "KSHS", "SH", "SHS", "TZS", "TSH", "UGX", "USH",
                            "GHS", "GHC", "XOF", "CFA", "FCFA", "RWF", "ETB", "USD"})
_SEPARATORS = re.compile(r"[;\n\r]+")
_STUCK_CURRENCY = re.compile(r"^(" + "|".join(sorted(CURRENCY_WORDS, key=len, reverse=True))
                             + r")(\d[\d,.]*)$")


@dataclass(frozen=True, slots=True)
class ItemRequest:
    """One item as written: the names, the price, and what else it says."""

    number: int                 # its place in the SMS, from 1
    names: str                  # product and market words, folded: MAIZE NAKURU
    price: float
    unit: Unit | None           # None: the series' usual unit
    price_type: str             # wholesale | retail
    text: str                   # the item as written, for echoes


def items(text: str) -> list[str]:
    """The items of an RPT message (the words after RPT), empty ones dropped."""
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


def parse(text: str) -> list[ItemRequest]:
    """Read every item of an RPT message or raise GrammarError naming the first bad part."""
    found = items(text)
    if not found:
        raise GrammarError("rpt_usage")
    if len(found) > MAX_ITEMS:
        raise GrammarError("rpt_too_many", max=str(MAX_ITEMS), count=str(len(found)))
    return [parse_item(item, n) for n, item in enumerate(found, start=1)]


def parse_item(text: str, n: int) -> ItemRequest:
    """One item: <names> <price> [<unit>] with a price type word anywhere."""
    words = [w for w in (_word(raw) for raw in text.split()) if w]
    kinds = [PRICE_TYPES[w] for w in words if w in PRICE_TYPES]
    if len(set(kinds)) > 1:
        raise GrammarError("rpt_two_types", item=str(n))
    words = [w for w in words if w not in PRICE_TYPES]
    at, unit = _price_at(words, n)
    names = words[:at]
    if names and names[-1] in CURRENCY_WORDS:
        names.pop()
    if not names:
        raise GrammarError("rpt_no_names", item=str(n))
    price = number(words[at])
    assert price is not None  # _price_at found it
    if not 0 < price <= MAX_PRICE:
        raise GrammarError("rpt_bad_price", item=str(n), word=echo(words[at]))
    return ItemRequest(n, " ".join(names), price, unit, kinds[0] if kinds else "wholesale",
                       text)


def _word(raw: str) -> str:
    """A typed word folded, a currency stuck to a price taken off (KSH3400 -> 3400)."""
    word = fold(raw)
    if raw.lstrip().startswith("-") and word[:1].isdigit():
        return "-" + word   # fold() would drop the sign: -5 is a bad price, not 5
    stuck = _STUCK_CURRENCY.match(word)
    return stuck.group(2) if stuck else word


def _price_at(words: list[str], n: int) -> tuple[int, Unit | None]:
    """Where the price is (the first number that only a unit or nothing follows), and the
    unit after it; GrammarError naming the bad unit or price, or the missing price."""
    bad_unit = None
    for at, word in enumerate(words):
        if number(word) is None:
            continue
        rest = " ".join(words[at + 1:])
        unit = parse_unit(rest) if rest else None
        if not rest or unit is not None:
            return at, unit
        bad_unit = rest
    if bad_unit is not None:
        raise GrammarError("rpt_bad_unit", item=str(n), word=echo(bad_unit.replace(" ", "")))
    looks = next((w for w in words if w[:1].isdigit() or w[:1] in "-+"), None)
    if looks is not None:
        raise GrammarError("rpt_bad_price", item=str(n), word=echo(looks))
    raise GrammarError("rpt_no_price", item=str(n))
