"""JOIN, LEAVE, APPROVE and BCAST: producer groups by SMS.

`JOIN KIMA` makes the sender a member of group KIMA, or, where the group requires it,
asks its leaders, who answer `APPROVE KIMA 0712345678`. `LEAVE KIMA` leaves. A leader's
`BCAST <text>` goes to every member who has not opted out: at most
`limits.broadcast_max_chars` characters and `limits.broadcasts_per_hour` an hour, and above
`limits.confirm_above_segments` SMS the leader first answers YES (NDIYO, OUI), after seeing
how many SMS it will cost (handlers.costs, the same for every command).
Keywords: JIUNGE / TOKA / KUBALI / TANGAZA (sw), REJOINDRE / QUITTER / APPROUVER /
DIFFUSER (fr).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from db import contacts, rosters
from db import groups as groups_db
from db.groups import Group
from handlers import keywords, localize
from handlers.messages import Context, Reply
from handlers.notify import Outbox, Recipient, Sent, held_note
from handlers.phone import display_phone, parse_phone
from handlers.router import Command, Router
from prices.folding import fold

JOIN_WORDS = keywords.words("join")
LEAVE_WORDS = keywords.words("leave")
APPROVE_WORDS = keywords.words("approve")
BCAST_WORDS = keywords.words("bcast")


def code_of(word: str) -> str:
    """A group code as stored: folded, letters and digits only."""
    return "".join(ch for ch in fold(word) if ch.isascii() and ch.isalnum())[:12]


def _leaders(ctx: Context, group: Group) -> list[Recipient]:
    return [Recipient(m.contact_id, m.phone, m.language, m.opted_out)
            for m in groups_db.members(ctx.conn, group.id, role="leader")]


def join(ctx: Context, rest: str) -> list[Reply]:
    """JOIN <code>."""
    code = code_of(rest.split()[0]) if rest.split() else ""
    if not code:
        return [Reply(ctx.t("join_usage"))]
    group = groups_db.by_code(ctx.conn, code)
    if group is None:
        return [Reply(ctx.t("join_unknown", code=code))]
    current = groups_db.membership(ctx.conn, group.id, ctx.contact.id)
    if current is not None and current[1] == "active":
        return [Reply(ctx.t("join_already", group=group.name, code=group.code))]
    if group.approval and current is None:
        groups_db.set_member(ctx.conn, group.id, ctx.contact.id, status="pending",
                             actor_id=ctx.contact.id)
        phone = display_phone(ctx.contact.phone, ctx.settings)
        Outbox(ctx.conn, ctx.settings, ctx.now, "group", about=ctx.contact.id).send(
            _leaders(ctx, group),
            lambda c: c.t("join_leader_request", phone=phone, code=group.code))
    if group.approval:
        return [Reply(ctx.t("join_pending", group=group.name, code=group.code))]
    groups_db.set_member(ctx.conn, group.id, ctx.contact.id, actor_id=ctx.contact.id)
    return [Reply(ctx.t("join_done", group=group.name, code=group.code))]


def leave(ctx: Context, rest: str) -> list[Reply]:
    """LEAVE <code>."""
    code = code_of(rest.split()[0]) if rest.split() else ""
    if not code:
        return [Reply(ctx.t("leave_usage"))]
    group = groups_db.by_code(ctx.conn, code)
    if group is None or not groups_db.remove_member(ctx.conn, group.id, ctx.contact.id,
                                                     actor_id=ctx.contact.id):
        return [Reply(ctx.t("leave_not_member", code=code))]
    return [Reply(ctx.t("leave_done", group=group.name, code=group.code))]


def approve(ctx: Context, rest: str) -> list[Reply]:
    """APPROVE <code> <phone>: a leader lets a pending member in."""
    words = rest.split()
    if len(words) < 2:
        return [Reply(ctx.t("approve_usage"))]
    group = groups_db.by_code(ctx.conn, code_of(words[0]))
    if group is None or groups_db.membership(ctx.conn, group.id, ctx.contact.id) != \
            ("leader", "active"):
        return [Reply(ctx.t("not_leader"))]
    phone = parse_phone(" ".join(words[1:]), ctx.settings)
    person = contacts.find(ctx.conn, phone) if phone else None
    shown = phone and display_phone(phone, ctx.settings) or words[1][:16]
    if person is None or groups_db.membership(ctx.conn, group.id, person.id) != \
            ("member", "pending"):
        return [Reply(ctx.t("approve_nothing", phone=shown, code=group.code))]
    if person.simulated != ctx.contact.simulated:   # they never act on each other: sides
        return [Reply(ctx.t("approve_apart", phone=shown))]
    groups_db.set_member(ctx.conn, group.id, person.id, actor_id=ctx.contact.id)
    appointed(ctx.conn, ctx.settings, ctx.now, group, person, "member")
    return [Reply(ctx.t("approve_done", phone=shown, code=group.code))]


def broadcast(ctx: Context, rest: str) -> list[Reply]:
    """BCAST [<code>] <text>: a leader's message to the group's members."""
    led = groups_db.groups_of(ctx.conn, ctx.contact.id, role="leader")
    if not led:
        return [Reply(ctx.t("not_leader"))]
    text = rest.strip()
    group = led[0]
    if len(led) > 1:
        first, _, after = text.partition(" ")
        chosen = next((g for g in led if g.code == code_of(first)), None)
        if chosen is None:
            return [Reply(ctx.t("bcast_which", codes=", ".join(g.code for g in led),
                                code=led[0].code))]
        group, text = chosen, after.strip()
    if not text:
        return [Reply(ctx.t("bcast_usage"))]
    refused = broadcast_refusal(ctx.conn, ctx.settings, ctx.now, text, actor_id=ctx.contact.id)
    if refused is not None:
        return [Reply(ctx.t(refused.key, **refused.values))]
    if groups_db.count_members(ctx.conn, group.id, reachable=True, excluding=ctx.contact.id) == 0:
        return [Reply(ctx.t("bcast_none", code=group.code))]
    # What it costs is confirmed by the gateway for every command alike (handlers.costs).
    sent = send_broadcast(ctx.conn, ctx.settings, ctx.now, group, text, actor_id=ctx.contact.id)
    return [Reply(ctx.t("bcast_sent", members=_count(ctx, sent.queued), code=group.code)
                  + held_note(ctx))]


def _count(ctx: Context, n: int) -> str:
    """10000 -> '10,000' (the reader's thousands separator)."""
    return localize.number(ctx.language, n)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a broadcast may not go: a text key (bcast_too_long, bcast_quota) and its values."""

    key: str
    values: dict[str, int]


def broadcast_text(group: Group, text: str) -> str:
    """What each member gets: the group's code, then the leader's text."""
    return f"{group.code}: {text}"


def broadcast_refusal(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime,
                      text: str, *, actor_id: int | None = None,
                      console_user: str | None = None) -> Refusal | None:
    """Why this broadcast may not go now (too long, or the sender's hourly number used up),
    or None: the limits of BCAST by SMS and of the console's broadcast alike. The sender
    is a contact (actor_id), a console user, or a console user tied to a contact (both:
    their SMS and console broadcasts count together)."""
    longest = int(settings["limits.broadcast_max_chars"])
    if len(text) > longest:
        return Refusal("bcast_too_long", {"max": longest, "count": len(text)})
    per_hour = int(settings["limits.broadcasts_per_hour"])
    since = now - timedelta(hours=1)
    if console_user is None:
        done = groups_db.count_actions(conn, "broadcast", actor_id=actor_id or 0, since=since)
    else:
        done = rosters.broadcasts_since(conn, actor_id=actor_id, console_user=console_user,
                                        since=since)
    if done >= per_hour:
        return Refusal("bcast_quota", {"max": per_hour})
    return None


def send_broadcast(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime,
                   group: Group, text: str, *, actor_id: int | None = None,
                   console_user: str | None = None, **detail: Any) -> Sent:
    """Queue a leader's text (BCAST, or the console's broadcast) to every active member of
    the group but the sender, as kind `broadcast` (held in quiet hours by the worker), and
    audit it. Opted-out members get nothing (outbox.create)."""
    message = broadcast_text(group, text)
    out = Outbox(conn, settings, now, "broadcast", about=actor_id)
    recipients = (Recipient(m.contact_id, m.phone, m.language, m.opted_out)
                  for batch in groups_db.member_batches(conn, group.id) for m in batch
                  if m.contact_id != actor_id)
    done = out.send(recipients, lambda c: message)
    groups_db.audit(conn, "broadcast", actor_id=actor_id, group_id=group.id, now=now,
                    console_user=console_user, members=done.queued, segments=done.segments,
                    text=message, **detail)
    return done


def appointed(conn: sqlite3.Connection, settings: Mapping[str, Any], now: datetime,
              group: Group, person: contacts.Contact, role: str) -> None:
    """Tell someone an admin made a member or a leader who sees their number, and who
    sees the numbers of others (the consent rule: nobody's number is shown unannounced)."""
    key = "approved" if role == "member" else (
        "leader_appointed_shared" if group.share_leader_numbers else "leader_appointed")
    Outbox(conn, settings, now, "group", about=None).send(   # the service's own notice
        [Recipient(person.id, person.phone, person.language, person.opted_out)],
        lambda c: c.t(key, group=group.name, code=group.code))


def register(router: Router) -> None:
    """Add JOIN, LEAVE, APPROVE and BCAST; YES confirms a waiting broadcast."""
    router.register(Command("join", JOIN_WORDS, join))
    router.register(Command("leave", LEAVE_WORDS, leave))
    router.register(Command("approve", APPROVE_WORDS, approve))
    router.register(Command("bcast", BCAST_WORDS, broadcast))
