"""FORGET (SAHAU, OUBLIER): a farmer asks the service to delete them, and confirms with YES.

The first message only asks; YES within `limits.confirm_minutes` opts the person out at
once and answers with the last SMS they will get. The worker then erases them
(db.privacy.forget_requested) once that answer has gone: their number, what they wrote and
were sent, their alerts and groups. Writing to the service again later starts afresh.
"""

from __future__ import annotations

from db import privacy
from handlers import costs, keywords
from handlers.messages import OPTOUT_CONFIRMATION, Context, Reply
from handlers.router import Command, Router

FORGET_WORDS = keywords.words("forget")


def forget(ctx: Context, rest: str) -> list[Reply]:
    """FORGET: ask for YES; FORGET confirmed: opt out now, erase once the answer is gone."""
    if not ctx.confirmed:
        replaced = costs.ask_yes(ctx, "FORGET")
        reply = ctx.t("forget_confirm", minutes=int(ctx.settings["limits.confirm_minutes"]))
        return [Reply(reply + (" " + ctx.t("confirm_replaced") if replaced else ""))]
    privacy.request_forget(ctx.conn, ctx.contact.id, now=ctx.now)
    return [Reply(ctx.t("forget_done"), kind=OPTOUT_CONFIRMATION)]


def register(router: Router) -> None:
    """Add FORGET."""
    router.register(Command("forget", FORGET_WORDS, forget))
