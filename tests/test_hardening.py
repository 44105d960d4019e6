"""Security hardening: one log record is one line, numbers with separators are masked, no
secret reaches the outbox, TwiML is always well-formed, the database is private, and Twilio
is not configured with a URL it will never sign."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from click.testing import CliRunner
from twilio.http.response import Response

import db
from support import (
    AT_KEY, AT_TOKEN, LOCAL_TOKEN, TWILIO_SID, TWILIO_TOKEN, make_config, post_local,
)
from smsgw import logsafe
from smsgw.providers import twilio_sms
from smsgw.cli import main
from smsgw.config import ConfigError
from smsgw.providers.twilio_sms import TwilioSender
from test_senders import FakeTwilioHttp, twilio_error
from test_worker import make_worker, queue, row

FORGED = "2026-01-01 00:00:00 ERROR root: forged"


# --------------------------------------------------------------------------- 1. log injection


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger writing through a real handler with the redacting filter on it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(logsafe.RedactingFilter([TWILIO_TOKEN]))
    log = logging.getLogger("tests.hardening")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield log, stream
    finally:
        log.removeHandler(handler)
        log.propagate = True


# Every character some reader takes as the end of a line, and other controls.
BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
          "\u2029", "\x00", "\x1b", "\x07", "\x7f", "\x9b"]


@pytest.mark.parametrize("brk", BREAKS, ids=[repr(b) for b in BREAKS])
def test_a_logged_value_cannot_start_a_forged_line(captured, brk):
    log, stream = captured
    log.info("duplicate local message %s ignored", f"m1{brk}{FORGED}")
    output = stream.getvalue()
    assert output.endswith("\n")
    assert len(output.splitlines()) == 1, output
    line = output[:-1]
    assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f or ch in "\u2028\u2029"
                   for ch in line), repr(line)
    assert line.endswith(f"{FORGED} ignored")   # the value is still there, on the same line


def test_newlines_are_escaped_visibly_and_tracebacks_keep_theirs(captured):
    log, stream = captured
    try:
        raise ValueError(f"boom with {TWILIO_TOKEN}")
    except ValueError:
        log.exception("USSD menu failed on session %s", f"s1\r\n{FORGED}")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(f"USSD menu failed on session s1\\r\\n{FORGED}")
    assert lines[1] == "Traceback (most recent call last):"   # the traceback is as it was
    assert lines[-1] == "ValueError: boom with ***"            # and still redacted
    assert not any(line.startswith("2026-01-01") for line in lines)


def test_a_forged_message_id_through_the_app_stays_on_one_line(app, client, config):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    try:
        logsafe.setup("DEBUG", config.secrets())
        forged_id = f"m1\n{FORGED}"
        assert post_local(client, "HELP", msg_id=forged_id).status_code == 200
        assert post_local(client, "HELP", msg_id=forged_id).status_code == 200  # duplicate
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert any("duplicate local message m1\\n" + FORGED in line for line in lines), lines
    assert not any(line.startswith(FORGED) for line in lines)


# --------------------------------------------------------------------------- 2. phone masking


@pytest.mark.parametrize("number", [
    "0711-000-002", "0711 000 002", "+254 711 000 002", "(0711) 000-002", "0711.000.002",
    "+254-711-000-002", "+254 (0) 711 000 002", "(+254) 711 000 002", "+254 711-000-002",
    "+254711000002", "0711000002", "+254 711000002", "0711 000002",
])
def test_numbers_with_separators_are_masked(number):
    redactor = logsafe.RedactingFilter()
    for text in (number, f"from {number} now", f"call {number}.", f"({number})",
                 f"to:{number},"):
        out = redactor.redact(text)
        assert "*" in out and "000" not in out, (text, out)
        assert out.startswith(text[:text.index(number)])                 # the words around
        assert out.endswith(text[text.index(number) + len(number):])     # are kept


@pytest.mark.parametrize("text", [
    "2026-12-01", "on 2026-12-01 07:00", "2026-12-01T07:00:00+00:00",
    "2026-12-01 07:00:00.123456", "01-12-2026", "01.12.2026", "07:00", "07:00-20:00",
    "3,400", "KES 3,400.50", "maize 3,400 beans 12,500", "id 12345", "m1", "log-2",
    "1234567", "3.14159265", "0.30000000000000004", "1234.5678", "36.821945",
    "host 192.168.100.200", "SM0123456789abcdef0123456789abcdef", "#1234567",
    "message 12 attempt 3 failed (twilio 500 code 20500)", "ORDER 200 BAGS @3400 BY 2026-12-20",
])
def test_ordinary_numbers_are_not_masked(text):
    assert logsafe.RedactingFilter().redact(text) == text


def test_a_number_after_a_date_is_still_masked():
    out = logsafe.RedactingFilter().redact("2026-12-01 0711-000-002 and 2026-12-01 07:00 "
                                           "+254 711 000 003")
    assert out.startswith("2026-12-01 ") and "07:00" in out
    assert "000-002" not in out and "000 003" not in out


# --------------------------------------------------------------------------- 3. secrets in the DB

OTHER_SID = "ACfedcba9876543210fedcba9876543210"
API_PATH = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def connection_error(call: dict[str, Any]) -> Response:
    """What requests raises when api.twilio.com cannot be reached: its text holds the path."""
    pool = urllib3.HTTPSConnectionPool("api.twilio.com", 443)
    reason = urllib3.exceptions.NameResolutionError("api.twilio.com", None,
                                                    OSError("Name or service not known"))
    path = call["url"].removeprefix("https://api.twilio.com")
    raise requests.ConnectionError(urllib3.exceptions.MaxRetryError(pool, path, reason))


def not_found(call: dict[str, Any]) -> Response:
    """Twilio's 404 for an unknown account names the resource, SID and all."""
    return twilio_error(404, 20404, f"The requested resource {API_PATH} was not found")


