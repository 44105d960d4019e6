"""The console's blueprint and what every page shares: who may see it, the navigation, the
write path, the audit trail and phone numbers as a page shows them.

Each page module under smsgw/console/pages adds its routes to `bp`. Every route needs a
session (before_request); every route is for admins only unless its endpoint is named in
LEADER_ENDPOINTS (default deny), and a leader's pages check the group on the server.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, abort
from flask_login import current_user

import db
from db import groups as groups_db
from handlers.phone import display_phone, mask
from smsgw.context import connection, services

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")

T = TypeVar("T")

# Endpoints a leader may open (each checks the group itself); every other one is admins'.
LEADER_ENDPOINTS: set[str] = {"console.login", "console.logout", "console.home",
                              "console.static", "console.account"}


def for_leaders(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let leaders open this route too (it must check their group with `own_group`)."""
    LEADER_ENDPOINTS.add(f"console.{view.__name__}")
    return view


@dataclass(frozen=True, slots=True)
class NavItem:
    endpoint: str
    label: str


# An admin's menu, in order. A leader's has one item: their group.
NAV: tuple[NavItem, ...] = (
    NavItem("console.overview", "Overview"),
    NavItem("console.messages", "Messages"),
    NavItem("console.prices", "Prices"),
    NavItem("console.contacts", "Contacts"),
    NavItem("console.groups", "Groups"),
    NavItem("console.bulletins", "Bulletins"),
    NavItem("console.simulator", "Simulator"),
)


def own_group(group_id: int) -> None:
    """403 unless the user is an admin or leads this group (checked on every request)."""
    if not current_user.is_admin and current_user.group_id != group_id:
        abort(403)


def read() -> sqlite3.Connection:
    """The request thread's connection, for reading."""
    return connection()


def write(work: Callable[[sqlite3.Connection], T]) -> T:
    """One all-or-nothing write on the one write path (db.write), like every SMS."""
    return db.write(connection(), work)


def actor() -> dict[str, Any]:
    """Who acts and when, read in the request: a write runs on the writer thread, where
    there is no request (pass it to `audit` as `**actor()`)."""
    return {"by": current_user.username, "now": services().clock()}


def audit(conn: sqlite3.Connection, action: str, *, by: str, now: datetime,
          group_id: int | None = None, order_id: int | None = None, **detail: Any) -> None:
    """Record a console user's change in the audit trail, in the write that makes it."""
    groups_db.audit(conn, action, group_id=group_id, order_id=order_id, now=now,
                    console_user=by, **detail)


def number(phone: str | None, *, shared: bool = False, revealed: bool = False) -> str:
    """A phone number as a page shows it: masked, unless the viewer is an admin and the
    person agreed to share it (`shared`) or the admin revealed it (audited by the caller).
    A leader never sees a whole number in the console."""
    if not phone:
        return ""
    if current_user.is_authenticated and current_user.is_admin and (shared or revealed):
        return display_phone(phone, services().config)
    return mask(phone)
