"""`smsgw markets`: the markets imported, and which of them farmers are pointed to.

A deployment hides a market (a refugee camp, a military post) from "best markets" and
"nearest markets" with `hide`; its prices stay, and PRICE at that market still answers.
"""

from __future__ import annotations

import click

from prices import catalog as catalog_store
from smsgw.cli.common import database, with_config


@click.group("markets")
def markets_group() -> None:
    """List markets and choose which ones farmers are pointed to."""


@markets_group.command("list")
@click.option("--country", default=None, help="Only this country's markets (ISO code, KE).")
@click.option("--hidden", is_flag=True, help="Only the hidden ones.")
@with_config
def list_markets(config, country: str | None, hidden: bool) -> None:
    """Each market: country, name, area, whether it is listed, and its newest price."""
    with database(config) as conn:
        rows = catalog_store.market_rows(conn, country=country.upper() if country else None)
    shown = [row for row in rows if not hidden or not row["public"]]
    for row in shown:
        area = ", ".join(part for part in (row["admin2"], row["admin1"]) if part)
        click.echo(f"{row['country']}  {row['name']:<32} {area:<28}"
                   f" {'listed' if row['public'] else 'HIDDEN':<7} {row['newest'] or '-'}")
    click.echo(f"{len(shown)} market(s)")


def _set(config, names: tuple[str, ...], public: bool) -> None:
    with database(config) as conn:
        for name in names:
            try:
                market = catalog_store.set_public(conn, name, public)
            except LookupError as exc:
                raise click.BadParameter(str(exc), param_hint="MARKET") from None
            click.echo(f"{market}: {'listed again' if public else 'hidden'}")


@markets_group.command("hide")
@click.argument("names", metavar="MARKET...", nargs=-1, required=True)
@with_config
def hide(config, names: tuple[str, ...]) -> None:
    """Never list these markets in best or nearest markets (their prices stay)."""
    _set(config, names, False)


@markets_group.command("show")
@click.argument("names", metavar="MARKET...", nargs=-1, required=True)
@with_config
def show(config, names: tuple[str, ...]) -> None:
    """List these markets again."""
    _set(config, names, True)
