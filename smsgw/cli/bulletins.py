"""`smsgw bulletins send | runs`: bulletin runs from cron, and what past runs did.

A thin shell over smsgw.bulletins. `send` is safe to repeat: each bulletin has a run key
(one price bulletin per day, one notice per new standard version) and the run ledger
queues nobody twice, also when two runs overlap or one stopped half way.
"""

from __future__ import annotations

import sys
from datetime import date

import click

from db import bulletins as ledger
from smsgw import config as configuration
from smsgw.cli.common import database, with_config


@click.group("bulletins")
def bulletins_group() -> None:
    """Send price bulletins and standards notices to subscribers; list past runs."""

@bulletins_group.command("send")
@click.option("--dry-run", is_flag=True,
              help="Count messages, segments and cost; queue nothing.")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD",
              help="The bulletin's date (default: today in app.timezone). One per day.")
@click.option("--kind", type=click.Choice(["all", "prices", "standards"]), default="all",
              show_default=True, help="Price bulletin, standards notices, or both.")
@with_config
def send(config: configuration.Config, dry_run: bool, day: str | None, kind: str) -> None:
    """Queue today's bulletin for every subscriber (the worker then sends it).

    Exit status: 0 when done (also when it had already been sent), 2 on bad options.
    """
    from smsgw import bulletins

    chosen = _parse_day(day)
    with database(config) as conn:
        reports = bulletins.send(conn, config, day=chosen, kind=kind, dry_run=dry_run,
                                 meter=_progress)
    for report in reports:
        click.echo(report.summary())
        if dry_run and not report.already_done:
            click.echo(f"  estimated cost: {bulletins.cost_text(config, report.segments)}")
    if not reports:
        click.echo("nothing to send: no standard has changed")

def _parse_day(day: str | None) -> date | None:
    if day is None:
        return None
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date of the form YYYY-MM-DD",
                                 param_hint="--date") from None

class _progress:
    """A progress bar on a terminal; nothing (the log has the counts) when piped or cron."""

    def __init__(self, total: int, label: str) -> None:
        self.bar = click.progressbar(length=total, label=label, file=sys.stderr) \
            if sys.stderr.isatty() and total else None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if self.bar is None:
            return None
        self.bar.__enter__()
        return self.bar.update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

@bulletins_group.command("runs")
@click.option("--limit", type=int, default=20, show_default=True, help="How many, newest first.")
@with_config
def runs(config: configuration.Config, limit: int) -> None:
    """List bulletin runs with what they queued and how their messages stand now."""
    with database(config) as conn:
        found = ledger.recent(conn, limit)
        for run in found:
            now = ledger.outcome(conn, run.id)
            state = "done" if run.finished_at else "UNFINISHED (run send again to finish)"
            sent = sum(now.get(s, 0) for s in ("sent", "delivered", "undelivered"))
            click.echo(
                f"{run.run_key:<32} {state:<8} {run.trigger:<9} started {run.started_at[:16]}:"
                f" {run.queued} queued, {run.messages} msgs, {run.segments} segments,"
                f" {run.opted_out} opted out | now {sent} sent,"
                f" {now.get('failed', 0)} failed, {now.get('suppressed', 0)} suppressed,"
                f" {now.get('queued', 0) + now.get('sending', 0)} waiting")
        click.echo(f"{len(found)} run(s)")
