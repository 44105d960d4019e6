"""Imports that refuse nonsense: rows dated in the future, outliers held for review, and
the country a file belongs to (from --country, its name, a column, or the one country
served), through the library and through `smsgw import prices` / `smsgw prices review`."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from defaults import full_settings

import db
from prices.import_country import CountryNotServed, CountryUnknown, detect
from prices.importer import RowError, import_prices

TODAY = date(2026, 11, 23)
HEADER = ["date", "admin1", "admin2", "market", "market_id", "latitude", "longitude",
          "category", "commodity", "commodity_id", "unit", "priceflag", "pricetype",
          "currency", "price", "usdprice"]
MAIZE = {"admin1": "Rift Valley", "admin2": "Nakuru", "market": "Nakuru", "market_id": "200",
         "latitude": "-0.28", "longitude": "36.07", "category": "cereals and tubers",
         "commodity": "Maize (white)", "commodity_id": "67", "unit": "90 KG",
         "priceflag": "actual", "pricetype": "Wholesale", "currency": "KES", "usdprice": ""}


def row(day: str, price: float, **changes: str) -> dict[str, str]:
    return {**MAIZE, "date": day, "price": str(price), **changes}


def months(prices: list[float], year: int = 2025) -> list[dict[str, str]]:
    """One row a month from January of `year`, with these prices."""
    return [row(f"{year + i // 12}-{i % 12 + 1:02d}-15", p) for i, p in enumerate(prices)]


def write(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(tmp_path / "prices.db")
    db.migrate(connection)
    yield connection
    connection.close()


def served(conn: sqlite3.Connection) -> list[tuple[str, float]]:
    return [tuple(r) for r in conn.execute("SELECT date, price FROM prices ORDER BY date")]


def waiting(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(
        "SELECT id, status, reason, date, price, line FROM price_reviews ORDER BY id")]


# ---------------------------------------------------------------------------- future rows


def test_a_row_dated_after_tomorrow_is_rejected_with_its_line(conn, tmp_path):
    path = write(tmp_path / "p.csv", [row("2026-11-23", 3400), row("2026-11-24", 3400),
                                      row("2026-11-25", 3400), row("2030-01-15", 3400)])
    report = import_prices(conn, path, country="KE", today=TODAY)
    assert (report.read, report.inserted, report.rejected) == (4, 2, 2)
    assert report.errors == [
        RowError(4, "date 2026-11-25 is in the future (the latest date accepted today is"
                    " 2026-11-24)"),
        RowError(5, "date 2030-01-15 is in the future (the latest date accepted today is"
                    " 2026-11-24)")]
    assert served(conn) == [("2026-11-23", 3400.0), ("2026-11-24", 3400.0)]


# ---------------------------------------------------------------------------- outliers


def test_a_price_far_outside_the_recent_range_is_held_not_served(conn, tmp_path):
    prices = [3000, 3100, 3200, 3300, 3400, 3500, 3600, 3400, 3300, 3200, 3100, 3000]
    path = write(tmp_path / "p.csv", months(prices) + [
        row("2026-01-15", 999_999_999_999),   # line 14: far above
        row("2026-02-15", 600),               # line 15: under 1/5 of the median 3,250
        row("2026-03-15", 700),               # line 16: within 5 times: kept
        row("2026-04-15", 16_000)])           # line 17: within 5 times too
    report = import_prices(conn, path, country="KE", today=TODAY)
    assert (report.read, report.inserted, report.rejected, report.held) == (16, 14, 0, 2)
    assert [(h.line, h.reason) for h in report.held_rows] == [
        (14, "price 999,999,999,999 is more than 5 times the median 3,250 of the series'"
             " recent prices"),
        (15, "price 600 is less than 1/5 of the median 3,250 of the series' recent prices")]
    assert ("2026-01-15", 999_999_999_999.0) not in served(conn)
    assert [d for d, _ in served(conn)][-2:] == ["2026-03-15", "2026-04-15"]
    assert [r[1:] for r in waiting(conn)] == [
        ("pending", "outlier", "2026-01-15", 999_999_999_999.0, 14),
        ("pending", "outlier", "2026-02-15", 600.0, 15)]
    assert conn.execute("SELECT held FROM imports").fetchone()[0] == 2


def test_the_factor_is_a_setting_and_a_dry_run_holds_nothing(conn, tmp_path):
    path = write(tmp_path / "p.csv", months([100, 100, 100, 350]))
    assert import_prices(conn, path, country="KE", today=TODAY, dry_run=True,
                         outlier_factor=3).held == 1
    assert waiting(conn) == [] and served(conn) == []
    assert import_prices(conn, path, country="KE", today=TODAY, outlier_factor=5).held == 0


def test_a_series_with_fewer_than_3_observations_is_not_checked(conn, tmp_path):
    short = write(tmp_path / "short.csv", months([3400, 3500, 999_999]))
    report = import_prices(conn, short, country="KE", today=TODAY)
    assert (report.inserted, report.held) == (3, 0)
    # Three earlier observations are enough to check (the median is then 3,500).
    checked = write(tmp_path / "checked.csv", months([3400, 3500, 3600, 999_999]))
    conn.execute("DELETE FROM prices")
    report = import_prices(conn, checked, country="KE", today=TODAY)
    assert (report.inserted, report.held) == (3, 1)


def test_the_range_includes_what_the_database_already_has(conn, tmp_path):
    import_prices(conn, write(tmp_path / "old.csv", months([3400] * 12)), country="KE",
                  today=TODAY)
    report = import_prices(conn, write(tmp_path / "new.csv", [row("2026-06-15", 40_000)]),
                           country="KE", today=TODAY)
    assert (report.inserted, report.held) == (0, 1)


def test_imported_again_a_held_row_waits_once_and_a_decided_one_stays_decided(conn, tmp_path):
    from prices.review import accept, reject
    from db.timeutil import utcnow

    path = write(tmp_path / "p.csv", months([3400] * 6 + [99_000, 100]))
    first = import_prices(conn, path, country="KE", today=TODAY)
    again = import_prices(conn, path, country="KE", today=TODAY)
    assert first.held == again.held == 2 and len(waiting(conn)) == 2
    high, low = (r[0] for r in waiting(conn))
    with db.transaction(conn):
        accept(conn, high, by="tester", now=utcnow())
        reject(conn, low, by="tester", now=utcnow())
    assert ("2025-07-15", 99_000.0) in served(conn)
    third = import_prices(conn, path, country="KE", today=TODAY)
    assert (third.held, third.inserted, third.unchanged, third.rejected) == (0, 0, 8, 0)
    assert ("2025-08-15", 100.0) not in served(conn)


# ---------------------------------------------------------------------------- the country

TWO = full_settings({"countries": {"KE": {}, "GH": {}}})
KENYA_ONLY = full_settings()


def test_the_country_comes_from_the_option_first(tmp_path):
    path = write(tmp_path / "wfp_food_prices_gha.csv", [row("2026-01-15", 1)])
    assert detect(path, TWO, given="ke").code == "KE"
    with pytest.raises(ValueError, match="2-letter ISO code"):
        detect(path, TWO, given="Kenya")


@pytest.mark.parametrize("name", ["wfp_food_prices_gha.csv", "WFP_food_prices_GHA (1).csv",
                                  "wfp_food_prices_gha_2026.csv"])
def test_the_country_from_an_hdx_file_name(tmp_path, name):
    found = detect(write(tmp_path / name, [row("2026-01-15", 1)]), TWO)
    assert (found.code, found.how) == ("GH", "the file name")


def test_the_country_from_a_countryiso3_column(tmp_path):
    path = write(tmp_path / "prices.csv", [row("2026-01-15", 1, countryiso3="GHA")],
                 ["countryiso3", *HEADER])
    found = detect(path, TWO)
    assert (found.code, found.how) == ("GH", "its countryiso3 column")


def test_the_one_country_served_else_a_clear_refusal(tmp_path):
    path = write(tmp_path / "new_prices.csv", [row("2026-01-15", 1)])
    found = detect(path, KENYA_ONLY)
    assert (found.code, found.how) == ("KE", "the only country this deployment serves")
    with pytest.raises(CountryUnknown, match="cannot tell which country.*--country.*KE, GH"):
        detect(path, TWO)


def test_a_country_the_deployment_does_not_serve_is_refused(tmp_path):
    path = write(tmp_path / "wfp_food_prices_gha.csv", [row("2026-01-15", 1)])
    with pytest.raises(CountryNotServed, match=r"GH \(from the file name\).*serves KE"):
        detect(path, KENYA_ONLY)
    bad = write(tmp_path / "p.csv", [row("2026-01-15", 1, countryiso3="XYZ")],
                ["countryiso3", *HEADER])
    with pytest.raises(CountryUnknown, match="countryiso3 'XYZ'.*not an ISO 3166"):
        detect(bad, TWO)


def test_rows_of_another_country_are_rejected_with_their_line(conn, tmp_path):
    path = write(tmp_path / "p.csv", [row("2026-01-15", 1, countryiso3="KEN"),
                                      row("2026-02-15", 2, countryiso3="GHA"),
                                      row("2026-03-15", 3, countryiso3="")],
                 ["countryiso3", *HEADER])
    report = import_prices(conn, path, country="KE", today=TODAY)
    assert (report.inserted, report.rejected) == (2, 1)
    assert report.errors == [RowError(3, "countryiso3 GHA is not this import's country KE;"
                                         " import one country's rows at a time")]


# ---------------------------------------------------------------------------- the command


def cli_config(tmp_path: Path, countries: tuple[str, ...] = ()) -> Path:
    config = tmp_path / "smsgw.toml"
    tables = "".join(f"[countries.{code}]\n" for code in countries)
    config.write_text(f'[database]\npath = "{(tmp_path / "cli.db").as_posix()}"\n'
                      f"{tables}", encoding="utf-8")
    return config


def run(config: Path, *args: str) -> Any:
    from smsgw.cli import main

    return CliRunner().invoke(main, [*args, "--config", str(config)])


def test_the_readme_cron_line_works_on_a_one_country_deployment(tmp_path, monkeypatch):
    monkeypatch.delenv("SMSGW_CONFIG", raising=False)
    config = cli_config(tmp_path)
    result = run(config, "import", "prices", str(write(tmp_path / "new_prices.csv",
                                                       months([3400] * 3))))
    assert result.exit_code == 0, result.output
    assert result.stderr == "country: KE (from the only country this deployment serves)\n"


def test_the_command_files_markets_under_the_detected_country_or_refuses(tmp_path):
    ghana = write(tmp_path / "wfp_food_prices_gha.csv", months([3400] * 3))
    refused = run(cli_config(tmp_path), "import", "prices", str(ghana))
    assert refused.exit_code == 2 and refused.stdout == ""
    assert "its country is GH (from the file name), which this deployment does not serve" \
        in refused.stderr and "nothing was imported" in refused.stderr
    two = cli_config(tmp_path, ("KE", "GH"))
    assert run(two, "import", "prices", str(write(tmp_path / "p.csv", months([1])))) \
        .exit_code == 2
    done = run(two, "import", "prices", str(ghana))
    assert done.exit_code == 0, done.output
    conn = db.connect(tmp_path / "cli.db")
    assert conn.execute("SELECT DISTINCT country FROM markets").fetchall()[0][0] == "GH"
    conn.close()


def test_held_rows_exit_1_are_named_and_decided_with_prices_review(tmp_path):
    config = cli_config(tmp_path)
    path = write(tmp_path / "p.csv", months([3400] * 5 + [999_999, 3500]))
    result = run(config, "import", "prices", str(path))
    assert result.exit_code == 1
    assert result.stdout == "read 7, inserted 6, updated 0, unchanged 0, rejected 0, held 1\n"
    assert ("line 7: held for review 1: price 999,999 is more than 5 times the median 3,400"
            " of the series' recent prices") in result.stderr
    assert "smsgw prices review" in result.stderr
    listed = run(config, "prices", "review")
    assert listed.exit_code == 0
    assert "1  import  Maize (white), Nakuru, 2025-06-15: wholesale KES 999,999/90 KG" \
        in listed.stdout and "outlier (median 3,400)" in listed.stdout
    assert "p.csv line 7" in listed.stdout
    accepted = run(config, "prices", "accept", "1", "--by", "amina")
    assert accepted.exit_code == 0 and "1 accepted: published" in accepted.stdout
    assert run(config, "prices", "accept", "1").exit_code == 1   # decided already
    again = run(config, "import", "prices", str(path))
    assert again.exit_code == 0 and "unchanged 7" in again.stdout
    conn = db.connect(tmp_path / "cli.db")
    assert conn.execute("SELECT price FROM prices WHERE date = '2025-06-15'").fetchone()[0] \
        == 999_999
    audit = conn.execute("SELECT action, detail FROM audit WHERE action = 'price_accepted'"
                         ).fetchone()
    conn.close()
    assert audit is not None and '"by": "amina"' in audit["detail"]
