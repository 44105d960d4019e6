"""`smsgw import prices`: a thin shell over prices.importer (load, show progress, summarise)."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

import db
from db.migrations import MigrationError
from prices.importer import ImportFileError, ImportReport, import_prices, normalise_country
from smsgw import config as configuration
from smsgw.cli import import_group, with_config

SHOWN_ERRORS = 20
EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2


@import_group.command("prices")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--country", default=None, metavar="CC",
              help="Country of the markets, ISO 2 letters (default: app.default_region).")
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

    \b
    Exit codes (for cron):
      0  every row was good and is saved
      1  some rows were rejected; all the good rows are saved
      2  the file could not be imported at all; nothing changed
    """
    try:
        region = normalise_country(country or config["app.default_region"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--country") from None  # exits 2
    conn = db.connect(config["database.path"])
    try:
        db.migrate(conn)
        with _progress_bar(file) as progress:
            report = import_prices(conn, file, country=region, dry_run=dry_run,
                                   source=source, progress=progress)
    except (ImportFileError, sqlite3.Error, MigrationError) as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("nothing was imported", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        conn.close()
    _print_report(report)
    sys.exit(EXIT_REJECTED if report.rejected else EXIT_OK)


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
    """The summary line on stdout; the first bad rows on stderr."""
    suffix = " (dry run: nothing saved)" if report.dry_run else ""
    click.echo(report.summary() + suffix)
    for error in report.errors[:SHOWN_ERRORS]:
        click.echo(f"line {error.line}: {error.reason}", err=True)
    more = report.rejected - min(len(report.errors), SHOWN_ERRORS)
    if more > 0:
        click.echo(f"... and {more} more rejected row(s)", err=True)
