"""Property-based fuzzing of every webhook route, with valid credentials.

The routes come from the app's own `url_map`: a route added to a provider is fuzzed too,
and a route of a provider this file has no credentials for fails
`test_every_webhook_route_can_be_fuzzed_with_valid_credentials` until a recipe is added to
CREDENTIALS. Each request is authenticated as the provider would do it (Twilio: signed
with the SDK's RequestValidator over the form the server will read from the exact body
sent; Africa's Talking: `?token=`; local: the bearer token; android: X-Signature over the
exact body and X-Timestamp), so the fuzz reaches the parsers and the write path behind
them. The bodies: the route's real fields with some dropped, repeated, emptied or replaced
and random ones added; values of random unicode (emoji, control characters, lone
surrogates where the encoding can carry one, non-UTF-8 bytes), very long values up to and
over the size limit, JSON of the wrong types and nested deeply; bodies in another encoding
or content type than the route reads; empty bodies; other methods.

Whatever the request: never a 5xx; a 4xx says why (JSON `error` with a reason, or a
non-empty body); a refused request commits nothing (the counts of inbound, outbox,
ussd_sessions, ussd_hops, ussd_events, status_events and contacts are unchanged, and no
other connection committed at all); an accepted one leaves every new inbound message with
its replies (or an outcome that explains none), every USSD session with one stored answer
per hop, and an inline answer equal to the replies stored.

One app and one database for the module (the Kenya prices loaded, a few sent messages for
delivery reports to find); each example gets fresh message ids, session ids and senders
where the route's real fields are used. A failure prints the example and a blob for
`@reproduce_failure` (`pytest --hypothesis-show-statistics` shows how many examples got
each status, i.e. how deep the fuzz went).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import random
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from support import (ANDROID_KEY, AT_TOKEN, LOCAL_TOKEN, PUBLIC_URL, TWILIO_SID,
                      concrete_path, make_config, sent_message, twilio_signature)
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import db
from smsgw.app import create_app

LIMIT = 65536                      # server.max_request_bytes (make_config keeps the default)
TABLES = ("inbound", "outbox", "ussd_sessions", "ussd_hops", "ussd_events", "status_events",
          "contacts")
FUZZ = settings(max_examples=150, deadline=None, derandomize=False, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------------- routes


def webhook_routes() -> list[tuple[str, str]]:
    """(path, endpoint) of every route under /webhooks/, from a real app's url_map."""
    with tempfile.TemporaryDirectory(prefix="smsgw-routes-") as tmp:
        app = create_app(make_config(Path(tmp)))
        return sorted((concrete_path(rule), rule.endpoint) for rule in app.url_map.iter_rules()
                      if rule.rule.startswith("/webhooks/"))


ROUTES = webhook_routes()


