"""`smsgw import prices | standards | aliases`: thin shells over prices.importer,
prices.standards and prices.catalog (load, show progress, summarise).

`smsgw init` loads no standards; the demo (Makefile) imports prices/data/standards.toml.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn
from contextlib import contextmanager
from pathlib import Path

import click

import db
from db.migrations import MigrationError
from prices.import_country import detect
from prices.import_report import SHOWN, LineKind, country_note, report_lines
from prices.importer import ImportFileError, ImportReport, import_prices
from smsgw import config as configuration
from smsgw.cli.common import database, with_config

SHOWN_ERRORS = SHOWN
EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2
EXIT_INVALID = 2


@click.group("import")
def import_group() -> None:
    """Load prices or standards from files (for admins and cron jobs)."""


@import_group.command("prices")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--country", default=None, metavar="CC",
              help="Country of the markets, ISO 2 letters (default: from the file's name as"
                   " HDX gives it, else its countryiso3 column, else the only country served).")
@click.option("--dry-run", is_flag=True, help="Check and count everything, save nothing.")
@click.option("--source", default=None,
              help="Source recorded for rows naming none (default: 'WFP via HDX' for WFP "
                   "files, else the file name).")
@with_config
def import_prices_command(config: configuration.Config, file: Path, country: str | None,
                          dry_run: bool, source: str | None) -> None:
    """Load market prices from FILE, a WFP/HDX food-price CSV or our template.

    The format is told from the header (see docs/import-format.md). The good rows of a
    file are saved together in one transaction; bad rows are listed with line numbers.
    A row dated after tomorrow is rejected; a price far outside its series' recent range
    is held for review (`smsgw prices review`) instead of being published.

    \b
    Exit codes (for cron):
      0  every row was good and is saved
      1  some rows were rejected or held for review; all the good rows are saved
      2  the file could not be imported at all; nothing changed
    """
    try:
        found = detect(file, config, given=country)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--country") from None  # exits 2
    except ImportFileError as exc:
        _failed(exc)
    try:
        with database(config) as conn, _progress_bar(file) as progress:
            report = import_prices(conn, file, country=found.code, dry_run=dry_run,
                                   source=source, progress=progress,
                                   outlier_factor=float(config["prices.outlier_factor"]))
    except (ImportFileError, sqlite3.Error, MigrationError) as exc:
        _failed(exc)
    note = country_note(found)
    if note:
        click.echo(note, err=True)
    _print_report(report)
    sys.exit(EXIT_REJECTED if report.rejected or report.held else EXIT_OK)


def _failed(exc: Exception) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    click.echo("nothing was imported", err=True)
    sys.exit(EXIT_FAILED)


@contextmanager
def _progress_bar(file: Path) -> Iterator[Callable[[int], None] | None]:
    """A bar over the bytes read when stderr is a terminal; no callback otherwise."""
    try:
        size = os.path.getsize(file)
    except OSError:
        size = 0
    if not size or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=size, label="importing", file=sys.stderr) as bar:
        yield lambda done: bar.update(done - bar.pos)


def _print_report(report: ImportReport) -> None:
    """The summary line on stdout; the first bad rows on stderr (prices.import_report)."""
    for line in report_lines(report, shown=SHOWN_ERRORS):
        click.echo(line.text, err=line.kind != LineKind.SUMMARY)


@import_group.command("standards")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report, but write nothing.")
@with_config
def import_standards_command(config: configuration.Config, file: str, dry_run: bool) -> None:
    """Add the product standards in FILE (TOML, see docs/standards-format.md).

    Versions already imported are kept as they are; a file with any error changes nothing
    and exits with status 2.
    """
    from prices.standards import InvalidStandardsFile, import_standards

    try:
        with database(config) as conn:
            report = import_standards(conn, file, dry_run=dry_run)
    except InvalidStandardsFile as exc:
        click.echo(f"{file}: invalid, nothing was imported:", err=True)
        for error in exc.errors:
            click.echo(f"  - {error}", err=True)
        click.get_current_context().exit(EXIT_INVALID)
    click.echo(report.summary())


@import_group.command("aliases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_config
def import_aliases(config: configuration.Config, file: str) -> None:
    """Add names for commodities and markets from a CSV: kind,alias,language,target.

    kind is commodity or market; target is the name as imported (e.g. "Maize (white)"),
    or a commodity's base name ("Maize") for all its kinds. Existing names are kept.
    """
    from prices.catalog import load_aliases

    try:
        with database(config) as conn, db.transaction(conn):
            added = load_aliases(conn, file, source="admin")
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    click.echo(f"{added} new alias(es) from {file}")