def problem_details(call: dict[str, Any]) -> Response:
    """An RFC 9457 answer: the SDK's TwilioServiceException prints the URL on a terminal."""
    return Response(400, json.dumps({
        "type": "https://www.twilio.com/docs/errors/21200", "title": "Invalid request",
        "status": 400, "code": 21200, "detail": f"subaccount {OTHER_SID} is suspended",
        "instance": call["url"],
    }))


def proxy_error(call: dict[str, Any]) -> Response:
    """A transport error that echoes credentials (a proxy, a misconfigured client)."""
    raise requests.ConnectionError(
        f"refused POST {call['url']}?token={AT_TOKEN}&x=1 as {TWILIO_SID}:{TWILIO_TOKEN} "
        f"(api key {AT_KEY}, local {LOCAL_TOKEN})")


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer", [connection_error, not_found, problem_details, proxy_error],
                         ids=["connection", "404", "rfc9457-tty", "echoed-credentials"])
def test_outbox_error_holds_no_sid_or_secret(conn, config, clock, monkeypatch, answer):
    monkeypatch.setattr(sys, "stderr", TTY())   # the worker run by hand in a terminal
    http = FakeTwilioHttp(answer)
    worker, _ = make_worker(config, {"twilio": TwilioSender(config, http_client=http)}, clock)
    message_id = queue(conn, clock)

    assert worker.run_once(conn) == 1

    error = row(conn, message_id)["error"]
    assert error and "twilio" in error
    for secret in (TWILIO_SID, TWILIO_TOKEN, OTHER_SID, AT_TOKEN, AT_KEY, LOCAL_TOKEN):
        assert secret not in error, (secret, error)
    assert "AC0123456789" not in error and "ACfedcba98" not in error


