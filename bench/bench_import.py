"""Benchmark `prices.importer.import_prices`: the Kenya file and a generated million-row file.

Targets: the Kenya file (26,745 rows) in under 3 s; 1,000,000 rows in the same WFP/HDX
format in under 60 s with peak memory (RSS) under 300 MB.

Each import runs in a child process on a fresh on-disk database (WAL, as in production),
so its peak RSS is that import's alone: the child reports `getrusage(RUSAGE_SELF).ru_maxrss`,
which is what the parent would read as `RUSAGE_CHILDREN` for that one child. Seconds are
measured around `import_prices` in the child (interpreter start-up and migration excluded;
the wall time of the whole child is reported beside it).

    .venv/bin/python bench/bench_import.py            # everything, writes bench/results/
    .venv/bin/python bench/bench_import.py --rows 200000 --no-reimport
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"
RESULTS = ROOT / "bench" / "results" / "bench_import.json"
SEED = 20260415
TARGETS = {"kenya_seconds": 3.0, "million_seconds": 60.0, "million_peak_rss_mb": 300.0}
HEADER = ["date", "admin1", "admin2", "market", "market_id", "latitude", "longitude",
          "category", "commodity", "commodity_id", "unit", "priceflag", "pricetype",
          "currency", "price", "usdprice"]
HXL = ["#date", "#adm1+name", "#adm2+name", "#loc+market+name", "#loc+market+code",
       "#geo+lat", "#geo+lon", "#item+type", "#item+name", "#item+code", "#item+unit",
       "#item+price+flag", "#item+price+type", "#currency+code", "#value", "#value+usd"]

CATEGORIES = {
    "cereals and tubers": ["Maize", "Sorghum", "Rice", "Wheat flour", "Millet", "Cassava",
                           "Potatoes (Irish)", "Maize flour", "Bread", "Pasta"],
    "pulses and nuts": ["Beans (dry)", "Cowpeas", "Lentils", "Groundnuts (shelled)",
                        "Peas (green, dry)", "Beans (mung)", "Pigeon peas"],
    "vegetables and fruits": ["Cabbage", "Kale", "Tomatoes", "Onions (red)", "Bananas",
                              "Mangoes", "Carrots", "Spinach"],
    "milk and dairy": ["Milk (cow, fresh)", "Milk (cow, pasteurized)", "Milk (camel, fresh)",
                       "Milk (powder)"],
    "meat, fish and eggs": ["Meat (beef)", "Meat (goat)", "Eggs", "Fish (omena, dry)",
                            "Fish (tilapia)", "Meat (chicken)"],
    "oil and fats": ["Oil (vegetable)", "Fat (cooking)", "Oil (sunflower)"],
    "miscellaneous food": ["Sugar", "Salt", "Tea (leaves)", "Sugar (brown)"],
    "non-food": ["Fuel (diesel)", "Fuel (kerosene)", "Charcoal", "Soap (bar)"],
}
VARIANTS = ["", " (white)", " (yellow)", " (local)", " (imported)"]
UNITS = [("KG", 1.0), ("90 KG", 80.0), ("50 KG", 45.0), ("L", 1.2), ("500 ML", 0.6),
         ("Unit", 0.5), ("200 G", 0.25), ("Bunch", 0.4)]
ADMIN1 = ["Coast", "Nairobi", "Rift Valley", "Eastern", "North Eastern", "Nyanza", "Western",
          "Central", "Lakeside", "Highlands", "Delta", "Plateau"]
SYLLABLES = ["ka", "ku", "ma", "lo", "be", "ri", "na", "go", "ta", "mu", "ki", "se", "wa",
             "ny", "ol", "ba", "di", "ra", "to", "ze"]


# ---------------------------------------------------------------------------- the generator

def _commodities(rng: random.Random) -> list[tuple[str, str, int, str, float]]:
    """(name, category, id, unit, base price) for ~150 commodity/unit pairs."""
    found, next_id = [], 1
    for category, names in CATEGORIES.items():
        for base in names:
            for variant in rng.sample(VARIANTS, 2):
                unit, scale = rng.choice(UNITS)
                found.append((base + variant, category, next_id, unit,
                              rng.uniform(20, 400) * scale))
                next_id += 1
    return found


def _markets(rng: random.Random, count: int) -> list[tuple[str, str, str, int, str, str]]:
    """(name, admin1, admin2, id, lat, lon) for `count` markets with unique names."""
    names: set[str] = set()
    found = []
    while len(found) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        if rng.random() < 0.05:
            name += f" ({rng.choice(['Ifo', 'Hagadera', 'Town'])}, camp)"  # quoted on disk
        if name in names:
            continue
        names.add(name)
        admin1 = rng.choice(ADMIN1)
        found.append((name, admin1, f"{admin1} {rng.randint(1, 9)}", 100 + len(found),
                      f"{rng.uniform(-4.6, 4.6):.2f}", f"{rng.uniform(34, 41.9):.2f}"))
    return found


def generate(path: Path, rows: int, *, seed: int = SEED, hxl: bool = False) -> None:
    """Write `rows` WFP/HDX-format rows: monthly series per market and commodity, by date."""
    rng = random.Random(seed)
    commodities, markets = _commodities(rng), _markets(rng, 1_200)
    months = [f"{2006 + m // 12}-{m % 12 + 1:02d}-15" for m in range(244)]
    series, planned, keys = [], 0, set()
    while planned < rows:  # each series: (market, commodity, price type) over some months
        market, commodity = rng.choice(markets), rng.choice(commodities)
        kind = "Retail" if rng.random() < 0.65 else "Wholesale"
        if (market[0], commodity[0], kind) in keys:
            continue
        keys.add((market[0], commodity[0], kind))
        start = rng.randrange(len(months) - 12)
        length = min(rng.randint(12, 180), len(months) - start, rows - planned)
        series.append([start, length, market, commodity, kind, commodity[4]])
        planned += length
    series.sort(key=lambda item: item[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        if hxl:
            writer.writerow(HXL)
        for month, day in enumerate(months):
            fx = 70 + 60 * month / len(months) + rng.uniform(-2, 2)
            for item in series:
                start, length, market, commodity, kind, price = item
                if start > month:
                    break
                if month >= start + length:
                    continue
                price *= rng.uniform(0.95, 1.055)
                item[5] = price
                flag = rng.choices(["actual", "aggregate", "actual,aggregate"], [65, 33, 2])[0]
                writer.writerow([day, market[1], market[2], market[0], market[3], market[4],
                                 market[5], commodity[1], commodity[0], commodity[2],
                                 commodity[3], flag, kind, "KES", f"{price:.2f}",
                                 f"{price / fx:.4f}"])


# ---------------------------------------------------------------------------- one measured run

def child(csv_path: str, db_path: str) -> None:
    """Migrate and import in this process; print timings, peak RSS and counts as JSON."""
    sys.path.insert(0, str(ROOT))
    import db
    from prices.importer import import_prices

    conn = db.connect(db_path)
    db.migrate(conn)
    started = time.perf_counter()
    report = import_prices(conn, csv_path, country="KE")
    seconds = time.perf_counter() - started
    conn.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024,
                      "read": report.read, "inserted": report.inserted,
                      "updated": report.updated, "unchanged": report.unchanged,
                      "rejected": report.rejected}))


def measure(name: str, csv_path: Path, db_path: Path) -> dict[str, Any]:
    """Run one import in a child process and return its figures."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", str(csv_path), str(db_path)],
                          capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    figures.update(case=name, wall_seconds=time.perf_counter() - started,
                   file_mb=csv_path.stat().st_size / 1e6,
                   rows_per_second=figures["read"] / figures["seconds"])
    return figures


