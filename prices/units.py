"""Units of price series ('KG', '90 KG', '500 ML', 'Bunch') and converting between them.

A price is per a unit. Weights convert among themselves (a 90 KG bag at 3,400 is 37.78 per
KG) and so do volumes; counted units (Bunch, Head, Unit, a bag of unknown weight) convert
to nothing, so a price in one of them is kept as it was reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words for the base units, as people write them (folded) -> the base as the data names it.
BASES = {
    "KG": "KG", "KGS": "KG", "KILO": "KG", "KILOS": "KG", "KILOGRAM": "KG", "KILOGRAMS": "KG",
    "G": "G", "GR": "G", "GRAM": "G", "GRAMS": "G", "GRAMME": "G", "GRAMMES": "G",
    "T": "T", "TON": "T", "TONNE": "T", "TONNES": "T", "TANI": "T",
    "L": "L", "LT": "L", "LTR": "L", "LITRE": "L", "LITRES": "L", "LITER": "L", "LITERS": "L",
    "LITA": "L", "ML": "ML",
    "UNIT": "Unit", "UNITS": "Unit", "PIECE": "Unit", "PIECES": "Unit", "PC": "Unit",
    "PCS": "Unit", "KIPANDE": "Unit", "HEAD": "Head",
    "BUNCH": "Bunch", "BUNCHES": "Bunch", "MKUNGU": "Bunch", "REGIME": "Bunch",
    "BAG": "Bag", "BAGS": "Bag", "GUNIA": "Bag", "SAC": "Bag", "SACS": "Bag", "SACK": "Bag",
    "DEBE": "Debe", "TRAY": "Tray", "TRAYS": "Tray",
}
# What a base is worth in its dimension's measure (kilograms or litres).
_MEASURE = {"KG": ("mass", 1.0), "G": ("mass", 0.001), "T": ("mass", 1000.0),
            "L": ("volume", 1.0), "ML": ("volume", 0.001)}
# A bag word after a weight says nothing more: "90KG BAG" is 90 KG.
_CONTAINERS = frozenset({"BAG", "BAGS", "GUNIA", "SAC", "SACS", "SACK"})
_UNIT = re.compile(r"^(\d+(?:\.\d+)?)?([A-Z]+)$")
_QUANTITY = re.compile(r"^\d+(?:\.\d+)?$")
MAX_QUANTITY = 100_000


@dataclass(frozen=True, slots=True)
class Unit:
    quantity: float   # 90 in '90 KG'
    base: str         # KG, G, T, L, ML, Unit, Head, Bunch, Bag, Debe, Tray

    @property
    def text(self) -> str:
        """As the price data writes it: 'KG', '90 KG', 'Bunch'."""
        return self.base if self.quantity == 1 else f"{self.quantity:g} {self.base}"

    @property
    def measure(self) -> tuple[str, float] | None:
        """(dimension, kilograms or litres it holds), or None for a counted unit."""
        found = _MEASURE.get(self.base)
        return None if found is None else (found[0], found[1] * self.quantity)


def parse_unit(text: str) -> Unit | None:
    """'90 KG', '90KG', 'kg', '500ml', 'Bunch', '50KG BAG' -> a Unit; None if not a unit."""
    words = text.strip().upper().split()
    if len(words) > 1 and words[-1] in _CONTAINERS:
        words.pop()
    if len(words) == 2 and not (_QUANTITY.match(words[0]) and words[1].isalpha()):
        return None   # '55 200G' is a number and a unit, not one unit
    found = _UNIT.match("".join(words)) if 0 < len(words) <= 2 else None
    if not found or found.group(2) not in BASES:
        return None
    quantity = float(found.group(1)) if found.group(1) else 1.0
    if not 0 < quantity <= MAX_QUANTITY:
        return None
    return Unit(quantity, BASES[found.group(2)])


def factor(reported: Unit, target: Unit) -> float | None:
    """What a price per `reported` is multiplied by to be per `target` (a 90 KG bag's price
    to KG: 1/90); None when they do not convert (different dimensions, counted units)."""
    if reported == target:
        return 1.0
    have, want = reported.measure, target.measure
    if have is None or want is None or have[0] != want[0]:
        return None
    return want[1] / have[1]
