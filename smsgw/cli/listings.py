"""`smsgw listings` and `smsgw buyers want`: produce sales and what buyers follow, for admins.

Thin click commands over db.listings, handlers.wants and smsgw.bulletins.listing_tick;
docs/selling.md tells the story.
"""

from __future__ import annotations

import json

import click

import db
from db import contacts
from db import groups as groups_db
from db import listings as listings_db
from db import pledges as pledges_db
from db.timeutil import utcnow
from handlers.messages import Context
from prices.catalog import catalog_for
from prices.producers import canonical_product
from smsgw import config as configuration
from smsgw.cli.common import database, phone_argument, show_numbers, shown, with_config


@click.group("listings")
def listings_group() -> None:
    """Produce for sale (SELL): list, show, and the periodic tick."""


@listings_group.command("list")
@click.option("--status", type=click.Choice(["open", "sold", "withdrawn", "expired"]),
              default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@with_config
def listings_list(config: configuration.Config, status: str | None, limit: int) -> None:
    """Sales, newest first, with what is left and their open bids."""
    with database(config) as conn:
        found = listings_db.listed(conn, status=status, limit=limit)
        for sale in found:
            group = groups_db.by_id(conn, sale.group_id).code if sale.group_id else "-"
            click.echo(f"{sale.code}  {sale.status:<9} {sale.quantity:g} of {sale.offered:g}"
                       f" {sale.unit} {sale.product.lower()}  group {group}"
                       f"  until {sale.expires_on}"
                       f"  bids {len(listings_db.open_bids(conn, sale.id))}")
    click.echo(f"{len(found)} sale(s)")


@listings_group.command("show")
@click.argument("code")
@show_numbers
@with_config
def listings_show(config: configuration.Config, code: str, show_numbers: bool) -> None:
    """One sale: what is left, members' pledges, and its audit trail (bids included)."""
    with database(config) as conn:
        sale = listings_db.by_code(conn, code.strip().upper())
        if sale is None:
            raise click.ClickException(f"no sale {code}")
        seller = contacts.by_id(conn, sale.seller_id)
        click.echo(f"{sale.code} {sale.status}: {sale.quantity:g} of {sale.offered:g}"
                   f" {sale.unit} {sale.product.lower()}, until {sale.expires_on},"
                   f" seller {shown(seller.phone, config, show_numbers) if seller else '-'}")
        for pledge in pledges_db.listed(conn, pledges_db.LISTINGS, sale.id):
            click.echo(f"  pledged {shown(pledge.phone, config, show_numbers)}"
                       f" {pledge.quantity:g}")
        click.echo("audit:")
        for row in reversed(listings_db.audit_rows(conn, sale.code)):
            who = shown(row["phone"], config, show_numbers) if row["phone"] else "service"
            click.echo(f"  {row['at'][:19]} {who:<12} {row['action']:<8} "
                       f"{json.dumps(row['detail'], ensure_ascii=False)}")


@listings_group.command("tick")
@with_config
def listings_tick(config: configuration.Config) -> None:
    """Send buyers' digests of new sales, expire sales past their day and tell group
    leaders how pledges stand (the worker does this every listings.digest_minutes)."""
    from smsgw.bulletins import listing_tick

    digests, expired, updates = listing_tick(config)
    click.echo(f"{digests} digest(s) sent, {expired} sale(s) expired, {updates} pledge"
               f" update(s)")


@click.command("want")
@click.argument("phone")
@click.argument("product")
@click.option("--market", default=None, help="Near this market (default: anywhere in the"
                                             " buyer's country).")
@click.option("--remove", is_flag=True, help="Stop following it.")
@with_config
def buyers_want(config: configuration.Config, phone: str, product: str, market: str | None,
                remove: bool) -> None:
    """Make registered buyer PHONE follow PRODUCT's sales, as their WANT would."""
    from handlers import wants

    number = phone_argument(config, phone)
    with database(config) as conn:
        person = contacts.find(conn, number)
        if person is None or groups_db.role_name(conn, person.id, "buyer") is None:
            raise click.ClickException(f"{shown(number, config)} is not a buyer"
                                       " (smsgw buyers add)")
        named = None
        if market:
            match = catalog_for(conn).markets.match(market)
            if not match.found:
                raise click.BadParameter(f"no market {market!r}", param_hint="--market")
            named = match.items[0]
        ctx = Context(conn, person, person.language or config["app.default_language"],
                      utcnow(), config)
        with db.transaction(conn):
            wanted = canonical_product(conn, product)
            done = wants.unfollow(ctx, wanted, named) if remove else \
                wants.follow(ctx, wanted, named)
    click.echo(f"{shown(number, config)}: {done}")
