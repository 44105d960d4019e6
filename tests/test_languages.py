"""Every reply in the farmer's language, over the Kenya file and a second country's in the
same HDX format (tests/data/wfp_food_prices_gha.csv: synthetic, see the README there).

The English a Swahili or French reply must not carry is the English the data brings:
every word of the commodity and unit names of both files, less the few words each
language's table (handlers/locale/words_<code>.toml) declares its own too (kg, UHT,
rosecoco). Numbers follow the language and round half up; STD in English says so; orders
name their unit in the reader's words. Every reply here is checked for its segments.
"""

from __future__ import annotations

import csv
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import pytest
from defaults import full_settings
from support import kenya_config, post_local

import db
from db import contacts, subscriptions
from db import groups as groups_db
from handlers import localize
from handlers.messages import Context
from handlers.registry import build_router
from handlers.segments import count
from handlers.texts import LANGUAGES, text
from prices import standards
from prices.catalog import base_name, catalog_for
from smsgw import bulletins
from smsgw.app import create_app

ROOT = Path(__file__).resolve().parent.parent
FILES = {"KE": ROOT / "data" / "wfp_food_prices_ken.csv",
         "GH": ROOT / "tests" / "data" / "wfp_food_prices_gha.csv"}
PHONES = {"KE": "+254700000001", "GH": "+233200000001"}
CURRENCIES = {"KE": "KES", "GH": "GHS"}
PRICE = {"en": "PRICE", "sw": "BEI", "fr": "PRIX"}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROUTER = build_router()


@cache
def rows(country: str) -> list[dict[str, str]]:
    """The data rows of a country's file (without HDX's row of #hashtags)."""
    with FILES[country].open(newline="", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if not r["date"].startswith("#")]


def words_of(text: str) -> set[str]:
    """The words of a text, lower case, letters only ('90 KG' -> {'kg'})."""
    return set(re.findall(r"[^\W\d_]+", text.lower()))


@cache
def data_words() -> frozenset[str]:
    """Every word of every commodity and unit name in both files."""
    return frozenset(word for country in FILES for row in rows(country)
                     for word in words_of(f"{row['commodity']} {row['unit']}"))


def english_in(language: str, reply: str) -> set[str]:
    """The data's English words a reply in `language` carries."""
    return words_of(reply) & (data_words() - localize.table(language).same)


def problem(reply: str, *, segments: int = 1) -> str | None:
    """Why a reply is not one GSM-7 SMS (or `segments` of them), or None."""
    info = count(reply)
    if info.encoding == "GSM-7" and info.segments <= segments:
        return None
    return f"{info.encoding}, {info.segments} segments: {reply}"


def one_sms(reply: str) -> str:
    assert problem(reply) is None, problem(reply)
    return reply


def copy_of(database: Path, tmp_path: Path) -> sqlite3.Connection:
    shutil.copy(database, tmp_path / "test.db")
    return db.connect(tmp_path / "test.db")


def ask(conn: sqlite3.Connection, country: str, language: str, message: str) -> str:
    """The one reply to a message from a contact of `country` who reads `language`."""
    contact = contacts.get_or_create(conn, PHONES[country])
    ctx = Context(conn, contact, language, NOW, full_settings({"app.default_region": country}))
    [reply] = ROUTER.dispatch(ctx, message)
    return reply.text


# ---------------------------------------------------------------------------- PRICE, every pair


@pytest.mark.parametrize("country", ["KE", "GH"])
@pytest.mark.parametrize("language", ["en", "sw", "fr"])
def test_price_for_every_commodity_and_market_is_one_sms_in_the_language(
        kenya_db, ghana_db, tmp_path, country, language):
    conn = copy_of({"KE": kenya_db, "GH": ghana_db}[country], tmp_path)
    pairs = sorted({(r["commodity"], r["market"]) for r in rows(country)})
    questions = [(f"{PRICE[language]} {c} {m}", m) for c, m in pairs]
    questions += [(f"{PRICE[language]} {c}", None) for c in sorted({c for c, _ in pairs})]
    problems, with_data_words = [], 0
    for message, market in questions:
        reply = ask(conn, country, language, message)
        problems.append(problem(reply))
        if market is not None and (market not in reply or CURRENCIES[country] not in reply):
            problems.append(f"no {market} price for {message!r}: {reply}")
        left = english_in(language, reply)
        with_data_words += bool(left)
        if left and language != "en":
            problems.append(f"English {sorted(left)}: {reply}")
    found = [p for p in problems if p]
    assert not found, f"{len(found)} problems in {len(questions)} replies:\n" + "\n".join(found[:20])
    if language == "en":   # the check sees the data's words where they belong
        assert with_data_words == len(questions)


