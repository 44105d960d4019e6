"""`smsgw ussd`: walk the USSD menu offline, in-process, as a phone would (no provider needed)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import click

from smsgw import config as configuration
from smsgw.cli import main, with_config


def _entries(inputs: tuple[str, ...]) -> Iterator[str]:
    if inputs:
        yield from inputs
        return
    while True:
        click.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            click.echo("")
            return
        yield line.rstrip("\r\n")


@main.command("ussd")
@click.argument("inputs", nargs=-1)
@click.option("--from", "sender", default="0712345678", show_default=True,
              help="The phone number dialling.")
@click.option("--code", "service_code", default="*384*1234#", show_default=True,
              help="The USSD code dialled.")
@with_config
def ussd(config: configuration.Config, inputs: tuple[str, ...], sender: str,
         service_code: str) -> None:
    """Dial the USSD menu in-process: each INPUT is one reply (none: type them, Ctrl-D ends).

    SMS that the menu sends (a confirmation, a price) go to the outbox for the local provider.
    """
    from smsgw import context
    from smsgw.app import create_app
    from smsgw.simulator import NotSimulated, UssdSession

    flask_app = create_app(config)
    logging.getLogger().setLevel(logging.WARNING)  # the screens are the output, not the log
    with flask_app.app_context():
        try:
            session = UssdSession(context.services(), context.connection(), sender,
                                  service_code)
        except NotSimulated as exc:
            raise click.BadParameter(str(exc), param_hint="--from") from None

        def show(entry: str | None) -> bool:
            answer = session.hop(entry)
            click.echo(("END " if answer.end else "CON ") + answer.text)
            return answer.end

        if show(None):
            return
        for entry in _entries(inputs):
            if show(entry):
                return
