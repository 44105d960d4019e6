"""`smsgw init | serve | worker | run | config`: set the service up and run it."""

from __future__ import annotations

import json
import subprocess
import sys

import click

import db
from smsgw import config as configuration
from smsgw.cli.common import database, with_config


@click.command("init")
@with_config
def init(config: configuration.Config) -> None:
    """Create the database or bring its schema up to date (never drops data)."""
    from smsgw.app import init_database

    applied = init_database(config)
    with database(config) as conn:
        version = db.schema_version(conn)
    done = f"applied {', '.join(applied)}" if applied else "already up to date"
    click.echo(f"database {config['database.path']}: schema {version}, {done}")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: server.port).")
@with_config
def serve(config: configuration.Config, host: str | None, port: int | None) -> None:
    """Run the web server (gunicorn) that answers provider webhooks."""
    from smsgw.server import run_server

    run_server(config, host=host, port=port)


@click.command("worker")
@click.option("--once", is_flag=True,
              help="Collect what polled providers received, send what is due, then exit"
                   " (for cron).")
@with_config
def worker(config: configuration.Config, once: bool) -> None:
    """Run the outbox worker: send queued messages with rate limits and retries."""
    from smsgw import logsafe
    from smsgw import worker as outbox_worker

    logsafe.setup(config["logging.level"], config.secrets())
    if once:
        with database(config) as conn:
            runner = outbox_worker.Worker(config, outbox_worker.build_senders(config))
            runner.collect(conn)   # a modem's spool: its replies go out in this same run
            while runner.run_once(conn):
                pass
        click.echo(json.dumps(runner.totals.as_dict()))
        return
    outbox_worker.serve(config)


@click.command("run")
@click.option("--host", default=None, help="Address to listen on (default: server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: server.port).")
@with_config
def run(config: configuration.Config, host: str | None, port: int | None) -> None:
    """Create the database, then run the outbox worker and the web server together."""
    from smsgw.app import init_database
    from smsgw.server import run_server

    init_database(config)
    _console_hint(config, host, port)
    args = [sys.executable, "-m", "smsgw", "worker"]
    if config.source != "built-in defaults":
        args += ["--config", config.source]
    worker_process = subprocess.Popen(args)
    try:
        run_server(config, host=host, port=port)
    finally:
        worker_process.terminate()
        worker_process.wait(timeout=30)


def _console_hint(config: configuration.Config, host: str | None, port: int | None) -> None:
    """Say where the web console is, and how to make its first admin when there is none."""
    from db import users

    with database(config) as conn:
        none_yet = users.count(conn) == 0
    where = f"http://{host or config['server.host']}:{port or config['server.port']}/console"
    click.echo(f"web console: {where}", err=True)
    if none_yet:
        click.echo("  no console users yet: create the first admin with"
                   " `.venv/bin/smsgw users add admin --role admin`", err=True)


@click.command("config")
@with_config
def show_config(config: configuration.Config) -> None:
    """Check the configuration and print it, secrets masked."""
    click.echo(f"# from {config.source}")
    for key, value in config.redacted().items():
        click.echo(f"{key} = {json.dumps(value)}")
