"""Groups and orders: the list of groups and open orders (admins), a group's page (admins
and that group's leaders), an order's progress by group, closing an order (admins), and a
leader's broadcast with its cost confirmed first.

The broadcast is BCAST's (handlers.groups): the same limits (limits.broadcast_max_chars,
limits.broadcasts_per_hour, and for a leader tied to a phone the hourly SMS quota of
handlers.costs), the same message ("KIMA: text"), the same sending and audit. The
confirmation screen shows the reachable members, SMS per message, total SMS and cost,
and its Send button carries a signed token of exactly that text and count: a changed text
cannot use it, and if the group grew by more than BCAST's allowance for a YES (a tenth),
the new cost is shown again instead of sending. A leader never sees a whole number here.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from db import groups as groups_db
from db import orders as orders_db
from db import outbox, promised, rosters
from db.groups import Group
from handlers import orders as order_handlers
from handlers.groups import broadcast_refusal, broadcast_text, code_of, send_broadcast
from handlers.segments import count
from prices import countries, quiet
from smsgw.console.blueprint import actor, audit, bp, for_leaders, number, own_group, read, write
from smsgw.context import services
from smsgw.logsafe import mask_phones

GROUPS_PAGE = 50
ORDERS_PAGE = 25
PEOPLE_PAGE = 50
PLEDGES_PAGE = 50
MAX_PAGES = 200
_LIMIT_TEXT = {
    "bcast_too_long": "A broadcast can have at most {max:,} characters and this one has"
                      " {count:,}. Shorten it.",
    "bcast_quota": "At most {max:,} broadcasts an hour. Try again later.",
}


# ---------------------------------------------------------------------------- helpers


def text_arg(name: str, longest: int, *, form: bool = False) -> str:
    """A text the user typed, trimmed, at most `longest` characters, lone surrogates
    replaced (SQLite cannot store them)."""
    raw = (request.form if form else request.args).get(name, "")
    return raw.encode("utf-8", "replace").decode("utf-8").strip()[:longest]


def page_arg(name: str) -> int | None:
    """A non-negative whole number from the query string, else None (a typo is page 1)."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 16 else None


def when(stamp: str | None) -> str:
    """A stored UTC time as '23 Nov 2026 12:00', in the deployment's time zone."""
    if not stamp:
        return ""
    return _local(stamp, str(services().config["app.timezone"]))


@lru_cache(maxsize=4096)
def _local(stamp: str, zone: str) -> str:
    # A page lists hundreds of times: fromisoformat and a cached zone keep each ~5 us.
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%-d %b %Y %H:%M")


def day(text: str | date | None) -> str:
    """'2026-12-20' as '20 Dec 2026'."""
    if not text:
        return ""
    moment = text if isinstance(text, date) else date.fromisoformat(str(text))
    return moment.strftime("%-d %b %Y")


def figure(value: float | int | None) -> str:
    """1500 -> '1,500', 2.5 -> '2.5'."""
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def money(amount: float, currency: str) -> str:
    """'KES 1,234.50'."""
    return f"{currency} {amount:,.2f}".strip()


def percent(part: float, whole: float) -> str:
    return f"{round(100 * part / whole):,}%" if whole else ""


def view_helpers() -> dict[str, Any]:
    """Formatting functions for the templates of these pages."""
    return {"when": when, "day": day, "figure": figure, "money": money, "percent": percent}


def _group(code: str) -> Group:
    """The group named in the URL (404 if none), after checking the user may see it."""
    found = groups_db.by_code(read(), code_of(code)) if len(code) <= 40 else None
    if found is None:
        abort(404)
    own_group(found.id)
    return found


def _order_code(code: str) -> str:
    return code.strip().upper()[:16]


def _person_number(person: rosters.Person, group: Group) -> str:
    if person.forgotten:
        return "(forgotten)"
    shared = person.role == "leader" and group.share_leader_numbers
    return number(person.phone, shared=shared)


# ---------------------------------------------------------------------------- groups