# ---------------------------------------------------------------------------- the report

def print_table(results: list[dict[str, Any]]) -> None:
    print(f"{'case':<16}{'rows':>10}{'file MB':>9}{'seconds':>9}{'wall s':>8}"
          f"{'rows/s':>10}{'peak RSS MB':>13}  inserted/updated/unchanged/rejected")
    for r in results:
        print(f"{r['case']:<16}{r['read']:>10,}{r['file_mb']:>9.1f}{r['seconds']:>9.2f}"
              f"{r['wall_seconds']:>8.2f}{r['rows_per_second']:>10,.0f}"
              f"{r['peak_rss_mb']:>13.1f}  {r['inserted']}/{r['updated']}/{r['unchanged']}"
              f"/{r['rejected']}")


def verdicts(results: list[dict[str, Any]]) -> dict[str, bool]:
    """Each target met or not."""
    by_case = {r["case"]: r for r in results}
    found = {"kenya_seconds": by_case["kenya"]["seconds"] < TARGETS["kenya_seconds"]}
    if "million" in by_case:
        found["million_seconds"] = by_case["million"]["seconds"] < TARGETS["million_seconds"]
        found["million_peak_rss_mb"] = (by_case["million"]["peak_rss_mb"]
                                        < TARGETS["million_peak_rss_mb"])
    return found


def main() -> int:
    """Run the cases, print the table, write the JSON; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated rows (0: none)")
    parser.add_argument("--no-reimport", action="store_true", help="skip the re-import runs")
    parser.add_argument("--child", nargs=2, metavar=("CSV", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        work = Path(tmp)
        results.append(measure("kenya", KENYA, work / "kenya.db"))
        if not args.no_reimport:
            results.append(measure("kenya_again", KENYA, work / "kenya.db"))
        if args.rows:
            generated = work / f"generated_{args.rows}.csv"
            started = time.perf_counter()
            generate(generated, args.rows)
            print(f"generated {args.rows:,} rows ({generated.stat().st_size / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            name = "million" if args.rows == 1_000_000 else f"generated_{args.rows}"
            results.append(measure(name, generated, work / "million.db"))
            if not args.no_reimport:
                results.append(measure(f"{name}_again", generated, work / "million.db"))
    print_table(results)
    met = verdicts(results)
    print("targets: " + ", ".join(f"{k} < {TARGETS[k]:g}: {'met' if v else 'MISSED'}"
                                  for k, v in met.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "bench/bench_import.py", "seed": SEED, "targets": TARGETS,
        "targets_met": met, "results": results,
        # Cross-check: the parent's view, the largest peak RSS of any child it waited for.
        "rusage_children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "platform": platform.platform()},
        "command": ".venv/bin/python bench/bench_import.py",
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
