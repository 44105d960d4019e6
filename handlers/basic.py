"""HELP, STOP and START: the commands every SMS service must answer."""

from __future__ import annotations

from db import contacts
from handlers import keywords
from handlers.messages import OPTOUT_CONFIRMATION, Context, Reply
from handlers.router import Command, Router


def help_(ctx: Context, rest: str) -> list[Reply]:
    """What you can text, in one SMS."""
    return [Reply(ctx.t("help"))]


def stop(ctx: Context, rest: str) -> list[Reply]:
    """Opt the sender out of everything; the confirmation is the last message they get."""
    contacts.set_opted_out(ctx.conn, ctx.contact.id, source="keyword")
    return [Reply(ctx.t("stopped"), kind=OPTOUT_CONFIRMATION)]


def start(ctx: Context, rest: str) -> list[Reply]:
    """Opt the sender back in."""
    if not ctx.contact.opted_out:
        return [Reply(ctx.t("already_started"))]
    contacts.set_opted_in(ctx.conn, ctx.contact.id)
    return [Reply(ctx.t("started"))]


def register(router: Router) -> None:
    """Add HELP, STOP and START to a router."""
    router.register(Command("help", keywords.HELP, help_))
    router.register(Command("stop", keywords.OPT_OUT, stop, single_word_only=True, always=True))
    router.register(Command("start", keywords.OPT_IN, start, single_word_only=True, always=True))
