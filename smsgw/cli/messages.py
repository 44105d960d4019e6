"""`smsgw sim | ussd | outbox`: talk to the service in-process as a phone would, and look at
what it sends (no provider needed)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import click

from db import outbox
from smsgw import config as configuration
from smsgw.cli.common import database, show_numbers, shown, with_config
from smsgw.logsafe import mask_phones


@click.command("sim")
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


@click.command("ussd")
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


@click.group("outbox")
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
    with database(config) as conn:
        rows = outbox.list_rows(conn, status=status, limit=limit)
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
