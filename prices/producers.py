"""Which producer groups can fill an order: the product they offer, and how near they are.

Products are compared as canonical phrases. A crop the price data knows takes its catalog
name whatever language it was written in (MAHINDI, MAIS and MAIZE are all MAIZE); anything
else (BASKETS, SISAL MATS) is folded and made singular, so a buyer's "basket" finds a group
that listed "baskets".
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from db import groups as groups_db
from db.groups import Group
from prices import quotes
from prices.catalog import MatchKind, base_name, canonical, catalog_for
from prices.folding import phrase

FUZZY_PRODUCT = 88      # a product phrase this close to a group's is the same product


def singular(words: str) -> str:
    """'BASKETS' -> 'BASKET', 'TOMATOES' -> 'TOMATO', each word of a phrase."""
    out = []
    for word in words.split():
        if word.endswith("OES") and len(word) > 4:
            word = word[:-2]
        elif word.endswith("S") and not word.endswith("SS") and len(word) > 3:
            word = word[:-1]
        out.append(word)
    return " ".join(out)


def canonical_product(conn: sqlite3.Connection, text: str) -> str:
    """The phrase a product is stored and compared as."""
    folded = phrase(text)
    if not folded:
        return ""
    catalog = catalog_for(conn)
    match = catalog.commodities.match(folded)
    if match.kind is MatchKind.EXACT or (match.kind is MatchKind.FUZZY and match.score >= 90):
        return base_name(canonical(catalog, match))
    return singular(folded)


@dataclass(frozen=True, slots=True)
class Candidate:
    group: Group
    km: float | None        # from the order's market to the group's; None when unknown


def groups_for(conn: sqlite3.Connection, product: str, market_id: int | None, *,
               radius_km: float) -> list[Candidate]:
    """Groups offering the product in or near the market, nearest first.

    Near means within `radius_km` of the order's market, or in the same region (admin1)
    when either has no coordinates. Without a market, every group offering it.
    """
    offered = groups_db.products(conn)
    same = [p for p in offered if p == product]
    if not same:
        close = process.extract(product, offered, scorer=fuzz.ratio, score_cutoff=FUZZY_PRODUCT)
        same = [name for name, _, _ in close]
    found = groups_db.offering(conn, same)
    if market_id is None:
        return [Candidate(group, None) for group in found]
    origin = quotes.place(conn, market_id)
    region = _region(conn, market_id)
    chosen = []
    for group in found:
        if group.market_id is None:
            if group.region and region and phrase(group.region) == phrase(region):
                chosen.append(Candidate(group, None))
            continue
        there = quotes.place(conn, group.market_id)
        km = quotes.distance_km(origin, there) if origin and there else None
        if group.market_id == market_id or (km is not None and km <= radius_km) or (
                km is None and region and _region(conn, group.market_id) == region):
            chosen.append(Candidate(group, km if group.market_id != market_id else 0.0))
    return sorted(chosen, key=lambda c: (c.km is None, c.km or 0.0, c.group.code))


def _region(conn: sqlite3.Connection, market_id: int) -> str | None:
    row = conn.execute("SELECT admin1 FROM markets WHERE id = ?", (market_id,)).fetchone()
    return row[0] if row and row[0] else None


def markets_near(conn: sqlite3.Connection, market_id: int, *, radius_km: float) -> list[int]:
    """The markets of the same country as this one that are near it, itself included:
    within `radius_km`, or in the same region (admin1) when either has no coordinates
    (what `groups_for` calls near, for listings and the buyers who follow them)."""
    rows = conn.execute("SELECT id, name, latitude, longitude, admin1 FROM markets WHERE"
                        " country = (SELECT country FROM markets WHERE id = ?)",
                        (market_id,)).fetchall()
    places = {row[0]: (quotes.Place(*row[:4]), row[4]) for row in rows}
    if market_id not in places:
        return []
    origin, region = places[market_id]
    near = []
    for other_id, (there, other_region) in places.items():
        km = quotes.distance_km(origin, there)
        if other_id == market_id or (km is not None and km <= radius_km) or (
                km is None and region and other_region == region):
            near.append(int(other_id))
    return near
