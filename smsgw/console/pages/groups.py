"""Groups and their orders (to be built)."""

from __future__ import annotations

from flask import abort, render_template

from db import groups as groups_db
from smsgw.console.blueprint import bp, for_leaders, own_group, read


@bp.get("/groups")
def groups() -> str:
    return render_template("console/todo.html", title="Groups")


@bp.get("/groups/<code>")
@for_leaders
def group(code: str) -> str:
    found = groups_db.by_code(read(), code)
    if found is None:
        abort(404)
    own_group(found.id)
    return render_template("console/todo.html", title=f"Group {found.code}")