class Fresh:
    """A value made new for each example: an id, a session id, a phone number."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"Fresh({self.kind!r})"


FRESH_ID, FRESH_SID, FRESH_PHONE = Fresh("id"), Fresh("sid"), Fresh("phone")
FRESH_SESSION, FRESH_TIME = Fresh("session"), Fresh("time")
_counter = itertools.count(1)
SEEDED_TWILIO = [f"SMseed{n:026x}" for n in range(3)]
SEEDED_AT = [f"ATXid_seed{n}" for n in range(3)]
SEEDED_ANDROID = [f"smsgw-seed{n}" for n in range(3)]
COMMAND_TEXTS = ["HELP", "STOP", "START", "SUB MAIZE NAKURU", "PRICE MAIZE NAKURU", "REG NAKURU",
                 "YES", "LANG SW", "MY", "UNSUB MAIZE", "OFFER ABCD 10", "JOIN KIMA", "", " ",
                 "bei mahindi nakuru", "STD MAIZE", "ORDER 20 BAGS MAIZE @3000 AT NAKURU"]
PHONES = [FRESH_PHONE, FRESH_PHONE, FRESH_PHONE, "0712345678", "+254712345679", "254722000111"]

# Each webhook route's real fields, with the values a provider sends (one is picked per
# example). Dotted names are inside a JSON object (android's payload).
TEMPLATES: dict[str, dict[str, list[Any]]] = {
    "local.inbound": {"from": PHONES, "to": ["local", ""], "text": COMMAND_TEXTS,
                      "id": [FRESH_ID, FRESH_ID, 7, "m1"]},
    "twilio.inbound": {
        "ToCountry": ["KE"], "SmsMessageSid": [FRESH_SID], "NumMedia": ["0"],
        "SmsSid": [FRESH_SID], "SmsStatus": ["received"], "Body": COMMAND_TEXTS,
        "FromCountry": ["KE"], "To": ["+254711000000"], "NumSegments": ["1"],
        "MessageSid": [FRESH_SID, FRESH_SID, "SM0123456789abcdef0123456789abcdef"],
        "AccountSid": [TWILIO_SID], "From": PHONES, "ApiVersion": ["2010-04-01"]},
    "twilio.status": {
        "MessageSid": [*SEEDED_TWILIO, FRESH_SID], "SmsSid": [*SEEDED_TWILIO, FRESH_SID],
        "MessageStatus": ["queued", "sent", "delivered", "undelivered", "failed", "read",
                          "receiving", "weird"],
        "SmsStatus": ["sent", "delivered"], "ErrorCode": ["", "30003", "21610"],
        "To": ["+254722123456", FRESH_PHONE], "From": ["+15005550006"],
        "AccountSid": [TWILIO_SID], "ApiVersion": ["2010-04-01"]},
    "africastalking.inbound": {
        "from": PHONES, "to": ["12345"], "text": COMMAND_TEXTS, "id": [FRESH_ID, FRESH_ID, "a1"],
        "date": ["2026-12-01 09:00:00", "2026-12-01T09:00:00Z", "yesterday"],
        "linkId": ["", "SampleLinkId123"], "networkCode": ["63902"]},
    "africastalking.delivery": {
        "id": [*SEEDED_AT, FRESH_ID], "status": ["Success", "Failed", "Rejected", "Buffered",
                                                 "Sent", "Odd"],
        "phoneNumber": ["+254722123456", FRESH_PHONE], "networkCode": ["63902"],
        "failureReason": ["", "UserInBlacklist", "InsufficientCredit"], "retryCount": ["0"]},
    "africastalking.ussd_hop": {
        "sessionId": [FRESH_SESSION, FRESH_SESSION, "ATUid_shared"],
        "serviceCode": ["*384*1234#", "*999#"], "phoneNumber": PHONES, "networkCode": ["63902"],
        "text": ["", "1", "3", "3*NAKURU", "3*NAKURU*1", "5", "5*1", "4*2", "2*1", "9*9*9*9",
                 "3*0", "1*1*1"]},
    "africastalking.ussd_end": {
        "sessionId": [FRESH_SESSION, "ATUid_shared"], "serviceCode": ["*384*1234#"],
        "networkCode": ["63902"], "phoneNumber": PHONES,
        "status": ["Success", "Incomplete", "Failed", "Other"], "cost": ["KES 0.05", ""],
        "durationInMillis": ["1200", "x"], "hopsCount": ["3", ""], "input": ["1*2"],
        "lastAppResponse": ["END bye"], "errorMessage": ["", "timeout"],
        "date": ["2026-12-01 09:00:00"]},
    "android.webhook": {
        "id": [FRESH_ID], "webhookId": ["smsgw-received"], "deviceId": ["ffffffff"],
        "event": ["sms:received", "sms:received", "sms:sent", "sms:delivered", "sms:failed",
                  "system:ping", "sms:other"],
        "payload.message": COMMAND_TEXTS, "payload.sender": PHONES,
        "payload.phoneNumber": PHONES, "payload.receivedAt": [FRESH_TIME],
        "payload.messageId": [FRESH_ID, *SEEDED_ANDROID],
        "payload.recipient": ["", "+254700000000"],
        "payload.simNumber": [1], "payload.reason": ["", "RESULT_ERROR_GENERIC_FAILURE"]},
}
FIELD_NAMES = sorted({name for fields in TEMPLATES.values() for name in fields}
                     | {"token", "payload", "extra", "", "Body[]", "from\x00", "ñame", "😀"})
# How each route's native body is encoded: a form, or a JSON object.
JSON_ROUTES = {"local.inbound", "android.webhook"}


# -------------------------------------------------------------------------- credentials


def _android_headers(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = hmac.new(ANDROID_KEY.encode(), body + stamp.encode(), hashlib.sha256)
    return {"X-Signature": signature.hexdigest(), "X-Timestamp": stamp}


def _twilio_headers(url: str, body: bytes, content_type: str | None) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(url, form_as_read(body, content_type))}


# provider (blueprint) -> (query string, headers for (url, body, content type))
CREDENTIALS = {
    "local": ("", lambda url, body, ctype: {"Authorization": f"Bearer {LOCAL_TOKEN}"}),
    "twilio": ("", _twilio_headers),
    "africastalking": (f"?token={AT_TOKEN}", lambda url, body, ctype: {}),
    "android": ("", lambda url, body, ctype: _android_headers(body)),
}


class _FormRequest(Request):
    max_content_length = LIMIT
    max_form_memory_size = LIMIT


def form_as_read(body: bytes, content_type: str | None) -> MultiDict[str, str]:
    """The form a server reads from this body, as werkzeug parses it (what Twilio would
    have signed had it sent exactly these bytes); empty when there is none."""
    if content_type and content_type.split(";")[0].strip().lower() \
            == "application/x-www-form-urlencoded":
        # Twilio's own encoding: its fields decoded as werkzeug's form parser does.
        try:
            return MultiDict(parse_qsl(body.decode(), keep_blank_values=True,
                                       errors="werkzeug.url_quote"))
        except (UnicodeDecodeError, ValueError):
            return MultiDict()
    environ = EnvironBuilder(method="POST", input_stream=io.BytesIO(body),
                             content_length=len(body), content_type=content_type).get_environ()
    try:
        return MultiDict(_FormRequest(environ).form)
    except Exception:  # noqa: BLE001 - the server refuses it anyway; no signature helps
        return MultiDict()


# ---------------------------------------------------------------------------- strategies


@dataclass(frozen=True)
class Nested:
    """JSON nested `depth` levels deep, written as text (json.dumps would recurse)."""

    depth: int
    brackets: str = "[]"


LONG_LENGTHS = [160, 161, 1600, 1601, 2000, 2001, 20_000, LIMIT - 200, LIMIT, LIMIT + 1,
                LIMIT + 4096]
long_text = st.builds(lambda piece, n: piece * max(1, n // len(piece)),
                      st.sampled_from(["a", "é", "😀", "7", " ", "\x00", "%", "&=", "\u200d",
                                       "\ud800"]),
                      st.sampled_from(LONG_LENGTHS))
control_text = st.text(st.characters(max_codepoint=0x1f) | st.sampled_from(
    "\x7f\x85\u2028\u2029\ufeff\ufffe\uffff\u202e"), max_size=20)
emoji_text = st.lists(st.sampled_from(["😀", "👩‍🌾", "🇰🇪", "🌽", "\u200d", "\u0301", "𝕄", "ﷺ",
                                       "\U0010ffff", "\u00a0"]), max_size=12).map("".join)
surrogate_text = st.builds(lambda a, s, b: a + s + b, st.text(max_size=5),
                           st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),
                           st.text(max_size=5))
phone_like = st.sampled_from(["0712345678", "+254712345678", "254712345678", "12", "+1", "abc",
                              "", "+2547" + "1" * 20, "0712 345 678", "+254-712-345-678",
                              "0" * 200]) | st.text("+0123456789 -()", max_size=20)
fuzz_text = st.one_of(st.sampled_from(COMMAND_TEXTS), st.text(max_size=40), control_text,
                      emoji_text, surrogate_text, long_text, phone_like, st.just(""))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(),
                        st.floats(allow_nan=True, allow_infinity=True), fuzz_text)
json_value = st.one_of(
    fuzz_text, fuzz_text, json_scalar,
    st.builds(Nested, st.sampled_from([2, 50, 900, 1100, 5000, 60_000]),
              st.sampled_from(["[]", "{}"])),
    st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6))

ENCODINGS = ["native", "native", "native", "native", "form", "multipart", "json",
             "json-ascii", "utf-16", "latin-1", "raw", "empty", "nested-body"]
CONTENT_TYPES = ["native", "native", "native", None, "application/json", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz",
                 "multipart/form-data", "application/xml", "application/json; charset=latin-1",
                 "application/x-www-form-urlencoded; charset=utf-16", "image/png", ""]


@dataclass(frozen=True)
class Spec:
    """One request, independent of the route: applied to a route's template at run time."""

    method: str = "POST"
    encoding: str = "native"
    content_type: str | None = "native"
    variant: int = -1            # which real values the template picks (-1: the first)
    # Fields by name, or by number (the route's n-th real field, modulo their number):
    drop: tuple[str | int, ...] = ()                  # real fields left out
    override: tuple[tuple[str | int, Any], ...] = ()  # fields set (or added) to a value
    repeat: tuple[tuple[str | int, Any], ...] = ()    # fields sent once more, with a value
    raw: bytes | None = None                          # the whole body, as is


