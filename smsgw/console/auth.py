"""Logging in and out: Flask-Login keeps the session, Flask-WTF the form and its CSRF token,
argon2 the password (smsgw.console.passwords).

Failed logins are counted in the database (db.users), not in memory: gunicorn runs several
worker processes, and a limit kept per process would be that many times weaker.
Flask-Limiter has no SQLite store, hence these few lines of our own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from db import users
from smsgw.console import passwords
from smsgw.console.blueprint import actor, audit, bp, read, write
from smsgw.context import services

log = logging.getLogger(__name__)
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = "Please log in to see that page."
login_manager.session_protection = "basic"


class ConsoleUser(UserMixin):  # type: ignore[misc]
    """The logged-in user. The session holds the id and the time of the last password
    change, so a new password (smsgw users password) ends every older session."""

    def __init__(self, user: users.User) -> None:
        self.user = user
        self.username = user.username
        self.role = user.role
        self.is_admin = user.is_admin
        self.group_id = user.group_id
        self.group_code = user.group_code
        self.contact_id = user.contact_id

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.password_changed_at}"


@login_manager.user_loader
def load_user(session_id: str) -> ConsoleUser | None:
    user_id, _, changed = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = users.by_id(read(), int(user_id))
    if user is None or user.password_changed_at != changed:
        return None
    return ConsoleUser(user)


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", validators=[DataRequired(), Length(max=100)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)],
                             render_kw={"autocomplete": "current-password"})


def _throttled(username: str, address: str) -> int | None:
    """Minutes to wait if this name or address failed too often lately, else None."""
    settings, now = services().config, services().clock()
    window = timedelta(minutes=int(settings["console.login_window_minutes"]))
    limit = int(settings["console.login_attempts"])
    conn = read()
    for key, bound in (({"username": username}, limit), ({"address": address}, limit * 4)):
        failed, oldest = users.failures_since(conn, since=now - window, **key)
        if failed >= bound and oldest is not None:
            left = window - (now - _parse(oldest))
            return max(1, -(-int(left.total_seconds()) // 60))
    return None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path inside the console (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/console"):
            return target
    return url_for("console.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("console.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form), 400 if form.errors else 200
    username = form.username.data.strip()
    address = request.remote_addr or "?"
    wait = _throttled(username, address)
    if wait is not None:
        log.warning("console login refused: too many failures (%s)", address)
        form.form_errors.append(
            f"Too many failed logins. Try again in {wait} minute{'s' if wait != 1 else ''}.")
        return render_template("console/login.html", form=form), 429
    user = users.by_username(read(), username)
    if not passwords.verify(user.password_hash if user else None, form.password.data):
        now = services().clock()
        write(lambda conn: users.record_failure(conn, username, address, now))
        log.info("console login failed from %s", address)
        form.form_errors.append("Wrong username or password.")
        return render_template("console/login.html", form=form), 401
    assert user is not None
    now = services().clock()
    window = timedelta(minutes=int(services().config["console.login_window_minutes"]))

    # A stronger hash is made here, not inside the write: hashing takes a tenth of a second,
    # and the write holds the database's one write lock, which every SMS waits for.
    stronger = (passwords.hashed(form.password.data, minimum=0)
                if passwords.needs_rehash(user.password_hash) else None)

    def logged_in(conn):  # noqa: ANN001, ANN202
        users.clear_failures(conn, user.username, before=now - window)
        if stronger is not None:
            users.rehash(conn, user.id, stronger)

    write(logged_in)
    login_user(ConsoleUser(user))
    log.info("console login: %s (%s)", user.username, user.role)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("console.login"))


@bp.get("/")
def home() -> ResponseReturnValue:
    """Admins start at the overview, a leader at their group."""
    if current_user.is_admin:
        return redirect(url_for("console.overview"))
    return redirect(url_for("console.group", code=current_user.group_code))


class PasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField("Current password", validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1000)],
                        render_kw={"autocomplete": "new-password"})


@bp.route("/account", methods=["GET", "POST"])
def account() -> ResponseReturnValue:
    """Change one's own password (which ends one's other sessions)."""
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        user = users.by_id(read(), current_user.user.id)
        minimum = int(services().config["console.password_min_chars"])
        if user is None or not passwords.verify(user.password_hash, form.current.data):
            form.current.errors.append("That is not your current password.")
            status = 400
        else:
            try:
                new_hash = passwords.hashed(form.new.data, minimum=minimum)
            except passwords.WeakPassword as exc:
                form.new.errors.append(str(exc).capitalize() + ".")
                status = 400
            else:
                me = actor()

                def change(conn):  # noqa: ANN001, ANN202
                    users.set_password(conn, user.username, new_hash, me["now"])
                    audit(conn, "console_password", **me, user=user.username)

                write(change)
                login_user(ConsoleUser(users.by_id(read(), user.id)))  # type: ignore[arg-type]
                flash("Your password is changed. Other sessions are logged out.")
                return redirect(url_for("console.account"))
    elif form.errors:
        status = 400
    return render_template("console/account.html", form=form), status
