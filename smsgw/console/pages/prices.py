"""The Prices pages (admins only): a commodity's prices at a few markets or in an area, as a
chart and as the same prices in a table (the table is what the chart is drawn from, and
what a browser without JavaScript shows); a price file imported through the browser, first
as a dry run with the CLI's own report; and the prices that wait for an admin's review.

Thin, like the CLI commands: prices.series reads the series, prices.importer imports,
prices.import_report words the report, prices.review decides.
"""

from __future__ import annotations

import hmac
import re
import secrets
import shutil
import sqlite3
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from db import reviews as reviews_db
from db.reviews import Review, Status
from db.timeutil import parse_iso
from prices import countries, series
from prices import review as review_rules
from prices.catalog import MatchKind, catalog_for
from prices.folding import phrase
from prices.import_country import detect
from prices.import_report import country_note, report_lines
from prices.importer import PRICE_TYPES, ImportFileError, ImportReport, import_prices
from smsgw.console.blueprint import actor, audit, bp, number, read, write
from smsgw.context import services

MAX_ROWS = 2000            # prices in one table (and chart); narrow with "since" for more
MAX_TEXT = 100             # longest name typed in a field
MAX_NOTE = 500             # longest note on a rejection
REVIEWS_SHOWN = 100        # reviews listed at a time, oldest first
FORM_MEMORY_BYTES = 1 << 20      # the import form's text fields and the parser's buffer
UPLOAD_KEEP_SECONDS = 6 * 3600   # a checked file waits this long for "Import for real"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_UPLOAD = "price_upload"   # the session's key for the file waiting to be imported


# ---------------------------------------------------------------------------- the series


@dataclass
class Selection:
    """What the admin asked for (the form's fields, checked) and what it found."""

    country: str
    commodity: str = ""
    typed: list[str] = field(default_factory=list)    # market names as typed
    area: str = ""                                    # "admin1:Rift Valley"
    unit: str = ""
    price_type: str = ""
    since: str = ""
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    markets: list[series.Market] = field(default_factory=list)


@bp.get("/prices")
def prices() -> str:
    """A commodity's prices at up to six markets (or an area): chart, legend and table."""
    config, conn = services().config, read()
    served = countries.served(config)
    wanted = _text(request.args.get("country", "")).upper()
    country = wanted if wanted in served else next(iter(served))
    chosen = Selection(country)
    offered = series.commodities(conn, country)
    known = series.markets(conn, country)
    areas = series.areas(conn, country)
    _read_args(chosen)
    kinds, table, truncated = _lookup(conn, chosen, offered, known)
    stale_days = int(config["prices.stale_days"])
    today = _today(country)
    lines = series.chart(table, today=today, stale_days=stale_days)
    return render_template(
        "console/prices.html", title="Prices", chosen=chosen, served=list(served),
        offered=offered, known=known, areas=areas, levels=series.LEVELS, kinds=kinds,
        units=list(dict.fromkeys(k.unit for k in kinds)),
        types=[t for t in PRICE_TYPES if any(k.price_type == t and k.unit == chosen.unit
                                             for k in kinds)],
        table=table, rows=_rows(table, today, stale_days), truncated=truncated,
        max_rows=MAX_ROWS, lines=lines, chart=_chart_data(lines, stale_days),
        currencies=sorted({p.currency for p in table}), stale_days=stale_days,
        today=_day(today.isoformat()), market_fields=_market_fields(chosen),
        max_markets=series.MAX_MARKETS, pending=_pending_count())


def _lookup(conn: sqlite3.Connection, chosen: Selection, offered: list[series.ChoiceGroup],
            known: list[series.Market]) -> tuple[list[series.Kind], list[series.Point], bool]:
    """The units and types found for the choice, its prices in the chosen (or the most
    priced) unit, newest first, and whether there were more than MAX_ROWS."""
    ids = series.commodity_ids(conn, chosen.commodity, offered) if chosen.commodity else []
    if chosen.commodity and not ids:
        chosen.errors.append(f"There is no commodity “{chosen.commodity}” in"
                             f" {chosen.country}'s prices: choose one from the list.")
    if ids:
        _find_markets(conn, chosen, known, ids)
    if not ids or not chosen.markets or chosen.errors:
        return [], [], False
    market_ids = [m.id for m in chosen.markets]
    kinds = series.kinds(conn, ids, market_ids)
    if not kinds:
        return [], [], False
    units = list(dict.fromkeys(k.unit for k in kinds))
    chosen.unit = chosen.unit if chosen.unit in units else units[0]
    types = {k.price_type for k in kinds if k.unit == chosen.unit}
    chosen.price_type = chosen.price_type if chosen.price_type in types else ""
    table = series.points(conn, ids, market_ids, unit=chosen.unit,
                          price_type=chosen.price_type or None, since=chosen.since or None,
                          limit=MAX_ROWS + 1)
    return kinds, table[:MAX_ROWS], len(table) > MAX_ROWS


