"""The console's safety: sessions, CSRF, roles checked on the server, login limits, headers,
and no whole number shown to a leader (issue 17)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from support import console_login, console_user, csrf_token, e164

from db import contacts, transaction
from db import groups as groups_db

LOGIN = "/console/login"


def _console_rules(app) -> list[str]:
    """Every console GET URL, with sample values for its variables."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or "GET" not in rule.methods:
            continue
        if rule.endpoint in ("console.login", "console.static"):
            continue
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: {"code": "KIMA"}.get(m[1], "1"),
                     rule.rule)
        urls.append(url)
    return urls


def _seed_groups(conn) -> tuple[int, int]:
    with transaction(conn):
        kima = groups_db.create(conn, code="KIMA", name="Kima growers", market_id=None,
                                region=None, products=["MAIZE"])
        other = groups_db.create(conn, code="TUMA", name="Tuma weavers", market_id=None,
                                 region=None, products=["BASKET"])
        for i, group in enumerate((kima, other, kima)):
            person = contacts.get_or_create(conn, e164(f"0711{i:06d}"))
            groups_db.set_member(conn, group.id, person.id,
                                 role="leader" if i == 0 else "member")
    return kima.id, other.id


def test_every_console_url_without_a_session_goes_to_the_login_page(app, console_client):
    urls = _console_rules(app)
    assert len(urls) >= 8, urls
    for url in urls:
        response = console_client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith(LOGIN), url


def test_every_console_post_without_a_session_changes_nothing(app, console_client, conn):
    before = conn.execute("SELECT (SELECT COUNT(*) FROM audit) + (SELECT COUNT(*) FROM outbox)"
                          " + (SELECT COUNT(*) FROM console_users)").fetchone()[0]
    posts = [rule for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/console") and "POST" in rule.methods]
    assert len(posts) >= 3
    for rule in posts:
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "1", rule.rule)
        response = console_client.post(url, data={"text": "hello", "username": "x"})
        if rule.endpoint == "console.login":
            assert response.status_code == 400, url   # no CSRF token
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith(LOGIN), url
    after = conn.execute("SELECT (SELECT COUNT(*) FROM audit) + (SELECT COUNT(*) FROM outbox)"
                         " + (SELECT COUNT(*) FROM console_users)").fetchone()[0]
    assert after == before


def test_a_post_without_a_csrf_token_is_refused(console_client, conn):
    console_user(conn, "ann")
    # even logging in needs the token
    refused = console_client.post(LOGIN, data={"username": "ann", "password": "x" * 12})
    assert refused.status_code == 400
    assert console_login(console_client, "ann").status_code == 302
    for url in ("/console/logout", "/console/account"):
        response = console_client.post(url, data={})
        assert response.status_code == 400, url
        assert "The form expired" in response.get_data(as_text=True)
    assert console_client.get("/console/account").status_code == 200  # still logged in


def test_a_leader_gets_403_on_admin_pages_and_on_another_groups_page(app, console_client,
                                                                     conn):
    _seed_groups(conn)
    console_user(conn, "lee", "leader", group="KIMA")
    assert console_login(console_client, "lee").status_code == 302
    assert console_client.get("/console/").headers["Location"].endswith("/console/groups/KIMA")
    assert console_client.get("/console/groups/KIMA").status_code == 200
    assert console_client.get("/console/groups/TUMA").status_code == 403
    admin_only = [url for url in _console_rules(app)
                  if not url.startswith("/console/groups/KIMA") and url != "/console/account"
                  and url != "/console/"]
    assert "/console/overview" in admin_only and "/console/simulator" in admin_only
    for url in admin_only:
        response = console_client.get(url)
        assert response.status_code in (403, 404), url
        if url.count("/") == 2:   # a page, not an object that may not exist
            assert response.status_code == 403, url