slot = st.integers(0, 30)          # the route's n-th real field (modulo their number)
name = st.one_of(slot, st.sampled_from(FIELD_NAMES), st.text(max_size=8))
method = st.integers(0, 15).map(lambda n: ("GET", "PUT", "DELETE", "PATCH")[n - 12]
                                if n >= 12 else "POST")
# Half the examples stay close to the provider's real request (its encoding, its fields,
# one or two values changed), so that they get past the parsers to the write path; the
# other half change anything.
near = st.builds(
    Spec, variant=st.integers(0, 2**16),
    drop=st.lists(slot, max_size=1).map(tuple),
    override=st.lists(st.tuples(slot, fuzz_text | json_value), max_size=2).map(tuple),
    repeat=st.lists(st.tuples(slot, fuzz_text), max_size=1).map(tuple))
wild = st.builds(
    Spec, method=method, encoding=st.sampled_from(ENCODINGS),
    content_type=st.sampled_from(CONTENT_TYPES), variant=st.integers(-1, 2**16),
    drop=st.lists(name, max_size=3).map(tuple),
    override=st.lists(st.tuples(name, json_value), max_size=3).map(tuple),
    repeat=st.lists(st.tuples(name, fuzz_text), max_size=2).map(tuple),
    raw=st.none() | st.none() | st.binary(max_size=300)
    | st.sampled_from([b"\xff\xfe", b"{\"text\": \"\xed\xa0\x80\"}", b"Body=%ED%A0%80&From=1",
                       b"%", b"a=%zz&b", b"\x00" * 10, b"[]", b"null", b"{}"]),
)
specs = near | wild