def _read_args(chosen: Selection) -> None:
    """The form's fields, each checked: too long, or not text, is said, never a 500."""
    args = request.args
    chosen.commodity = _field(chosen, "Commodity", args.get("c", ""))
    chosen.typed = [_field(chosen, "Market", value) for value in args.getlist("m")[:20]]
    chosen.typed = [name for name in chosen.typed if name]
    chosen.area = _field(chosen, "Area", args.get("area", ""))
    chosen.unit = _field(chosen, "Unit", args.get("unit", ""))
    since = _field(chosen, "Since", args.get("since", ""))
    if since:
        try:
            chosen.since = date.fromisoformat(since).isoformat()
        except ValueError:
            chosen.errors.append(f"“{since}” is not a date: write it as YYYY-MM-DD.")


def _field(chosen: Selection, label: str, raw: str) -> str:
    value = _text(raw)
    if len(value) > MAX_TEXT:
        chosen.errors.append(f"{label} is {len(value):,} characters long: at most {MAX_TEXT}.")
        return ""
    return value


def _text(raw: str) -> str:
    """A field's text with what a browser or a pasted text may carry and a name never has
    (lone surrogates, control characters, outer spaces) taken out."""
    text = raw.encode("utf-8", "replace").decode("utf-8")
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cs")).strip()


def _find_markets(conn: sqlite3.Connection, chosen: Selection, known: list[series.Market],
                  ids: list[int]) -> None:
    """The markets of the area, or those typed (by name, or the one a near name means)."""
    if chosen.area and chosen.typed:
        chosen.errors.append("Name markets or choose an area, not both.")
        return
    if chosen.area:
        level, _, name = chosen.area.partition(":")
        if level not in series.LEVELS:
            chosen.errors.append("Choose an area from the list.")
            return
        found = series.area_markets(conn, chosen.country, level, name, ids)
        if not found:
            chosen.errors.append(f"No market in {name} has prices of {_label(chosen)}.")
        elif len(found) > series.MAX_MARKETS:
            chosen.notes.append(
                f"{name} has {len(found)} markets with prices of {_label(chosen)}; the chart "
                f"shows the {series.MAX_MARKETS} with the newest prices. Name markets to see "
                "others.")
        chosen.markets = found[:series.MAX_MARKETS]
        return
    by_name = {phrase(m.name): m for m in known}
    by_id = {m.id: m for m in known}
    for typed in chosen.typed:
        market = by_name.get(phrase(typed)) or _near(conn, chosen, typed, by_id)
        if market is not None and market not in chosen.markets:
            chosen.markets.append(market)
    if len(chosen.markets) > series.MAX_MARKETS:
        chosen.notes.append(f"One chart compares at most {series.MAX_MARKETS} markets: the"
                            f" first {series.MAX_MARKETS} named are shown.")
        chosen.markets = chosen.markets[:series.MAX_MARKETS]


def _near(conn: sqlite3.Connection, chosen: Selection, typed: str,
          by_id: dict[int, series.Market]) -> series.Market | None:
    """The market a name that is not exactly one means, as PRICE would read it, or None
    with the reason added to the errors."""
    match = catalog_for(conn).markets_for(chosen.country).match(typed)
    # A place that several markets share means the market of that very name, if any (as
    # REG and the USSD screens read it): "Nakru" is Nakuru, not also Wakulima (Nakuru).
    named = [item for item in match.items if phrase(item.name) == match.label]
    items = named if match.found and len(named) == 1 else match.items
    if match.found and len(items) == 1 and items[0].id in by_id:
        market = by_id[items[0].id]
        chosen.notes.append(f"“{typed}” is taken as {market.name}.")
        return market
    if match.found:
        names = sorted(item.name for item in match.items)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        chosen.errors.append(f"“{typed}” names {len(names)} markets ({shown}): name one,"
                             " or choose the area.")
    elif match.kind == MatchKind.AMBIGUOUS:
        chosen.errors.append(f"“{typed}” could be {' or '.join(match.options)}: name one.")
    else:
        chosen.errors.append(f"There is no market “{typed}” in {chosen.country}: choose one"
                             " from the list.")
    return None


