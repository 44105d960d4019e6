"""The router: from the first word of a message to the command that answers it.

A command is a set of keywords per language and a `handle(ctx, rest)` function (the
rapidsms KeywordHandler shape). Issues add commands by registering them; messages that no
keyword claims go to the fallbacks in order (for example a bare "MAIZE NAKURU"), and
finally get a short helpful answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from handlers import keywords
from handlers.messages import Context, Reply
from handlers.words import single_word, split_command

Handle = Callable[[Context, str], list[Reply]]
Fallback = Callable[[Context, str], list[Reply] | None]


class DuplicateKeyword(ValueError):
    """Two commands claim the same keyword in the same language."""


@dataclass(frozen=True, slots=True)
class Command:
    """Keywords per language, what to do, and when it applies."""

    name: str
    keywords: Mapping[str, frozenset[str]]
    handle: Handle
    single_word_only: bool = False   # STOP/START/HELP act only on a message of one word
    always: bool = False             # runs even when the sender is rate-limited


@dataclass(frozen=True, slots=True)
class Match:
    command: Command
    language: str
    rest: str


class Router:
    """Finds the command for a message and runs it."""

    def __init__(self) -> None:
        self._index: dict[str, list[tuple[str, Command]]] = {}
        self._fallbacks: list[Fallback] = []

    def register(self, command: Command) -> None:
        """Add a command; its keywords must not clash with another command's."""
        for language, words in command.keywords.items():
            for word in words:
                owners = self._index.setdefault(word, [])
                if any(lang == language and other.name != command.name for lang, other in owners):
                    raise DuplicateKeyword(f"{word} ({language}) is claimed twice")
                owners.append((language, command))

    def commands(self) -> list[Command]:
        """Every registered command, once each, in the order registered."""
        return list({command.name: command for owners in self._index.values()
                     for _, command in owners}.values())

    def add_fallback(self, fallback: Fallback) -> None:
        """Add a handler for messages no keyword claims; it returns None to pass."""
        self._fallbacks.append(fallback)

    def match(self, text: str, *, preferred: tuple[str, ...] = ()) -> Match | None:
        """The command a message asks for, and the language its keyword was in."""
        word, rest = split_command(text)
        alone = single_word(text)
        for language, command in self._ranked(word, preferred):
            if command.single_word_only and alone != word:
                continue
            return Match(command, language, rest)
        return None

    def _ranked(self, word: str, preferred: tuple[str, ...]) -> list[tuple[str, Command]]:
        owners = self._index.get(word, [])
        order = {lang: rank for rank, lang in enumerate(preferred)}
        return sorted(owners, key=lambda owner: order.get(owner[0], len(order)))

    def is_always(self, text: str) -> bool:
        """Whether the message is one that must work even for a rate-limited sender (STOP)."""
        match = self.match(text)
        return match is not None and match.command.always

    def dispatch(self, ctx: Context, text: str) -> list[Reply]:
        """Run the command the message asks for and return its replies."""
        match = self.match(text, preferred=_preferences(ctx))
        if match is not None:
            ctx.language = _reply_language(ctx, match)
            return match.command.handle(ctx, match.rest)
        for fallback in self._fallbacks:
            replies = fallback(ctx, text)
            if replies is not None:
                return replies
        first, _ = split_command(text)
        if first in keywords.all_words(keywords.OPT_OUT):
            return [Reply(ctx.t("stop_alone"))]
        return [Reply(ctx.t("unknown"))]


def _preferences(ctx: Context) -> tuple[str, ...]:
    default = str(ctx.settings["app.default_language"])
    ordered = [ctx.contact.language, ctx.language, default, "en", "sw", "fr"]
    return tuple(dict.fromkeys(lang for lang in ordered if lang))


def _reply_language(ctx: Context, match: Match) -> str:
    """A contact's chosen language wins; otherwise answer in the keyword's language."""
    return ctx.contact.language or match.language
