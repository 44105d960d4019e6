"""`smsgw suppliers | pools`: suppliers of inputs, and group purchases for admins.

Thin click commands over db.suppliers, db.pools and handlers.pools. Messages a command
causes (a new supplier told how to post offers, a pool's closing lines) go through the
outbox like any other; the worker sends them.
"""

from __future__ import annotations

import getpass
import json
import sqlite3

import click

import db
from db import contacts
from db import groups as groups_db
from db import pools as pools_db
from db import suppliers as suppliers_db
from db.timeutil import utcnow
from handlers.segments import is_gsm7
from smsgw import config as configuration
from smsgw.cli.common import database, phone_argument, show_numbers, shown, with_config

MAX_NAME = 24   # a supplier's name is repeated in leaders' and members' SMS


def _admin() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no login name (a container without a passwd entry)
        return "admin"


# ---------------------------------------------------------------------------- suppliers


@click.group("suppliers")
def suppliers_group() -> None:
    """Suppliers of inputs: who may post offers with price steps by SMS (SUPPLY)."""


@suppliers_group.command("add")
@click.argument("phone")
@click.option("--name", required=True, help=f"Shown to leaders and members (at most {MAX_NAME}"
                                             " characters).")
@click.option("--products", default="", metavar="P1,P2",
              help="What they may offer, comma-separated: DAP,CAN (default: anything).")
@with_config
def suppliers_add(config: configuration.Config, phone: str, name: str, products: str) -> None:
    """Register PHONE as a supplier (again: new name and products). A new supplier is told
    by SMS how to post an offer, and that leaders who pool against it get their number."""
    from handlers.supplies import registered
    from prices.producers import canonical_product

    number = phone_argument(config, phone)
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise click.BadParameter(f"give a name of 1 to {MAX_NAME} characters", param_hint="--name")
    if not is_gsm7(name):   # one letter outside GSM-7 would double every SMS naming them
        raise click.BadParameter("use only letters of the SMS alphabet (GSM-7)",
                                 param_hint="--name")
    with database(config) as conn, db.transaction(conn):
        wanted = [p for p in (canonical_product(conn, part) for part in
                              products.replace(";", ",").split(",")) if p]
        person = contacts.get_or_create(conn, number)
        new = suppliers_db.save(conn, person.id, name, wanted, by=_admin(), now=utcnow())
        if new:
            registered(conn, config, utcnow(), person, name)
    offers = ", ".join(wanted) or "anything"
    click.echo(f"{shown(number, config)} is {'now' if new else 'still'} a supplier: {name};"
               f" may offer {offers}")


@suppliers_group.command("remove")
@click.argument("phone")
@with_config
def suppliers_remove(config: configuration.Config, phone: str) -> None:
    """Stop PHONE being a supplier; their open offers are withdrawn (pools already opened
    against them keep their prices)."""
    number = phone_argument(config, phone)
    with database(config) as conn, db.transaction(conn):
        person = contacts.find(conn, number)
        done = person is not None and suppliers_db.remove(conn, person.id, by=_admin(),
                                                          now=utcnow())
    click.echo(f"{shown(number, config)} {'is no longer' if done else 'was not'} a supplier")


@suppliers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of lines.")
@show_numbers
@with_config
def suppliers_list(config: configuration.Config, as_json: bool, show_numbers: bool) -> None:
    """Every supplier with what they may offer and their open offers."""
    with database(config) as conn:
        rows = [{"phone": shown(s.phone, config, show_numbers), "name": s.name,
                 "products": list(s.products),
                 "open_offers": [o.code for o in suppliers_db.offers_of(conn, s.contact_id)
                                 if o.status == "open"]}
                for s in suppliers_db.all_suppliers(conn)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['phone']:<16} {row['name']:<24} offers"
                   f" {', '.join(row['products']).lower() or 'anything'};"
                   f" open {', '.join(row['open_offers']) or '-'}")
    click.echo(f"{len(rows)} supplier(s)")


# ---------------------------------------------------------------------------- pools


@click.group("pools")
def pools_group() -> None:
    """Group purchases: list, show, close, and the periodic tick."""


def _pool(conn: sqlite3.Connection, code: str) -> pools_db.Pool:
    found = pools_db.by_code(conn, code.strip().upper())
    if found is None:
        raise click.ClickException(f"no pool {code}")
    return found


@pools_group.command("list")
@click.option("--status", type=click.Choice(["open", "closed"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@with_config
def pools_list(config: configuration.Config, status: str | None, limit: int) -> None:
    """Pools, newest first, with how much members want."""
    with database(config) as conn:
        found = pools_db.listed(conn, status=status, limit=limit)
        for pool in found:
            group = groups_db.by_id(conn, pool.group_id)
            click.echo(f"{pool.code}  {pool.status:<6} {group.code:<10} {pool.product}"
                       f" {pool.unit}  wanted {pool.pledged:g}"
                       f" from {pools_db.count_answers(conn, pool.id)} member(s)"
                       f"  until {pool.close_on}")
    click.echo(f"{len(found)} pool(s)")


@pools_group.command("show")
@click.argument("code")
@show_numbers
@with_config
def pools_show(config: configuration.Config, code: str, show_numbers: bool) -> None:
    """One pool: its price steps, every answer, and its audit trail."""
    with database(config) as conn:
        pool = _pool(conn, code)
        group = groups_db.by_id(conn, pool.group_id)
        steps = "; ".join(f"{p:g} from {q:g}" for q, p in pool.tiers)
        supplier = suppliers_db.find(conn, pool.supplier_id) if pool.supplier_id else None
        click.echo(f"{pool.code} {pool.status}: {pool.product} {pool.unit} for {group.code},"
                   f" until {pool.close_on}; {pool.currency} {steps}"
                   f"{f'; closed at {pool.price:g}' if pool.price is not None else ''}"
                   f"{f'; supplier {supplier.name}' if supplier else ''}")
        click.echo(f"  wanted {pool.pledged:g}")
        for answer in pools_db.answers(conn, pool.id):
            click.echo(f"    {shown(answer.phone, config, show_numbers)} {answer.quantity:g}"
                       f"{' ' + answer.name if answer.name else ''}")
        click.echo("audit:")
        rows = conn.execute(
            "SELECT a.at, a.action, a.detail, c.phone FROM audit a LEFT JOIN contacts c ON"
            " c.id = a.actor_id WHERE a.action LIKE 'pool%' AND json_valid(a.detail) AND"
            " json_extract(a.detail, '$.pool') = ? ORDER BY a.id", (pool.code,)).fetchall()
        for at, action, detail, phone in rows:
            who = shown(phone, config, show_numbers) if phone else "service"
            click.echo(f"  {at[:19]} {who:<12} {action:<11} {detail}")


@pools_group.command("close")
@click.argument("code")
@with_config
def pools_close(config: configuration.Config, code: str) -> None:
    """Close a pool for its leader: the leader gets the list, each member their line."""
    from handlers import pools

    with database(config) as conn:
        pool = _pool(conn, code)
        with db.transaction(conn):
            done = pools.finish(conn, config, utcnow(), pool)
    click.echo(f"pool {pool.code} {'closed' if done else 'was not open'}")


@pools_group.command("tick")
@with_config
def pools_tick(config: configuration.Config) -> None:
    """Close pools past their date and tell leaders where theirs stand (the worker does this
    with the orders every orders.update_minutes; `smsgw orders tick` does both)."""
    from smsgw.bulletins import pool_tick

    closed, updated = pool_tick(config)
    click.echo(f"{closed} pool(s) closed, {updated} leader(s) updated")