def _label(chosen: Selection) -> str:
    return chosen.commodity.rstrip(series.GROUP)


def _market_fields(chosen: Selection) -> list[str]:
    """The market fields to show: those filled, and one more to compare (at least two)."""
    filled = chosen.typed[:series.MAX_MARKETS]
    count = min(series.MAX_MARKETS, max(2, len(filled) + 1))
    return filled + [""] * (count - len(filled))


def _today(country: str) -> date:
    """Today in the country's time zone (what 'old' counts from, as SMS replies do)."""
    zone = ZoneInfo(countries.get(services().config, country).timezone)
    return services().clock().astimezone(zone).date()


def _day(iso_date: str) -> str:
    """15 Apr 2026."""
    day = date.fromisoformat(iso_date)
    return f"{day.day} {day:%b %Y}"


def _money(value: float) -> str:
    """3,400 or 37.78: thousands separated, cents only when there are any."""
    return review_rules.amount(value)


def _rows(points: list[series.Point], today: date, stale_days: int) -> Markup:
    """The table's rows as HTML. Written here rather than in the template: six markets'
    thousands of cells took Jinja most of the page's time (every cell escaped on its own),
    where the few distinct names are escaped once each here."""
    seen: dict[object, str] = {}

    def cell(value: object) -> str:
        found = seen.get(value)
        if found is None:
            found = seen[value] = str(escape(value))
        return found

    dates: dict[str, tuple[str, str, str]] = {}
    rows = []
    for p in points:
        found = dates.get(p.date)
        if found is None:
            old = series.is_stale(p.date, today, stale_days)
            found = dates[p.date] = (' class="stale"' if old else "", _day(p.date),
                                     ' <span class="old-tag">old</span>' if old else "")
        marked, day, tag = found
        rows.append(
            f'<tr{marked}><td><time datetime="{cell(p.date)}">{day}</time>{tag}'
            f"</td><td>{cell(p.market)}</td><td>{cell(p.commodity)}</td><td>{cell(p.unit)}"
            f"</td><td>{cell(p.price_type.capitalize())}</td>"
            f'<td class="num" data-value="{p.price!r}">{cell(_money(p.price))}</td>'
            f"<td>{cell(p.currency)}</td><td>{cell(p.source)}</td></tr>")
    return Markup("\n".join(rows))


def _chart_data(lines: list[series.Series], stale_days: int) -> dict[str, Any]:
    """What static/prices.js draws: each line's points as [date, price, old, after_gap]."""
    return {"staleDays": stale_days,
            "series": [{"label": s.label, "market": s.market, "currency": s.currency,
                        "points": [list(p) for p in s.points]} for s in lines]}


def _pending_count() -> int:
    return int(read().execute("SELECT COUNT(*) FROM price_reviews WHERE status = ?",
                              (str(Status.PENDING),)).fetchone()[0])


# ---------------------------------------------------------------------------- importing


@bp.before_app_request
def _upload_limit() -> None:
    """Let an admin's price file through (console.max_upload_bytes, plus the form around
    it) where every other request keeps server.max_request_bytes. Set before anything
    reads the form, the console's CSRF check included."""
    if (request.endpoint == "console.prices_import_check" and request.method == "POST"
            and current_user.is_authenticated and current_user.is_admin):
        request.max_content_length = _upload_bytes() + 64 * 1024
        # Werkzeug's multipart decoder also holds its unparsed buffer to this limit, and
        # reads 64 kB at a time: at server.max_request_bytes (64 kB) a file part fails.
        request.max_form_memory_size = max(FORM_MEMORY_BYTES, request.max_form_memory_size or 0)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """A price file over the limit gets the import page and why; elsewhere the console's
    own error page."""
    if request.endpoint != "console.prices_import_check":   # as smsgw.console.error_page
        return render_template("console/error.html", code=413, title="Too large",
                               message=exc.description), 413
    return _import_page(error=f"The file is larger than {_size(_upload_bytes())}, the most"
                              " the console takes (console.max_upload_bytes). Split it, or"
                              " import it with `smsgw import prices`."), 413


def _upload_bytes() -> int:
    return int(services().config["console.max_upload_bytes"])


@bp.get("/prices/import")
def prices_import() -> str:
    """The form: a price file and its country."""
    return _import_page()