# ------------------------------------------------------------------------------ building


@dataclass
class Built:
    method: str
    url: str
    body: bytes
    headers: dict[str, str]
    fields: list[tuple[str, Any]]     # the fields meant (before encoding)


def _fresh(value: Any) -> Any:
    if not isinstance(value, Fresh):
        return value
    n = next(_counter)
    return {"id": f"fz{n}", "sid": f"SM{n:032x}", "phone": f"+25479{n:07d}",
            "session": f"ATUid_fz{n:026x}", "time": f"2026-12-01T09:{n % 60:02d}:00.000+03:00"
            }[value.kind]


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Nested):
        return _nested_text(value)
    return json.dumps(value)


def _nested_text(value: Nested) -> str:
    opening, closing = (("[", "]") if value.brackets == "[]" else ('{"a":', "}"))
    return opening * value.depth + ("1" if value.brackets == "{}" else "") + closing * value.depth


def _json_text(value: Any, ensure_ascii: bool) -> str:
    if isinstance(value, Nested):
        return _nested_text(value)
    return json.dumps(value, ensure_ascii=ensure_ascii)


def _json_document(fields: list[tuple[str, Any]], ensure_ascii: bool) -> str:
    """An object of the fields (dotted names nested one level; a repeated name written
    twice, as JSON allows and the last one wins)."""
    top: list[tuple[str, Any]] = []
    inner: dict[str, list[tuple[str, Any]]] = {}
    for name, value in fields:
        head, dot, rest = name.partition(".")
        if dot and rest:
            if not inner.get(head):
                top.append((head, inner.setdefault(head, [])))
            inner[head].append((rest, value))
        else:
            top.append((name, value))

    def members(items: list[tuple[str, Any]]) -> str:
        return "{" + ", ".join(
            json.dumps(name, ensure_ascii=ensure_ascii) + ": " + (
                members(value) if isinstance(value, list) and value is inner.get(name)
                else _json_text(value, ensure_ascii)) for name, value in items) + "}"

    return members(top)


