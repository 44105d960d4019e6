"""Contacts (admins): find a contact by name or by the last digits of their number, and see
one whole: language, market, subscriptions, opt-out, roles, groups and their messages.

Numbers are masked. An admin may reveal one contact's number with a button: that POST is
written to the audit trail (reveal_number) and only its own response shows the number;
nothing keeps it (no session, no link). Leaders of a group that shares its leaders'
numbers agreed to it, so an admin sees theirs (docs/security.md).
"""

from __future__ import annotations

import re

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from db import directory, subscriptions
from handlers.phone import parse_phone
from smsgw.console.blueprint import actor, audit, bp, number, read, write
from smsgw.console.pages.groups import page_arg, text_arg, view_helpers
from smsgw.context import services
from smsgw.logsafe import mask_phones

PAGE = 25           # contacts per page
HISTORY = 50        # messages per page
MAX_HISTORY_PAGES = 200
_NUMBERISH = re.compile(r"^\+?[\d\s().\-]+$")


def _search(query: str, before: int | None) -> tuple[list[directory.Listed], str, str]:
    """(a page of contacts, what was searched, a problem to show) for the search box."""
    conn = read()
    if not query:
        return directory.recent(conn, before=before, limit=PAGE + 1), "recent", ""
    if _NUMBERISH.match(query):
        whole = parse_phone(query, services().config)
        exact = directory.by_phone(conn, whole) if whole else []
        if exact:
            return exact, "number", ""
        digits = re.sub(r"\D", "", query)
        if len(digits) < directory.MIN_DIGITS:
            return [], "digits", (f"Type at least {directory.MIN_DIGITS} digits: the last digits"
                                  " of the number.")
        return directory.by_last_digits(conn, digits, before=before, limit=PAGE + 1), "digits", ""
    return directory.by_name(conn, query, before=before, limit=PAGE + 1), "name", ""


@bp.get("/contacts")
def contacts() -> ResponseReturnValue:
    query = text_arg("q", 100)
    before = page_arg("before")
    found, kind, problem = _search(query, before)
    more = len(found) > PAGE
    found = found[:PAGE]
    conn = read()
    ids = [c.id for c in found]
    names = directory.names_of(conn, ids, pools=kind == "name")
    shared = directory.sharing(conn, ids)
    rows = [{"contact": c, "names": names.get(c.id, []),
             "number": _shown(c.phone, c.forgotten, shared=c.id in shared)} for c in found]
    groups = directory.groups_named(conn, query) if kind == "name" else []
    return render_template(
        "console/contacts.html", query=query, kind=kind, problem=problem, rows=rows,
        groups=groups, before=before, next_before=found[-1].id if more else None,
        **view_helpers()), 400 if problem else 200


def _shown(phone: str, forgotten: bool, *, shared: bool = False, revealed: bool = False) -> str:
    if forgotten:
        return "(forgotten)"
    return number(phone, shared=shared, revealed=revealed)


def _contact_id(text: str) -> int:
    """The contact id in a URL (404 unless a plain whole number a row could have)."""
    if not (text.isascii() and text.isdigit() and len(text) < 16):
        abort(404)
    return int(text)


@bp.get("/contacts/<contact_id>")
def contacts_detail(contact_id: str) -> ResponseReturnValue:
    return _detail(_contact_id(contact_id), revealed=False)


@bp.route("/contacts/<contact_id>/reveal", methods=["GET", "POST"])
def contacts_reveal(contact_id: str) -> ResponseReturnValue:
    """Show one contact's whole number, in this response only, and audit it (a GET, from
    a reloaded page or a shared link, reveals nothing: it goes back to the contact)."""
    found = _contact_id(contact_id)
    if request.method == "GET":
        return redirect(url_for("console.contacts_detail", contact_id=found))
    person = directory.profile(read(), found)
    if person is None or person.forgotten_at:
        abort(404)
    me = actor()
    write(lambda conn: audit(conn, "reveal_number", **me, contact_id=found))
    return _detail(found, revealed=True)


def _detail(contact_id: int, *, revealed: bool) -> ResponseReturnValue:
    conn = read()
    person = directory.profile(conn, contact_id)
    if person is None:
        abort(404)
    page = min(page_arg("page") or 0, MAX_HISTORY_PAGES - 1)
    messages = directory.history(conn, contact_id, offset=page * HISTORY, limit=HISTORY + 1)
    shared = contact_id in directory.sharing(conn, [contact_id])
    names = directory.names_of(conn, [contact_id], pools=True).get(contact_id, [])
    return render_template(
        "console/contacts_detail.html", person=person, names=names, shared=shared,
        revealed=revealed and not person.forgotten_at,
        shown=_shown(person.phone, bool(person.forgotten_at), shared=shared, revealed=revealed),
        roles=directory.roles_of(conn, contact_id),
        groups=directory.memberships_of(conn, contact_id),
        subscriptions=subscriptions.for_contact(conn, contact_id),
        messages=[(m, mask_phones(m.text)) for m in messages[:HISTORY]],
        page=page, more=len(messages) > HISTORY and page + 1 < MAX_HISTORY_PAGES,
        default_language=services().config["app.default_language"], **view_helpers())
