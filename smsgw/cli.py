"""The `smsgw` command: a thin click shell over the library (each command a few lines)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

import db
from db import outbox
from smsgw import config as configuration
from smsgw.logsafe import mask_phones

CONFIG_HELP = "Config file (default: $SMSGW_CONFIG, else ./config.toml, else built-in defaults)."


class ConfigProblem(click.ClickException):
    """The configuration cannot be used: exit 2, like any run that changed nothing."""

    exit_code = 2


def with_config(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command `--config PATH` and hand it the loaded, validated configuration."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                  help=CONFIG_HELP)
    @wraps(command)
    def wrapper(*args: Any, config_path: str | None, **kwargs: Any) -> Any:
        try:
            config = configuration.load(config_path)
        except configuration.ConfigError as exc:
            raise ConfigProblem(f"configuration: {exc}") from None
        return command(config, *args, **kwargs)

    return wrapper


# Numbers are masked in what the command line prints, as in the logs: output ends up in
# terminals, cron mails and bug reports. An admin who needs them asks with --show-numbers.
show_numbers = click.option("--show-numbers", is_flag=True,
                            help="Print phone numbers in full (masked by default).")


def shown(number: str, config: configuration.Config, reveal: bool = False) -> str:
    """A phone number as the command line prints it: masked unless asked to reveal."""
    from handlers.phone import display_phone, mask

    return display_phone(number, config) if reveal else mask(number)


@click.group()
@click.version_option(package_name="smsgw")
def main() -> None:
    """Market prices, standards and buyer orders by SMS and USSD."""


@main.command()
@with_config
def init(config: configuration.Config) -> None:
    """Create the database or bring its schema up to date (never drops data)."""
    from smsgw.app import init_database

    applied = init_database(config)
    conn = db.connect(config["database.path"])
    version = db.schema_version(conn)
    conn.close()
    done = f"applied {', '.join(applied)}" if applied else "already up to date"
    click.echo(f"database {config['database.path']}: schema {version}, {done}")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: server.port).")
@with_config
def serve(config: configuration.Config, host: str | None, port: int | None) -> None:
    """Run the web server (gunicorn) that answers provider webhooks."""
    from smsgw.server import run_server

    run_server(config, host=host, port=port)


@main.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit (for cron).")
@with_config
def worker(config: configuration.Config, once: bool) -> None:
    """Run the outbox worker: send queued messages with rate limits and retries."""
    from smsgw import logsafe
    from smsgw import worker as outbox_worker

    logsafe.setup(config["logging.level"], config.secrets())
    if once:
        conn = db.connect(config["database.path"])
        db.migrate(conn)
        runner = outbox_worker.Worker(config, outbox_worker.build_senders(config))
        while runner.run_once(conn):
            pass
        click.echo(json.dumps(runner.totals.as_dict()))
        return
    outbox_worker.serve(config)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: server.port).")
@with_config
def run(config: configuration.Config, host: str | None, port: int | None) -> None:
    """Create the database, then run the outbox worker and the web server together."""
    from smsgw.app import init_database
    from smsgw.server import run_server

    init_database(config)
    args = [sys.executable, "-m", "smsgw", "worker"]
    if config.source != "built-in defaults":
        args += ["--config", config.source]
    worker_process = subprocess.Popen(args)
    try:
        run_server(config, host=host, port=port)
    finally:
        worker_process.terminate()
        worker_process.wait(timeout=30)


@main.command()
@click.argument("text")
@click.option("--from", "sender", default="0712345678", show_default=True,
              help="The phone number the message comes from.")
@click.option("--json", "as_json", is_flag=True, help="Print the webhook's JSON answer.")
@with_config
def sim(config: configuration.Config, text: str, sender: str, as_json: bool) -> None:
    """Send TEXT in-process as a simulated contact and print the replies.

    Everything the message causes goes to the local provider, never to a paying one.
    """
    from smsgw import context
    from smsgw.app import create_app
    from smsgw.simulator import NotSimulated, send_sms

    flask_app = create_app(config)
    logging.getLogger().setLevel(logging.WARNING)  # the reply is the output, not the log
    with flask_app.app_context():
        try:
            received = send_sms(context.services(), context.connection(), sender, text)
        except NotSimulated as exc:
            raise click.ClickException(str(exc)) from None
    replies = [{"id": r.id, "to": r.to_number, "text": r.text, "segments": r.segments,
                "encoding": r.encoding} for r in received.replies]
    if as_json:
        click.echo(json.dumps({"duplicate": received.duplicate, "replies": replies},
                              ensure_ascii=False, indent=2))
        return
    for reply in replies:
        click.echo(reply["text"])
    if not replies:
        click.echo("(no reply)")


@main.group("outbox")
def outbox_group() -> None:
    """Look at outbound messages."""


@outbox_group.command("list")
@click.option("--status", default=None, help="Only messages in this status (queued, sent, ...).")
@click.option("--limit", type=int, default=50, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array of objects).")
@show_numbers
@with_config
def outbox_list(config: configuration.Config, status: str | None, limit: int,
                as_json: bool, show_numbers: bool) -> None:
    """List outbox messages, newest first."""
    conn = db.connect(config["database.path"])
    db.migrate(conn)
    rows = outbox.list_rows(conn, status=status, limit=limit)
    conn.close()
    for row in rows if not show_numbers else ():
        row["to"] = shown(row["to"], config)
        row["text"] = mask_phones(row["text"])   # a text may name someone (APPROVE, joins)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']:>6} {row['status']:<11} {row['provider']:<14} {row['to']:<16}"
                   f" {row['segments']}x{row['encoding']:<6} {row['text'][:60]}")
    click.echo(f"{len(rows)} message(s)")


@main.command("config")
@with_config
def show_config(config: configuration.Config) -> None:
    """Check the configuration and print it, secrets masked."""
    click.echo(f"# from {config.source}")
    for key, value in config.redacted().items():
        click.echo(f"{key} = {json.dumps(value)}")


@main.group("import")
def import_group() -> None:
    """Load prices or standards from files (for admins and cron jobs)."""


@import_group.command("aliases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_config
def import_aliases(config: configuration.Config, file: str) -> None:
    """Add names for commodities and markets from a CSV: kind,alias,language,target.

    kind is commodity or market; target is the name as imported (e.g. "Maize (white)"),
    or a commodity's base name ("Maize") for all its kinds. Existing names are kept.
    """
    from prices.catalog import load_aliases

    conn = db.connect(config["database.path"])
    db.migrate(conn)
    try:
        with db.transaction(conn):
            added = load_aliases(conn, file, source="admin")
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    finally:
        conn.close()
    click.echo(f"{added} new alias(es) from {file}")


# Command modules register themselves on the groups above when imported.
from smsgw import (  # noqa: F401
    cli_bulletins,
    cli_contacts,
    cli_groups,
    cli_prices,
    cli_standards,
    cli_ussd,
)
from smsgw.providers import PROVIDERS  # noqa: E402

for _provider in PROVIDERS:   # a provider's own admin commands (smsgw android check)
    if _provider.cli is not None:
        main.add_command(_provider.cli)

if __name__ == "__main__":
    main()
