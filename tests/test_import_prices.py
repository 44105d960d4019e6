"""Tests for prices.importer and `smsgw import prices`: WFP/HDX and template CSV files."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import db
from prices.importer import ImportFileError, ImportReport, RowError, import_prices
from smsgw.cli import main

ROOT = Path(__file__).resolve().parent.parent
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"
TEMPLATE_EXAMPLE = ROOT / "prices" / "data" / "template_example.csv"
KENYA_ROWS = 26_745
KENYA_HELD = 7  # real errors in WFP's file, far outside their series' range (prices.review)
KENYA_KEPT = KENYA_ROWS - KENYA_HELD
WFP_HEADER = KENYA.read_text(encoding="utf-8").splitlines()[0].split(",")
HXL_ROW = ["#date", "#adm1+name", "#adm2+name", "#loc+market+name", "#loc+market+code",
           "#geo+lat", "#geo+lon", "#item+type", "#item+name", "#item+code", "#item+unit",
           "#item+price+flag", "#item+price+type", "#currency+code", "#value", "#value+usd"]
TEMPLATE_HEADER = ["date", "market", "commodity", "unit", "price_type", "currency", "price"]
BASE = dict(zip(WFP_HEADER, "2006-01-15,Coast,Mombasa,Mombasa,191,-4.05,39.67,cereals and "
                "tubers,Maize (white),67,90 KG,actual,Wholesale,KES,1480,20.58".split(",")))


# ---------------------------------------------------------------------------- helpers

def open_db(path: Path) -> sqlite3.Connection:
    conn = db.connect(path)
    db.migrate(conn)
    return conn


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_db(tmp_path / "prices.db")
    yield connection
    connection.close()


def kenya_lines(count: int) -> list[str]:
    """The header and the first `count` data lines of the Kenya file, as written there."""
    with KENYA.open(encoding="utf-8", newline="") as handle:
        return [next(handle) for _ in range(count + 1)]


def wfp(**changes: str) -> list[str]:
    """One WFP row: the Kenya file's Mombasa maize row with some fields changed."""
    return [{**BASE, **changes}[name] for name in WFP_HEADER]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = WFP_HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def snapshot(conn: sqlite3.Connection) -> list[str]:
    """The whole database as SQL text, to prove that nothing changed."""
    return list(conn.iterdump())


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("prices", "markets", "commodities", "imports")}


def price_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Every observation with names instead of ids, in a stable order."""
    return [tuple(row) for row in conn.execute(
        "SELECT m.country, m.name, m.admin1, m.admin2, m.latitude, m.longitude, m.source_id,"
        " c.name, c.category, c.source_id, p.unit, p.price_type, p.currency, p.date, p.price,"
        " p.usd_price, p.price_flag, p.source FROM prices p"
        " JOIN markets m ON m.id = p.market_id JOIN commodities c ON c.id = p.commodity_id"
        " ORDER BY m.name, c.name, p.unit, p.price_type, p.date")]


def counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return (report.read, report.inserted, report.updated, report.unchanged, report.rejected)


# ---------------------------------------------------------------------------- the Kenya file

@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The full Kenya file imported twice into one database."""
    connection = open_db(tmp_path_factory.mktemp("kenya") / "kenya.db")
    first = import_prices(connection, KENYA, country="KE")
    second = import_prices(connection, KENYA, country="KE")
    yield {"conn": connection, "first": first, "second": second}
    connection.close()


