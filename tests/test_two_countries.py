"""Issue 15's points on the real Kenya file and the Ghana sample in one deployment serving
both countries: market names by part, plain maize before yellow, per-country lists, and
contacts of the two countries kept apart (clock: 2026-11-23)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from support import make_config, post_at, post_local

import db
from handlers.segments import count
from prices.importer import import_prices
from smsgw.app import create_app

GHANA_FILE = Path(__file__).resolve().parent / "data" / "wfp_food_prices_gha.csv"
KENYAN, GHANAIAN = "+254712345678", "+233201234567"
_ids = itertools.count()


@pytest.fixture
def client(kenya_db, tmp_path, clock):
    shutil.copy(kenya_db, tmp_path / "test.db")
    conn = db.connect(tmp_path / "test.db")
    import_prices(conn, GHANA_FILE, country="GH")
    conn.close()
    config = make_config(tmp_path, countries={"KE": {}, "GH": {"timezone": "Africa/Accra",
                                                               "currency": "GHS"}})
    return create_app(config, clock=clock).test_client()


def say(client, text: str, sender: str) -> str:
    response = post_local(client, text, msg_id=f"c{next(_ids)}", sender=sender)
    [reply] = [r["text"] for r in response.get_json()["replies"]]
    assert count(reply).segments == 1, reply
    return reply


def test_a_market_with_parts_is_found_by_each_and_plain_maize_comes_first(client):
    for part in ("TAKORADI", "SEKONDI", "SEKONDI TAKORADI"):
        assert say(client, f"PRICE PLANTAIN {part}", GHANAIAN).startswith(
            "Plantains, Sekondi/Takoradi, 15 Mar:")
    reply = say(client, "PRICE MAIZE KUMASI", GHANAIAN)
    assert reply.startswith("Maize, Kumasi, ") and "yellow" not in reply
    assert "yellow" in say(client, "PRICE YELLOW MAIZE KUMASI", GHANAIAN).lower()


def test_kenyan_and_ghanaian_farmers_stay_in_their_own_country(client):
    assert say(client, "PRICE PLANTAIN TAKORADI", KENYAN).startswith(
        "We do not know that market.")
    assert say(client, "PRICE MAIZE NAKURU", GHANAIAN).startswith("We do not know that market")
    assert say(client, "PRICE MAIZE NAKURU", KENYAN).startswith("Maize, Nakuru, 15 Apr 2022")
    assert "GHS" not in say(client, "PRICE MAIZE NAIROBI", KENYAN)
    # USSD: the product list of each comes from their own country's markets.
    def dial(number: str, text: str) -> str:
        form = {"sessionId": f"ATUid_{next(_ids)}", "serviceCode": "*384*1234#",
                "phoneNumber": number, "networkCode": "62002", "text": text}
        return post_at(client, "/webhooks/africastalking/ussd", form).get_data(as_text=True)

    assert "Plantains" in dial(GHANAIAN, "1") + dial(GHANAIAN, "1*98")
    kenyan = dial(KENYAN, "1") + dial(KENYAN, "1*98") + dial(KENYAN, "1*98*98")
    assert "Plantains" not in kenyan and "Gari" not in kenyan and "Maize" in kenyan