def _multipart(fields: list[tuple[str, Any]], boundary: str) -> bytes:
    parts = []
    for name, value in fields:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                     f"{_form_value(value)}\r\n")
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8", "surrogatepass")


def build(endpoint: str, path: str, spec: Spec) -> Built:
    template = TEMPLATES.get(endpoint, {})
    names = list(template) or ["text"]

    def named(field: str | int) -> str:
        return names[field % len(names)] if isinstance(field, int) else field

    pick = random.Random(spec.variant)
    dropped = {named(field) for field in spec.drop}
    fields: list[tuple[str, Any]] = [(name, _fresh(options[0] if spec.variant < 0
                                                   else pick.choice(options)))
                                     for name, options in template.items()
                                     if name not in dropped]
    for field, value in spec.override:
        name = named(field)
        fields = [(n, value if n == name else v) for n, v in fields]
        if name not in {n for n, _ in fields}:
            fields.append((name, value))
    fields.extend((named(field), value) for field, value in spec.repeat)
    native = "json" if endpoint in JSON_ROUTES else "form"
    encoding = native if spec.encoding == "native" else spec.encoding
    if spec.raw is not None:
        encoding = "raw"
    content_type = {"form": "application/x-www-form-urlencoded", "json": "application/json",
                    "json-ascii": "application/json", "multipart": "multipart/form-data;"
                    " boundary=fuzzfuzz", "utf-16": "application/json", "latin-1":
                    "application/json", "raw": "application/octet-stream", "empty": None,
                    "nested-body": "application/json"}[encoding]
    if spec.content_type != "native":
        content_type = spec.content_type
    if encoding == "form":
        body = "&".join(quote(str(n), safe="", errors="surrogatepass") + "=" + quote(
            _form_value(v), safe="", errors="surrogatepass") for n, v in fields).encode()
    elif encoding == "multipart":
        body = _multipart(fields, "fuzzfuzz")
    elif encoding in ("json", "json-ascii"):
        body = _json_document(fields, encoding == "json-ascii").encode("utf-8", "surrogatepass")
    elif encoding == "utf-16":
        body = _json_document(fields, False).encode("utf-16", "surrogatepass")
    elif encoding == "latin-1":
        body = _json_document(fields, False).encode("latin-1", "replace")
    elif encoding == "nested-body":
        body = _nested_text(Nested(spec.variant % 200_000 + 1)).encode()
    elif encoding == "raw":
        body = spec.raw or b""
    else:
        body = b""
    query, credentials = CREDENTIALS.get(endpoint.split(".")[0], ("", None))
    url = PUBLIC_URL + path + query
    headers = {} if content_type is None else {"Content-Type": content_type}
    if credentials is not None:
        headers.update(credentials(url, body, content_type))
    return Built(spec.method, url, body, headers, fields)


# ----------------------------------------------------------------------------- the app


@dataclass
class Fuzzed:
    app: Flask
    client: FlaskClient
    conn: sqlite3.Connection


@pytest.fixture(scope="module")
def fuzzed(kenya_db, tmp_path_factory) -> Iterator[Fuzzed]:
    directory = tmp_path_factory.mktemp("fuzz")
    shutil.copy(kenya_db, directory / "test.db")
    app = create_app(make_config(directory))
    conn = db.connect(directory / "test.db")
    for provider, ids in (("twilio", SEEDED_TWILIO), ("africastalking", SEEDED_AT),
                          ("android", SEEDED_ANDROID)):
        for provider_id in ids:   # messages sent, for delivery reports to find
            sent_message(conn, provider, provider_id)
    try:
        yield Fuzzed(app, app.test_client(), conn)
    finally:
        conn.close()


def send(client: FlaskClient, built: Built) -> Any:
    """The request with exactly the bytes built (given as `data=`, an empty body with a
    multipart type would be replaced by the test client's own multipart encoding)."""
    return client.open(built.url, method=built.method, input_stream=io.BytesIO(built.body),
                       content_length=len(built.body), headers=built.headers)


# ------------------------------------------------------------------------------ checks


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in TABLES}