def test_kenya_file_imported_twice_keeps_one_row_per_observation(kenya: dict[str, Any]) -> None:
    conn = kenya["conn"]
    assert counts(kenya["first"]) == (KENYA_ROWS, KENYA_KEPT, 0, 0, 0)
    assert counts(kenya["second"]) == (KENYA_ROWS, 0, 0, KENYA_KEPT, 0)
    # Still waiting for a decision the second time: held again, never twice in the queue.
    assert kenya["first"].held == kenya["second"].held == KENYA_HELD
    assert [r.review_id for r in kenya["first"].held_rows] == \
        [r.review_id for r in kenya["second"].held_rows]
    assert conn.execute("SELECT count(*) FROM price_reviews").fetchone()[0] == KENYA_HELD
    assert kenya["first"].errors == [] and kenya["first"].format == "wfp"
    assert conn.execute("SELECT count(*) FROM prices").fetchone()[0] == KENYA_KEPT
    assert conn.execute("SELECT count(*) FROM markets").fetchone()[0] == 226
    assert conn.execute("SELECT count(*) FROM commodities").fetchone()[0] == 51
    by_type = dict(conn.execute("SELECT price_type, count(*) FROM prices GROUP BY 1").fetchall())
    assert by_type == {"retail": 17_570, "wholesale": 9_168}


def test_kenya_spot_check_exact_prices(kenya: dict[str, Any]) -> None:
    conn = kenya["conn"]
    # Line 3 of the file: Mombasa, Maize (white), 90 KG, Wholesale, 1480 KES, 20.58 USD.
    # Line 17846: a quoted commodity with a comma.
    # Line 17863: the quoted flag "actual,aggregate".
    rows = conn.execute(
        "SELECT m.name, c.name, p.unit, p.price_type, p.date, p.price, p.usd_price,"
        " p.price_flag, p.currency, p.source, m.admin1, m.latitude, m.source_id, c.category"
        " FROM prices p JOIN markets m ON m.id = p.market_id"
        " JOIN commodities c ON c.id = p.commodity_id"
        " WHERE (m.name, c.name, p.date, p.unit) IN (VALUES"
        " ('Mombasa', 'Maize (white)', '2006-01-15', '90 KG'),"
        " ('Kasuroi', 'Milk (cow, pasteurized)', '2026-03-15', 'L'),"
        " ('Dagahaley (Daadab)', 'Wheat flour', '2023-12-15', 'KG')) ORDER BY p.date").fetchall()
    assert [tuple(row) for row in rows] == [
        ("Mombasa", "Maize (white)", "90 KG", "wholesale", "2006-01-15", 1480.0, 20.58,
         "actual", "KES", "WFP via HDX", "Coast", -4.05, "191", "cereals and tubers"),
        ("Dagahaley (Daadab)", "Wheat flour", "KG", "retail", "2023-12-15", 119.4, 0.78,
         "actual,aggregate", "KES", "WFP via HDX", "North Eastern", 0.19, "3252",
         "cereals and tubers"),
        ("Kasuroi", "Milk (cow, pasteurized)", "L", "retail", "2026-03-15", 218.0, 1.69,
         "actual", "KES", "WFP via HDX", "Rift Valley", 2.48, "10467", "milk and dairy"),
    ]
    hola = conn.execute("SELECT country, admin1, admin2, latitude, longitude FROM markets"
                        " WHERE name = 'Hola (Tana River)'").fetchone()
    assert tuple(hola) == ("KE", None, None, None, None)  # the 68 rows without a place


def test_kenya_imports_are_logged(kenya: dict[str, Any]) -> None:
    logged = kenya["conn"].execute("SELECT * FROM imports ORDER BY id").fetchall()
    assert [(r["kind"], r["read"], r["inserted"], r["unchanged"], r["dry_run"], r["format"])
            for r in logged] == [("prices", KENYA_ROWS, KENYA_KEPT, 0, 0, "wfp"),
                                 ("prices", KENYA_ROWS, 0, KENYA_KEPT, 0, "wfp")]
    assert [r["held"] for r in logged] == [KENYA_HELD, KENYA_HELD]
    assert logged[0]["sha256"] == (
        "7e808179107a7dbacf9e4a01d8479c77372cdbddaadf2308846537aef99c3772")  # data/README.md
    assert logged[0]["id"] == kenya["first"].import_id


# ---------------------------------------------------------------------------- bad rows

