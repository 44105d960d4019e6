"""Loading price observations from CSV files: the WFP/HDX format and our own template.

A file is all-or-nothing for its good rows: the import is one write transaction, so a cron
job never leaves half a file behind. Bad rows are reported with their line numbers and
skipped; a file that cannot be read at all raises ImportFileError and changes nothing.
The format is described in docs/import-format.md.

The upsert of observations is db.prices.UPSERT, which the review queue (prices.review)
shares; the rest of the SQL lives here because only this importer runs it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date as Date
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import db
from db import reviews
from db.prices import UPSERT
from db.reviews import Observation, Status
from db.timeutil import iso, utcnow
from prices.country_codes import alpha2
from prices.review import OUTLIER_FACTOR, SeriesHistory, outlier_reason

WFP_SOURCE = "WFP via HDX"
PRICE_TYPES = ("retail", "wholesale", "producer", "farmgate")
BATCH_ROWS = 5_000
MAX_ERRORS = 1_000
# The file comes in date order but the unique index is in commodity/market order, so its
# pages are hit at random: with SQLite's default 2 MB cache they spill to the WAL again and
# again. 64 MB during an import makes a million rows ~2.5x faster for ~70 MB more RSS.
IMPORT_CACHE_KIB = 64 * 1024
_SNIFF_BYTES = 64 * 1024
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")

# Header name in the file -> our field name, per format. The first listed are required.
_WFP_COLUMNS = {
    "date": "date", "market": "market", "commodity": "commodity", "unit": "unit",
    "pricetype": "price_type", "currency": "currency", "price": "price",
    "admin1": "admin1", "admin2": "admin2", "latitude": "latitude", "longitude": "longitude",
    "category": "category", "usdprice": "usd_price", "priceflag": "price_flag",
    "market_id": "market_source_id", "commodity_id": "commodity_source_id", "source": "source",
    "countryiso3": "country",
}
_TEMPLATE_COLUMNS = {
    "date": "date", "market": "market", "commodity": "commodity", "unit": "unit",
    "price_type": "price_type", "currency": "currency", "price": "price",
    "admin1": "admin1", "admin2": "admin2", "latitude": "latitude", "longitude": "longitude",
    "category": "category", "usd_price": "usd_price", "price_flag": "price_flag",
    "source": "source", "country": "country",
}
_REQUIRED = 7

_UPSERT_MARKET = """
INSERT INTO markets (country, name, admin1, admin2, latitude, longitude, source_id)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (country, name) DO UPDATE SET
    admin1 = coalesce(markets.admin1, excluded.admin1),
    admin2 = coalesce(markets.admin2, excluded.admin2),
    latitude = coalesce(markets.latitude, excluded.latitude),
    longitude = coalesce(markets.longitude, excluded.longitude),
    source_id = coalesce(markets.source_id, excluded.source_id)
RETURNING id
"""
_UPSERT_COMMODITY = """
INSERT INTO commodities (name, category, source_id) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    category = coalesce(commodities.category, excluded.category),
    source_id = coalesce(commodities.source_id, excluded.source_id)
