"""The faster PRICE look-ups give what the slower ones gave, on the whole Kenya file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rapidfuzz import process

import db
from prices import quotes
from prices.catalog import MIN_SCORE, _ranked, catalog_for, load_aliases, similarity
from prices.importer import import_prices

ROOT = Path(__file__).resolve().parent.parent
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"

# The query latest_at_market ran before: a window over every observation of each series.
WINDOW_QUERY = (
    "SELECT * FROM (SELECT c.name AS commodity, m.name AS market, p.unit, p.price_type,"
    " p.currency, p.date, p.price, p.source,"
    " ROW_NUMBER() OVER (PARTITION BY p.commodity_id, p.unit, p.price_type, p.currency"
    " ORDER BY p.date DESC) AS rn,"
    " LEAD(p.price) OVER (PARTITION BY p.commodity_id, p.unit, p.price_type, p.currency"
    " ORDER BY p.date DESC) AS previous,"
    " LEAD(p.date) OVER (PARTITION BY p.commodity_id, p.unit, p.price_type, p.currency"
    " ORDER BY p.date DESC) AS previous_date"
    " FROM prices p JOIN commodities c ON c.id = p.commodity_id"
    " JOIN markets m ON m.id = p.market_id"
    " WHERE p.market_id = ? AND p.commodity_id IN ({marks}))"
    " WHERE rn = 1 ORDER BY date DESC, price_type DESC")


def window_latest(conn, commodity_ids, market_id):
    rows = conn.execute(WINDOW_QUERY.format(marks=",".join("?" * len(commodity_ids))),
                        [market_id, *commodity_ids])
    return [quotes._quote(row) for row in rows]


@pytest.fixture(scope="module")
def kenya(tmp_path_factory):
    conn = db.connect(tmp_path_factory.mktemp("kenya-queries") / "kenya.db")
    db.migrate(conn)
    with db.transaction(conn):
        load_aliases(conn)
    import_prices(conn, KENYA, country="KE")
    yield conn
    conn.close()


def test_latest_quotes_match_the_window_query_for_every_name_and_market(kenya):
    catalog = catalog_for(kenya)
    groups = sorted({tuple(sorted(ids)) for ids in catalog.commodities.phrases.values()})
    with_data = 0
    for group in groups:
        for market_id in sorted(catalog.markets.items):
            expected = window_latest(kenya, list(group), market_id)
            assert quotes.latest_at_market(kenya, list(group), market_id) == expected
            with_data += bool(expected)
    assert with_data > 4000  # the comparison covered real answers, not only empty ones
    assert quotes.latest_at_market(kenya, [], 1) == []


def test_ties_on_date_and_type_keep_the_window_querys_order(tmp_path):
    conn = db.connect(tmp_path / "ties.db")
    db.migrate(conn)
    with db.transaction(conn):
        conn.execute("INSERT INTO markets (id, country, name) VALUES (1, 'KE', 'Nakuru')")
        conn.executemany("INSERT INTO commodities (id, name) VALUES (?, ?)",
                         [(1, "Maize (white)"), (2, "Maize (yellow)")])
        rows = []
        for commodity in (2, 1):
            for unit in ("KG", "90 KG"):
                for price_type in ("retail", "wholesale"):
                    for n, day in enumerate(("2025-01-15", "2025-02-15", "2025-03-15")):
                        rows.append((commodity, unit, price_type, day, 10.0 * commodity + n))
        conn.executemany(
            "INSERT INTO prices (commodity_id, market_id, unit, price_type, currency, date,"
            " price, source, updated_at) VALUES (?, 1, ?, ?, 'KES', ?, ?, 'test', 'now')", rows)
    got = quotes.latest_at_market(conn, [1, 2], 1)
    assert len(got) == 8 and got == window_latest(conn, [1, 2], 1)
    assert [q.previous_price for q in got] == [11.0, 11.0, 21.0, 21.0, 11.0, 11.0, 21.0, 21.0]


def test_fuzzy_ranking_is_what_process_extract_with_similarity_gave(kenya):
    catalog = catalog_for(kenya)
    rng = random.Random(3)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ "
    for index in (catalog.commodities, catalog.markets):
        choices = list(index.phrases)
        queries = set(rng.sample(choices, 40))
        for phrase in rng.sample(choices, 60):
            typo = list(phrase)
            typo[rng.randrange(len(typo))] = rng.choice(letters)
            queries.add("".join(typo).strip())
        queries |= {" ".join(rng.sample(choices, 2)) for _ in range(40)}
        queries |= {"".join(rng.choice(letters) for _ in range(8)).strip() for _ in range(20)}
        for query in sorted(q for q in queries if q):
            expected = process.extract(query, choices, scorer=similarity, limit=6,
                                       score_cutoff=MIN_SCORE)
            assert _ranked(query, choices) == [(p, score) for p, score, _ in expected], query


def original_parse(catalog, text):
    """handlers.price.parse as it was before it skipped the whole-text ranking."""
    from handlers.price import Query, _score
    from prices.catalog import MatchKind
    from prices.folding import phrase

    words = phrase(text).split()
    alone = catalog.commodities.match(" ".join(words))
    best = Query(alone, None) if alone.kind is not MatchKind.NONE else None
    best_score = _score(alone) * 2 if best else -1.0
    for cut in range(len(words) - 1, 0, -1):
        commodity = catalog.commodities.match(" ".join(words[:cut]))
        market = catalog.markets.match(" ".join(words[cut:]))
        if commodity.kind is MatchKind.NONE:
            continue
        score = _score(commodity) + _score(market)
        if score > best_score:
            best, best_score = Query(commodity, market), score
    if best is None:
        return Query(alone, None)
    return best


def test_parsing_a_price_question_is_unchanged(kenya):
    from handlers.price import parse

    catalog = catalog_for(kenya)
    rng = random.Random(5)
    commodities, markets = list(catalog.commodities.phrases), list(catalog.markets.phrases)
    texts = {"MAIZE NAKURU", "NAKURU MAIZE", "WHITE MAIZE", "MAIZE WHITE", "MAIZE", "BEANS",
             "BEAN KISUMU", "POTATOES ELDORET", "IRISH POTATOES WAKULIMA NAKURU", "", "X",
             "FAT COOKING", "FLOUR MAIZE NAKURU", "FLOUR WHEAT", "COOKING FAT MOMBASA"}
    # a name's words in another order score 100 as one name: tried with a market too
    texts |= {" ".join(reversed(p.split())) + " " + m for p in commodities
              if len(p.split()) == 2 for m in ("NAKURU", "KISUMU")}
    for _ in range(400):
        commodity, market = rng.choice(commodities), rng.choice(markets)
        texts.add(f"{commodity} {market}")
        texts.add(f"{market} {commodity}")
        texts.add(" ".join(rng.sample(f"{commodity} {market}".split(), 2))
                  if len(f"{commodity} {market}".split()) >= 2 else commodity)
        typo = list(f"{commodity} {market}")
        typo[rng.randrange(len(typo))] = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        texts.add("".join(typo))
        texts.add(rng.choice(commodities))
        texts.add(f"{rng.choice(commodities)} {rng.choice(commodities)}")
    for text in sorted(texts):
        assert parse(catalog, text) == original_parse(catalog, text), text
        if not catalog.commodities.may_be_exact(text):  # then it cannot score 100
            assert catalog.commodities.match(text).score < 100, text
    assert catalog.commodities.may_be_exact("WHITE MAIZE")
    assert not catalog.commodities.may_be_exact("MAIZE NAKURU")
    assert catalog.commodities.may_be_exact("FAT COOKING")  # COOKING FAT, words swapped
