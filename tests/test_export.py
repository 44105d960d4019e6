"""`smsgw export TABLE`: tables for a spreadsheet, numbers masked as in every listing."""

from __future__ import annotations

import csv
import inspect
import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import post_local

import db
from db import export as exports
from db.timeutil import utcnow
from smsgw.cli import main
from smsgw.gateway import queue_message

FARMER, FARMER_MASKED = "+254712345678", "+254******678"
FRIEND = "+254722000111"


@pytest.fixture
def config_file(config, tmp_path: Path) -> Path:
    """The CLI's view of the test app's database."""
    path = tmp_path / "export.toml"
    path.write_text(f'[database]\npath = "{config["database.path"]}"\n'
                    '[logging]\nlevel = "WARNING"\n')
    return path


@pytest.fixture
def texted(client, conn):
    """A farmer who texted twice (once quoting a friend's number) and got replies."""
    post_local(client, "HELP", msg_id="e1", sender="0712345678")
    post_local(client, "=HYPERLINK(\"http://x\") call 0722 000 111", msg_id="e2",
               sender="0712345678")
    with db.transaction(conn):
        queue_message(conn, to_number=FRIEND, text=f"Your friend {FARMER} joined",
                      provider="local", kind="reply", now=utcnow())


def export(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["export", *args, "--config", str(config_file)],
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_csv_has_the_columns_and_masks_every_number(config_file, texted, conn):
    code, output = export(config_file, "contacts")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(output)))
    assert list(rows[0]) == exports.columns(conn, "contacts")
    assert list(rows[0])[:2] == ["id", "phone"]
    assert [row["phone"] for row in rows] == [FARMER_MASKED, "+254******111"]
    assert rows[0]["language"] == "" and rows[0]["opted_out"] == "0"   # NULL is empty
    code, output = export(config_file, "outbox", "--format", "csv")
    assert code == 0 and FARMER not in output and "0722 000 111" not in output
    friend = next(row for row in csv.DictReader(io.StringIO(output))
                  if row["text"].startswith("Your friend"))
    assert friend["to_number"] == "+254******111"
    assert friend["text"] == f"Your friend {FARMER_MASKED} joined"


def test_json_is_an_array_of_rows_with_numbers_masked(config_file, texted):
    code, output = export(config_file, "inbound", "--format", "json")
    assert code == 0
    rows = json.loads(output)
    assert [row["text"] for row in rows] == [
        "HELP", "=HYPERLINK(\"http://x\") call 072****111"]   # as written, masked
    assert rows[0]["recipient"] == "local"        # no number: left as it is
    assert isinstance(rows[0]["contact_id"], int)
    assert json.loads(export(config_file, "memberships", "--format", "json")[1]) == []


def test_show_numbers_exports_them_as_stored(config_file, texted):
    code, output = export(config_file, "contacts", "--show-numbers", "--format", "json")
    assert [row["phone"] for row in json.loads(output)] == [FARMER, FRIEND]
    code, output = export(config_file, "inbound", "--show-numbers")
    assert "0722 000 111" in output


def test_csv_keeps_what_people_wrote_from_running_as_a_formula(config_file, texted):
    code, output = export(config_file, "inbound", "--show-numbers")
    texts = [row["text"] for row in csv.DictReader(io.StringIO(output))]
    assert texts[1] == "'=HYPERLINK(\"http://x\") call 0722 000 111"
    for shown in ("--show-numbers", None):   # a phone number starts with + and stays as it is
        output = export(config_file, "contacts", *filter(None, [shown]))[1]
        phones = [row["phone"] for row in csv.DictReader(io.StringIO(output))]
        assert phones == ([FARMER, FRIEND] if shown else [FARMER_MASKED, "+254******111"])


def test_output_goes_to_a_file_only_its_owner_reads(config_file, texted, tmp_path):
    target = tmp_path / "contacts.csv"
    code, output = export(config_file, "contacts", "--output", str(target))
    assert code == 0 and output == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert FARMER_MASKED in target.read_text() and FARMER not in target.read_text()


def test_other_tables_are_refused_with_the_list(config_file, texted):
    code, output = export(config_file, "audit")
    assert code == 2
    assert "'audit' is not one of" in output
    for table in exports.EXPORTABLE:
        assert f"'{table}'" in output
    with pytest.raises(exports.NotExportable, match="ussd_sessions"):
        exports.columns(sqlite3.connect(":memory:"), "ussd_sessions")


def test_rows_are_read_one_at_a_time(config, conn, config_file):
    assert inspect.isgeneratorfunction(exports.rows)
    with db.transaction(conn):
        for n in range(2500):
            conn.execute("INSERT INTO contacts (phone, created_at, updated_at)"
                         " VALUES (?, '2026-11-23', '2026-11-23')", (f"+2547{n:08d}",))
    code, output = export(config_file, "contacts", "--format", "json")
    rows = json.loads(output)
    assert code == 0 and len(rows) == 2500 and rows[0]["id"] < rows[-1]["id"]
    assert len(export(config_file, "contacts")[1].splitlines()) == 2501   # and the header
