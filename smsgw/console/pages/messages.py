"""The messages page (to be built)."""

from __future__ import annotations

from flask import render_template

from smsgw.console.blueprint import bp


@bp.get("/messages")
def messages() -> str:
    return render_template("console/todo.html", title="Messages")
