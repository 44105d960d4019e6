"""`smsgw contacts forget` and `smsgw prune`: forgetting a person, and message retention.

Thin click commands over db.privacy. Nothing here prints a whole phone number: numbers are
masked as in the logs.
"""

from __future__ import annotations

from datetime import timedelta

import click

from db import privacy
from db.timeutil import utcnow
from smsgw import config as configuration
from smsgw.cli.common import database, with_config
from smsgw.phone import InvalidNumber, mask, to_e164

EXIT_UNKNOWN = 1

# How each count of db.privacy.Erased reads, in the order shown.
_ERASED = (
    ("inbound", "messages they sent (texts emptied, rows kept for counts)"),
    ("outbox", "messages to them (texts emptied, number removed)"),
    ("cancelled", "of those not sent yet (cancelled, never sent)"),
    ("caused", "messages their messages sent to others (texts emptied)"),
    ("subscriptions", "subscriptions (deleted)"),
    ("memberships", "group memberships (deleted)"),
    ("roles", "buyer or admin roles (deleted)"),
    ("confirmations", "requests waiting for their YES (deleted)"),
    ("broadcasts", "their group broadcasts (texts emptied)"),
    ("ussd_sessions", "USSD sessions (deleted)"),
    ("ussd_events", "USSD session ends (deleted)"),
    ("mentions", "other rows naming the number (number replaced)"),
    ("pledges_kept", "pledges kept as anonymous quantities (order totals stay right)"),
)

_PRUNED = (
    ("inbound", "texts of received messages emptied"),
    ("outbox", "texts of sent or failed messages emptied"),
    ("broadcasts", "texts of broadcasts emptied"),
    ("audit", "texts quoted in the audit trail emptied"),
    ("ussd_events", "USSD session ends emptied"),
    ("ussd_hops", "USSD screens deleted"),
    ("ussd_sessions", "USSD sessions deleted"),
    ("status_events", "delivery reports deleted"),
)


@click.group("contacts")
def contacts_group() -> None:
    """The people who text the service."""


@contacts_group.command("forget")
@click.argument("phone")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_config
def contacts_forget(config: configuration.Config, phone: str, yes: bool) -> None:
    """Forget the person with number PHONE: their number, messages, subscriptions and
    memberships are removed; counts and the fact of the deletion are kept. Cannot be undone.
    """
    try:
        number = to_e164(phone, str(config["app.default_region"]))
    except InvalidNumber:
        raise click.BadParameter(f"{mask(phone.strip())} is not a phone number",
                                 param_hint="PHONE") from None
    shown = mask(number)
    with database(config) as conn:
        contact_id = privacy.find_for_forget(conn, number)
        if contact_id is None:
            click.echo(f"No contact has the number {shown} (never seen, or already forgotten);"
                       " nothing was changed.", err=True)
            click.get_current_context().exit(EXIT_UNKNOWN)
        if not yes:
            planned = privacy.preview(conn, contact_id, now=utcnow())
            click.echo(f"Forgetting {shown} (contact {contact_id}) will change:")
            _print_counts(planned.counts(), _ERASED)
            click.confirm(f"Forget {shown}? This cannot be undone", abort=True)
        erased = privacy.forget_contact(conn, contact_id, now=utcnow())
    if erased.already:
        click.echo(f"Contact {contact_id} was already forgotten; nothing changed.")
        return
    click.echo(f"Forgot {shown}: it is now contact {contact_id}, with no number.")
    _print_counts(erased.counts(), _ERASED)


@click.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep the texts of the last N days (default: retention.message_days).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@with_config
def prune(config: configuration.Config, days: int | None, dry_run: bool) -> None:
    """Empty message texts older than the retention period; every row and count is kept.

    The worker runs this on `retention.prune_schedule`; this is for cron or by hand.
    """
    days = days or int(config["retention.message_days"])
    if days <= 0:
        click.echo("retention.message_days is 0: message texts are kept forever;"
                   " nothing pruned (give --days N to prune anyway).")
        return
    before = utcnow() - timedelta(days=days)
    with database(config) as conn:
        pruned = privacy.prune(conn, before=before, dry_run=dry_run)
    click.echo(f"{'Would prune' if dry_run else 'Pruned'} what is older than {days} days"
               f" (before {before:%Y-%m-%d %H:%M} UTC):")
    _print_counts(pruned.as_dict(), _PRUNED)
    if dry_run:
        click.echo("Dry run: nothing was changed.")


def _print_counts(counts: dict[str, int], labels: tuple[tuple[str, str], ...]) -> None:
    for key, label in labels:
        click.echo(f"  {counts.get(key, 0):>8}  {label}")
