"""The web console under /console: a gateway to the people who run the service (admins and
group leaders), as the webhooks are a gateway to the providers.

Server-rendered pages (Jinja) that call the same db/, prices/ and handlers/ functions as the
command line; every asset (CSS, the one script, the chart library) is served by the app, so
it works with no internet. Safety: argon2 passwords, Flask-Login sessions in secure,
HTTP-only, same-site cookies, a CSRF token on every form (Flask-WTF), failed logins limited
(smsgw.console.auth), a role check on every request (smsgw.console.blueprint), and a
Content-Security-Policy that allows no inline script or style.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

import db
from db import users
from smsgw.console import auth, health
from smsgw.console.blueprint import LEADER_ENDPOINTS, NAV, bp

# The pages add their routes to bp when imported.
from smsgw.console.pages import (  # noqa: F401 - imported for their routes
    bulletins, contacts, groups, messages, overview, prices, simulator)

csrf = CSRFProtect()


class ConsoleSessions(SecureCookieSessionInterface):
    """Sessions exist only under /console, the cookie's own path. Every other route (the
    webhooks, which carry every SMS) gets Flask's empty read-only session instead of
    parsing and signing one: that was 140 us added to each request (docs/benchmarks.md)."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if not request.path.startswith("/console"):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if self.is_null_session(session):
            return
        super().save_session(app, session, response)

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def init_app(app: Flask) -> None:
    """Mount the console on the app: sessions, CSRF, login and the pages."""
    config = app.extensions["smsgw"].config
    app.secret_key = config["console.secret_key"] or _stored_key(config)
    app.config.update(
        SESSION_COOKIE_NAME="smsgw_console",
        SESSION_COOKIE_SECURE=bool(config["console.secure_cookies"]),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(config["console.session_hours"])),
        # Only the console's routes check CSRF tokens (before_request below): the
        # webhooks are called by providers and signed instead.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.session_interface = ConsoleSessions()
    csrf.init_app(app)
    auth.login_manager.init_app(app)
    # Flask-Login refreshes its remember-me cookie after every request of the app; only the
    # console has logins (and it sets no remember-me cookie), so that runs for its routes
    # alone (_remember below), not for every SMS webhook.
    app.after_request_funcs[None].remove(auth.login_manager._update_remember_cookie)
    app.register_blueprint(bp)


def _stored_key(config: Any) -> str:
    conn = db.connect(config["database.path"])
    try:
        with db.transaction(conn):
            return users.secret_key(conn)
    finally:
        conn.close()


@bp.before_request
def _guard() -> Any:
    """Every console URL needs a session, a valid CSRF token on a write, and the role."""
    if request.endpoint in ("console.login", "console.static"):
        if request.method == "POST":
            csrf.protect()
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if not current_user.is_admin and request.endpoint not in LEADER_ENDPOINTS:
        abort(403, "This page is for admins.")
    return None


@bp.after_request
def _remember(response: Response) -> Response:
    return auth.login_manager._update_remember_cookie(response)  # type: ignore[no-any-return]


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    if not request.path.startswith("/console") or not current_user.is_authenticated:
        return {}
    if current_user.is_admin:
        nav = [(item.label, url_for(item.endpoint), item.endpoint) for item in NAV]
    else:
        nav = [("My group", url_for("console.group", code=current_user.group_code),
                "console.group")]
    return {"nav": nav, "alerts": health.alerts_for_banner()}


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> tuple[str, int]:
    config = current_app.extensions["smsgw"].config
    if (config["console.secure_cookies"] and not request.is_secure
            and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies):
        # The browser dropped the HTTPS-only cookie on a plain-HTTP address (a laptop
        # reached over the local network, say): "expired" would send the admin in circles.
        return render_template(
            "console/error.html", code=400, title="Your browser did not keep the login cookie",
            message="This address is plain HTTP and the console's cookies are HTTPS-only."
                    " Open the console over HTTPS, or at http://localhost on the machine"
                    " itself; on a trusted network served over plain HTTP, an admin can set"
                    " console.secure_cookies = false."), 400
    return render_template("console/error.html", code=400, title="The form expired",
                           message="The page was open too long or came from elsewhere."
                                   " Go back, reload it and try again."), 400


def error_page(exc: HTTPException) -> tuple[str, int]:
    """An error inside /console as a page, not the webhooks' JSON."""
    code = exc.code or 500
    titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed",
              413: "Too large", 429: "Too many tries"}
    messages = {403: "Your account cannot open this page.",
                404: "There is no such page in the console."}
    return render_template("console/error.html", code=code, title=titles.get(code, "Error"),
                           message=messages.get(code, exc.description)), code


bp.register_error_handler(HTTPException, error_page)
