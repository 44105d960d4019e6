"""The `smsgw` command: a thin click shell over the library (each command a few lines).

Every command is registered here, in one place; the modules beside this one define them
without knowing of `main`, and share smsgw.cli.common (the configuration, the database,
masked numbers). A provider's own admin commands (`smsgw android ...`) come from its
declaration in smsgw.providers.
"""

from __future__ import annotations

import click

from smsgw.cli import (agents, backup, bulletins, contacts, export, groups, imports, listings,
                       markets, messages, pools, service, users)
from smsgw.cli.common import configured
from smsgw.providers import PROVIDERS


@click.group()
@click.version_option(package_name="smsgw")
def main() -> None:
    """Market prices, standards and buyer orders by SMS and USSD."""


for command in (
    service.init, service.serve, service.worker, service.run, service.show_config,
    messages.sim, messages.ussd, messages.outbox_group,
    imports.import_group, agents.prices_group, markets.markets_group,
    bulletins.bulletins_group,
    groups.groups_group, groups.buyers_group, groups.orders_group, agents.agents_group,
    listings.listings_group,
    pools.suppliers_group, pools.pools_group,
    contacts.contacts_group, contacts.prune,
    export.export,
    backup.backup, backup.restore,
    users.users_group,
):
    main.add_command(command)
groups.buyers_group.add_command(listings.buyers_want)   # `smsgw buyers want`: docs/selling.md

for provider in PROVIDERS:
    if provider.cli is not None:
        if provider.cli.name in main.commands:
            raise RuntimeError(f"provider {provider.name}: `smsgw {provider.cli.name}` is"
                               " already a command")
        for command in provider.cli.commands.values():
            configured(command)
        main.add_command(provider.cli)

__all__ = ["main"]

if __name__ == "__main__":
    main()