def test_the_tables_cover_every_word_of_both_files():
    """Each data word is translated by a language's table or declared its own there, so the
    sweep above cannot pass for want of data (words_of reads names as the tables do)."""
    for language in ("sw", "fr"):
        for country in FILES:
            for name in {r["commodity"] for r in rows(country)}:
                shown = localize.commodity(None, language, name)
                assert not english_in(language, shown), (language, name, shown)
            for unit in {r["unit"] for r in rows(country)}:
                assert not english_in(language, localize.unit(language, unit)), (language, unit)


def test_every_word_table_is_gsm7_and_declares_few_words_its_own():
    for language in LANGUAGES:
        table = localize.table(language)
        for value in [*table.names.values(), *table.words.values()]:
            assert count(value).encoding == "GSM-7", (language, value)
        assert len(table.same) < len(data_words()) // 5, (language, sorted(table.same))


@pytest.mark.parametrize("country", ["KE", "GH"])
def test_a_name_a_reply_gives_finds_its_commodity_when_typed_back(kenya_db, ghana_db,
                                                                   tmp_path, country):
    """'Tuma BEI MAHINDI MEUPE': what a reply calls a commodity, or its kind, finds it, and
    nothing that its English name would not find."""
    conn = copy_of({"KE": kenya_db, "GH": ghana_db}[country], tmp_path)
    index = catalog_for(conn).commodities
    for language in ("sw", "fr"):
        for item in index.items.values():
            shown = localize.commodity(conn, language, item.name)
            found, english = index.match(shown), index.match(item.name)
            assert item in found.items and set(found.items) <= set(english.items), \
                (language, item.name, shown, found)
            kind = localize.base(conn, language, item.name)
            assert set(index.match(kind).items) == set(index.match(base_name(item.name)).items), \
                (language, item.name, kind)


def test_a_variety_in_a_group_reply_is_named_in_the_language(kenya_db, tmp_path):
    conn = copy_of(kenya_db, tmp_path)
    catalog = catalog_for(conn)
    varieties = [i.name for i in catalog.commodities.items.values() if "(" in i.name]
    for language in ("sw", "fr"):
        for name in varieties:
            label = localize.variety(conn, language, name)
            assert not english_in(language, label), (language, name, label)
    english = localize.variety(conn, "en", "Maize (white, dry)")
    assert english == "white"   # English shows the data's first variety word, as before
    reply = one_sms(ask(conn, "KE", "sw", "BEI MAHINDI DAGAHALEY"))
    assert reply.startswith("Mahindi, Dagahaley") and not english_in("sw", reply)


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("language, value, decimals, expected", [
    ("en", 2.675, 2, "2.68"),           # format() gives 2.67 (binary 2.67499...)
    ("en", 16088.5, 0, "16,089"),       # format() gives 16,088 (half to even)
    ("en", 0.125, 2, "0.13"),
    ("en", -0.004, 2, "0.00"),          # never "-0.00"
    ("sw", 1234567.891, 2, "1,234,567.89"),
    ("fr", 1234567.891, 2, "1 234 567,89"),
    ("fr", 3.5, 1, "3,5"),
    ("fr", 3200, 0, "3 200"),
])
def test_numbers_round_half_up_with_the_language_separators(language, value, decimals,
                                                             expected):
    assert localize.number(language, value, decimals) == expected


def test_half_cases_differ_from_python_rounding():
    """Why number() exists: Python rounds these down."""
    assert f"{2.675:.2f}" == "2.67" and f"{16088.5:,.0f}" == "16,088"
    assert localize.number("en", 2.675, 2) != f"{2.675:.2f}"


def test_a_french_price_has_the_file_figures_with_a_decimal_comma(kenya_db, tmp_path):
    conn = copy_of(kenya_db, tmp_path)
    series = sorted((r for r in rows("KE") if r["market"] == "Nakuru" and r["commodity"] == "Maize"
                     and r["unit"] == "KG" and r["pricetype"] == "Wholesale"),
                    key=lambda r: r["date"])
    last, before = Decimal(series[-1]["price"]), Decimal(series[-2]["price"])

    def french(value: Decimal) -> str:
        return str(value.quantize(Decimal("0.01"), ROUND_HALF_UP)).replace(".", ",")

    reply = one_sms(ask(conn, "KE", "fr", "PRIX MAIS NAKURU"))
    word = "hausse" if last > before else "baisse"
    assert f"gros KES {french(last)}/kg ({word} {french(abs(last - before))} " in reply
    assert not re.search(r"\d\.\d", reply)   # no decimal point in any figure


