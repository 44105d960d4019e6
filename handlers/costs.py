"""What one message may cost: confirmation with YES above a number of SMS, and an hourly quota.

Every command that writes runs inside a savepoint (smsgw.gateway). Afterwards `settle`
looks at the outbound messages the command queued for other people (a broadcast, an order
relayed to leaders, a forward to members) and decides, the same way for every command:

- nothing or little queued: the effect stands, and the rows are marked as caused by the
  sender (the hourly quota counts them);
- what a command will send later in a batch (a SELL's place in the buyers' next digest)
  is recorded by the command as promised (db.promised) and counted here exactly like
  what it queued at once;
- more than `limits.confirm_above_segments` segments: the effect is undone and the command
  kept for the sender's YES, with the count and the estimated cost (one pending request per
  sender: a newer one replaces the older and says so);
- more than the sender's hourly quota (`limits.caused_segments_per_hour`) allows: undone,
  and the sender is told, whether or not they would have said YES.

A YES (NDIYO, OUI) with a request waiting runs that request again, allowed to cost what
was shown (plus a tenth, as members may have joined meanwhile); without one, YES is START.
Measuring what a command did, rather than asking each command to predict it, keeps the
rule in one place: a new command is covered without knowing it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from db import confirmations, outbox, promised
from handlers import keywords, localize
from handlers.messages import Context, Reply
from handlers.words import single_word

YES_WORDS = keywords.all_words(keywords.YES)


def resolve_yes(ctx: Context, text: str) -> tuple[str, int | None]:
    """The text to run and what it may cost: a YES with a request waiting becomes that
    request (taken, so it runs once); anything else runs as written, with no allowance."""
    if ctx.contact.opted_out or single_word(text) not in YES_WORDS:
        return text, None
    waiting = confirmations.take(ctx.conn, ctx.contact.id, ctx.now)
    if waiting is None:
        return text, None
    ctx.language = ctx.contact.language or waiting.language
    ctx.confirmed = True
    return waiting.text, waiting.segments + max(1, waiting.segments // 10)


def ask_yes(ctx: Context, text: str) -> bool:
    """Keep a command that costs nothing but must be confirmed (FORGET) for the sender's
    YES, as `settle` does for costly ones; True if it replaced an earlier request."""
    minutes = int(ctx.settings["limits.confirm_minutes"])
    return confirmations.propose(
        ctx.conn, contact_id=ctx.contact.id, text=text, language=ctx.language, messages=0,
        segments=0, now=ctx.now, expires=ctx.now + timedelta(minutes=minutes))


def settle(ctx: Context, text: str, mark: int, *, allowance: int | None,
           undo: Callable[[], None]) -> list[Reply] | None:
    """None when the command's messages to others may go; else `undo()` is called and the
    replies say why (a confirmation to answer, or the quota)."""
    messages, segments = outbox.written_since(ctx.conn, mark)
    later = promised.unsettled(ctx.conn, ctx.contact.id)   # batched later (db.promised)
    messages, segments = messages + later[0], segments + later[1]
    if not messages:
        return None
    hour_ago = ctx.now - timedelta(hours=1)
    quota = int(ctx.settings["limits.caused_segments_per_hour"])
    used = outbox.caused_since(ctx.conn, ctx.contact.id, hour_ago) + \
        promised.promised_since(ctx.conn, ctx.contact.id, hour_ago)
    if used + segments > quota:
        undo()
        return [Reply(ctx.t("quota_hour", segments=_n(ctx, segments), limit=_n(ctx, quota),
                            left=_n(ctx, max(0, quota - used))))]
    limit = allowance if allowance is not None else int(
        ctx.settings["limits.confirm_above_segments"])
    if segments <= limit:
        outbox.mark_caused(ctx.conn, mark, ctx.contact.id)
        promised.settle(ctx.conn, ctx.contact.id)
        return None
    undo()
    return _ask(ctx, text, messages, segments, again=allowance is not None)


def _ask(ctx: Context, text: str, messages: int, segments: int, *,
         again: bool = False) -> list[Reply]:
    minutes = int(ctx.settings["limits.confirm_minutes"])
    replaced = confirmations.propose(
        ctx.conn, contact_id=ctx.contact.id, text=text, language=ctx.language,
        messages=messages, segments=segments, now=ctx.now,
        expires=ctx.now + timedelta(minutes=minutes))
    price = float(ctx.settings["bulletins.cost_per_segment"])
    cost = ctx.t("confirm_money", currency=str(ctx.settings["bulletins.cost_currency"]),
                 amount=_n(ctx, price * segments)) if price > 0 else ""
    word = text.split()[0].upper()[:12] if text.split() else ""
    reply = ctx.t("confirm_cost", word=word, messages=_n(ctx, messages),
                  segments=_n(ctx, segments), cost=cost, minutes=minutes)
    if replaced and not again:  # (again: the YES's own request, back after the undo)
        reply += " " + ctx.t("confirm_replaced")
    return [Reply(reply)]


def _n(ctx: Context, n: float) -> str:
    """10000 -> '10,000' (the reader's thousands separator), rounded half up to a whole."""
    return localize.number(ctx.language, n)