def test_redaction_helper_hides_secrets_sids_and_tokens():
    text = (f"{TWILIO_SID} {OTHER_SID.upper()} /x?token=zzq&y=1 {TWILIO_TOKEN} "
            f"SM0123456789abcdef0123456789abcdef")
    out = logsafe.redact_secrets(text, [TWILIO_TOKEN])
    assert TWILIO_SID not in out and OTHER_SID.upper() not in out and TWILIO_TOKEN not in out
    assert "zzq" not in out and "token=***&y=1" in out
    assert "SM0123456789abcdef0123456789abcdef" in out   # a message SID is no secret


# --------------------------------------------------------------------------- 4. TwiML

XML_INVALID = ([chr(c) for c in range(0x00, 0x09)] + ["\x0b", "\x0c"]
               + [chr(c) for c in range(0x0e, 0x20)] + ["\ud800", "\udfff", "\ufffe", "\uffff"])


@pytest.mark.parametrize("ch", XML_INVALID, ids=[f"U+{ord(c):04X}" for c in XML_INVALID])
def test_twiml_is_well_formed_whatever_the_reply_holds(ch):
    body = twilio_sms.render([f"Maize{ch} 3,400 <KES> & more", ch, "ok"])
    root = ET.fromstring(body.encode("utf-8"))   # the bytes the webhook sends
    assert [m.text for m in root.iter("Message")] == ["Maize 3,400 <KES> & more", None, "ok"]


def test_twiml_keeps_tabs_newlines_and_other_valid_characters():
    text = "a\tb\nc\rd \u00e9\u20ac \U0001f33d \ud7ff\ue000\ufffd"
    root = ET.fromstring(twilio_sms.render([text]).encode("utf-8"))
    assert root.find("Message").text == text.replace("\r", "\n")   # XML normalises CR


# --------------------------------------------------------------------------- 5. file modes


@pytest.fixture
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_and_its_side_files_are_private(tmp_path, usual_umask):
    path = tmp_path / "var" / "new.db"
    conn = db.connect(path)
    try:
        with db.transaction(conn):
            conn.execute("CREATE TABLE t (x)")
            conn.execute("INSERT INTO t VALUES (1)")
        files = [str(path), f"{path}-wal", f"{path}-shm", os.path.realpath(path) + ".writelock"]
        assert {f: oct(mode(f)) for f in files} == {f: oct(0o600) for f in files}
    finally:
        conn.close()


def test_init_creates_a_private_database(tmp_path, usual_umask):
    path = tmp_path / "smsgw.db"
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[database]\npath = "{path}"\n[logging]\nlevel = "WARNING"\n')
    result = CliRunner().invoke(main, ["init", "--config", str(config_file)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    files = [path, f"{path}-wal", f"{path}-shm", f"{os.path.realpath(path)}.writelock"]
    assert {str(f): oct(mode(f)) for f in files if os.path.exists(f)} == {
        str(f): oct(0o600) for f in files if os.path.exists(f)}
    assert oct(mode(path)) == oct(0o600)


def test_an_existing_tighter_database_keeps_its_mode(tmp_path, usual_umask):
    path = tmp_path / "old.db"
    db.connect(path).close()
    os.chmod(path, 0o400)
    db.connect(path, readonly=True).close()
    assert oct(mode(path)) == oct(0o400)


# --------------------------------------------------------------------------- 6. Twilio URL


@pytest.mark.parametrize("url", ["http://gateway.example.com", "http://localhost:8000"])
def test_twilio_needs_an_https_public_url(tmp_path, url):
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, **{"app.public_url": url})
    assert "app.public_url" in str(error.value)
    assert "providers.twilio.allow_http" in str(error.value)


def test_twilio_default_public_url_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="providers.twilio.allow_http"):
        make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                 "providers.default": "twilio",
                                 "providers.twilio.enabled": False})


def test_http_is_allowed_for_a_local_tunnel_or_without_twilio(tmp_path):
    allowed = make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                       "providers.twilio.allow_http": True})
    assert allowed["providers.twilio.allow_http"] is True
    without = make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                       "providers.twilio.enabled": False})
    assert not without.provider_enabled("twilio")
    assert make_config(tmp_path)["providers.twilio.allow_http"] is False