def _import_page(**shown: Any) -> str:
    served = list(countries.served(services().config))
    return render_template("console/prices_import.html", title="Import prices",
                           served=served, limit=_size(_upload_bytes()),
                           pending=_pending_count(), **shown)


@bp.post("/prices/import")
def prices_import_check() -> ResponseReturnValue:
    """Check an uploaded file with a dry run and show the CLI's report; keep the file for
    "Import for real" under a token bound to this session."""
    upload = request.files.get("file")   # the CSRF check has read the form: see _too_large
    given = _text(request.form.get("country", "")).upper()
    if upload is None or not upload.filename:
        return _import_page(error="Choose a price file (CSV) to check."), 400
    served = countries.served(services().config)
    if given and given not in served:
        return _import_page(error="Choose a country from the list."), 400
    name = _file_name(upload.filename)
    _forget_upload()
    token, path = _keep(upload, name)
    if path is None:
        return _import_page(error=f"{name} is larger than {_size(_upload_bytes())}, the most"
                                  " the console takes (console.max_upload_bytes)."), 413
    try:
        found = detect(path, services().config, given=given or None)
        report = _import(path, name, found.code, dry_run=True)
    except (ImportFileError, ValueError) as exc:
        _discard(token)
        message = str(exc).replace(str(path), name)
        return _import_page(error=f"{message}. Nothing was imported."), 400
    session[_UPLOAD] = {"token": token, "name": name, "country": found.code,
                        "how": found.how}
    return _import_page(report=_report(report, country_note(found)), name=name,
                        country=found.code, token=token,
                        importable=report.read > report.rejected)


@bp.post("/prices/import/run")
def prices_import_run() -> ResponseReturnValue:
    """Import the file checked before, for real, and audit who imported what."""
    kept = session.get(_UPLOAD) or {}
    token = str(request.form.get("token", ""))
    if not kept or not hmac.compare_digest(str(kept.get("token", "")), token) \
            or not _TOKEN.match(token) or _kept_file(token) is None:
        return _import_page(error="That checked file is no longer waiting (it was imported,"
                                  " or checked too long ago, or in another window). Choose"
                                  " it again."), 400
    path = _kept_file(token)
    assert path is not None
    name, country, who = kept["name"], kept["country"], actor()
    try:
        report = _import(path, name, country, dry_run=False, audited=who)
    except (ImportFileError, ValueError) as exc:
        return _import_page(error=f"{str(exc).replace(str(path), name)}. Nothing was"
                                  " imported."), 400
    finally:
        _forget_upload()
    return _import_page(report=_report(report, None), name=name, country=country,
                        imported=True)


def _import(path: Path, name: str, country: str, *, dry_run: bool,
            audited: dict[str, Any] | None = None) -> ImportReport:
    """Run the import on the write path (a dry run writes its line in the imports log)."""
    config = services().config
    factor = float(config["prices.outlier_factor"])
    today = services().clock().date()

    def work(conn: Any) -> ImportReport:
        report = import_prices(conn, path, country=country, dry_run=dry_run, name=name,
                               outlier_factor=factor, today=today)
        if audited is not None:
            audit(conn, "prices_imported", **audited, file=name, country=country,
                  import_id=report.import_id, read=report.read, inserted=report.inserted,
                  updated=report.updated, unchanged=report.unchanged,
                  rejected=report.rejected, held=report.held, sha256=report.sha256)
        return report

    return write(work)


def _report(report: ImportReport, note: str | None) -> dict[str, Any]:
    """The CLI's report: its lines (the summary first), as the page lists them."""
    lines = report_lines(report)
    return {"summary": lines[0].text, "note": note, "lines": lines[1:],
            "rejected": report.rejected, "held": report.held, "read": report.read,
            "dry_run": report.dry_run}


def _file_name(raw: str) -> str:
    """The uploaded file's own name as the page and the log show it (no folders)."""
    name = _text(raw.replace("\\", "/").rsplit("/", 1)[-1])
    return name[:MAX_TEXT] or "upload.csv"


def _uploads() -> Path:
    """Where checked files wait: beside the database (every worker process sees them)."""
    folder = Path(services().config["database.path"]).resolve().parent / "console-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _keep(upload: FileStorage, name: str) -> tuple[str, Path | None]:
    """Save the upload under a new random token; None for the path when it is too large."""
    _sweep()
    token = secrets.token_urlsafe(24)
    folder = _uploads() / token
    folder.mkdir(mode=0o700)
    # The file keeps its own name (detect() reads HDX's country from it), made safe.
    path = folder / (secure_filename(name) or "upload.csv")
    limit, size = _upload_bytes(), 0
    with open(path, "wb") as out:
        while chunk := upload.stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        _discard(token)
        return token, None
    return token, path


