"""`smsgw backup` and `smsgw restore`: a copy of the live database, and putting one back."""

from __future__ import annotations

import os
from pathlib import Path

import click

from db import backup as backups
from smsgw import config as configuration
from smsgw.cli.common import with_config


def _show(snapshot: backups.Snapshot) -> str:
    return (f"{snapshot.path}: schema {snapshot.schema}, {snapshot.contacts} contacts,"
            f" {snapshot.inbound} messages in, {snapshot.outbox} out,"
            f" {snapshot.size_bytes / 1e6:.1f} MB")


@click.command("backup")
@click.argument("destination", type=click.Path())
@click.option("--keep", type=int, default=0,
              help="With a folder: keep only the newest KEEP backups there (0: keep all).")
@with_config
def backup(config: configuration.Config, destination: str, keep: int) -> None:
    """Copy the live database to DESTINATION (a file, or a folder, ending in / or already
    there, for a dated name), consistently, while the service runs; the copy is checked
    before it is kept."""
    target = Path(destination)
    if destination.endswith(("/", os.sep)):
        target.mkdir(parents=True, exist_ok=True)   # a new folder, named as one
    try:
        snapshot = backups.backup(config["database.path"], target)
    except backups.BadBackup as exc:
        raise click.ClickException(f"the copy failed its check, nothing kept: {exc}") from None
    click.echo(f"backed up to {_show(snapshot)}")
    if keep and target.is_dir():
        for old in backups.rotate(target, keep):
            click.echo(f"removed the old backup {old.name}")


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Restore even though the database looks open (only after a crash).")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@with_config
def restore(config: configuration.Config, source: Path, force: bool, yes: bool) -> None:
    """Check the backup SOURCE, then put it in place of the database. Stop smsgw first."""
    try:
        found = backups.check(source)
    except backups.BadBackup as exc:
        raise click.ClickException(f"not restored: {exc}") from None
    click.echo(f"backup {_show(found)}")
    if not yes:
        click.confirm(f"Replace {config['database.path']} with it?", abort=True)
    try:
        restored = backups.restore(source, config["database.path"], force=force)
    except (backups.BadBackup, backups.DatabaseInUse) as exc:
        raise click.ClickException(f"not restored: {exc}") from None
    click.echo(f"restored {_show(restored)}")