def test_bad_rows_are_reported_by_line_and_good_rows_imported(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    rows = [
        wfp(),                                                   # line 2: good
        wfp(date="2006-02-30"),                                  # 3
        wfp(date="15/01/2006", commodity="Beans"),               # 4
        wfp(price="abc"),                                        # 5
        wfp(price="-5"),                                         # 6
        wfp(price="0"),                                          # 7
        wfp(pricetype="Auction"),                                # 8
        wfp(market=" "),                                         # 9
        wfp(commodity=""),                                       # 10
        wfp(latitude="91"),                                      # 11
        wfp(longitude="east"),                                   # 12
        wfp() + ["extra"],                                       # 13
        wfp(currency="KSH."),                                    # 14
        wfp(date=""),                                            # 15
        wfp(unit="KG", market="Kitui"),                          # 16: good
        wfp(market="Garissa\n(town)"),                           # 17-18: good, two lines
        wfp(price="1,480", market="Garissa"),                    # 19
        wfp(usdprice="n/a", market="Garissa"),                   # 20
        wfp(price="", market="Garissa"),                         # 21
        wfp(pricetype="retail", unit="KG", price="55"),          # 22: good
    ]
    report = import_prices(conn, write_csv(tmp_path / "bad.csv", rows), country="KE")
    assert counts(report) == (20, 4, 0, 0, 16)
    assert report.errors == [
        RowError(3, "date '2006-02-30' is not a date written YYYY-MM-DD"),
        RowError(4, "date '15/01/2006' is not a date written YYYY-MM-DD"),
        RowError(5, "price 'abc' is not a number"),
        RowError(6, "price -5 is not above zero"),
        RowError(7, "price 0 is not above zero"),
        RowError(8, "pricetype 'Auction' is not one of retail, wholesale, producer, farmgate"),
        RowError(9, "market is empty"),
        RowError(10, "commodity is empty"),
        RowError(11, "latitude '91' is not a number between -90 and 90"),
        RowError(12, "longitude 'east' is not a number between -180 and 180"),
        RowError(13, "expected 16 fields, found 17"),
        RowError(14, "currency 'KSH.' is not a 3-letter ISO code such as KES"),
        RowError(15, "date is empty"),
        RowError(19, "price '1,480' is not a number"),
        RowError(20, "usdprice 'n/a' is not a number of zero or more"),
        RowError(21, "price is empty"),
    ]
    markets = {row[1] for row in price_rows(conn)}
    assert markets == {"Mombasa", "Kitui", "Garissa\n(town)"}  # no market from a bad row
    assert conn.execute("SELECT count(*) FROM markets").fetchone()[0] == 3


def test_rejected_rows_are_counted_beyond_the_kept_errors(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    rows = [wfp(price="x")] * 30 + [wfp()]
    path = write_csv(tmp_path / "many.csv", rows)
    report = import_prices(conn, path, country="KE", max_errors=10)
    assert (report.rejected, report.inserted, len(report.errors)) == (30, 1, 10)
    assert report.errors[-1] == RowError(11, "price 'x' is not a number")


def test_blank_lines_are_skipped_and_crlf_lines_counted(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    lines = [",".join(WFP_HEADER), ",".join(wfp()), "", ",".join(wfp(price="bad")),
             ",,,,,,,,,,,,,,,", ",".join(wfp(unit="KG"))]
    path = tmp_path / "crlf.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    report = import_prices(conn, path, country="KE")
    assert counts(report) == (3, 2, 0, 0, 1)
    assert report.errors == [RowError(4, "price 'bad' is not a number")]


# ---------------------------------------------------------------------------- formats

def test_hxl_variant_imports_the_same(tmp_path: Path) -> None:
    lines = kenya_lines(40)
    plain = tmp_path / "plain.csv"
    plain.write_text("".join(lines), encoding="utf-8")
    hxl = tmp_path / "hxl.csv"
    hxl.write_text(lines[0] + ",".join(HXL_ROW) + "\n" + "".join(lines[1:]), encoding="utf-8")
    first, second = open_db(tmp_path / "a.db"), open_db(tmp_path / "b.db")
    plain_report = import_prices(first, plain, country="KE")
    hxl_report = import_prices(second, hxl, country="KE")
    assert counts(plain_report) == counts(hxl_report) == (40, 40, 0, 0, 0)
    assert (plain_report.hxl, hxl_report.hxl) == (False, True)
    assert price_rows(first) == price_rows(second)
    assert len(price_rows(first)) == 40


def test_hxl_variant_line_numbers_count_the_tag_row(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "hxl.csv", [HXL_ROW, wfp(), wfp(price="-1")])
    report = import_prices(conn, path, country="KE")
    assert counts(report) == (2, 1, 0, 0, 1)
    assert report.errors == [RowError(4, "price -1 is not above zero")]


def test_reordered_and_extra_columns_and_bom_are_accepted(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    header = list(reversed(WFP_HEADER)) + ["notes"]
    rows = [list(reversed(wfp())) + ["checked by phone"]]
    path = write_csv(tmp_path / "reordered.csv", rows, header=header)
    path.write_bytes("\ufeff".encode() + path.read_bytes())  # Excel's "CSV UTF-8"
    report = import_prices(conn, path, country="KE")
    assert counts(report) == (1, 1, 0, 0, 0)
    assert price_rows(conn)[0][13:16] == ("2006-01-15", 1480.0, 20.58)


def test_template_example_file(conn: sqlite3.Connection) -> None:
    report = import_prices(conn, TEMPLATE_EXAMPLE, country="KE")
    assert counts(report) == (7, 7, 0, 0, 0)
    assert report.format == "template"
    rows = {(r[1], r[7], r[10], r[11]): r for r in price_rows(conn)}
    eldoret = rows[("Eldoret", "Maize (white)", "90 KG", "farmgate")]
    assert eldoret[14:] == (3600.0, None, None, "Cooperative price board")
    assert eldoret[2:5] == ("Rift Valley", "Uasin Gishu", 0.52)
    milk = rows[("Mombasa", "Milk (cow, pasteurized)", "500 ML", "retail")]
    assert (milk[14], milk[17]) == (65.0, "template_example.csv")  # no source: the file name
    fish = rows[("Mombasa", "Fish (omena, dry)", "KG", "retail")]
    assert fish[8] == "meat, fish and eggs"
    again = import_prices(conn, TEMPLATE_EXAMPLE, country="KE")
    assert counts(again) == (7, 0, 0, 7, 0)


def test_template_minimal_columns_case_and_source_option(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    header = ["Date", "Market", "Commodity", "Unit", "Price Type", "Currency", "Price"]
    rows = [["2026-11-02", "Kisumu", "Sorghum", "KG", "Farm gate", "kes", "42.5"],
            ["2026-11-02", "Kisumu", "Sorghum", "KG", "Retail", "KES", "60"],
            ["2026-11-02", "Kisumu", "Sorghum", "KG", "auction", "KES", "60"]]
    path = write_csv(tmp_path / "mine.csv", rows, header=header)
    report = import_prices(conn, path, country="ke", source="County office")
    assert counts(report) == (3, 2, 0, 0, 1)
    assert report.errors == [RowError(4, "Price Type 'auction' is not one of retail, "
                                         "wholesale, producer, farmgate")]
    assert [(r[0], r[11], r[12], r[14], r[17]) for r in price_rows(conn)] == [
        ("KE", "farmgate", "KES", 42.5, "County office"),
        ("KE", "retail", "KES", 60.0, "County office")]


def test_country_must_be_two_letters(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="2-letter"):
        import_prices(conn, TEMPLATE_EXAMPLE, country="Kenya")


# ---------------------------------------------------------------------------- updates, dry run

def test_changed_price_updates_the_observation(conn: sqlite3.Connection, tmp_path: Path) -> None:
    lines = kenya_lines(10)
    path = tmp_path / "ten.csv"
    path.write_text("".join(lines), encoding="utf-8")
    assert counts(import_prices(conn, path, country="KE")) == (10, 10, 0, 0, 0)
    lines[2] = lines[2].replace(",1480,20.58", ",1520,21.14")  # Mombasa maize, 90 KG
    path.write_text("".join(lines), encoding="utf-8")
    report = import_prices(conn, path, country="KE")
    assert counts(report) == (10, 0, 1, 9, 0)
    price = conn.execute("SELECT price, usd_price FROM prices WHERE unit = '90 KG'"
                         " AND date = '2006-01-15' AND price_type = 'wholesale'"
                         " AND commodity_id = (SELECT id FROM commodities"
                         "  WHERE name = 'Maize (white)')").fetchone()
    assert tuple(price) == (1520.0, 21.14)
    assert conn.execute("SELECT count(*) FROM prices").fetchone()[0] == 10


def test_same_key_twice_in_one_file_the_later_row_wins(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "twice.csv", [wfp(price="1480"), wfp(price="1500")])
    assert counts(import_prices(conn, path, country="KE")) == (2, 1, 1, 0, 0)
    assert conn.execute("SELECT price FROM prices").fetchone()[0] == 1500.0


def test_dry_run_counts_but_changes_nothing(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "ten.csv"
    lines = kenya_lines(10)
    path.write_text("".join(lines[:6]), encoding="utf-8")
    import_prices(conn, path, country="KE")
    path.write_text("".join(lines).replace(",1480,20.58", ",1520,21.14"), encoding="utf-8")
    before = table_counts(conn), price_rows(conn)
    report = import_prices(conn, path, country="KE", dry_run=True)
    assert counts(report) == (10, 5, 1, 4, 0) and report.dry_run
    assert (table_counts(conn), price_rows(conn)) == (
        {**before[0], "imports": before[0]["imports"] + 1}, before[1])
    logged = conn.execute("SELECT dry_run, inserted, updated FROM imports ORDER BY id DESC")
    assert tuple(logged.fetchone()) == (1, 5, 1)
    assert counts(import_prices(conn, path, country="KE")) == (10, 5, 1, 4, 0)


# ---------------------------------------------------------------------------- unreadable files

UNREADABLE = {
    "missing": (None, "cannot open the file"),
    "binary": (bytes(range(256)) * 4, "NUL bytes"),
    "utf16": (",".join(WFP_HEADER).encode("utf-16"), "NUL bytes"),
    "latin1": (("date,market,commodity,unit,price_type,currency,price\n"
                "2026-11-02,Murang\xe1,Maize,KG,retail,KES,50\n").encode("latin-1"), "UTF-8"),
    "unknown header": (b"name,email\nAmina,amina@example.com\n", "unknown header"),
    "missing column": (b"date,market,commodity,pricetype,currency,price\n", "unit"),
    "repeated column": (b"date,market,commodity,unit,price_type,currency,price,price\n",
                        "repeats"),
    "empty": (b"", "empty"),
    "blank header": (b"\n\n", "header"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_raises_and_changes_nothing(
        case: str, conn: sqlite3.Connection, tmp_path: Path) -> None:
    import_prices(conn, TEMPLATE_EXAMPLE, country="KE")
    before = snapshot(conn)
    content, message = UNREADABLE[case]
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        import_prices(conn, path, country="KE")
    assert snapshot(conn) == before
    assert not conn.in_transaction


def test_bad_bytes_half_way_roll_back_the_whole_file(
        conn: sqlite3.Connection, tmp_path: Path) -> None:
    good = "".join(kenya_lines(2000)).encode()  # > 64 KiB, past the upfront check
    path = tmp_path / "late.csv"
    path.write_bytes(good + "2026-01-15,Coast,Mombasa,Mombasa,191,-4.05,39.67,x,Ugali "
                     "\xe9,1,KG,actual,Retail,KES,1,1\n".encode("latin-1"))
    before = snapshot(conn)
    with pytest.raises(ImportFileError, match="line 2002 is not UTF-8"):
        import_prices(conn, path, country="KE")
    assert snapshot(conn) == before


def test_progress_is_reported_in_bytes(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "some.csv"
    path.write_text("".join(kenya_lines(12_000)), encoding="utf-8")
    seen: list[int] = []
    import_prices(conn, path, country="KE", progress=seen.append)
    assert len(seen) >= 3 and seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


# ---------------------------------------------------------------------------- the command

@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `smsgw import prices ...` against a config pointing at a temporary database."""
    monkeypatch.chdir(tmp_path)
    for name in ("SMSGW_CONFIG", "SMSGW_DATABASE_PATH", "SMSGW_APP_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "smsgw.toml"
    config.write_text(f'[app]\ndefault_region = "UG"\n[database]\npath = '
                      f'"{(tmp_path / "cli.db").as_posix()}"\n', encoding="utf-8")

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["import", "prices", *args, "--config", str(config)])

    run.db = tmp_path / "cli.db"  # type: ignore[attr-defined]
    return run


def test_cli_exit_0_and_summary_line(cli: Any) -> None:
    result = cli(str(TEMPLATE_EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout == "read 7, inserted 7, updated 0, unchanged 0, rejected 0, held 0\n"
    # No progress bar when stderr is not a terminal; how the country was found.
    assert result.stderr == "country: UG (from the only country this deployment serves)\n"
    again = cli(str(TEMPLATE_EXAMPLE))
    assert again.stdout == "read 7, inserted 0, updated 0, unchanged 7, rejected 0, held 0\n"
    conn = db.connect(cli.db)
    countries = conn.execute("SELECT DISTINCT country FROM markets").fetchall()
    conn.close()
    assert [row[0] for row in countries] == ["UG"]  # app.default_region


def test_cli_exit_1_lists_first_20_bad_rows(cli: Any, tmp_path: Path) -> None:
    rows = [wfp()] + [wfp(price="x", market=f"M{i}") for i in range(25)]
    result = cli(str(write_csv(tmp_path / "bad.csv", rows)), "--country", "UG")
    assert result.exit_code == 1
    assert result.stdout == "read 26, inserted 1, updated 0, unchanged 0, rejected 25, held 0\n"
    lines = result.stderr.splitlines()
    assert lines[0] == "line 3: price 'x' is not a number"
    assert lines[19] == "line 22: price 'x' is not a number"
    assert lines[20:] == ["... and 5 more rejected row(s)"]


@pytest.mark.parametrize("content", [None, b"\x00\x01binary", b"a,b,c\n1,2,3\n"])
def test_cli_exit_2_when_the_file_cannot_be_imported(
        cli: Any, tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    result = cli(str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and "nothing was imported" in result.stderr
    conn = db.connect(cli.db)
    assert table_counts(conn) == {"prices": 0, "markets": 0, "commodities": 0, "imports": 0}
    conn.close()


def test_cli_dry_run_and_bad_country(cli: Any) -> None:
    result = cli(str(TEMPLATE_EXAMPLE), "--dry-run", "--country", "ug")
    assert result.exit_code == 0
    assert result.stdout == ("read 7, inserted 7, updated 0, unchanged 0, rejected 0, held 0"
                             " (dry run: nothing saved)\n")
    conn = db.connect(cli.db)
    assert conn.execute("SELECT count(*) FROM prices").fetchone()[0] == 0
    conn.close()
    assert cli(str(TEMPLATE_EXAMPLE), "--country", "Kenya").exit_code == 2


def test_cli_help_documents_exit_codes(cli: Any) -> None:
    result = CliRunner().invoke(main, ["import", "prices", "--help"])
    assert result.exit_code == 0
    for line in ("0  every row", "1  some rows were rejected", "2  the file could not"):
        assert line in result.output


def test_report_summary_format() -> None:
    report = ImportReport(read=6, inserted=2, updated=1, unchanged=1, rejected=1, held=1)
    assert report.summary() == ("read 6, inserted 2, updated 1, unchanged 1, rejected 1,"
                                " held 1")
    with pytest.raises(AttributeError):
        report.read = 6  # type: ignore[misc]
