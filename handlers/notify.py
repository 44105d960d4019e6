"""Messages a command sends to other people (leaders, members, a buyer), through the outbox.

A reply goes back to the sender inline; everything else is queued here for the worker,
in each recipient's own language, skipping anyone who has opted out (the worker checks
again before sending, and holds group messages during quiet hours).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from db import outbox
from db.contacts import Contact
from handlers import localize
from handlers.messages import Context
from handlers.segments import count, fits
from prices import countries, quiet

Render = Callable[[Context], "str | list[str]"]
MAX_PARTS = 9


def pack(head: Callable[[str], str], items: list[str], tail: str = "") -> list[str]:
    """A head and a list (and a tail) as few one-segment SMS as possible, split between
    items, never inside one, and numbered when there are several: `head("(1/2) ")`.

    Used for bulletins and order summaries: a feature phone may show concatenated parts
    apart, so each part must read on its own.
    """
    whole = head("") + "; ".join(items) + "." + tail
    if fits(whole) or not items:
        return [whole]
    most = MAX_PARTS
    while True:   # room for the widest number: (9/9), or (99/99) for a long list
        widest = f"({most}/{most}) "
        parts: list[list[str]] = [[]]
        for item in items:
            trial = parts[-1] + [item]
            if parts[-1] and not fits(head(widest) + "; ".join(trial) + "." + tail):
                parts.append([item])
            else:
                parts[-1] = trial
        if len(parts) <= most:
            break
        most = 10 ** len(str(len(parts))) - 1
    total = len(parts)
    return [head(f"({n}/{total}) ") + "; ".join(chunk) + "." + (tail if n == total else "")
            for n, chunk in enumerate(parts, start=1)]


@dataclass(frozen=True, slots=True)
class Recipient:
    contact_id: int
    phone: str
    language: str | None
    opted_out: bool = False


@dataclass
class Sent:
    queued: int = 0
    opted_out: int = 0
    segments: int = 0


class Wording:
    """Contexts for writing to people other than the sender: one per language, no contact."""

    def __init__(self, conn: sqlite3.Connection, settings: Mapping[str, Any],
                 now: datetime) -> None:
        self.conn, self.settings, self.now = conn, settings, now
        self.default_language = str(settings["app.default_language"])
        self._contexts: dict[str, Context] = {}

    def context(self, language: str | None) -> Context:
        """A wording context for a language (the default one for None)."""
        language = language or self.default_language
        if language not in self._contexts:
            self._contexts[language] = Context(self.conn, Contact(0, "", language, False),
                                               language, self.now, self.settings)
        return self._contexts[language]


class Outbox(Wording):
    """Queues rendered messages in batches, rendering each language once per text.

    `about` is required: the contact whose order, sale, bid, pool or message these
    messages are about (its creator: an order's buyer, a sale's seller, a pool's leader,
    a broadcast's leader), or None for the service's own notices. Messages about a
    simulated contact's doing go to the local provider whoever gets them and whenever
    they are sent (db.outbox._PROVIDER), so every caller must say what they are about.
    """

    def __init__(self, conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime,
                 kind: str, *, about: int | None) -> None:
        super().__init__(conn, settings, now)
        self.kind = kind
        self.about = about

    def send(self, recipients: Iterable[Recipient], render: Render) -> Sent:
        """Queue `render`'s text(s) to each recipient. Those who have opted out get nothing
        (outbox.create, the one place messages are made, leaves them out); they are counted
        here for the sender's report and the audit."""
        done = Sent()
        rendered: dict[str, list[outbox.Outgoing]] = {}
        batch: list[outbox.Outgoing] = []
        for person in recipients:
            done.opted_out += person.opted_out
            language = person.language or countries.language_of(self.settings, person.phone)
            if language not in rendered:
                texts = render(self.context(language))
                texts = [texts] if isinstance(texts, str) else texts
                rendered[language] = [outbox.Outgoing(0, "", t, str(count(t).encoding),
                                                      count(t).segments) for t in texts]
            batch.extend(outbox.Outgoing(person.contact_id, person.phone, m.text, m.encoding,
                                         m.segments) for m in rendered[language])
            if len(batch) >= 1000:
                self._flush(batch, done)
                batch = []
        self._flush(batch, done)
        return done

    def _flush(self, batch: list[outbox.Outgoing], done: Sent) -> None:
        if not batch:
            return
        messages, segments = outbox.enqueue_many(
            self.conn, batch, provider=str(self.settings["providers.default"]),
            kind=self.kind, not_before=self.now, now=self.now, about=self.about)
        done.queued += messages
        done.segments += segments


def held_note(ctx: Context) -> str:
    """' They get it at 07:00, after quiet hours.' when messages queued now for the sender's
    country wait for its quiet hours to end (the worker holds them); else ''. A leader
    told "Sent to 55 members" at 21:20 must know that nobody has it yet."""
    from handlers.price import country_of   # price's own imports never reach notify

    country = country_of(ctx)
    ends = quiet.until(ctx.settings, country, ctx.now)
    if ends is None:
        return ""
    local = ends.astimezone(ZoneInfo(countries.get(ctx.settings, country).timezone))
    return " " + ctx.t("held_until", time=local.strftime("%H:%M"))


def fitted(ctx: Context, key: str, *, held: str = "", **values: Any) -> str:
    """The text `key`, or `key`_short when the long one does not fit one SMS; `held` (the
    messages wait for quiet hours: held_note) ends whichever fits with it. Counts are
    written as the reader writes figures (10,000; 10 000 in French)."""
    values = {name: localize.number(ctx.language, value)
              if isinstance(value, int) and not isinstance(value, bool) else value
              for name, value in values.items()}
    for text in (ctx.t(key, **values) + held, ctx.t(key + "_short", **values) + held):
        if fits(text):
            return text
    return ctx.t(key + "_short", **values)
