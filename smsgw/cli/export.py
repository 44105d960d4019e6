"""`smsgw export TABLE`: a table for a spreadsheet, as CSV or JSON, numbers masked.

A thin shell over db.export (sqlite-utils reads the rows one at a time); this writes them
as they come, so exporting a large outbox takes no more memory than a small one.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from db import export as exports
from db.privacy import PLACEHOLDER
from smsgw import config as configuration
from smsgw.cli.common import database, show_numbers, shown, with_config
from smsgw.logsafe import mask_phones

Row = dict[str, Any]
FORGOTTEN = PLACEHOLDER.split("{")[0]   # a forgotten contact's phone: no number to mask
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # what spreadsheets read as a formula
PHONE_NUMBER = re.compile(r"\+[0-9*]+")               # E.164, or masked: no formula


@click.command("export", help=(
    "Write TABLE as CSV or JSON, phone numbers masked unless --show-numbers.\n\n"
    f"TABLE is one of: {', '.join(exports.EXPORTABLE)}."))
@click.argument("table", metavar="TABLE", type=click.Choice(list(exports.EXPORTABLE)))
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="CSV with a header row, or a JSON array of objects.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file, readable by its owner only (default: print).")
@show_numbers
@with_config
def export(config: configuration.Config, table: str, form: str, output: str | None,
           show_numbers: bool) -> None:
    """A table for a spreadsheet (its help, with the tables, is built above)."""
    mask = (lambda row: row) if show_numbers else _masking(exports.EXPORTABLE[table], config)
    with database(config) as conn, _opened(output) as out:
        found = map(mask, exports.rows(conn, table))
        if form == "csv":
            _write_csv(out, exports.columns(conn, table), found)
        else:
            _write_json(out, found)


def _masking(numbers: tuple[str, ...], config: configuration.Config) -> Callable[[Row], Row]:
    """Mask a row as every listing does: its number columns by `shown`, and any number
    inside every other text (a farmer's SMS, an id a provider sent, an error)."""

    def masked(row: Row) -> Row:
        for column, value in row.items():
            if not isinstance(value, str) or not value:
                continue
            if column not in numbers:
                row[column] = mask_phones(value)
            # "local" (the local provider's recipient) and a forgotten contact's placeholder
            # are no numbers; anything with a digit is masked, short codes included.
            elif any(ch.isdigit() for ch in value) and not value.startswith(FORGOTTEN):
                row[column] = shown(value, config)
        return row

    return masked


@contextmanager
def _opened(output: str | None) -> Iterator[IO[str]]:
    """The file to write (created 0600: it holds people's data), or standard output."""
    if output is None:
        yield sys.stdout
        return
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8", newline="") as handle:
        yield handle


def _write_csv(out: IO[str], header: list[str], found: Iterator[Row]) -> None:
    writer = csv.writer(out)
    writer.writerow(header)
    for row in found:
        writer.writerow(_inert(row[column]) for column in header)


def _inert(value: Any) -> Any:
    """A text a spreadsheet would run as a formula, with a leading ' (a phone number stays)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) \
            and not PHONE_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _write_json(out: IO[str], found: Iterator[Row]) -> None:
    """A JSON array written one object per line, as the rows come."""
    separator = "\n"
    out.write("[")
    for row in found:
        out.write(separator + json.dumps(row, ensure_ascii=False))
        separator = ",\n"
    out.write("]\n" if separator == "\n" else "\n]\n")
