"""`smsgw groups | buyers | orders`: producer groups, buyers and orders for admins.

Thin click commands over db.groups, db.orders and handlers.orders. Messages a command
causes (an order relayed, a summary) go through the outbox like any other; the worker
sends them.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import click

import db
from db import contacts
from db import groups as groups_db
from db import orders as orders_db
from db.timeutil import utcnow
from handlers.groups import appointed, code_of
from handlers.messages import Context
from handlers.phone import parse_phone
from smsgw import config as configuration
from smsgw.cli.common import database, phone_argument, show_numbers, shown, with_config

EXIT_SOME_REJECTED = 1
EXIT_NOTHING_DONE = 2


def _group(conn: sqlite3.Connection, code: str) -> groups_db.Group:
    group = groups_db.by_code(conn, code_of(code))
    if group is None:
        raise click.ClickException(f"no group {code_of(code)!r} (see `smsgw groups list`)")
    return group


def _market_id(conn: sqlite3.Connection, name: str | None) -> int | None:
    from prices.catalog import catalog_for

    if not name:
        return None
    match = catalog_for(conn).markets.match(name)
    if not match.found:
        options = f" (did you mean {', '.join(match.options)}?)" if match.options else ""
        raise click.BadParameter(f"no market {name!r}{options}", param_hint="--market")
    return match.items[0].id


def _products(conn: sqlite3.Connection, text: str) -> list[str]:
    from prices.producers import canonical_product

    return [p for p in (canonical_product(conn, part) for part in text.replace(";", ",")
                        .split(",")) if p]


# ---------------------------------------------------------------------------- groups


@click.group("groups")
def groups_group() -> None:
    """Producer groups: add, list, leaders, members, import from CSV."""


@groups_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--market", default=None, help="Home market (where orders count as near).")
@click.option("--region", default=None, help="County or province, if no market fits.")
@click.option("--products", default="", help="What it offers, comma-separated: maize,beans.")
@click.option("--approval/--no-approval", default=False, show_default=True,
              help="JOIN waits for a leader's APPROVE.")
@click.option("--auto-forward/--no-auto-forward", default=False, show_default=True,
              help="Relayed orders go to the members at once, without FWD.")
@click.option("--share-leader-numbers/--no-share-leader-numbers", default=False,
              show_default=True,
              help="Buyers get the leaders' numbers when an order the group offered to closes"
                   " (leaders are told when they are made leaders).")
@with_config
def groups_add(config: configuration.Config, code: str, name: str, market: str | None,
               region: str | None, products: str, approval: bool, auto_forward: bool,
               share_leader_numbers: bool) -> None:
    """Add a group with a short CODE farmers text (JOIN CODE) and a NAME."""
    with database(config) as conn:
        folded = code_of(code)
        if not folded:
            raise click.BadParameter("use letters and digits", param_hint="CODE")
        try:
            with db.transaction(conn):
                group = groups_db.create(conn, code=folded, name=name.strip(),
                                         market_id=_market_id(conn, market), region=region,
                                         products=_products(conn, products), approval=approval,
                                         auto_forward=auto_forward,
                                         share_leader_numbers=share_leader_numbers)
        except groups_db.GroupExists:
            raise click.ClickException(f"group {folded} exists already") from None
        click.echo(f"added group {group.code}: {group.name}, offers "
                   f"{', '.join(group.products).lower() or 'nothing yet'}")


@groups_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@show_numbers
@with_config
def groups_list(config: configuration.Config, as_json: bool, show_numbers: bool) -> None:
    """Every group with its members, leaders and products."""
    with database(config) as conn:
        rows = []
        for group in groups_db.all_groups(conn):
            leaders = [shown(m.phone, config, show_numbers)
                       for m in groups_db.members(conn, group.id, role="leader")]
            rows.append({"code": group.code, "name": group.name,
                         "members": groups_db.count_members(conn, group.id),
                         "pending": len(groups_db.members(conn, group.id, status="pending")),
                         "leaders": leaders, "products": list(group.products),
                         "approval": group.approval, "auto_forward": group.auto_forward})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['code']:<10} {row['name'][:30]:<30} {row['members']:>6} members"
                   f" ({row['pending']} pending)  leaders {', '.join(row['leaders']) or '-'}"
                   f"  offers {', '.join(row['products']).lower() or '-'}")
    click.echo(f"{len(rows)} group(s)")


def _set_role(config: configuration.Config, code: str, phone: str, role: str,
              remove: bool) -> None:
    with database(config) as conn:
        group = _group(conn, code)
        number = phone_argument(config, phone)
        with db.transaction(conn):
            person = contacts.get_or_create(conn, number)
            if remove and role == "member":
                done = groups_db.remove_member(conn, group.id, person.id)
                click.echo(f"{shown(number, config)} "
                           f"{'removed from' if done else 'was not in'} {group.code}")
                return
            _appoint(conn, config, group, person, "member" if remove else role)
        click.echo(f"{shown(number, config)} is now "
                   f"{'a member' if remove or role == 'member' else 'a leader'} of {group.code}")


def _appoint(conn: sqlite3.Connection, config: configuration.Config, group: groups_db.Group,
             person: contacts.Contact, role: str) -> None:
    """Make someone a member or leader and, if that is new for them, tell them who sees
    their number (handlers.groups.appointed): nobody's number is shown unannounced."""
    before = groups_db.membership(conn, group.id, person.id)
    groups_db.set_member(conn, group.id, person.id, role=role)
    if before != (role, "active"):
        appointed(conn, config, utcnow(), group, person, role)


