"""`smsgw users`: who may log in to the web console (/console), and as what.

An admin sees and does everything; a leader sees their own group (--group), and with
--phone their login is tied to their contact (they must lead that group). The password is
asked twice at a terminal, or read from standard input when it is not one, so that scripts
and tests can create users (`printf '%s\\n' "$PASSWORD" | smsgw users add ...`).
"""

from __future__ import annotations

import sys

import click

from db import contacts, transaction
from db import groups as groups_db
from db import users
from db.timeutil import utcnow
from smsgw import config as configuration
from smsgw.cli.common import database, phone_argument, shown, with_config


@click.group("users")
def users_group() -> None:
    """Console users: add, list, remove, change a password."""


def _password(config: configuration.Config) -> str:
    """A new password, checked for length and hashed."""
    from smsgw.console import passwords   # not at start: every smsgw command would load the console

    if sys.stdin.isatty():
        raw = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raw = sys.stdin.readline().rstrip("\r\n")
    try:
        return passwords.hashed(raw, minimum=int(config["console.password_min_chars"]))
    except passwords.WeakPassword as exc:
        raise click.ClickException(str(exc)) from None


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(users.ROLES), required=True,
              help="admin: everything; leader: their own group.")
@click.option("--group", "group_code", default=None, help="The group a leader leads (code).")
@click.option("--phone", default=None, help="The leader's own number (ties the login to it).")
@with_config
def users_add(config: configuration.Config, username: str, role: str, group_code: str | None,
              phone: str | None) -> None:
    """Create a console user; the password comes from the terminal or standard input."""
    username = username.strip()
    if not username or len(username) > 100 or not username.isprintable():
        raise click.BadParameter("1 to 100 printable characters", param_hint="USERNAME")
    if role == "leader" and not group_code:
        raise click.UsageError("a leader needs --group CODE")
    if role == "admin" and (group_code or phone):
        raise click.UsageError("an admin sees every group: no --group or --phone")
    number = phone_argument(config, phone) if phone else None
    with database(config) as conn:
        group = groups_db.by_code(conn, group_code.upper()) if group_code else None
        if group_code and group is None:
            raise click.BadParameter(f"no group {group_code!r}", param_hint="--group")
        contact = contacts.find(conn, number) if number else None
        if number and (contact is None or group is None or groups_db.membership(
                conn, group.id, contact.id) != ("leader", "active")):
            raise click.BadParameter(
                f"{shown(number, config)} does not lead {group.code if group else group_code};"
                f" make them its leader first (smsgw groups leader)", param_hint="--phone")
        if users.by_username(conn, username) is not None:
            raise click.ClickException(f"user {username!r} already exists")
        hashed = _password(config)
        try:
            with transaction(conn):
                users.add(conn, username=username, password_hash=hashed, role=role,
                          group_id=group.id if group else None,
                          contact_id=contact.id if contact else None, now=utcnow())
                groups_db.audit(conn, "console_user_add", group_id=group.id if group else None,
                                user=username, role=role)
        except users.UserExists:
            raise click.ClickException(f"user {username!r} already exists") from None
    click.echo(f"{username}: {role}" + (f" of {group.code}" if group else "")
               + ". Log in at /console.")


@users_group.command("list")
@with_config
def users_list(config: configuration.Config) -> None:
    """Every console user with their role and group."""
    with database(config) as conn:
        found = users.all_users(conn)
    for user in found:
        click.echo(f"{user.username:<24} {user.role:<7} {user.group_code or '-':<12}"
                   f" since {user.created_at[:10]}")
    click.echo(f"{len(found)} user(s)")


@users_group.command("remove")
@click.argument("username")
@with_config
def users_remove(config: configuration.Config, username: str) -> None:
    """Delete a console user (their sessions end at once)."""
    with database(config) as conn:
        try:
            with transaction(conn):
                users.remove(conn, username)
                groups_db.audit(conn, "console_user_remove", user=username)
        except users.NoSuchUser:
            raise click.ClickException(f"no user {username!r}") from None
    click.echo(f"{username}: removed")


@users_group.command("password")
@click.argument("username")
@with_config
def users_password(config: configuration.Config, username: str) -> None:
    """Set a new password (from the terminal or standard input); older sessions end."""
    with database(config) as conn:
        if users.by_username(conn, username) is None:
            raise click.ClickException(f"no user {username!r}")
        hashed = _password(config)
        with transaction(conn):
            users.set_password(conn, username, hashed, utcnow())
            groups_db.audit(conn, "console_password", user=username)
    click.echo(f"{username}: password changed")
