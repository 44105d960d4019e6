"""`smsgw agents | prices`: market agents, and the prices that wait for an admin's review.

Thin click commands over db.agents, db.reviews and prices.review. Each decision is its own
transaction, audited with the name of the admin who made it (`--by`, the login name by
default).
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import sys
from collections.abc import Callable

import click

import db
from db import agents as agents_db
from db import contacts
from db import reviews as reviews_db
from db.reviews import Review
from db.timeutil import utcnow
from prices import review as review_rules
from prices.catalog import catalog_for
from prices.reports import named_exactly
from smsgw import config as configuration
from smsgw.cli.common import database, phone_argument, show_numbers, shown, with_config

EXIT_SOME_FAILED = 1


def _admin() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no login name (a container without a passwd entry)
        return "admin"


by_option = click.option("--by", default=None, metavar="NAME",
                         help="Who decides, for the audit trail (default: your login name).")


# ---------------------------------------------------------------------------- agents


@click.group("agents")
def agents_group() -> None:
    """Market agents: who may report prices by SMS (RPT), for which markets."""


def _markets(conn: sqlite3.Connection, text: str) -> list[int]:
    """Market ids for 'NAKURU,ELDORET', each name matched as PRICE does; BadParameter names
    the one that matches no market, or several."""
    catalog, ids = catalog_for(conn), []
    for name in (part.strip() for part in text.replace(";", ",").split(",")):
        if not name:
            continue
        match = catalog.markets.match(name)
        items = named_exactly(match) if match.found else ()
        if match.options or (match.found and len(items) != 1):
            options = match.options or tuple(item.name for item in match.items[:4])
            raise click.BadParameter(f"{name!r} could be {', '.join(options)}: name one",
                                     param_hint="--markets")
        if not match.found:
            raise click.BadParameter(f"no market {name!r} (see `smsgw export markets`)",
                                     param_hint="--markets")
        ids.append(items[0].id)
    if not ids:
        raise click.BadParameter("name at least one market", param_hint="--markets")
    return ids


@agents_group.command("add")
@click.argument("phone")
@click.option("--markets", required=True, metavar="M1,M2",
              help="The markets the agent covers, comma-separated: NAKURU,ELDORET.")
@click.option("--auto-approve/--no-auto-approve", default=False, show_default=True,
              help="Publish their reports from these markets at once (unless far out of range).")
@by_option
@with_config
def agents_add(config: configuration.Config, phone: str, markets: str, auto_approve: bool,
               by: str | None) -> None:
    """Make PHONE a market agent for some markets (again: replaces their markets)."""
    number = phone_argument(config, phone)
    with database(config) as conn, db.transaction(conn):
        ids = _markets(conn, markets)
        person = contacts.get_or_create(conn, number)
        agents_db.save(conn, person.id, ids, auto_approve=auto_approve, by=by or _admin())
        agent = agents_db.find(conn, person.id)
    assert agent is not None  # saved just now
    how = "are published at once when in range" if auto_approve else "wait for approval"
    click.echo(f"{shown(number, config)} is a market agent for {', '.join(agent.markets)};"
               f" their reports {how}")


@agents_group.command("remove")
@click.argument("phone")
@by_option
@with_config
def agents_remove(config: configuration.Config, phone: str, by: str | None) -> None:
    """Stop PHONE being a market agent (their reports stay as they are)."""
    number = phone_argument(config, phone)
    with database(config) as conn, db.transaction(conn):
        person = contacts.find(conn, number)
        done = person is not None and agents_db.remove(conn, person.id, by=by or _admin())
    click.echo(f"{shown(number, config)} {'is no longer' if done else 'was not'} a market agent")


@agents_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of lines.")
@show_numbers
@with_config
def agents_list(config: configuration.Config, as_json: bool, show_numbers: bool) -> None:
    """Every market agent with their markets; numbers masked unless --show-numbers."""
    with database(config) as conn:
        found = agents_db.all_agents(conn)
    if as_json:
        click.echo(json.dumps([{"phone": shown(a.phone, config, show_numbers),
                                "markets": list(a.markets), "auto_approve": a.auto_approve}
                               for a in found], ensure_ascii=False))
        return
    for agent in found:
        auto = "auto-approve" if agent.auto_approve else "approval"
        click.echo(f"{shown(agent.phone, config, show_numbers):<16} {auto:<12} "
                   f"{', '.join(agent.markets)}")
    click.echo(f"{len(found)} agent(s)")


# ---------------------------------------------------------------------------- prices


@click.group("prices")
def prices_group() -> None:
    """Prices held for review (outliers, agents' reports): list, accept, reject, withdraw."""


def _line(review: Review, config: configuration.Config, reveal: bool) -> str:
    """Two lines for one review: what it is, then why it waits and where it came from."""
    o = review.observation
    what = (f"{review.id}  {review.origin:<6}  {review.commodity}, {review.market}, {o.date}:"
            f" {o.price_type} {o.currency} {review_rules.amount(o.price)}/{o.unit}")
    why = []
    for reason in (review.reason or "").split(","):
        if reason == "outlier" and review.median is not None:
            why.append(f"outlier (median {review_rules.amount(review.median)})")
        elif reason:
            why.append({"unassigned": "not one of the agent's markets",
                        "approval": "the agent needs approval"}.get(reason, reason))
    if review.origin == "import":
        source = f"{review.file_name} line {review.line}"
    else:
        phone = shown(review.agent_phone, config, reveal) if review.agent_phone else "?"
        source = f"agent {phone}, SMS item {review.item}, reported {review.reported}"
    state = review.status if review.status != "pending" else "waits"
    decided = f" by {review.decided_by} at {review.decided_at}" if review.decided_by else ""
    because = f": {'; '.join(why)}" if why else ""
    return f"{what}\n      {state}{decided}{because}; from {source}"


@prices_group.command("review")
@click.option("--all", "show_all", is_flag=True,
              help="Decided ones too (published, rejected, withdrawn), not only those waiting.")
@click.option("--limit", default=200, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of lines.")
@show_numbers
@with_config
def prices_review(config: configuration.Config, show_all: bool, limit: int, as_json: bool,
                  show_numbers: bool) -> None:
    """Prices waiting for review: import rows far out of range and agents' reports.

    Decide with `smsgw prices accept ID...` or `smsgw prices reject ID...`.
    """
    with database(config) as conn:
        found = reviews_db.listed(conn, status=None if show_all else reviews_db.Status.PENDING,
                                  limit=limit)
    if as_json:
        click.echo(json.dumps([_as_dict(r, config, show_numbers) for r in found],
                              ensure_ascii=False))
        return
    for review in found:
        click.echo(_line(review, config, show_numbers))
    click.echo(f"{len(found)} {'review(s)' if show_all else 'waiting'}")


def _as_dict(review: Review, config: configuration.Config, reveal: bool) -> dict[str, object]:
    o = review.observation
    return {"id": review.id, "origin": review.origin, "status": review.status,
            "reason": review.reason, "commodity": review.commodity, "market": review.market,
            "country": review.country, "date": o.date, "price": o.price, "unit": o.unit,
            "price_type": o.price_type, "currency": o.currency, "source": o.source,
            "median": review.median, "reported": review.reported, "file": review.file_name,
            "line": review.line, "item": review.item,
            "agent": shown(review.agent_phone, config, reveal) if review.agent_phone else None,
            "created_at": review.created_at, "decided_at": review.decided_at,
            "decided_by": review.decided_by}


def _decide_each(config: configuration.Config, ids: tuple[int, ...], verb: str,
                 decide: Callable[[sqlite3.Connection, int], object]) -> None:
    """Run a decision on each id in its own transaction; exit 1 if any could not be made."""
    failed = False
    with database(config) as conn:
        for review_id in ids:
            try:
                with db.transaction(conn):
                    decide(conn, review_id)
            except (review_rules.NotPending, review_rules.NotPublished) as exc:
                click.echo(f"{review_id}: {exc}", err=True)
                failed = True
                continue
            click.echo(f"{review_id} {verb}")
    if failed:
        sys.exit(EXIT_SOME_FAILED)


@prices_group.command("accept")
@click.argument("ids", nargs=-1, type=int, required=True)
@by_option
@with_config
def prices_accept(config: configuration.Config, ids: tuple[int, ...], by: str | None) -> None:
    """Publish the reviews IDS: their prices are served from now on."""
    who = by or _admin()
    _decide_each(config, ids, "accepted: published", lambda conn, review_id:
                 review_rules.accept(conn, review_id, by=who, now=utcnow()))


@prices_group.command("reject")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--note", default="", help="Why, for the audit trail.")
@by_option
@with_config
def prices_reject(config: configuration.Config, ids: tuple[int, ...], note: str,
                  by: str | None) -> None:
    """Keep the reviews IDS out of the prices for good (a re-import does not bring them back)."""
    who = by or _admin()
    _decide_each(config, ids, "rejected", lambda conn, review_id:
                 review_rules.reject(conn, review_id, by=who, now=utcnow(), note=note))


@prices_group.command("withdraw")
@click.argument("ids", nargs=-1, type=int, required=True)
@by_option
@with_config
def prices_withdraw(config: configuration.Config, ids: tuple[int, ...], by: str | None) -> None:
    """Take published agents' reports IDS out of the prices again (see `prices review --all`)."""
    who = by or _admin()
    _decide_each(config, ids, "withdrawn", lambda conn, review_id:
                 review_rules.withdraw(conn, review_id, by=who, now=utcnow()))
