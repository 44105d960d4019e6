"""PRICE, REG and LANG transcripts over the real WFP Kenya data."""

from __future__ import annotations

import csv
import re
import itertools
import shutil
from pathlib import Path

import pytest
from support import make_config, post_local

import db
from handlers.segments import count
from prices.catalog import load_aliases
from prices.importer import import_prices
from smsgw.app import create_app

ROOT = Path(__file__).resolve().parent.parent
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"
_ids = itertools.count()


@pytest.fixture
def client(kenya_db, tmp_path, clock):
    shutil.copy(kenya_db, tmp_path / "test.db")
    return create_app(make_config(tmp_path), clock=clock).test_client()


def say(client, text: str, sender: str = "0712345678") -> str:
    response = post_local(client, text, msg_id=f"p{next(_ids)}", sender=sender)
    assert response.status_code == 200
    replies = [r["text"] for r in response.get_json()["replies"]]
    assert len(replies) == 1, replies
    info = count(replies[0])
    assert info.encoding == "GSM-7", replies[0]
    assert info.segments == 1, f"{info.segments} segments: {replies[0]}"
    return replies[0]


def series(market: str, commodity: str, unit: str, price_type: str) -> list[dict[str, str]]:
    """The file's rows for one series, oldest first (the expected answers come from here)."""
    with KENYA.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["market"] == market
                and r["commodity"] == commodity and r["unit"] == unit
                and r["pricetype"] == price_type]
    return sorted(rows, key=lambda r: r["date"])


