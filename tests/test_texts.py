"""Every reply text exists in every language and fits its channel, filled with long values."""

from __future__ import annotations

import string

import pytest

from handlers.locale import en
from handlers.segments import count
from handlers.texts import LANGUAGES, text

# The longest realistic values a template is filled with (market names in the WFP file
# run to 30 characters; prices to 7).
LONG = {
    "minutes": "60", "commodity": "Oil (vegetable, fortified)", "market": "Bangladesh (Mombasa)",
    "date": "15 sept. 2026", "quotes": "wholesale KES 12,345/90kg (up 1,234)", "age": "11 months",
    "n": "11", "amount": "1,234", "kind": "wholesale", "currency": "KES", "unit": "90kg",
    "markets": "Dagahaley (Daadab) 12,345, Ethiopia (Kakuma) 12,000", "keyword": "INSCRIRE",
    "name": "OIL", "options": "MAIZE FLOUR, MAIZE WHITE, MAIZE", "suggestions":
    "beans, maize, salt, sugar, potatoes", "text": "MAIZE",
    "source": "EAX 2024", "products": "maize, groundnuts, cocoa, coffee, rugs", "example": "MAIZE",
    "query": "SOMETHING", "since": "15 sept. 2025", "days": "365",
    "item": "Oil (vegetable, fortified) at Bangladesh (Mombasa)", "next": "Next bulletin 30 sept. ",
    "items": "Maize at Nakuru, Beans at your market, Sorghum, best markets", "title": "Groundnuts",
    "part": " (1/2)",
    "code": "KIMA01", "group": "Kimana Farmers Coop", "phone": "0712345678", "codes": "KIMA, NAKU",
    "members": "10,000", "segments": "2", "total": "20,000", "word": "2026-12-20",
    "summary": "2,000 bags maize grade 1 @KES 3,400, by 20 Dec 2026 at Nakuru",
    "buyer": "Unga Millers Ltd", "groups": "3", "wanted": "2,000", "group_total": "1,250",
    "status": "expired", "count": "45", "quantity": "1,250", "grade": "1",
    "place": "Eldoret Town", "max": "10,000,000", "least": "0.01", "time": "07:00", "remaining": "1,999,999",
    "messages": "10,000", "left": "1,000", "limit": "1,000", "cost": ", about KES 123,456",
    "terms": "1,250 90kg maize grade 1 @KES 12,345", "bid": "KIMA01", "more": "12",
    "where": "near Bangladesh (Mombasa)",
    "which": "Kipengele 5: ", "published": "5", "held": "5",
    "why": "far from recent prices, not your market, approval",
    "product": "MAIZE SEED H614D HYBRID", "what": "MAIZE SEED H614D HYBRID 25kg",
    "tiers": "KES 3,200; 3,000 from 100; 2,900 from 500", "supplier": "Nakuru Agrovet Supplies",
    "goods": "1,250 x DAP 50kg", "price": "3,400", "next_price": "3,000",
    "next_quantity": "1,000",
}
# Keys that are parts of replies (not whole replies) and keys that may need 2-3 segments.
FRAGMENTS = {"thousands_sep", "months", "trend_up", "trend_down", "trend_same", "type_retail",
             "type_wholesale", "price_keyword", "reg_keyword", "stale", "age_months",
             "age_years", "sub_keyword", "unsub_keyword", "sub_next", "sub_at_market",
             "sub_at_home", "sub_at_best", "bulletin_head", "notice_keyword", "order_grade",
             "order_by", "order_at", "order_a_buyer", "status_closed", "status_expired",
             "summary_no_offers", "confirm_money", "confirm_replaced", "rpt_item",
             "rpt_published", "rpt_withdrawn", "rpt_waits", "rpt_why_outlier",
             "rpt_why_unassigned", "rpt_why_approval", "source_agent",
             "pool_step", "pool_list", "pool_list_supplier", "supply_replaced",
             # long forms sent only when they fit, else their _short (tests/test_pools.py)
             "pool_opened", "pool_opened_supplier", "pool_invite", "pool_status",
             "supply_posted",
             "sale_grade_short", "sale_no_price", "sale_until", "list_near", "list_all",
             "sale_bids", "sale_status_sold", "sale_status_withdrawn", "sale_status_expired",
             "bid_no_price", "want_anywhere", "want_near"}


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_language_has_every_key_with_the_same_fields(language):
    table = LANGUAGES[language]
    assert set(table) == set(en.TEXTS)
    for key, template in table.items():
        assert fields(template) == fields(en.TEXTS[key]), (language, key)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_text_is_gsm7_and_fits_one_sms(language):
    for key in LANGUAGES[language]:
        values = LONG | ({"markets": "Dagahaley (Daadab) 12,345"} if key == "best" else {})
        # (the best-markets reply lists as many markets as fit, one at the least)
        filled = text(language, key, **values)
        info = count(filled)
        assert info.encoding == "GSM-7", (language, key, filled)
        if key.startswith("std_") or key in FRAGMENTS:
            continue
        assert info.segments == 1, (language, key, len(filled), filled)


def test_price_reply_with_long_values_and_stale_note_fits_one_sms():
    for language in LANGUAGES:
        reply = text(language, "price", **LONG) + " " + text(language, "stale", age="11 months")
        assert count(reply).segments == 1, (language, len(reply), reply)


def test_an_abbreviated_month_before_a_full_stop_gives_one_stop():
    filled = text("fr", "notice_standard", title="Mais", date="7 déc.", keyword="NORME",
                  name="MAIS")
    assert "déc.." not in filled and "déc." in filled
    assert text("en", "order_bad_quantity", word="BAGS").endswith("MAIZE ...")   # ellipsis
