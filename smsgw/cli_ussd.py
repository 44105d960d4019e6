"""`smsgw ussd`: walk the USSD menu offline, in-process, as a phone would (no provider needed)."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator

import click

from handlers.messages import UssdRequest
from smsgw import config as configuration
from smsgw.cli import main, with_config
from smsgw.phone import InvalidNumber, to_e164


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
    from smsgw import app as application

    try:
        phone = to_e164(sender, config["app.default_region"])
    except InvalidNumber as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    flask_app = application.create_app(config)
    logging.getLogger().setLevel(logging.WARNING)  # the screens are the output, not the log
    session_id, typed = f"sim-{uuid.uuid4()}", []
    with flask_app.app_context():
        services, conn = application.services(), application.connection()

        def show(text: str) -> bool:
            hop = UssdRequest("local", session_id, phone, service_code, "", text,
                              services.clock())
            answer = services.ussd.answer(conn, hop, reply_provider="local")
            click.echo(("END " if answer.end else "CON ") + answer.text)
            return answer.end

        if show(""):
            return
        for entry in _entries(inputs):
            typed.append(entry)
            if show("*".join(typed)):
                return
