"""The Messages page: the outbox and the inbox, failures first, filtered, in pages.

Thin, like a CLI command: the filters are a form read from the query string, the rows come
from db.message_log (keyset pages that look at a bounded number of messages, so a page is
fast however large the tables), and every number is masked.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request, url_for
from wtforms import DateField, Form, SelectField
from wtforms.validators import Optional

from db import message_log
from db.outbox import OutboxStatus
from db.timeutil import iso
from smsgw.console.blueprint import bp, number, read
from smsgw.context import services
from smsgw.gateway import Outcome
from smsgw.logsafe import mask_phones

# Outbox kinds as an admin reads them (the kinds the handlers write; see handlers/*).
KINDS = {
    "reply": "Reply", "ussd": "USSD menu SMS", "optout_confirmation": "Opt-out confirmation",
    "bulletin": "Price bulletin", "standard_notice": "Standards notice",
    "broadcast": "Leader broadcast", "group": "Group message", "order": "Order",
    "pool": "Group purchase", "listing": "Sale",
}
STATUSES = {
    OutboxStatus.FAILED: "Failed", OutboxStatus.UNDELIVERED: "Undelivered",
    OutboxStatus.QUEUED: "Waiting", OutboxStatus.SENDING: "Sending", OutboxStatus.SENT: "Sent",
    OutboxStatus.REPLIED: "Replied", OutboxStatus.DELIVERED: "Delivered",
    OutboxStatus.SUPPRESSED: "Not sent: opted out",
}
OUTCOMES = {Outcome.FAILED: "Failed (asked to retry)",
            Outcome.HANDLED: "Answered", Outcome.RATE_LIMITED: "Over the sender limit"}
PREVIEW = 80    # characters of a message's text shown in a row


class OutboxFilters(Form):
    """The outbox's filters, from the query string."""

    status = SelectField("Status", default="")
    provider = SelectField("Provider", default="")
    kind = SelectField("Kind", default="")
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        """The field checks, and a From no later than the To."""
        valid = super().validate(extra_validators)
        if valid and self.since.data and self.until.data and self.since.data > self.until.data:
            self.until.errors = ["To is before From: swap the dates."]
            return False
        return valid


class InboxFilters(OutboxFilters):
    """The inbox's: an outcome instead of a status, and no kind."""

    kind = None   # type: ignore[assignment]


def _choices(labels: dict[str, str], anything: str) -> list[tuple[str, str]]:
    return [("", anything), *((str(value), label) for value, label in labels.items())]


def _form(form_class: type[OutboxFilters], statuses: dict[str, str]) -> OutboxFilters:
    form = form_class(request.args)
    form.status.choices = _choices(statuses, "Any")
    form.provider.choices = _choices({p: p for p in services().config.provider_names}, "Any")
    if form.kind is not None:
        form.kind.choices = _choices(KINDS, "Any")
    return form


def _stamp(day: date | None, *, zone: ZoneInfo, days: int = 0) -> str | None:
    """A local date's midnight (or a later one) as a stored timestamp."""
    if day is None:
        return None
    return iso(datetime.combine(day + timedelta(days=days), time(), tzinfo=zone))


def _filters(form: OutboxFilters, zone: ZoneInfo) -> message_log.Filters:
    return message_log.Filters(
        status=form.status.data or None, provider=form.provider.data or None,
        kind=(form.kind.data or None) if form.kind is not None else None,
        since=_stamp(form.since.data, zone=zone),
        until=_stamp(form.until.data, zone=zone, days=1))   # the To day is included


def _cursor() -> tuple[message_log.Cursor | None, str | None]:
    """The page link's cursor, or an error to show instead of a page."""
    text = request.args.get("after", "")
    if not text:
        return None, None
    try:
        return message_log.parse_cursor(text), None
    except message_log.BadCursor:
        return None, "That page link is broken. Start again from the first page."


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d %b %Y, %H:%M")


def _preview(text: str) -> str:
    """A message's words as a row shows them: numbers in it masked, cut short."""
    masked = mask_phones(text)
    return masked if len(masked) <= PREVIEW else masked[:PREVIEW - 1] + "…"


def _link(after: message_log.Cursor | None) -> str:
    """This page's URL with its filters, from a cursor (None: the first page)."""
    args = {name: value for name, value in request.args.items() if name != "after"}
    if after is not None:
        args["after"] = str(after)
    return url_for(request.endpoint or "console.messages", **args)


@bp.get("/messages")
def messages() -> tuple[str, int]:
    """The outbox: failed and undelivered first, then newest first."""
    zone = ZoneInfo(str(services().config["app.timezone"]))
    form = _form(OutboxFilters, STATUSES)
    after, broken = _cursor()
    if not form.validate() or broken:
        return _render("outbox", form, zone, None, broken=broken), 400
    filters = _filters(form, zone)
    page = message_log.outbox_page(read(), filters, after=after)
    rows = [{"to": number(r.to_number), "status": r.status,
             "status_label": STATUSES.get(r.status, r.status), "provider": r.provider,
             "kind": KINDS.get(r.kind, r.kind), "segments": r.segments,
             "attempts": r.attempts, "error": r.error or "", "text": _preview(r.text),
             "created": _local(r.created_at, zone),
             "updated": _local(r.updated_at, zone) if r.updated_at != r.created_at else "",
             "simulated": r.simulated,
             "failed": r.status in (OutboxStatus.FAILED, OutboxStatus.UNDELIVERED)}
            for r in page.rows]
    failures = message_log.count_failures(read(), filters) if after is None else None
    return _render("outbox", form, zone, page, rows=rows, failures=failures), 200


@bp.get("/messages/inbox")
def messages_inbox() -> tuple[str, int]:
    """The inbox: messages a handler failed on first, then newest first."""
    zone = ZoneInfo(str(services().config["app.timezone"]))
    form = _form(InboxFilters, OUTCOMES)
    after, broken = _cursor()
    if not form.validate() or broken:
        return _render("inbox", form, zone, None, broken=broken), 400
    filters = _filters(form, zone)
    page = message_log.inbox_page(read(), filters, after=after)
    rows = [{"from": number(r.phone), "outcome": r.outcome,
             "outcome_label": OUTCOMES.get(r.outcome, r.outcome), "provider": r.provider,
             "text": _preview(r.text), "received": _local(r.received_at, zone),
             "simulated": r.simulated, "failed": r.outcome == Outcome.FAILED}
            for r in page.rows]
    failures = (message_log.count_failures(read(), filters, outbox=False)
                if after is None else None)
    return _render("inbox", form, zone, page, rows=rows, failures=failures), 200


def _render(box: str, form: OutboxFilters, zone: ZoneInfo, page: message_log.Page | None,
            **values: Any) -> str:
    filtered = any(request.args.get(name) for name in ("status", "provider", "kind", "since",
                                                       "until"))
    return render_template(
        f"console/messages_{box}.html", title="Messages", box=box, form=form,
        zone=zone.key, page=page,
        next_url=_link(page.next) if page and page.next else None,
        searched_to=_local(page.searched_to, zone) if page and page.searched_to else None,
        window=message_log.WINDOW, first_url=_link(None) if "after" in request.args else None,
        filtered=filtered, cap=10_000, **{"rows": [], "failures": None, "broken": None,
                                           **values})
