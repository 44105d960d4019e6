"""The bulletins page: each country's price bulletin schedule and its next run, a dry run
with recipients, segments and cost (the same count as `smsgw bulletins send --dry-run`:
smsgw.bulletins.send), and past runs with how their messages ended.

The dry run only reads (it composes every subscriber's bulletin, a few seconds for 100,000
of them), so it runs on the request's connection and is asked for with a button, never on
a page load. Bulletins are sent by the worker on the schedule, or by `smsgw bulletins send`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from db import bulletins as ledger
from db import health as health_db
from db import stats
from db.timeutil import parse_iso
from prices import bulletins as runs
from prices import countries
from prices.bulletins import RunReport
from smsgw import bulletins as sending
from smsgw.console import health
from smsgw.console.blueprint import bp, read
from smsgw.console.pages.overview import ago, local_time
from smsgw.context import services

PAGE = 10                 # runs per page of the history
NEXT_RUNS = 3             # scheduled times shown per country
KINDS = [SelectChoice("all", "The price bulletin and standards notices"),
         SelectChoice("prices", "The price bulletin only"),
         SelectChoice("standards", "Standards notices only")]


class DryRunForm(FlaskForm):
    """What a dry run counts: the bulletin of a day, and which kind."""

    day = StringField("Bulletin date", validators=[
        InputRequired(message="Give the bulletin's date."), Length(max=10, message=(
            "Write the date as YYYY-MM-DD, for example 2026-11-23."))],
        render_kw={"type": "date", "required": True})
    kind = SelectField("What to count", choices=KINDS, default="all",
                       validate_choice=True)

    def chosen_day(self) -> date | None:
        """The date asked for, or None (the error is added to the field)."""
        try:
            return date.fromisoformat(str(self.day.data).strip())
        except ValueError:
            self.day.errors = [*self.day.errors, "Write the date as YYYY-MM-DD, for example"
                               " 2026-11-23."]
            return None


@dataclass
class Schedule:
    """When one country's price bulletin goes out."""

    name: str                  # the country, or everyone
    zone: str
    next_runs: list[datetime]  # aware, local
    quiet_hours: str
    today_key: str
    today: ledger.Run | None


def schedules(conn: Any, settings: Any, now: datetime) -> list[Schedule]:
    """Each price bulletin run's schedule (one per country, or one for everyone)."""
    found = []
    everyone = sending.bulletin_countries(settings) == [None]
    for code in sending.bulletin_countries(settings):
        country = countries.get(settings, code)
        zone = ZoneInfo(country.timezone)
        trigger = sending.trigger_for(settings, "bulletins.prices_schedule", code)
        times: list[datetime] = []
        moment = trigger.get_next_fire_time(None, now) if trigger else None
        while moment is not None and len(times) < NEXT_RUNS:
            times.append(moment.astimezone(zone))
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        day = sending.local_today(settings, now, code)
        key = runs.price_run_key(day) if code is None else runs.price_run_key(day, code)
        found.append(Schedule(f"Everyone ({country.code})" if everyone else country.code,
                              country.timezone, times, country.quiet_hours or "none", key,
                              ledger.get(conn, key)))
    return found


def when(moment: datetime | None, now: datetime) -> str:
    """'Mon 30 Nov 2026, 07:00 (in 6 days)' in the moment's own zone."""
    if moment is None:
        return "never"
    span = moment - now
    away = "now" if span < timedelta(minutes=1) else f"in {health.duration(span)}"
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} ({away})"


@dataclass
class RunRow:
    run: ledger.Run
    started: str
    delivered: int
    sent: int
    failed: int
    suppressed: int
    waiting: int
    cost: str


def history(conn: Any, settings: Any, before: int | None) -> tuple[list[RunRow], int | None]:
    """A page of past runs, newest first, with how their messages stand now; and the id to
    ask for the next (older) page, if there is one."""
    found = stats.bulletin_runs(conn, before=before, limit=PAGE + 1)
    older = found[PAGE - 1].id if len(found) > PAGE else None
    found = found[:PAGE]
    outcomes = stats.run_outcomes(conn, [run.id for run in found])
    zone = ZoneInfo(countries.first(settings).timezone)
    rows = []
    for run in found:
        now = outcomes[run.id]
        rows.append(RunRow(
            run, local_time(run.started_at, zone), now.get("delivered", 0),
            now.get("sent", 0) + now.get("replied", 0),
            now.get("failed", 0) + now.get("undelivered", 0), now.get("suppressed", 0),
            now.get("queued", 0) + now.get("sending", 0),
            sending.cost_text(settings, run.segments)))
    return rows, older


def _page(form: DryRunForm, reports: list[RunReport] | None = None, asked: str = "") -> str:
    found = services()
    settings, now, conn = found.config, found.clock(), read()
    before = request.args.get("before", "")
    rows, older = history(conn, settings, int(before) if before.isdigit() else None)
    plan = schedules(conn, settings, now)
    upcoming = [s.next_runs[0] for s in plan if s.next_runs]
    standards = sending.trigger_for(settings, "bulletins.standards_schedule")
    seen = health_db.last_seen(conn)
    return render_template(
        "console/bulletins.html", title="Bulletins", form=form, reports=reports, asked=asked,
        plan=plan, next_run=when(min(upcoming), now) if upcoming else None,
        cron=str(settings["bulletins.prices_schedule"]).strip(),
        standards_cron=str(settings["bulletins.standards_schedule"]).strip(),
        standards_next=when(standards.get_next_fire_time(None, now), now) if standards else None,
        settings=settings, when=lambda moment: when(moment, now), rows=rows, older=older,
        first_page=not before.isdigit(), worker_seen=ago(seen, now) if seen else None,
        worker_alive=seen is not None and now - parse_iso(seen) <= timedelta(minutes=3),
        cost_text=lambda segments: sending.cost_text(settings, segments),
        provider=health.label(str(settings["providers.default"])),
        subscribers=stats.audience(conn).subscribers)


@bp.get("/bulletins")
def bulletins() -> str:
    """The schedule, the dry-run form and past runs."""
    found = services()
    form = DryRunForm(formdata=None,
                      day=sending.local_today(found.config, found.clock()).isoformat())
    return _page(form)


@bp.post("/bulletins/dry-run")
def bulletins_dry_run() -> tuple[str, int] | str:
    """Count what `smsgw bulletins send --dry-run` counts; queue nothing."""
    form = DryRunForm()
    day = form.chosen_day() if form.validate() else None
    if day is None:
        return _page(form), 400
    found = services()
    reports = sending.send(read(), found.config, day=day, kind=form.kind.data,
                             dry_run=True, now=found.clock())
    return _page(form, reports, asked=f"{day:%a} {day.day} {day:%b %Y}")
