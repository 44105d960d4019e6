"""Write wfp_food_prices_gha.csv: a synthetic Ghana sample in the WFP/HDX file format.

Not WFP data (see README.md here). Markets, regions and coordinates are real places; the
prices are a seeded random walk around plausible 2025-26 cedi levels, so re-running this
script writes the same file: `python tests/data/make_gha_sample.py`.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = ["date", "admin1", "admin2", "market", "market_id", "latitude", "longitude",
          "category", "commodity", "commodity_id", "unit", "priceflag", "pricetype",
          "currency", "price", "usdprice"]
HXL = ["#date", "#adm1+name", "#adm2+name", "#loc+market+name", "#loc+market+code",
       "#geo+lat", "#geo+lon", "#item+type", "#item+name", "#item+code", "#item+unit",
       "#item+price+flag", "#item+price+type", "#currency+code", "#value", "#value+usd"]
MARKETS = [  # name, id, admin1, admin2, latitude, longitude, north
    ("Accra", 1001, "Greater Accra", "Accra Metropolis", 5.56, -0.2, False),
    ("Kumasi", 1002, "Ashanti", "Kumasi Metropolis", 6.69, -1.62, False),
    ("Tamale", 1003, "Northern", "Tamale Metropolis", 9.4, -0.84, True),
    ("Techiman", 1004, "Bono East", "Techiman Municipal", 7.59, -1.94, False),
    ("Sekondi/Takoradi", 1005, "Western", "Sekondi Takoradi Metropolis", 4.93, -1.76, False),
    ("Bolgatanga", 1006, "Upper East", "Bolgatanga Municipal", 10.79, -0.85, True),
]
SERIES = [  # commodity, id, category, unit, price type, GHS level, where (all/south/north)
    ("Maize", 51, "cereals and tubers", "KG", "Retail", 7.2, "all"),
    ("Maize", 51, "cereals and tubers", "100 KG", "Wholesale", 640.0, "all"),
    ("Maize (yellow)", 371, "cereals and tubers", "KG", "Retail", 7.6, "south"),
    ("Cassava", 70, "cereals and tubers", "KG", "Retail", 2.6, "south"),
    ("Gari", 260, "cereals and tubers", "KG", "Retail", 9.5, "south"),
    ("Yam", 131, "cereals and tubers", "KG", "Retail", 7.8, "all"),
    ("Plantains", 300, "vegetables and fruits", "Unit", "Retail", 4.5, "south"),
    ("Rice (imported)", 64, "cereals and tubers", "KG", "Retail", 19.5, "all"),
    ("Rice (imported)", 64, "cereals and tubers", "50 KG", "Wholesale", 880.0, "all"),
    ("Rice (local)", 65, "cereals and tubers", "KG", "Retail", 15.0, "all"),
    ("Cowpeas", 140, "pulses and nuts", "KG", "Retail", 17.0, "all"),
    ("Sorghum", 95, "cereals and tubers", "KG", "Retail", 8.1, "north"),
    ("Millet", 57, "cereals and tubers", "KG", "Retail", 10.4, "north"),
    ("Groundnuts (shelled)", 190, "pulses and nuts", "KG", "Retail", 24.0, "north"),
]
MONTHS = ["2025-09-15", "2025-10-15", "2025-11-15", "2025-12-15", "2026-01-15",
          "2026-02-15", "2026-03-15"]
GHS_PER_USD = 11.2


def rows() -> list[list[str]]:
    """Every row, by date, then market, then series (the order of WFP's files)."""
    rng = random.Random(233)
    level = {(m[0], s[0], s[3]): s[5] * rng.uniform(0.85, 1.15) for m in MARKETS for s in SERIES}
    out = []
    for day in MONTHS:
        for name, market_id, admin1, admin2, lat, lon, north in MARKETS:
            for commodity, commodity_id, category, unit, kind, _, where in SERIES:
                if (where == "north" and not north) or (where == "south" and north):
                    continue
                if rng.random() < 0.12:   # a missed month, as WFP series have
                    continue
                key = (name, commodity, unit)
                level[key] *= rng.uniform(0.93, 1.08)
                price = round(level[key], 2 if level[key] < 100 else 0)
                out.append([day, admin1, admin2, name, str(market_id), str(lat), str(lon),
                            category, commodity, str(commodity_id), unit, "actual", kind,
                            "GHS", f"{price:g}", f"{price / GHS_PER_USD:.4f}"])
    return out


if __name__ == "__main__":
    target = Path(__file__).with_name("wfp_food_prices_gha.csv")
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows([HEADER, HXL, *rows()])
