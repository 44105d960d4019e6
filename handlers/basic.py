"""HELP, STOP and START: the commands every SMS service must answer."""

from __future__ import annotations

from db import contacts, subscriptions
from handlers import keywords
from handlers.messages import OPTOUT_CONFIRMATION, Context, Reply
from handlers.order_grammar import echo
from handlers.router import Command, Router
from handlers.words import split_command


def help_(ctx: Context, rest: str) -> list[Reply]:
    """What you can text, in one SMS; HELP <word> explains that command in one SMS."""
    word, _ = split_command(rest)
    if not word:
        return [Reply(ctx.t("help"))]
    name = command_of(word)
    if name is None:
        return [Reply(ctx.t("help_unknown", word=echo(word)))]
    return [Reply(ctx.t(f"help_{name}"))]


def command_of(word: str) -> str | None:
    """The command a keyword (of any language) belongs to: its name in keywords.COMMANDS,
    or stop, start, yes and help for the opt-out, opt-in and help words."""
    tables = {**keywords.COMMANDS, "yes": keywords.YES, "stop": keywords.OPT_OUT,
              "start": keywords.OPT_IN, "help": keywords.HELP}
    return next((name for name, table in tables.items()
                 if word in keywords.all_words(table)), None)


def stop(ctx: Context, rest: str) -> list[Reply]:
    """Opt the sender out of everything; the confirmation is the last message they get."""
    contacts.set_opted_out(ctx.conn, ctx.contact.id, source="keyword")
    return [Reply(ctx.t("stopped"), kind=OPTOUT_CONFIRMATION)]


def start(ctx: Context, rest: str) -> list[Reply]:
    """Opt the sender back in."""
    if not ctx.contact.opted_out:
        return [Reply(ctx.t("already_started"))]
    contacts.set_opted_in(ctx.conn, ctx.contact.id)
    following = subscriptions.count_for(ctx.conn, ctx.contact.id)
    if following:
        return [Reply(ctx.t("started_subs", n=following))]
    return [Reply(ctx.t("started"))]


def yes(ctx: Context, rest: str) -> list[Reply]:
    """YES (OUI, NDIYO) with nothing waiting for it: the same as START. (A YES that confirms
    a waiting request never reaches here: handlers.costs runs that request instead.)"""
    return start(ctx, rest)


def register(router: Router) -> None:
    """Add HELP, STOP and START (and YES, which is START unless something awaits a yes)."""
    router.register(Command("help", keywords.HELP, help_))
    router.register(Command("stop", keywords.OPT_OUT, stop, single_word_only=True, always=True))
    start_words = {lang: words - keywords.YES[lang] for lang, words in keywords.OPT_IN.items()}
    router.register(Command("start", start_words, start, single_word_only=True, always=True))
    router.register(Command("yes", keywords.YES, yes, single_word_only=True, always=True))