RETURNING id
"""


class ImportFileError(Exception):
    """The file cannot be imported at all (missing, binary, not UTF-8, unknown header).

    When this is raised the database is exactly as it was before the import.
    """


class RowRejected(Exception):
    """One data row is invalid; the message is the reason shown to the admin."""


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: its physical line number in the file (header = 1) and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class HeldRow:
    """A row held for an admin's review (prices.review): its line, the review id, why."""

    line: int
    review_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did; read = inserted + updated + unchanged + rejected + held."""

    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS only
    held: int = 0  # rows far outside their series' recent range, waiting in price_reviews
    held_rows: list[HeldRow] = field(default_factory=list)  # the first MAX_ERRORS only
    format: str = ""  # "wfp" or "template"
    hxl: bool = False  # the file carried the HDX row of #hashtags
    dry_run: bool = False
    sha256: str = ""
    import_id: int | None = None  # the row in the imports log

    def summary(self) -> str:
        """The one-line summary printed after every import."""
        return (f"read {self.read}, inserted {self.inserted}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}, held {self.held}")


@dataclass(frozen=True, slots=True)
class Layout:
    """Which format a header announces and where each field sits in a row."""

    format: str
    width: int
    index: dict[str, int]  # our field name -> column position
    label: dict[str, str]  # our field name -> the header name as written in the file


# ---------------------------------------------------------------------------- the entry point

def import_prices(conn: sqlite3.Connection, path: str | Path, *, country: str,
                  dry_run: bool = False, source: str | None = None,
                  progress: Callable[[int], None] | None = None,
                  max_errors: int = MAX_ERRORS, today: Date | None = None,
                  outlier_factor: float = OUTLIER_FACTOR, name: str | None = None) -> ImportReport:
    """Load one price CSV into a migrated database in one transaction and report what changed.

    `progress`, if given, is called now and then with the number of bytes read so far.
    `source` is recorded for rows that do not name their own source. A row dated after
    `today` (UTC by default) plus one day is rejected; a row far outside its series'
    recent range (prices.review, `outlier_factor`) is held for review, not imported.
    `name` is what messages, the imports log and the review queue call the file (default:
    the path as given; the console passes the uploaded file's own name).
    """
    country = normalise_country(country)
    shown = name or str(path)
    started = iso(utcnow())
    latest = ((today or utcnow().date()) + timedelta(days=1)).isoformat()
    with _open_text(path, shown) as (text, counter):
        reader = csv.reader(text)
        layout = read_header(reader, shown)
        default_source = source or (WFP_SOURCE if layout.format == "wfp" else Path(shown).name)
        parser = RowParser(layout, latest=latest, country=country)
        loader = _Loader(conn, parser, country, default_source, max_errors, outlier_factor,
                         shown)
        with _bigger_cache(conn), db.transaction(conn):
            conn.execute("SAVEPOINT price_import")
            try:
                loader.run(reader, path, lambda: _report(progress, counter), shown)
            except BaseException:
                conn.execute("ROLLBACK TO price_import")
                conn.execute("RELEASE price_import")
                raise
            if dry_run:
                conn.execute("ROLLBACK TO price_import")  # counted, then undone
            conn.execute("RELEASE price_import")
            report = loader.report(dry_run=dry_run, sha256=counter.digest.hexdigest())
            import_id = _log(conn, report, shown, country, started)
            if not dry_run:
                reviews.link_import(conn, loader.held_ids, import_id)
    _report(progress, counter)
    return replace(report, import_id=import_id)


@contextmanager
def _bigger_cache(conn: sqlite3.Connection) -> Iterator[None]:
    """Raise this connection's page cache for the import, then put it back."""
    previous = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    conn.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {previous}")


def normalise_country(country: str) -> str:
    """Check a 2-letter ISO 3166 country code and return it in upper case."""
    if not isinstance(country, str) or not _COUNTRY.match(country.strip()):
        raise ValueError(f"country must be a 2-letter ISO code such as KE, not {country!r}")
    return country.strip().upper()


def _report(progress: Callable[[int], None] | None, counter: _CountingReader) -> None:
    if progress is not None:
        progress(counter.bytes_read)


def _log(conn: sqlite3.Connection, report: ImportReport, path: str, country: str,
         started: str) -> int:
    """Record the run in the imports log (dry runs too, flagged) and return its id."""
    row = conn.execute(
        "INSERT INTO imports (kind, file_name, sha256, read, inserted, updated, unchanged,"
        " rejected, held, dry_run, started_at, finished_at, format, country)"
        " VALUES ('prices', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (path, report.sha256, report.read, report.inserted, report.updated,
         report.unchanged, report.rejected, report.held, int(report.dry_run), started,
         iso(utcnow()), report.format, country)).fetchone()
    return int(row[0])


# ---------------------------------------------------------------------------- reading the file

