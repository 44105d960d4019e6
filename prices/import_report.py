"""What an admin is told after a price import, as lines: the same words on the command line
(`smsgw import prices`) and in the web console's import page.

The first line is the summary (the CLI prints it on stdout, the rest on stderr); then the
first SHOWN rejected rows by line number, the first SHOWN held rows, and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prices.import_country import FileCountry
from prices.importer import ImportReport

SHOWN = 20   # rejected rows (and held rows) listed one by one; the rest are counted


class LineKind(StrEnum):
    SUMMARY = "summary"
    REJECTED = "rejected"
    HELD = "held"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One line of the report and what it is about (a page styles a rejected row)."""

    kind: LineKind
    text: str
    line: int | None = None   # the file's line it names, if any


def country_note(found: FileCountry) -> str | None:
    """How the file's country was found, when the admin did not give it."""
    if found.how == "--country":
        return None
    return f"country: {found.code} (from {found.how})"


def report_lines(report: ImportReport, *, shown: int = SHOWN) -> list[ReportLine]:
    """The summary, then the first rejected and held rows by line, then what is left."""
    suffix = " (dry run: nothing saved)" if report.dry_run else ""
    lines = [ReportLine(LineKind.SUMMARY, report.summary() + suffix)]
    for error in report.errors[:shown]:
        lines.append(ReportLine(LineKind.REJECTED, f"line {error.line}: {error.reason}",
                                error.line))
    more = report.rejected - min(len(report.errors), shown)
    if more > 0:
        lines.append(ReportLine(LineKind.REJECTED, f"... and {more} more rejected row(s)"))
    held = "would be held" if report.dry_run else "held for review"
    for row in report.held_rows[:shown]:
        number = "" if report.dry_run else f" {row.review_id}"
        lines.append(ReportLine(LineKind.HELD, f"line {row.line}: {held}{number}: {row.reason}",
                                row.line))
    more = report.held - min(len(report.held_rows), shown)
    if more > 0:
        lines.append(ReportLine(LineKind.HELD, f"... and {more} more held row(s)"))
    if report.held and not report.dry_run:
        lines.append(ReportLine(LineKind.NOTE, "see them with `smsgw prices review`"))
    return lines