@groups_group.command("leader")
@click.argument("code")
@click.argument("phone")
@click.option("--remove", is_flag=True, help="Make them a plain member again.")
@with_config
def groups_leader(config: configuration.Config, code: str, phone: str, remove: bool) -> None:
    """Make PHONE a leader of group CODE (leaders forward orders and broadcast)."""
    _set_role(config, code, phone, "leader", remove)


@groups_group.command("member")
@click.argument("code")
@click.argument("phone")
@click.option("--remove", is_flag=True, help="Take them out of the group.")
@with_config
def groups_member(config: configuration.Config, code: str, phone: str, remove: bool) -> None:
    """Add PHONE to group CODE as a member (no approval needed)."""
    _set_role(config, code, phone, "member", remove)


@groups_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_config
def groups_import(config: configuration.Config, file: str) -> None:
    """Add or update groups from a CSV (docs/groups-format.md):
    code,name,market,region,products,approval,auto_forward,share_leader_numbers,leaders,members.

    Lists and phone numbers are separated by ';'. Bad rows are listed by line and skipped;
    exit 1 if any, 2 if no row could be used.
    """
    added = updated = 0
    problems: list[str] = []
    with database(config) as conn, Path(file).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"code", "name"} - set(reader.fieldnames or [])
        if missing:
            raise click.ClickException(f"{file}: no column {', '.join(sorted(missing))}")
        with db.transaction(conn):
            for line, row in enumerate(reader, start=2):
                try:
                    created = _import_row(conn, config, row)
                except (click.ClickException, ValueError) as exc:
                    problems.append(f"line {line}: {getattr(exc, 'message', None) or exc}")
                    continue
                added, updated = added + created, updated + (not created)
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"{file}: {added} added, {updated} updated, {len(problems)} rejected")
    if problems:
        click.get_current_context().exit(EXIT_NOTHING_DONE if not added + updated
                                         else EXIT_SOME_REJECTED)