@bp.get("/groups")
def groups() -> ResponseReturnValue:
    """Every group with its counts, and the open orders with their progress."""
    conn = read()
    page = min(page_arg("page") or 0, MAX_PAGES)
    opage = min(page_arg("opage") or 0, MAX_PAGES)
    lines = rosters.group_lines(conn, offset=page * GROUPS_PAGE, limit=GROUPS_PAGE + 1)
    open_orders = rosters.orders(conn, status="open", offset=opage * ORDERS_PAGE,
                                 limit=ORDERS_PAGE + 1)
    return render_template(
        "console/groups.html", groups=lines[:GROUPS_PAGE], page=page,
        more_groups=len(lines) > GROUPS_PAGE, orders=open_orders[:ORDERS_PAGE], opage=opage,
        more_orders=len(open_orders) > ORDERS_PAGE, total_groups=rosters.count_groups(conn),
        total_orders=rosters.count_orders(conn, "open"), **view_helpers())


def _group_page(group: Group, *, text: str = "", problem: str = "",
                status: int = 200) -> ResponseReturnValue:
    conn = read()
    after = page_arg("after") or 0
    members = rosters.people(conn, group.id, role="member", after=after, limit=PEOPLE_PAGE + 1)
    leaders = rosters.people(conn, group.id, role="leader", limit=PEOPLE_PAGE)
    pending = rosters.people(conn, group.id, status="pending", limit=PEOPLE_PAGE)
    open_orders = rosters.open_orders_of(conn, group.id)
    pledges = {o.id: rosters.pledge_lines(conn, o.id, group.id, limit=10) for o in open_orders}
    market = rosters.market_of(conn, group.market_id)
    shown = {p.contact_id: _person_number(p, group) for p in [*members, *leaders, *pending]}
    offered_by = {p.contact_id: "(forgotten)" if p.forgotten else number(p.phone)
                  for lines in pledges.values() for p in lines}
    return render_template(
        "console/group.html", group=group, market=market,
        counts=rosters.counts_of(conn, [group.id])[group.id],
        members=members[:PEOPLE_PAGE], more_members=len(members) > PEOPLE_PAGE, after=after,
        leaders=leaders, pending=pending, orders=open_orders, pledges=pledges, shown=shown,
        offered_by=offered_by,
        broadcasts=[{**b, "text": mask_phones(str(b.get("text", "")))}
                    for b in rosters.broadcasts(conn, group.id)], text=text, problem=problem,
        longest=int(services().config["limits.broadcast_max_chars"]),
        **view_helpers()), status


@bp.get("/groups/<code>")
@for_leaders
def group(code: str) -> ResponseReturnValue:
    """A group: members and leaders, join requests, open orders, broadcasts."""
    found = _group(code)
    return _group_page(found, text=text_arg("text", 2000))


@bp.get("/groups/<code>/orders/<order>")
@for_leaders
def group_order(code: str, order: str) -> ResponseReturnValue:
    """One order relayed to a group: its progress, and who in the group pledged what."""
    found = _group(code)
    conn = read()
    line = rosters.order_in_group(conn, _order_code(order), found.id)
    if line is None:
        abort(404)
    page = min(page_arg("page") or 0, MAX_PAGES)
    lines = rosters.pledge_lines(conn, line.id, found.id, offset=page * PLEDGES_PAGE,
                                 limit=PLEDGES_PAGE + 1)
    return render_template(
        "console/group_order.html", group=found, order=line, page=page,
        pledges=[(p, "(forgotten)" if p.forgotten else number(p.phone))
                 for p in lines[:PLEDGES_PAGE]],
        more=len(lines) > PLEDGES_PAGE, pledgers=rosters.count_pledges(conn, line.id, found.id),
        **view_helpers())


# ---------------------------------------------------------------------------- orders


@bp.get("/orders/<code>")
def groups_order(code: str) -> ResponseReturnValue:
    """An order (admins): its progress overall and in each group, and its audit trail."""
    conn = read()
    line = rosters.order(conn, _order_code(code))
    if line is None:
        abort(404)
    return render_template(
        "console/order.html", order=line, relays=rosters.relays_of(conn, line.id),
        trail=groups_db.audit_rows(conn, order_id=line.id, limit=30), **view_helpers())