def marks(conn: sqlite3.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
            for table in ("inbound", "outbox")}


def data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (a cheap first look)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def contents(conn: sqlite3.Connection) -> str:
    """A digest of every row of TABLES (and the contacts' every column)."""
    digest = hashlib.sha256()
    for table in TABLES:
        rows = sorted(repr(tuple(row)) for row in conn.execute(f"SELECT * FROM {table}"))
        digest.update("\n".join(rows).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


# What XML 1.0 cannot hold, and how an XML parser reads line ends: a TwiML answer carries
# a stored reply without the first, and is read back with the second applied.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _as_twiml_reads(text: str) -> str:
    return _NOT_XML.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def check_refused(response: Any, before: dict[str, int], version: int, digest: str,
                  conn: sqlite3.Connection) -> None:
    body = response.get_data()
    if response.is_json:
        reason = response.get_json(silent=True)
        assert isinstance(reason, dict) and isinstance(reason.get("error"), str) \
            and reason["error"].strip(), f"{response.status_code} without a reason: {body[:300]!r}"
    else:
        assert body.strip(), f"{response.status_code} with an empty body"
    assert counts(conn) == before, "a refused request added or removed rows"
    # A write that raised is rolled back to its savepoint, and its (empty) transaction may
    # still be committed: that moves data_version, so then compare the rows themselves.
    if data_version(conn) != version:
        assert contents(conn) == digest, "a refused request changed rows"


def check_accepted(endpoint: str, built: Built, response: Any, start: dict[str, int],
                   conn: sqlite3.Connection) -> None:
    new_inbound = conn.execute("SELECT * FROM inbound WHERE id > ?", (start["inbound"],)).fetchall()
    assert len(new_inbound) <= 1, "one request stored several messages"
    for row in new_inbound:
        replies = conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id = ?",
                               (row["id"],)).fetchone()[0]
        opted_out = conn.execute("SELECT opted_out FROM contacts WHERE id = ?",
                                 (row["contact_id"],)).fetchone()[0]
        assert replies >= 1 or row["outcome"] == "rate_limited" or opted_out, (
            f"message {dict(row)} stored with no reply and nothing to explain it")
    for row in conn.execute("SELECT o.*, c.phone FROM outbox o LEFT JOIN contacts c ON"
                            " c.id = o.contact_id WHERE o.id > ?", (start["outbox"],)):
        assert row["phone"] is None or row["phone"] == row["to_number"], dict(row)
    uneven = conn.execute(
        "SELECT s.session_id, s.hops, (SELECT COUNT(*) FROM ussd_hops h WHERE h.session_id ="
        " s.session_id) AS answers FROM ussd_sessions s WHERE s.hops != (SELECT COUNT(*) FROM"
        " ussd_hops h WHERE h.session_id = s.session_id)").fetchall()
    assert not uneven, f"USSD sessions whose hops and stored answers differ: {uneven}"
    body = response.get_data()
    if endpoint == "local.inbound":
        answer = response.get_json()
        message = json.loads(built.body)
        row = conn.execute("SELECT id FROM inbound WHERE provider = 'local' AND"
                           " provider_message_id = ?", (str(message["id"]),)).fetchone()
        assert row is not None, "answered 200 but not stored"
        stored = conn.execute("SELECT id, text FROM outbox WHERE inbound_id = ? ORDER BY id",
                              (row["id"],)).fetchall()
        assert [(r["id"], r["text"]) for r in answer["replies"]] == [tuple(r) for r in stored]
        assert answer["duplicate"] is (not new_inbound)
    elif endpoint == "twilio.inbound":
        from xml.etree import ElementTree

        form = form_as_read(built.body, built.headers.get("Content-Type"))
        row = conn.execute("SELECT id FROM inbound WHERE provider = 'twilio' AND"
                           " provider_message_id = ?", (form.get("MessageSid"),)).fetchone()
        assert row is not None, "answered 200 but not stored"
        stored = [r[0] for r in conn.execute("SELECT text FROM outbox WHERE inbound_id = ?"
                                             " ORDER BY id", (row["id"],))]
        texts = [m.text or "" for m in ElementTree.fromstring(body).iter("Message")]
        assert texts == [_as_twiml_reads(t) for t in stored]
    elif endpoint == "africastalking.ussd_hop":
        form = form_as_read(built.body, built.headers.get("Content-Type"))
        assert body.startswith((b"CON ", b"END ")), body[:100]
        stored = conn.execute("SELECT screen, ends FROM ussd_hops WHERE session_id = ? AND"
                              " text = ?", (form["sessionId"].strip(), form["text"])).fetchone()
        assert stored is not None, "a hop answered but not stored"
        assert (stored["screen"].encode("utf-8", "surrogatepass"), bool(stored["ends"])) == (
            body[4:], body.startswith(b"END "))
    elif endpoint in ("africastalking.inbound", "android.webhook"):
        if endpoint == "africastalking.inbound":
            assert body == b"OK"
        for row in new_inbound:   # answered through the outbox, by the worker
            statuses = {r[0] for r in conn.execute("SELECT status FROM outbox WHERE"
                                                   " inbound_id = ?", (row["id"],))}
            assert statuses <= {"queued"}, statuses