def _import_row(conn: sqlite3.Connection, config: configuration.Config,
                row: dict[str, str]) -> bool:
    code = code_of((row.get("code") or "").strip())
    name = (row.get("name") or "").strip()
    if not code or not name:
        raise ValueError("code and name are required")
    flags = {}
    for key in ("approval", "auto_forward", "share_leader_numbers"):
        value = (row.get(key) or "").strip().lower()
        if value not in ("", "0", "1", "yes", "no", "true", "false"):
            raise ValueError(f"{key} must be yes or no, not {value!r}")
        flags[key] = value in ("1", "yes", "true")
    market_id = _market_id(conn, (row.get("market") or "").strip() or None)
    phones = {}
    for key in ("leaders", "members"):
        numbers = []
        for raw in (row.get(key) or "").split(";"):
            if raw.strip():
                number = parse_phone(raw, config)
                if number is None:
                    raise ValueError(f"{key}: {raw.strip()!r} is not a phone number")
                numbers.append(number)
        phones[key] = numbers
    products = _products(conn, row.get("products") or "")
    existing = groups_db.by_code(conn, code)
    if existing is None:
        group = groups_db.create(conn, code=code, name=name, market_id=market_id,
                                 region=(row.get("region") or "").strip() or None,
                                 products=products, **flags)
    else:
        group = existing
        groups_db.update(conn, group.id, name=name, market_id=market_id,
                         region=(row.get("region") or "").strip() or None,
                         approval=int(flags["approval"]),
                         auto_forward=int(flags["auto_forward"]),
                         share_leader_numbers=int(flags["share_leader_numbers"]))
        groups_db.set_products(conn, group.id, products)
        group = groups_db.by_id(conn, group.id)
        if group.share_leader_numbers != existing.share_leader_numbers:
            for leader in groups_db.members(conn, group.id, role="leader"):
                # What buyers see of their number changed: each leader hears of it.
                appointed(conn, config, utcnow(), group, contacts.by_id(conn, leader.contact_id),
                          "leader")
    for role, key in (("member", "members"), ("leader", "leaders")):
        for number in phones[key]:
            _appoint(conn, config, group, contacts.get_or_create(conn, number), role)
    return existing is None


# ---------------------------------------------------------------------------- buyers


@click.group("buyers")
def buyers_group() -> None:
    """Registered buyers: only they can post orders."""


@buyers_group.command("add")
@click.argument("phone")
@click.argument("name")
@with_config
def buyers_add(config: configuration.Config, phone: str, name: str) -> None:
    """Register PHONE as a buyer named NAME (shown to groups with each order)."""
    number = phone_argument(config, phone)
    with database(config) as conn, db.transaction(conn):
        person = contacts.get_or_create(conn, number)
        groups_db.set_role(conn, person.id, "buyer", name.strip())
    click.echo(f"{shown(number, config)} is a buyer: {name.strip()}")


@buyers_group.command("remove")
@click.argument("phone")
@with_config
def buyers_remove(config: configuration.Config, phone: str) -> None:
    """Take the buyer role from PHONE (their orders stay as they are)."""
    number = phone_argument(config, phone)
    with database(config) as conn, db.transaction(conn):
        person = contacts.find(conn, number)
        done = person is not None and groups_db.remove_role(conn, person.id, "buyer")
    click.echo(f"{shown(number, config)} {'is no longer' if done else 'was not'} a buyer")


@buyers_group.command("list")
@show_numbers
@with_config
def buyers_list(config: configuration.Config, show_numbers: bool) -> None:
    """Every registered buyer."""
    with database(config) as conn:
        found = groups_db.with_role(conn, "buyer")
    for phone, name in found:
        click.echo(f"{shown(phone, config, show_numbers):<16} {name}")
    click.echo(f"{len(found)} buyer(s)")


# ---------------------------------------------------------------------------- orders


@click.group("orders")
def orders_group() -> None:
    """Buyer orders: post, list, show, close, and the periodic tick."""