def test_a_french_bulletin_has_french_names_units_and_numbers(kenya_db, tmp_path):
    config = kenya_config(kenya_db, tmp_path)
    conn = db.connect(config["database.path"])
    followed = ["MAIZE WHITE", "BEANS DRY", "MILK COW FRESH", "OIL VEGETABLE FORTIFIED",
                "POTATOES IRISH RED"]
    nakuru = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]
    with db.transaction(conn):
        contact = contacts.get_or_create(conn, PHONES["KE"])
        contacts.set_language(conn, contact.id, "fr")
        contacts.set_home_market(conn, contact.id, nakuru)
        for phrase in followed:
            subscriptions.add(conn, contact.id, phrase, None)
    bulletins.price_bulletin(conn, config, now=NOW)
    texts = [r[0] for r in conn.execute("SELECT text FROM outbox WHERE to_number = ?",
                                        (PHONES["KE"],))]
    assert texts and all(problem(t) is None for t in texts), texts
    joined = " ".join(texts)
    assert joined.startswith("Prix ") and not english_in("fr", joined), joined
    assert re.search(r"\d,\d\d", joined) and not re.search(r"\d\.\d", joined), joined


# ---------------------------------------------------------------------------- STD


@pytest.mark.parametrize("language", ["sw", "fr"])
def test_std_without_a_translation_says_it_is_english_in_the_language(kenya_db, tmp_path,
                                                                      language):
    conn = copy_of(kenya_db, tmp_path)
    standards.import_standards(conn, ROOT / "prices" / "data" / "standards.toml")
    message = {"sw": "VIWANGO MAHINDI", "fr": "NORME MAIS"}[language]
    reply = ask(conn, "KE", language, message)
    note = text(language, "std_english")
    assert reply.startswith(note + " MAIZE,") and note != text("en", "std_english")
    assert problem(reply, segments=3) is None


def test_std_with_a_translation_sends_it_without_the_note(kenya_db, tmp_path):
    conn = copy_of(kenya_db, tmp_path)
    entry = (ROOT / "prices" / "data" / "standards.toml").read_text(encoding="utf-8")
    translated = entry.replace('text_en = """\\\nMAIZE,',
                               'text_fr = "MAIS: humidité 13% au plus."\ntext_en = """\\\nMAIZE,')
    assert translated != entry
    path = tmp_path / "standards.toml"
    path.write_text(translated, encoding="utf-8")
    standards.import_standards(conn, path)
    reply = ask(conn, "KE", "fr", "NORME MAIS")
    assert reply.startswith("MAIS: humidité 13% au plus.\nSource: ")
    assert text("fr", "std_english") not in reply and problem(reply) is None


# ---------------------------------------------------------------------------- orders


def test_an_order_is_counted_in_each_reader_s_words(kenya_db, tmp_path, clock):
    config = kenya_config(kenya_db, tmp_path)
    client = create_app(config, clock=clock).test_client()
    conn = db.connect(config["database.path"])
    buyer, leader = "0700000009", "0711000009"
    nakuru = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]
    with db.transaction(conn):
        group = groups_db.create(conn, code="KIMA", name="Kima Farmers", market_id=nakuru,
                                 region=None, products=["MAIZE"])
        head = contacts.get_or_create(conn, "+254" + leader[1:])
        contacts.set_language(conn, head.id, "fr")
        groups_db.set_member(conn, group.id, head.id, role="leader")
        person = contacts.get_or_create(conn, "+254" + buyer[1:])
        groups_db.set_role(conn, person.id, "buyer", "Unga Millers")
    response = post_local(client, "AGIZO 200 GUNIA MAHINDI @3400 SOKONI NAKURU", sender=buyer)
    [reply] = [one_sms(r["text"]) for r in response.get_json()["replies"]]
    assert "200 magunia mahindi" in reply and "bags" not in reply
    [relay] = [r[0] for r in conn.execute(
        "SELECT text FROM outbox WHERE to_number = ? AND inbound_id IS NULL", (head.phone,))]
    assert "200 sacs mais" in one_sms(relay) and "bags" not in relay
    post_local(client, "LANGUE FR", msg_id="lang", sender=buyer)
    response = post_local(client, "COMMANDE 2.5 TONNES MAIS", msg_id="o2", sender=buyer)
    [second] = [one_sms(r["text"]) for r in response.get_json()["replies"]]
    assert second.startswith("Commande ") and "2,5 tonnes mais" in second
    for message, figure in (("COMMANDE 99999999999 SACS MAIS", " 10 000 000."),
                            ("COMMANDE 0.001 SACS MAIS", " 0,1.")):
        response = post_local(client, message, msg_id=message, sender=buyer)
        [error] = [one_sms(r["text"]) for r in response.get_json()["replies"]]
        assert error.endswith(figure), error   # a limit written as the reader writes figures