# ------------------------------------------------------------------------------ the tests

REGRESSION_SURROGATE = Spec(raw=b'{"from": "0712345678", "to": "local", "text": "\\ud800",'
                                b' "id": "x"}', content_type="application/json")


@pytest.mark.parametrize(("path", "endpoint"), ROUTES, ids=[e for _, e in ROUTES])
@FUZZ
@given(spec=specs)
@example(spec=REGRESSION_SURROGATE)   # the local webhook once answered this 500
@example(spec=Spec())                 # the route's real request, as its provider sends it
@example(spec=Spec(variant=0))
@example(spec=Spec(encoding="empty"))
@example(spec=Spec(override=((0, "x" * (LIMIT + 1)),)))
def test_a_webhook_never_answers_5xx_and_never_half_writes(fuzzed, path, endpoint, spec):
    built = build(endpoint, path, spec)
    conn = fuzzed.conn
    before, start, version = counts(conn), marks(conn), data_version(conn)
    digest = contents(conn)
    response = send(fuzzed.client, built)
    status = response.status_code
    event(f"HTTP {status}")   # pytest --hypothesis-show-statistics: how deep the fuzz got
    assert status < 500, f"{status}: {response.get_data()[:500]!r}"
    assert status != 403, f"valid credentials refused: {response.get_data()[:300]!r}"
    if status >= 300:
        check_refused(response, before, version, digest, conn)
    else:
        check_accepted(endpoint, built, response, start, conn)


def test_every_webhook_route_can_be_fuzzed_with_valid_credentials():
    """A provider's new route is fuzzed by the test above with that provider's credentials;
    a new provider needs its recipe in CREDENTIALS (and its fields in TEMPLATES)."""
    assert ROUTES, "no webhook route found in the app's url_map"
    missing = sorted({endpoint.split(".")[0] for _, endpoint in ROUTES} - set(CREDENTIALS))
    assert not missing, f"no credentials to fuzz these providers' routes with: {missing}"


def test_the_real_request_of_each_route_is_accepted(fuzzed):
    """The fuzz starts from requests the routes accept: each template, as is, gets a 200."""
    for path, endpoint in ROUTES:
        if endpoint not in TEMPLATES:
            continue
        built = build(endpoint, path, Spec())
        start = marks(fuzzed.conn)
        response = send(fuzzed.client, built)
        assert response.status_code == 200, (endpoint, response.get_data()[:300])
        check_accepted(endpoint, built, response, start, fuzzed.conn)


def test_regression_a_lone_surrogate_escape_in_local_json_is_a_400_with_the_reason(fuzzed):
    """The local webhook answered 500 to JSON whose text held `\\ud800` (fixed): now a 400
    that names the field, and nothing is stored."""
    before = counts(fuzzed.conn)
    response = fuzzed.client.post("/webhooks/local/sms", data=REGRESSION_SURROGATE.raw,
                                  headers={"Authorization": f"Bearer {LOCAL_TOKEN}",
                                           "Content-Type": "application/json"})
    assert response.status_code == 400
    reason = response.get_json()["error"]
    assert "text" in reason and "lone surrogate" in reason, reason
    assert counts(fuzzed.conn) == before
