"""The web routes: each provider's webhooks (from its module in smsgw/providers), the
health check, and the answers every route shares for bad requests."""

from __future__ import annotations

import logging
import sqlite3

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from db import schema_version
from smsgw.context import connection, services
from smsgw.errors import MalformedRequest

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    """Register the health check, every configured provider's routes and the error answers."""
    app.register_blueprint(bp)
    for provider in app.extensions["smsgw"].config.providers:
        if provider.blueprint is not None:
            app.register_blueprint(provider.blueprint)
    app.register_error_handler(MalformedRequest, _malformed)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(sqlite3.OperationalError, _database_busy)
    app.register_error_handler(HTTPException, _refused)


def _refused(exc: HTTPException) -> tuple[Response | str, int]:
    """403, 404, 405...: the reason as JSON, like every other answer of these routes; under
    /console, a page (a person reads it, not a provider)."""
    if request.path.startswith("/console"):
        from smsgw.console import error_page

        return error_page(exc)
    return jsonify(error=exc.description), exc.code or 500


def _malformed(exc: MalformedRequest) -> tuple[Response, int]:
    log.warning("400 on %s: %s", request.path, exc)
    return jsonify(error=str(exc)), 400


def _too_large(exc: HTTPException) -> tuple[Response, int]:
    limit = services().config["server.max_request_bytes"]
    return jsonify(error=f"request body larger than {limit} bytes"), 413


def _database_busy(exc: sqlite3.OperationalError) -> tuple[Response, int, dict[str, str]]:
    # Nothing was committed (the transaction rolled back), so the provider's retry is safe.
    log.error("database unavailable on %s: %s", request.path, exc)
    return jsonify(error="temporarily unavailable, try again"), 503, {"Retry-After": "5"}


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers, 503 when it does not."""
    try:
        version = schema_version(connection())
    except sqlite3.Error as exc:
        log.error("health check: database unreachable: %s", exc)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok", schema=version), 200
