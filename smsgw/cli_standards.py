"""`smsgw import standards`: a thin shell over prices.standards.import_standards.

`smsgw init` loads no standards; the demo (Makefile) imports prices/data/standards.toml.
"""

from __future__ import annotations

import click

import db
from smsgw import config as configuration
from smsgw.cli import import_group, with_config

EXIT_INVALID = 2


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

    conn = db.connect(config["database.path"])
    try:
        db.migrate(conn)
        report = import_standards(conn, file, dry_run=dry_run)
    except InvalidStandardsFile as exc:
        click.echo(f"{file}: invalid, nothing was imported:", err=True)
        for error in exc.errors:
            click.echo(f"  - {error}", err=True)
        click.get_current_context().exit(EXIT_INVALID)
    finally:
        conn.close()
    click.echo(report.summary())