@bp.route("/orders/<code>/close", methods=["GET", "POST"])
def groups_order_close(code: str) -> ResponseReturnValue:
    """Close an order as `smsgw orders close` does (handlers.orders.finish: the buyer, the
    leaders and everyone who pledged get their summary), after a confirmation."""
    conn = read()
    line = rosters.order(conn, _order_code(code))
    if line is None:
        abort(404)
    if request.method == "GET" or line.status != "open":
        return render_template(
            "console/order_close.html", order=line, relays=rosters.relays_of(conn, line.id),
            pledgers=rosters.pledgers(conn, line.id), **view_helpers()), \
            200 if line.status == "open" or request.method == "GET" else 409
    settings, me = services().config, actor()

    def close(conn):  # noqa: ANN001, ANN202 - runs on the writer thread
        order = orders_db.by_id(conn, line.id)
        if order is None or not order_handlers.finish(conn, settings, me["now"], order,
                                                       "closed"):
            return False
        audit(conn, "close_order", **me, order_id=order.id, code=order.code)
        return True

    if write(close):
        flash(f"Order {line.code} is closed. The buyer, the groups' leaders and everyone who"
              " pledged get the final summary.")
    else:
        flash(f"Order {line.code} was not open any more: nothing was sent.")
    return redirect(url_for("console.groups_order", code=line.code))


# ---------------------------------------------------------------------------- broadcast


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="console.broadcast")


def _sender() -> tuple[int | None, str]:
    """The contact a broadcast comes from (a leader tied to a phone: left out of its
    recipients, and their hourly SMS quota counts it) and the console user's name."""
    return current_user.contact_id, current_user.username


def _reach(conn: Any, group: Group, contact_id: int | None) -> int:
    return groups_db.count_members(conn, group.id, reachable=True, excluding=contact_id)


def _quota_problem(conn: Any, contact_id: int | None, segments: int, now: datetime,
                   quota: int) -> str:
    """The hourly SMS quota of a leader's phone (handlers.costs), as for BCAST by SMS."""
    if contact_id is None:
        return ""
    hour_ago = now - timedelta(hours=1)
    used = outbox.caused_since(conn, contact_id, hour_ago) + \
        promised.promised_since(conn, contact_id, hour_ago)
    if used + segments <= quota:
        return ""
    return (f"This needs {segments:,} SMS and your phone's messages have {max(0, quota - used):,}"
            f" of {quota:,} left this hour. Try again later.")


def _figures(conn: Any, group: Group, text: str, contact_id: int | None) -> dict[str, Any]:
    """What the confirmation shows: reachable members, SMS per message, total, cost."""
    settings = services().config
    message = broadcast_text(group, text)
    info = count(message)
    active, reach = rosters.reach(conn, group.id, excluding=contact_id)
    price = float(settings["bulletins.cost_per_segment"])
    currency = str(settings["bulletins.cost_currency"])
    total = reach * info.segments
    return {"message": message, "members": reach, "opted_out": active - reach,
            "segments": info.segments, "encoding": str(info.encoding), "total": total,
            "cost": money(price * total, currency) if price > 0 else "",
            "held": _held_until(group, services().clock())}


def _held_until(group: Group, now: datetime) -> str:
    """'07:00' when messages queued now wait for the quiet hours of the group's country to
    end (the worker holds broadcasts then), else ''."""
    settings = services().config
    market = rosters.market_of(read(), group.market_id)
    country = market[1] if market and market[1] in countries.served(settings) else \
        countries.first(settings).code
    ends = quiet.until(settings, country, now)
    if ends is None:
        return ""
    zone = ZoneInfo(countries.get(settings, country).timezone)
    local = ends.astimezone(zone)
    same_day = local.date() == now.astimezone(zone).date()
    return local.strftime("%H:%M" if same_day else "%H:%M on %-d %b")


def _problem(conn: Any, group: Group, text: str, contact_id: int | None, username: str) -> str:
    """Why this text cannot be broadcast now, in words, or ''."""
    if not text:
        return "Write the message first."
    refused = broadcast_refusal(conn, services().config, services().clock(), text,
                                actor_id=contact_id, console_user=username)
    if refused is not None:
        return _LIMIT_TEXT[refused.key].format(**refused.values)
    return ""


def _nobody(group: Group) -> str:
    return f"No member of {group.code} can get messages now."


