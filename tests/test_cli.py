"""The smsgw command as an admin uses it, and the real server as `make run` starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

import db
from db.timeutil import utcnow
from smsgw.cli import main
from smsgw.gateway import queue_message

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{tmp_path / "cli.db"}"\n[logging]\nlevel = "WARNING"\n')
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_creates_and_then_keeps_the_database(config_file):
    first = run("init", "--config", str(config_file))
    assert first.exit_code == 0 and "applied 0001_gateway" in first.output
    second = run("init", "--config", str(config_file))
    assert second.exit_code == 0 and "already up to date" in second.output


def test_sim_prints_the_reply_and_outbox_lists_it_as_json(config_file):
    result = run("sim", "HELP", "--from", "0712345678", "--config", str(config_file))
    assert result.exit_code == 0 and "PRICE MAIZE NAKURU" in result.output
    listed = run("outbox", "list", "--json", "--config", str(config_file))
    rows = json.loads(listed.output)
    assert len(rows) == 1
    assert {"id", "to", "text", "status", "provider", "segments", "encoding",
            "attempts"} <= set(rows[0])
    assert rows[0]["to"] == "+254******678" and rows[0]["status"] == "replied"  # masked
    listed = run("outbox", "list", "--json", "--show-numbers", "--config", str(config_file))
    assert json.loads(listed.output)[0]["to"] == "+254712345678"


def test_sim_with_a_bad_number_fails_with_the_reason(config_file):
    result = CliRunner().invoke(main, ["sim", "HELP", "--from", "12", "--config",
                                       str(config_file)])
    assert result.exit_code == 1 and "not a valid phone number" in result.output


def test_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nprot = 1\n")
    result = CliRunner().invoke(main, ["init", "--config", str(bad)])
    assert result.exit_code == 2 and "unknown setting 'server.prot'" in result.output


def test_config_command_masks_secrets(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[providers.africastalking]\nenabled = true\napi_key = "supersecretkey"\n'
                    'callback_token = "tok3n"\n')
    result = run("config", "--config", str(path))
    assert result.exit_code == 0 and "supersecretkey" not in result.output
    assert "tok3n" not in result.output and "***" in result.output


def test_worker_once_sends_what_is_due(config_file):
    run("init", "--config", str(config_file))
    conn = db.connect(config_file.parent / "cli.db")
    with db.transaction(conn):
        queue_message(conn, to_number="+254712345678", text="Maize up", provider="local",
                      kind="reply", now=utcnow())
    result = run("worker", "--once", "--config", str(config_file))
    assert json.loads(result.output.strip().splitlines()[-1])["sent"] == 1
    assert conn.execute("SELECT status FROM outbox").fetchone()[0] == "sent"


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name, command in main.commands.items():
        subcommands = getattr(command, "commands", None)
        for full in ([f"{name} {sub}" for sub in subcommands] if subcommands else [name]):
            assert f"smsgw {full}" in readme, f"smsgw {full} is not in the README"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_starts_the_real_server_and_the_worker(config_file, tmp_path):
    port = free_port()
    smsgw = Path(sys.executable).parent / "smsgw"
    process = subprocess.Popen([str(smsgw), "run", "--port", str(port), "--config",
                                str(config_file)], cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    assert json.load(response)["database"] == "ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        body = json.dumps({"from": "0712345678", "to": "x", "text": "HELP", "id": "e2e"})
        request = urllib.request.Request(base + "/webhooks/local/sms", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert "PRICE" in json.load(response)["replies"][0]["text"]
        conn = db.connect(config_file.parent / "cli.db")
        with db.transaction(conn):
            queued = queue_message(conn, to_number="+254712345678", text="queued", kind="reply",
                                   provider="local", now=utcnow())
        deadline = time.monotonic() + 15
        status = "queued"
        while status != "sent" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = conn.execute("SELECT status FROM outbox WHERE id = ?", (queued,)).fetchone()[0]
        assert status == "sent", "the worker started by `smsgw run` did not send"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_each_providers_admin_commands_are_registered():
    from smsgw.providers import PROVIDERS

    declared = [provider.cli for provider in PROVIDERS if provider.cli is not None]
    assert declared, "no provider declares admin commands any more: drop this test"
    for group in declared:
        assert main.commands[group.name] is group


def test_commands_open_the_database_only_through_the_shared_helper():
    import ast

    for path in sorted((ROOT / "smsgw" / "cli").glob("*.py")):
        if path.name == "common.py":   # smsgw.cli.common.database: connect, migrate, close
            continue
        tree = ast.parse(path.read_text(), str(path))
        calls = [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                 and node.func.attr in ("connect", "migrate")]
        assert not calls, f"use smsgw.cli.common.database: {calls}"
