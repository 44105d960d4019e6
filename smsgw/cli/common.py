"""What every `smsgw` command shares: the configuration, the database, and masked numbers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click

import db
from smsgw import config as configuration

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


def configured(command: click.Command) -> click.Command:
    """A provider's own command given `--config PATH` and its loaded configuration as its
    first argument, as with_config does for ours: a provider module then never imports
    smsgw.config (which imports the providers: a cycle)."""
    callback = command.callback

    @wraps(callback)  # type: ignore[arg-type]
    def run(*args: Any, config_path: str | None = None, **kwargs: Any) -> Any:
        try:
            config = configuration.load(config_path)
        except configuration.ConfigError as exc:
            raise ConfigProblem(f"configuration: {exc}") from None
        return callback(config, *args, **kwargs)  # type: ignore[misc]

    command.callback = run
    command.params.append(click.Option(["--config", "config_path"], default=None,
                                       type=click.Path(dir_okay=False), help=CONFIG_HELP))
    return command


@contextmanager
def database(config: configuration.Config) -> Iterator[sqlite3.Connection]:
    """The configured database, brought up to the current schema, closed when done.

    Every command opens it through here: a command run against an old file migrates it
    first, as `smsgw init` would, and no command leaves a connection open.
    """
    conn = db.connect(config["database.path"])
    try:
        db.migrate(conn)
        yield conn
    finally:
        conn.close()


# Numbers are masked in what the command line prints, as in the logs: output ends up in
# terminals, cron mails and bug reports. An admin who needs them asks with --show-numbers.
show_numbers = click.option("--show-numbers", is_flag=True,
                            help="Print phone numbers in full (masked by default).")


def shown(number: str, config: configuration.Config, reveal: bool = False) -> str:
    """A phone number as the command line prints it: masked unless asked to reveal."""
    from handlers.phone import display_phone, mask

    return display_phone(number, config) if reveal else mask(number)


def phone_argument(config: configuration.Config, raw: str) -> str:
    """A PHONE argument in E.164, or a click error naming it."""
    from handlers.phone import parse_phone

    number = parse_phone(raw, config)
    if number is None:
        raise click.BadParameter(f"{raw!r} is not a phone number", param_hint="PHONE")
    return number