def _kept_file(token: str) -> Path | None:
    if not _TOKEN.match(token):
        return None
    folder = _uploads() / token
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return files[0] if files else None


def _discard(token: str) -> None:
    if _TOKEN.match(token):
        shutil.rmtree(_uploads() / token, ignore_errors=True)


def _forget_upload() -> None:
    """Drop this session's waiting file, if any (a new check replaces it)."""
    kept = session.pop(_UPLOAD, None)
    if kept:
        _discard(str(kept.get("token", "")))


def _sweep() -> None:
    """Remove checked files nobody imported within UPLOAD_KEEP_SECONDS."""
    limit = time.time() - UPLOAD_KEEP_SECONDS
    for folder in _uploads().iterdir():
        try:
            if folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _size(count: int) -> str:
    """50 MB, 900 kB, 512 bytes."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:,.3g} {unit}"
    return f"{count:,} bytes"


# ---------------------------------------------------------------------------- review


@bp.get("/prices/reviews")
def prices_reviews() -> str:
    """Prices waiting for review, oldest first, each with why it waits and where from."""
    conn, config = read(), services().config
    waiting = reviews_db.listed(conn, status=Status.PENDING, limit=REVIEWS_SHOWN)
    factor = float(config["prices.outlier_factor"])
    return render_template("console/prices_reviews.html", title="Prices to review",
                           reviews=[_review(r, factor) for r in waiting],
                           pending=_pending_count(), shown=REVIEWS_SHOWN,
                           max_note=MAX_NOTE)


def _review(review: Review, factor: float) -> dict[str, Any]:
    o = review.observation
    why = []
    for reason in (review.reason or "").split(","):
        if reason == "outlier" and review.median is not None:
            why.append(review_rules.outlier_reason(o.price, review.median, factor))
        elif reason:
            why.append({"unassigned": "the market is not one of the agent's markets",
                        "approval": "the agent's reports need approval",
                        "outlier": "far outside the series' recent prices"}.get(reason, reason))
    if review.origin == "import":
        source = f"file {review.file_name}, line {review.line}"
    else:
        reported = f", reported {review.reported}" if review.reported else ""
        source = (f"market agent {number(review.agent_phone)}, SMS item {review.item}"
                  f"{reported}")
    return {"review": review, "o": o, "day": _day(o.date), "price": _money(o.price),
            "why": why, "source": source, "waiting": _moment(review.created_at, review.country)}


def _moment(stamp: str, country: str) -> str:
    """A stored UTC time in the country's time zone: 23 Nov 2026 12:00."""
    zone = ZoneInfo(countries.get(services().config, country).timezone)
    local: datetime = parse_iso(stamp).astimezone(zone)
    return f"{local.day} {local:%b %Y %H:%M}"


@bp.post("/prices/reviews/<int:review_id>/accept")
def prices_review_accept(review_id: int) -> ResponseReturnValue:
    """Publish a held price (audited with the console user's name)."""
    who = actor()
    return _decide(review_id, "accepted: its price is published",
                   lambda conn: review_rules.accept(conn, review_id, by=who["by"],
                                                    now=who["now"], console_user=who["by"]))


@bp.post("/prices/reviews/<int:review_id>/reject")
def prices_review_reject(review_id: int) -> ResponseReturnValue:
    """Keep a held price out for good, with an optional note (audited)."""
    who = actor()
    note = _text(request.form.get("note", ""))
    if len(note) > MAX_NOTE:
        flash(f"Review {review_id}: the note is {len(note):,} characters long, at most"
              f" {MAX_NOTE}. Nothing was decided.")
        return redirect(url_for("console.prices_reviews"), 303)
    return _decide(review_id, "rejected", lambda conn: review_rules.reject(
        conn, review_id, by=who["by"], now=who["now"], note=note, console_user=who["by"]))


def _decide(review_id: int, done: str,
            decision: Callable[[sqlite3.Connection], Review]) -> ResponseReturnValue:
    try:
        review = write(decision)
    except review_rules.NotPending as exc:
        flash(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    else:
        o = review.observation
        flash(f"Review {review_id} ({review.commodity}, {review.market}, {_day(o.date)}) {done}.")
    return redirect(url_for("console.prices_reviews"), 303)

