"""The simulator page (to be built)."""

from __future__ import annotations

from flask import render_template

from smsgw.console.blueprint import bp


@bp.get("/simulator")
def simulator() -> str:
    return render_template("console/todo.html", title="Simulator")
