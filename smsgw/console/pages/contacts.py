"""The contacts page (to be built)."""

from __future__ import annotations

from flask import render_template

from smsgw.console.blueprint import bp


@bp.get("/contacts")
def contacts() -> str:
    return render_template("console/todo.html", title="Contacts")