def money(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value.is_integer() else f"{value:,.2f}"


def test_price_reply_has_the_exact_numbers_of_the_file(client):
    rows = series("Nakuru", "Maize", "KG", "Wholesale")
    last, before = float(rows[-1]["price"]), float(rows[-2]["price"])
    reply = say(client, "PRICE MAIZE NAKURU")
    direction = "up" if last > before else "down"
    assert reply.startswith(f"Maize, Nakuru, 15 Apr 2022: wholesale KES {money(last)}/kg")
    assert f"({direction} {money(abs(last - before))} since 15 Mar 2022)" in reply
    assert rows[-1]["date"] == "2022-04-15"


def test_stale_price_says_how_old(client):
    reply = say(client, "PRICE MAIZE NAKURU")
    assert reply.endswith("Old price: 4 years ago.")  # the clock is 2026-11-23


@pytest.mark.parametrize("text", ["BEI MAHINDI NAKURU", "bei mahindi nakru", "BEI MAHINDI NAKURU."])
def test_swahili_keyword_alias_and_typo(client, text):
    reply = say(client, text)
    assert reply.startswith(
        "Mahindi, Nakuru, 15 Apr 2022: jumla KES 35.88/kg (juu 0.57 tangu 15 Mac 2022).")
    assert "miaka 4 iliyopita" in reply


def test_french_with_accent_and_contact_language(client):
    say(client, "LANGUE FR")
    reply = say(client, "PRIX MAÏS NAKURU")
    assert reply.startswith(
        "Mais, Nakuru, 15 avr. 2022: gros KES 35,88/kg (hausse 0,57 depuis 15 mars 2022).")


@pytest.mark.parametrize("text", ["PRICE MAIZ NAKURU", "price maize nakru", "PRICE MAIZE NAKUR",
                                  "PRICES MAIZE NAKURU", "maize nakuru", "MAIZE NAKURU"])
def test_typos_and_bare_questions(client, text):
    assert say(client, text).startswith("Maize, Nakuru, 15 Apr 2022: wholesale KES 35.88/kg")


def test_multi_word_names_split_correctly(client):
    rows = series("Wakulima (Nakuru)", "Potatoes (Irish, white)", "50 KG", "Wholesale")
    reply = say(client, "PRICE IRISH POTATOES WAKULIMA NAKURU")
    assert reply.startswith(f"Potatoes, Wakulima (Nakuru), 15 Apr 2024: wholesale irish KES "
                            f"{money(float(rows[-1]['price']))}/50kg")


def test_ambiguous_name_asks_back(client):
    reply = say(client, "PRICE BEEN NAIROBI")
    assert reply.startswith("Which one:") and "BEEF" in reply and "BEAN" in reply


def test_unknown_commodity_suggests_alternatives(client):
    reply = say(client, "PRICE AVOCADOZZ NAKURU")
    assert reply.startswith("We have no prices for that product. Try: ")
    assert "maize" in reply and "beans" in reply


def test_unknown_market_points_to_the_best_markets(client):
    assert say(client, "PRICE MAIZE ZZZTOWN") == (
        "We do not know that market. Send PRICE MAIZE for the best markets.")


def test_missing_market_with_no_recent_price_says_so_and_how_to_get_the_latest(client):
    # The clock is 2026-11-23; the file's newest prices are from April 2026.
    assert say(client, "PRICE MAIZE") == ("No Maize price in the last 62 days. Send PRICE MAIZE"
                                          " and a market for its latest price.")
    assert say(client, "PRICE AVOCADOZZ") .startswith("We have no prices for that product.")


def test_registered_market_is_used_when_none_is_named(client):
    assert say(client, "REG NAKURU") == (
        "Your market is now Nakuru. Send PRICE MAIZE for its maize price.")
    assert say(client, "PRICE MAIZE").startswith("Maize, Nakuru, 15 Apr 2022")
    assert say(client, "REG") == "Your market is Nakuru. Send REG and another market to change it."


def test_no_data_at_market_names_the_nearest_markets_with_data(client):
    reply = say(client, "PRICE RICE MARIGAT")
    assert reply.startswith("No Rice price for Marigat (Baringo) yet. Nearest with prices: ")
    assert "km" in reply


def test_reg_ambiguous_and_unknown(client):
    assert say(client, "REG TURKANA").startswith("Which one: LODWAR TURKANA, ")
    assert say(client, "REG ZZZTOWN").startswith("We do not know that market.")


def test_lang_switches_every_reply(client):
    assert say(client, "LANG SW") == "Sasa utapokea majibu kwa Kiswahili."
    assert say(client, "HELP").startswith("BEI MAHINDI NAKURU")
    assert say(client, "LUGHA FRANCAIS") == "Vous recevrez maintenant les réponses en francais."
    assert say(client, "LANG XX").startswith("Envoyez LANGUE FR")
    assert say(client, "LANG english") == "You will now get replies in English."


def test_price_alone_explains_usage(client):
    assert say(client, "PRICE").startswith("Send PRICE and a product")


def test_an_import_that_only_updates_a_price_is_answered_at_once(client, tmp_path):
    """Answers are remembered per data version; an import that changes a price in place
    (same series and date, so no new row) must still be seen by the next question."""
    assert say(client, "PRICE MAIZE NAKURU").startswith(
        "Maize, Nakuru, 15 Apr 2022: wholesale KES 35.88/kg (up 0.57 since 15 Mar 2022).")
    with KENYA.open(newline="") as handle:
        header = handle.readline()
    update = tmp_path / "update.csv"
    update.write_text(header + "2022-04-15,Rift Valley,Nakuru,Nakuru,1850,-0.28,36.07,"
                      "cereals and tubers,Maize,51,KG,actual,Wholesale,KES,40.31,0.35\n")
    conn = db.connect(tmp_path / "test.db")
    report = import_prices(conn, update, country="KE")
    assert (report.inserted, report.updated) == (0, 1)
    assert say(client, "PRICE MAIZE NAKURU").startswith(
        "Maize, Nakuru, 15 Apr 2022: wholesale KES 40.31/kg (up 5 since 15 Mar 2022).")


def test_an_old_price_at_the_named_market_does_not_hide_a_recent_one_nearby(client, clock):
    """NAIROBI names the market Nairobi and the county's markets. Nairobi's maize price is
    from 2022; in April 2026 Kangemi (Nairobi) has one from March: that one answers."""
    from datetime import UTC, datetime

    assert say(client, "PRICE MAIZE NAIROBI").startswith("Maize, Nairobi, 15 Mar 2022")
    clock.now = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)
    reply = say(client, "PRICE MAIZE NAIROBI")
    assert reply.startswith("Maize, Kangemi (Nairobi), ") and "2022" not in reply, reply