def test_wrong_passwords_are_rate_limited_even_for_the_right_one_after(app, console_client,
                                                                       conn):
    console_user(conn, "ann")
    limit = app.extensions["smsgw"].config["console.login_attempts"]
    for _ in range(limit):
        assert console_login(console_client, "ann", "wrong password!").status_code == 401
    blocked = console_login(console_client, "ann")
    assert blocked.status_code == 429
    assert "Try again in 15 minutes" in blocked.get_data(as_text=True)
    # a different name is not blocked by these few failures
    console_user(conn, "bob")
    assert console_login(console_client, "bob").status_code == 302


def test_the_limit_lifts_after_the_window(app, console_client, conn, clock):
    console_user(conn, "ann")
    for _ in range(5):
        console_login(console_client, "ann", "wrong password!")
    assert console_login(console_client, "ann").status_code == 429
    clock.advance(16 * 60)
    assert console_login(console_client, "ann").status_code == 302


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(console_client, conn):
    console_user(conn, "ann")
    unknown = console_login(console_client, "nobody", "wrong password!")
    wrong = console_login(console_client, "ann", "wrong password!")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong username or password." in unknown.get_data(as_text=True)
    assert "Wrong username or password." in wrong.get_data(as_text=True)


def test_cookies_are_secure_http_only_and_same_site(console_client, conn):
    console_user(conn, "ann")
    response = console_login(console_client, "ann")
    cookie = next(v for k, v in response.headers.items()
                  if k == "Set-Cookie" and v.startswith("smsgw_console="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_redirects_only_inside_the_console(console_client, conn):
    console_user(conn, "ann")
    page = console_client.get(LOGIN)
    for target, expected in (("https://evil.example/x", "/console/"),
                             ("//evil.example/x", "/console/"),
                             ("/console/prices", "/console/prices")):
        console_client.get("/console/logout")  # GET does nothing: logout is a POST
        response = console_client.post(f"{LOGIN}?next={target}", data={
            "username": "ann", "password": "correct horse battery",
            "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert response.headers["Location"] == expected, target
        console_client.delete_cookie("smsgw_console", path="/console")
        page = console_client.get(LOGIN)


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and "src" not in values and values.get("type") != "application/json":
            self.inline.append(tag)
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(f"{tag} {values}")
        if tag == "a" and (values.get("href") or "").startswith("/console"):
            self.links.append(values["href"])


def test_every_admin_page_has_a_strict_policy_and_no_inline_script(app, console_client, conn):
    console_user(conn, "ann")
    console_login(console_client, "ann")
    for url in ["/console/login", *_console_rules(app)]:
        response = console_client.get(url, follow_redirects=True)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        parser = _Scripts()
        parser.feed(response.get_data(as_text=True))
        assert parser.inline == [], url


def test_a_new_password_ends_older_sessions(console_client, conn, app):
    console_user(conn, "ann")
    console_login(console_client, "ann")
    other = app.test_client()
    console_login(other, "ann")
    page = console_client.get("/console/account").get_data(as_text=True)
    changed = console_client.post("/console/account", data={
        "current": "correct horse battery", "new": "a brand new passphrase",
        "csrf_token": csrf_token(page)})
    assert changed.status_code == 302
    assert console_client.get("/console/account").status_code == 200   # this one goes on
    assert other.get("/console/account").status_code == 302             # that one ended
    audit = conn.execute("SELECT console_user, action FROM audit").fetchall()
    assert [tuple(row) for row in audit] == [("ann", "console_password")]


def test_no_page_a_leader_can_reach_shows_a_whole_number(console_client, conn):
    _seed_groups(conn)
    console_user(conn, "lee", "leader", group="KIMA")
    console_login(console_client, "lee")
    numbers = [row[0] for row in conn.execute("SELECT phone FROM contacts")]
    seen, todo = set(), ["/console/"]
    while todo:
        url = todo.pop()
        if url in seen or url.startswith("/console/static"):
            continue
        seen.add(url)
        response = console_client.get(url, follow_redirects=True)
        text = response.get_data(as_text=True)
        digits = re.sub(r"\D", "", text)
        for phone in numbers:
            assert phone not in text and phone[1:] not in digits, url
            assert "0" + phone[4:] not in digits, url
        parser = _Scripts()
        parser.feed(text)
        todo.extend(parser.links)
    assert "/console/groups/KIMA" in seen


@pytest.mark.parametrize("name", ["", " ", "x" * 101])
def test_users_add_refuses_bad_names(tmp_path, name):
    from click.testing import CliRunner

    from smsgw.cli import main

    result = CliRunner().invoke(main, ["users", "add", name, "--role", "admin"],
                                input="correct horse battery\n",
                                env={"SMSGW_DATABASE_PATH": str(tmp_path / "u.db")})
    assert result.exit_code == 2, result.output


def test_an_unknown_console_page_is_a_page_not_a_crash(console_client, conn):
    console_user(conn, "ann")
    console_login(console_client, "ann")
    for url in ("/console/nope", "/console/groups/NOSUCH", "/console/contacts/999999"):
        response = console_client.get(url)
        assert response.status_code == 404, url
        assert "text/html" in response.headers["Content-Type"], url
        assert "Back to the console" in response.get_data(as_text=True), url
    wrong_method = console_client.delete("/console/overview")
    assert wrong_method.status_code == 405
    assert "text/html" in wrong_method.headers["Content-Type"]


def test_no_log_line_shows_a_whole_number_while_a_leader_works(console_client, conn, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    _seed_groups(conn)
    console_user(conn, "lee", "leader", group="KIMA")
    console_login(console_client, "lee", "wrong password!")
    console_login(console_client, "lee")
    for url in ("/console/", "/console/groups/KIMA", "/console/groups/TUMA", "/console/nope"):
        console_client.get(url, follow_redirects=True)
    page = console_client.get("/console/groups/KIMA").get_data(as_text=True)
    confirm = console_client.post("/console/groups/KIMA/broadcast", data={
        "text": "Meeting at 0711000001 tomorrow", "csrf_token": csrf_token(page)})
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    token = re.search(r'name="confirmation" value="([^"]+)"', html)
    assert token, "no confirmation token on the page"
    sent = console_client.post("/console/groups/KIMA/broadcast/send", data={
        "confirmation": token[1], "csrf_token": csrf_token(html)})
    assert sent.status_code == 302
    assert conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'broadcast'").fetchone()[0] > 0
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "console login" in logged          # the log was captured at all
    digits = re.sub(r"\D", "", logged)
    for (phone,) in conn.execute("SELECT phone FROM contacts"):
        assert phone not in logged and phone[1:] not in digits and "0" + phone[4:] not in digits


def test_only_the_console_opens_sessions(client, console_client, conn):
    """The webhooks and the health check, which carry every SMS, never parse or sign a
    session (a tenth of a millisecond each) nor set a cookie."""
    for response in (client.get("/healthz"),
                     client.post("/webhooks/local/sms", json={"from": "0712000111",
                                 "to": "local", "text": "HELP", "id": "s-1"})):
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    console_user(conn, "ann")
    assert console_login(console_client, "ann").headers.get("Set-Cookie", "").startswith(
        "smsgw_console=")


def test_a_cookie_dropped_on_plain_http_is_named_not_called_expired(app, conn):
    """A browser that will not keep the HTTPS-only cookie on a plain-HTTP address gets the
    reason and the way out, not 'the form expired' again and again."""
    console_user(conn, "ann")
    plain = app.test_client()          # http://
    page = plain.get("/console/login").get_data(as_text=True)
    plain.delete_cookie("smsgw_console", path="/console")   # as a browser drops it on http
    response = plain.post("/console/login", data={
        "username": "ann", "password": "correct horse battery", "csrf_token": csrf_token(page)})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "did not keep the login cookie" in text and "console.secure_cookies" in text
    over_https = app.test_client()     # the same loss over HTTPS is an expired form
    page = over_https.get("/console/login", base_url="https://localhost").get_data(
        as_text=True)
    over_https.delete_cookie("smsgw_console", path="/console")
    expired = over_https.post("/console/login", base_url="https://localhost", data={
        "username": "ann", "password": "correct horse battery", "csrf_token": csrf_token(page)})
    assert expired.status_code == 400 and "The form expired" in expired.get_data(as_text=True)