def _confirm_page(group: Group, text: str, figures: dict[str, Any], *, notice: str = "",
                  status: int = 200) -> ResponseReturnValue:
    username = current_user.username
    token = _serializer().dumps({"g": group.id, "u": username, "t": text,
                                 "n": figures["members"], "s": figures["segments"],
                                 "c": secrets.token_urlsafe(12)})
    return render_template("console/group_broadcast.html", group=group, text=text,
                           figures=figures, token=token, notice=notice,
                           minutes=int(services().config["limits.confirm_minutes"]),
                           **view_helpers()), status


def _typed_text() -> str:
    raw = request.form.get("text", "")
    return raw.replace("\r\n", "\n").encode("utf-8", "replace").decode("utf-8").strip()


@bp.post("/groups/<code>/broadcast")
@for_leaders
def group_broadcast(code: str) -> ResponseReturnValue:
    """Step 1: the cost of a broadcast, to confirm."""
    found = _group(code)
    text = _typed_text()
    contact_id, username = _sender()
    conn = read()
    problem = _problem(conn, found, text, contact_id, username)
    figures = _figures(conn, found, text, contact_id) if not problem else {}
    if not problem and figures["members"] == 0:
        problem = _nobody(found)
    problem = problem or _quota_problem(conn, contact_id, figures["total"], services().clock(),
                                        int(services().config["limits.caused_segments_per_hour"]))
    if problem:
        return _group_page(found, text=text, problem=problem, status=400)
    return _confirm_page(found, text, figures)


@bp.post("/groups/<code>/broadcast/send")
@for_leaders
def group_broadcast_send(code: str) -> ResponseReturnValue:
    """Step 2: send what was confirmed, through BCAST's sending, once."""
    found = _group(code)
    contact_id, username = _sender()
    minutes = int(services().config["limits.confirm_minutes"])
    try:
        shown = _serializer().loads(request.form.get("confirmation", ""), max_age=minutes * 60)
    except SignatureExpired:
        return _group_page(found, text=_typed_text(), status=400, problem=(
            f"The confirmation is older than {minutes} minutes. Check the cost again."))
    except BadSignature:
        return _group_page(found, text=_typed_text(), status=400,
                           problem="That confirmation is not valid. Check the cost again.")
    if shown.get("g") != found.id or shown.get("u") != username:
        return _group_page(found, status=400,
                           problem="That confirmation is for another group or user.")
    text, members = str(shown["t"]), int(shown["n"])
    settings, me = services().config, actor()
    quota = int(settings["limits.caused_segments_per_hour"])
    allowed = members + max(1, members // 10)   # BCAST's allowance for a YES (handlers.costs)

    def send(conn):  # noqa: ANN001, ANN202 - runs on the writer thread
        if rosters.confirmed_before(conn, found.id, shown["c"]):
            return "again", None
        refused = broadcast_refusal(conn, settings, me["now"], text, actor_id=contact_id,
                                    console_user=username)
        if refused is not None:
            return "refused", _LIMIT_TEXT[refused.key].format(**refused.values)
        reach = _reach(conn, found, contact_id)
        if reach == 0:
            return "refused", _nobody(found)
        if reach > allowed:
            return "grew", reach
        problem = _quota_problem(conn, contact_id, reach * count(broadcast_text(found, text))
                                 .segments, me["now"], quota)
        if problem:
            return "refused", problem
        mark = outbox.last_id(conn)
        sent = send_broadcast(conn, settings, me["now"], found, text, actor_id=contact_id,
                              console_user=username, confirmation=shown["c"])
        if contact_id is not None:
            outbox.mark_caused(conn, mark, contact_id)
        return "sent", sent

    outcome, value = write(send)
    if outcome == "grew":
        return _confirm_page(found, text, _figures(read(), found, text, contact_id), status=409,
                             notice=f"The group has grown since: it now reaches {value:,}"
                                    f" members instead of {members:,}. Check the new cost.")
    if outcome == "refused":
        return _group_page(found, text=text, problem=value, status=400)
    if outcome == "again":
        flash("That broadcast was sent already.")
    else:
        held = _held_until(found, me["now"])
        flash(f"Queued for {value.queued:,} members of {found.code} ({value.segments:,} SMS)."
              + (f" They get it at {held}, after quiet hours." if held else ""))
    return redirect(url_for("console.group", code=found.code))