class _CountingReader(io.RawIOBase):
    """A raw file that counts and hashes the bytes passing through (for progress and log)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.bytes_read = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self.bytes_read += count
            self.digest.update(memoryview(buffer)[:count])
        return count or 0


@contextmanager
def _open_text(path: str | Path,
               shown: str | None = None) -> Iterator[tuple[io.TextIOWrapper, _CountingReader]]:
    """Open the file as UTF-8 text for csv, refusing missing, binary and non-UTF-8 files
    (messages name it `shown`, by default its path)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, through the wrapper
    except OSError as exc:
        raise ImportFileError(f"{shown or path}: cannot open the file "
                              f"({exc.strerror or exc})") from None
    counter = _CountingReader(raw)
    buffered = io.BufferedReader(counter, buffer_size=_SNIFF_BYTES)
    text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
    try:
        _sniff(buffered.peek(_SNIFF_BYTES), shown or path)
        yield text, counter
    finally:
        text.close()
        raw.close()


def _sniff(head: bytes, path: str | Path) -> None:
    """Refuse a file whose first bytes are not UTF-8 text."""
    if not head:
        raise ImportFileError(f"{path}: the file is empty")
    if b"\0" in head:
        raise ImportFileError(f"{path}: not a CSV text file (it contains NUL bytes: "
                              "a binary file, or text saved as UTF-16; save it as CSV UTF-8)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        line = head[:exc.start].count(b"\n") + 1
        raise ImportFileError(f"{path}: line {line} is not UTF-8 text; save the file as "
                              "CSV UTF-8") from None


def _undecodable_line(path: str | Path, after: int) -> int:
    """The number of the first line past `after` that is not UTF-8 (the error path only)."""
    with open(path, "rb") as raw:
        for number, line in enumerate(raw, start=1):
            if number > after:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    return after + 1


def read_header(reader: Iterator[list[str]], path: str | Path = "file") -> Layout:
    """Read the header row and decide the format from it, or raise ImportFileError."""
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: the header cannot be read ({exc})") from None
    if not header or not any(cell.strip() for cell in header):
        raise ImportFileError(f"{path}: the first line should be a header, but it is empty")
    names = [cell.strip().lower().replace(" ", "_") for cell in header]
    duplicates = sorted({name for name in names if names.count(name) > 1 and name})
    if duplicates:
        raise ImportFileError(f"{path}: the header repeats column(s) {', '.join(duplicates)}")
    if "pricetype" in names:
        return _layout("wfp", _WFP_COLUMNS, names, header, path)
    if "price_type" in names:
        return _layout("template", _TEMPLATE_COLUMNS, names, header, path)
    raise ImportFileError(
        f"{path}: unknown header {','.join(header)[:120]!r}; expected the WFP/HDX columns "
        f"({','.join(list(_WFP_COLUMNS)[:_REQUIRED])},...) or the template columns "
        f"({','.join(list(_TEMPLATE_COLUMNS)[:_REQUIRED])},...), see docs/import-format.md")


def _layout(name: str, columns: dict[str, str], names: list[str], header: list[str],
            path: str | Path) -> Layout:
    missing = [column for column in list(columns)[:_REQUIRED] if column not in names]
    if missing:
        kind = "WFP/HDX" if name == "wfp" else "template"
        raise ImportFileError(f"{path}: the header lacks the {kind} column(s) "
                              f"{', '.join(missing)}")
    index = {columns[n]: i for i, n in enumerate(names) if n in columns}
    label = {columns[n]: header[i].strip() for i, n in enumerate(names) if n in columns}
    return Layout(name, len(names), index, label)


# ---------------------------------------------------------------------------- validating a row

class RowParser:
    """Validates the csv rows of one layout; caches the few distinct dates, types and places.

    parse() is the hot loop of a million-row import, hence the plain tuples and caches.
    """

    REQUIRED = ("date", "market", "commodity", "unit", "price_type", "currency", "price")
    OPTIONAL = ("usd_price", "price_flag", "source", "latitude", "longitude")

    def __init__(self, layout: Layout, *, latest: str | None = None,
                 country: str | None = None) -> None:
        self.layout = layout
        self.latest = latest    # YYYY-MM-DD: a later date is rejected (None: no limit)
        self.country = country  # rows of a country column must be of this one
        self._required = tuple(layout.index[name] for name in self.REQUIRED)
        self._optional = tuple(layout.index.get(name) for name in self.OPTIONAL)
        self._i_country = layout.index.get("country") if country else None
        self._countries: set[str] = set()   # country cells seen and found right
        self._dates: dict[str, str] = {}
        self._types: dict[str, str] = {}
        self._currencies: dict[str, str] = {}
        self._places: dict[tuple[str, str], tuple[float | None, float | None]] = {}

    def parse(self, row: list[str]) -> tuple[Any, ...]:
        """Validate one data row or raise RowRejected.

        Returns (date, market, commodity, unit, price_type, currency, price, usd_price,
        price_flag, source, latitude, longitude), text stripped, empty optional text None.
        """
        if len(row) != self.layout.width:
            raise RowRejected(f"expected {self.layout.width} fields, found {len(row)}")
        i_date, i_market, i_commodity, i_unit, i_type, i_currency, i_price = self._required
        i_usd, i_flag, i_source, _, _ = self._optional
        date = self._dates.get(row[i_date]) or self._date(row[i_date])
        market = row[i_market].strip() or self._empty("market")
        commodity = row[i_commodity].strip() or self._empty("commodity")
        unit = row[i_unit].strip() or self._empty("unit")
        price_type = self._types.get(row[i_type]) or self._price_type(row[i_type])
        currency = self._currencies.get(row[i_currency]) or self._currency(row[i_currency])
        price = self._price(row[i_price])
        usd_price = None if i_usd is None else self._usd_price(row[i_usd])
        flag = None if i_flag is None else (row[i_flag].strip() or None)
        source = None if i_source is None else (row[i_source].strip() or None)
        latitude, longitude = self._place(row)
        if self._i_country is not None and row[self._i_country] not in self._countries:
            self._country(row[self._i_country])
        return (date, market, commodity, unit, price_type, currency, price, usd_price, flag,
                source, latitude, longitude)

    def text(self, row: list[str], name: str) -> str | None:
        """An optional text field of a valid row, stripped; None when absent or empty."""
        index = self.layout.index.get(name)
        return None if index is None else (row[index].strip() or None)

    def _empty(self, name: str) -> NoReturn:
        raise RowRejected(f"{self.layout.label[name]} is empty")

    def _date(self, raw: str) -> str:
        value = raw.strip()
        if not value:
            self._empty("date")
        try:
            if not _ISO_DATE.match(value):
                raise ValueError(value)
            Date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            raise RowRejected(f"{self.layout.label['date']} {value!r} is not a date "
                              "written YYYY-MM-DD") from None
        if self.latest is not None and value > self.latest:
            raise RowRejected(f"{self.layout.label['date']} {value} is in the future "
                              f"(the latest date accepted today is {self.latest})")
        self._dates[raw] = value
        return value

    def _country(self, raw: str) -> None:
        """A country cell must name the import's country (one country per import)."""
        value = raw.strip()
        if not value:
            return   # no country given on this row: the import's
        code = alpha2(value)
        label = self.layout.label["country"]
        if code is None:
            raise RowRejected(f"{label} {value!r} is not an ISO 3166 country code")
        if code != self.country:
            raise RowRejected(f"{label} {value} is not this import's country {self.country}; "
                              "import one country's rows at a time")
        self._countries.add(raw)

    def _price_type(self, raw: str) -> str:
        value = re.sub(r"[\s_-]", "", raw).lower()  # "Farm gate", "farm-gate" -> farmgate
        if value not in PRICE_TYPES:
            if not raw.strip():
                self._empty("price_type")
            raise RowRejected(f"{self.layout.label['price_type']} {raw.strip()!r} is not one "
                              f"of {', '.join(PRICE_TYPES)}")
        self._types[raw] = value
        return value

    def _currency(self, raw: str) -> str:
        value = raw.strip().upper()
        if not _CURRENCY.match(value):
            if not value:
                self._empty("currency")
            raise RowRejected(f"{self.layout.label['currency']} {raw.strip()!r} is not a "
                              "3-letter ISO code such as KES")
        self._currencies[raw] = value
        return value

    def _price(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if 0.0 < value < math.inf:
            return value
        label, raw = self.layout.label["price"], raw.strip()
        if not raw:
            self._empty("price")
        if math.isnan(value) or value == math.inf:
            raise RowRejected(f"{label} {raw!r} is not a number")
        raise RowRejected(f"{label} {raw} is not above zero")

    def _usd_price(self, raw: str) -> float | None:
        if not raw or raw.isspace():
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if 0.0 <= value < math.inf:
            return value
        raise RowRejected(f"{self.layout.label['usd_price']} {raw.strip()!r} is not a number "
                          "of zero or more")

    def _place(self, row: list[str]) -> tuple[float | None, float | None]:
        _, _, _, i_lat, i_lon = self._optional
        key = ("" if i_lat is None else row[i_lat], "" if i_lon is None else row[i_lon])
        known = self._places.get(key)
        if known is None:
            known = (self._coordinate(key[0], "latitude", 90),
                     self._coordinate(key[1], "longitude", 180))
            self._places[key] = known
        return known

    def _coordinate(self, raw: str, name: str, limit: int) -> float | None:
        if not raw.strip():
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if -limit <= value <= limit:
            return value
        raise RowRejected(f"{self.layout.label[name]} {raw.strip()!r} is not a number "
                          f"between -{limit} and {limit}")


# ---------------------------------------------------------------------------- writing

class _Loader:
    """Streams valid rows into the database in batches and keeps the counts."""

    def __init__(self, conn: sqlite3.Connection, parser: RowParser, country: str,
                 default_source: str, max_errors: int, outlier_factor: float,
                 file_name: str) -> None:
        self.conn, self.parser, self.country = conn, parser, country
        self.layout = parser.layout
        self.default_source = default_source
        self.max_errors = max_errors
        self.outlier_factor = outlier_factor
        self.file_name = file_name
        self.history = SeriesHistory(conn)
        self.markets: dict[str, int] = {}
        self.commodities: dict[str, int] = {}
        self.updated_at = iso(utcnow())
        self.read = self.valid = self.changed = self.inserted = self.rejected = 0
        self.errors: list[RowError] = []
        self.held_rows: list[HeldRow] = []
        self.held_ids: list[int] = []   # review rows this import made
        self.held = 0
        self.hxl = False

    def run(self, reader: Any, path: str | Path, tick: Callable[[], None],
            shown: str | None = None) -> None:
        """Read every data row, validate, upsert in batches; raise ImportFileError if
        unreadable (naming the file `shown`, by default its path)."""
        before = self._count()
        batch: list[tuple[Any, ...]] = []
        line = reader.line_num  # physical lines consumed so far (the header)
        try:
            for row in reader:
                first, line = line + 1, reader.line_num
                if not any(row):
                    continue  # blank lines and rows of empty cells are not data
                if first == 2 and is_hxl(row):
                    self.hxl = True
                    continue
                self._take(row, first, batch)
                if len(batch) >= BATCH_ROWS:
                    self._flush(batch)
                    tick()
        except UnicodeDecodeError:
            raise ImportFileError(f"{shown or path}: line {_undecodable_line(path, line)} is "
                                  "not UTF-8 text; save the file as CSV UTF-8") from None
        except csv.Error as exc:
            raise ImportFileError(f"{shown or path}: cannot read the file after line {line} "
                                  f"({exc})") from None
        self._flush(batch)
        self.inserted = self._count() - before

    def _take(self, row: list[str], line: int, batch: list[tuple[Any, ...]]) -> None:
        self.read += 1
        try:
            (date, market, commodity, unit, price_type, currency, price, usd_price, flag,
             source, latitude, longitude) = self.parser.parse(row)
        except RowRejected as exc:
            self.rejected += 1
            if len(self.errors) < self.max_errors:
                self.errors.append(RowError(line, str(exc)))
            return
        market_id = self.markets.get(market) or self._market_id(row, market, latitude, longitude)
        commodity_id = self.commodities.get(commodity) or self._commodity_id(row, commodity)
        key = (commodity_id, market_id, unit, price_type, currency)
        median = self.history.take(key, date, price, self.outlier_factor)
        if median is not None:
            if self._held(line, Observation(commodity_id, market_id, unit, price_type,
                                            currency, date, price,
                                            source or self.default_source, usd_price, flag),
                          median):
                return
            self.history.add(key, date, price)   # an admin accepted this very row before
        self.valid += 1
        batch.append((commodity_id, market_id, unit, price_type, currency, date, price,
                      usd_price, flag, source or self.default_source, self.updated_at))

    def _held(self, line: int, observation: Observation, median: float) -> bool:
        """Hold an outlier for review (once: a row still waiting is not held twice); False
        when an admin decided this very row before (rejected: it is skipped as unchanged;
        accepted: it is imported)."""
        earlier = reviews.same(self.conn, observation, origin="import")
        if earlier is not None and earlier.status == Status.REJECTED:
            self.valid += 1   # counted as unchanged: the admin's decision stands
            return True
        if earlier is not None and earlier.status == Status.PUBLISHED:
            return False
        if earlier is not None:
            review_id = earlier.id
        else:
            review_id = reviews.add(
                self.conn, observation, origin="import", status=Status.PENDING,
                reason="outlier", now=utcnow(), median=median, file_name=self.file_name,
                line=line)
            self.held_ids.append(review_id)
        self.held += 1
        if len(self.held_rows) < self.max_errors:
            self.held_rows.append(HeldRow(line, review_id, outlier_reason(
                observation.price, median, self.outlier_factor)))
        return True

    def _flush(self, batch: list[tuple[Any, ...]]) -> None:
        if batch:
            changes = self.conn.total_changes
            self.conn.executemany(UPSERT, batch)
            # total_changes counts inserted rows and rows the upsert's WHERE let it update.
            self.changed += self.conn.total_changes - changes
            batch.clear()

    def _count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM prices").fetchone()[0])

    def _market_id(self, row: list[str], name: str, latitude: float | None,
                   longitude: float | None) -> int:
        """Find or create a market the first time this import meets it (details fill gaps)."""
        text = self.parser.text
        found = int(self.conn.execute(_UPSERT_MARKET, (
            self.country, name, text(row, "admin1"), text(row, "admin2"), latitude, longitude,
            text(row, "market_source_id"))).fetchone()[0])
        self.markets[name] = found
        return found

    def _commodity_id(self, row: list[str], name: str) -> int:
        """Find or create a commodity the first time this import meets it."""
        text = self.parser.text
        found = int(self.conn.execute(_UPSERT_COMMODITY, (
            name, text(row, "category"), text(row, "commodity_source_id"))).fetchone()[0])
        self.commodities[name] = found
        return found

    def report(self, *, dry_run: bool, sha256: str) -> ImportReport:
        """The counts so far as an ImportReport."""
        updated = self.changed - self.inserted
        return ImportReport(
            read=self.read, inserted=self.inserted, updated=updated,
            unchanged=self.valid - self.inserted - updated, rejected=self.rejected,
            errors=list(self.errors), held=self.held, held_rows=list(self.held_rows),
            format=self.layout.format, hxl=self.hxl, dry_run=dry_run, sha256=sha256)


def is_hxl(row: list[str]) -> bool:
    """True for HDX's row of hashtags (#date,#adm1+name,...) under the header."""
    cells = [cell.strip() for cell in row if cell.strip()]
    return bool(cells) and all(cell.startswith("#") for cell in cells)