@orders_group.command("post")
@click.option("--buyer", "phone", required=True, help="The registered buyer's phone.")
@click.argument("text")
@with_config
def orders_post(config: configuration.Config, phone: str, text: str) -> None:
    """Post an order for a buyer, as their SMS would: "200 BAGS MAIZE @3400 BY 2026-12-20"."""
    from handlers import orders
    from handlers.order_grammar import GrammarError

    number = phone_argument(config, phone)
    with database(config) as conn:
        person = contacts.find(conn, number)
        if person is None or groups_db.role_name(conn, person.id, "buyer") is None:
            raise click.ClickException(f"{shown(number, config)} is not a buyer"
                                       " (smsgw buyers add)")
        ctx = Context(conn, person, person.language or config["app.default_language"],
                      utcnow(), config)
        try:
            with db.transaction(conn):
                order = orders.create(ctx, text.removeprefix("ORDER ").removeprefix("order "))
                reached = orders.relay(ctx, order)
        except GrammarError as error:
            raise click.ClickException(ctx.t(error.key, **error.values)) from None
        click.echo(f"order {order.code}: {orders.summary(ctx, order)};"
                   f" relayed to {reached} group(s)")


@orders_group.command("list")
@click.option("--status", type=click.Choice(["open", "closed", "expired"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@with_config
def orders_list(config: configuration.Config, status: str | None, limit: int) -> None:
    """Orders, newest first, with what has been offered."""
    with database(config) as conn:
        found = orders_db.listed(conn, status=status, limit=limit)
        for order in found:
            total = orders_db.total(conn, order.id)
            click.echo(f"{order.code}  {order.status:<8} {order.quantity:g} {order.unit}"
                       f" {order.product.lower()}  offered {total:g}  by {order.deliver_by}"
                       f"  groups {len(orders_db.relays(conn, order.id))}")
    click.echo(f"{len(found)} order(s)")


@orders_group.command("show")
@click.argument("code")
@show_numbers
@with_config
def orders_show(config: configuration.Config, code: str, show_numbers: bool) -> None:
    """One order: totals per group, every pledge, and its audit trail."""
    with database(config) as conn:
        order = orders_db.by_code(conn, code.strip().upper())
        if order is None:
            raise click.ClickException(f"no order {code}")
        click.echo(f"{order.code} {order.status}: {order.quantity:g} {order.unit}"
                   f" {order.product.lower()}, by {order.deliver_by}, at {order.place or '-'}")
        for group_id, amount in orders_db.group_totals(conn, order.id).items():
            group = groups_db.by_id(conn, group_id)
            click.echo(f"  {group.code}: {amount:g}")
            for pledge in orders_db.pledges(conn, order.id, group_id):
                click.echo(f"    {shown(pledge.phone, config, show_numbers)}"
                           f" {pledge.quantity:g}")
        click.echo("audit:")
        for row in reversed(groups_db.audit_rows(conn, order_id=order.id)):
            who = shown(row["phone"], config, show_numbers) if row["phone"] else "service"
            click.echo(f"  {row['at'][:19]} {who:<12} {row['action']:<8} "
                       f"{json.dumps(row['detail'], ensure_ascii=False)}")


@orders_group.command("close")
@click.argument("code")
@with_config
def orders_close(config: configuration.Config, code: str) -> None:
    """Close an order for its buyer; everyone involved gets the final summary."""
    from handlers import orders

    with database(config) as conn:
        order = orders_db.by_code(conn, code.strip().upper())
        if order is None:
            raise click.ClickException(f"no order {code}")
        with db.transaction(conn):
            done = orders.finish(conn, config, utcnow(), order, "closed")
    click.echo(f"order {order.code} {'closed' if done else 'was not open'}")


@orders_group.command("tick")
@with_config
def orders_tick(config: configuration.Config) -> None:
    """Send batched progress updates and expire orders past their date (the worker does
    this every orders.update_minutes; this is for cron)."""
    from smsgw.bulletins import order_tick

    updated, expired = order_tick(config)
    click.echo(f"{updated} order(s) updated, {expired} expired")
