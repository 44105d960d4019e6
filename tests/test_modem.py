"""The modem provider (gammu-smsd, files service) as far as Gammu runs without a modem.

The first tests need no daemon: the hook's record format, `poll` on hand-made records, the
sender's outbox files, the generated config and the guard against gammu-smsd 1.42's shell
injection. The rest run the real gammu-smsd from python-gammu's wheel (libgammu 1.45.1,
deploy/gammu-smsd.py) against Gammu's dummy phone: one daemon for the module, an SMS
dropped into the dummy's inbox comes through the hook and the worker's `collect` as a
farmer's message, and the reply goes out through the daemon's outbox. What needs a real
modem (the radio, operator errors, delivery reports, a modem that hangs) is not here: see
docs/offline-sms.md.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes.gammu_dummy import Daemon, drop_incoming
from support import wait_for

import db
from db import outbox
from db.outbox import OutboxMessage, OutboxStatus
from handlers.messages import InboundMessage
from smsgw.cli import main
from smsgw.config import load
from smsgw.errors import PermanentSendError, TransientSendError
from smsgw.gateway import queue_message
from smsgw.providers import gammu_modem
from smsgw.providers.gammu_modem import (
    HOOK,
    ModemSender,
    folders,
    our_id,
    poll,
    read_record,
    write_smsd_config,
)
from smsgw.worker import Worker, build_senders

FARMER = "+254712345678"


def settings_for(base: Path, **more: object) -> dict[str, object]:
    return {"providers.modem.smsd_config": str(base / "smsdrc"),
            "providers.modem.spool": str(base / "spool"), "providers.modem.max_per_hour": 300,
            "providers.modem.keep_days": 7, "app.default_region": "KE", **more}


def message(message_id: int = 7, text: str = "Maize KES 4200", to: str = FARMER,
            kind: str = "reply") -> OutboxMessage:
    return OutboxMessage(id=message_id, contact_id=None, to_number=to, text=text,
                         provider="modem", kind=kind, status=OutboxStatus.SENDING,
                         encoding="gsm7", segments=1, attempts=1, provider_message_id=None)


def hook(event: str, spool: Path, *args: str, env: dict[str, str] | None = None) -> None:
    """Run the shipped hook as gammu-smsd would (sh, with the SMS in the environment)."""
    subprocess.run(["/bin/sh", str(HOOK), event, str(spool), *args], check=True,
                   env={"PATH": "/usr/bin:/bin", **(env or {})})


def records(spool: Path, event: str = "") -> list[Path]:
    return sorted(p for p in spool.iterdir() if p.is_file() and p.name.startswith(event)
                  and not p.name.startswith("."))


class FakeInbox:
    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[InboundMessage] = []
        self.reports: list[tuple] = []
        self.fail_first = fail_first

    def receive(self, message: InboundMessage) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("database is locked")
        self.received.append(message)

    def report(self, provider_message_id, status, provider_status, error_code=None) -> None:
        self.reports.append((provider_message_id, status, provider_status, error_code))


# ------------------------------------------------------------------------ without a daemon


def test_the_hook_writes_one_whole_record_per_call_readable_by_the_group(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    text = "Bei ya mahindi?\nNakuru ☕ 🌽 — asante"
    hook("recv", spool, env={"SMS_MESSAGES": "1", "SMS_1_NUMBER": FARMER, "SMS_1_TEXT": text,
                             "PHONE_ID": "modem"})
    hook("sent", spool, "OUTA20261201_120000_00_+254712345678_smsgw-1-0123abcd.txt")
    written = sorted(os.listdir(spool))
    assert [name.split(".")[0] for name in written] == ["recv", "sent"]   # no temp file left
    received = read_record(spool / written[0])
    assert received["HOOK_EVENT"] == "recv" and received["HOOK_ID"] == ""
    assert received["SMS_1_TEXT"] == text and received["SMS_1_NUMBER"] == FARMER
    assert stat.S_IMODE((spool / written[0]).stat().st_mode) == 0o660
    sent = read_record(spool / written[1])
    assert sent["HOOK_EVENT"] == "sent" and sent["HOOK_ID"].endswith("smsgw-1-0123abcd.txt")


def test_poll_hands_over_each_record_once_and_keeps_one_that_failed(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    settings = settings_for(tmp_path)
    sent_id = "OUTA20261201_120000_00_+254712345678_smsgw-5-0123abcd.txt"
    hook("recv", spool, env={"SMS_MESSAGES": "2", "SMS_1_NUMBER": "0712345678",
                             "SMS_1_TEXT": "PRICE MAIZE ", "SMS_2_TEXT": "NAKURU",
                             "DECODED_1_TEXT": "ignored", "PHONE_ID": "modem"})
    hook("recv", spool, env={"SMS_MESSAGES": "1", "SMS_1_NUMBER": "+254722000111",
                             "SMS_1_TEXT": "HELP", "SMS_1_DATETIME": "2026-12-01T12:00:00+00:00"})
    hook("sent", spool, sent_id)
    hook("fail", spool, "OUTB20261201_120001_00_+254712345678_smsgw-6-0123abcd.txt")
    hook("fail", spool, "INIT")                                  # the modem cannot be opened
    hook("sent", spool, "OUTC20261201_120002_00_+254712345678_sms0.smsbackup")   # not ours
    hook("recv", spool, env={"SMS_MESSAGES": "1", "SMS_1_NUMBER": "Safaricom",
                             "SMS_1_TEXT": "Your balance is"})   # no number to answer
    hook("recv", spool, env={"SMS_MESSAGES": "2", "SMS_1_NUMBER": FARMER,
                             "SMS_1_TEXT": "x"})                 # part 2 is binary

    inbox = FakeInbox(fail_first=1)   # the first SMS meets a locked database
    assert poll(settings, inbox) == 7
    assert [m.text for m in inbox.received] == ["HELP"]
    assert inbox.reports == [
        ("smsgw-5-0123abcd", OutboxStatus.SENT, "gammu:sent", None),
        ("smsgw-6-0123abcd", OutboxStatus.FAILED, "gammu:failed",
         "gammu-smsd gave up on it (its log says why)")]
    assert len(records(spool, "recv")) == 1 and len(os.listdir(spool / "rejected")) == 2

    assert poll(settings, inbox) == 1        # the kept one goes next round, whole
    first = inbox.received[-1]
    assert (first.text, first.sender, first.recipient) == ("PRICE MAIZE NAKURU", FARMER, "modem")
    assert first.provider == "modem" and first.provider_message_id.startswith("hook|recv.")
    assert inbox.received[0].provider_message_id.startswith("+254722000111|2026-12-01T12:00")
    assert records(spool) == [] and poll(settings, inbox) == 0


def test_the_sender_writes_one_atomic_outbox_file_and_a_resend_writes_none(tmp_path):
    base = tmp_path / "modem"
    write_smsd_config(base, dummy=True)
    sender = ModemSender(settings_for(base))
    assert sender.max_per_second == pytest.approx(300 / 3600)
    old = os.umask(0o077)   # smsgw.service's UMask: the daemon's user must still read it
    try:
        first = sender.send(message(text="Habari ☕ 🌽"))
    finally:
        os.umask(old)
    assert first == our_id(message(text="Habari ☕ 🌽")) and first.startswith("smsgw-7-")
    [name] = os.listdir(base / "outbox")
    assert name.startswith("OUTA") and name.endswith(f"_00_{FARMER}_{first}.txt")
    content = (base / "outbox" / name).read_bytes()
    assert content == b"\xfe\xff" + "Habari ☕ 🌽".encode("utf-16-be")
    assert stat.S_IMODE((base / "outbox" / name).stat().st_mode) == 0o660

    assert sender.send(message(text="Habari ☕ 🌽")) == first    # a resend after a crash
    os.rename(base / "outbox" / name, base / "sent" / name)      # ... or once it went out
    assert sender.send(message(text="Habari ☕ 🌽")) == first
    assert os.listdir(base / "outbox") == []
    bulletin = sender.send(message(8, "Prices this week", kind="bulletin"))
    assert os.listdir(base / "outbox")[0].startswith("OUTC")     # after replies (OUTA)
    assert bulletin != first

    with pytest.raises(PermanentSendError):
        sender.send(message(to="0712345678"))
    with pytest.raises(TransientSendError, match="smsgw modem config"):
        ModemSender(settings_for(tmp_path / "nowhere")).send(message())


def test_the_generated_config_keeps_a_crafted_sender_away_from_the_shell(tmp_path):
    """gammu-smsd 1.42 runs `sh -c "<RunOnReceive> <inbox file names>"`, names that hold
    the sender's number with only '*' escaped. The trailing ' #' makes them a comment."""
    base = tmp_path / "modem"
    write_smsd_config(base, dummy=True)
    where = folders(settings_for(base))
    assert where.run_on_receive.endswith(" #")
    crafted = "IN20261201_120000_00_x;touch PWNED;_00.txt"
    subprocess.run(["/bin/sh", "-c", f"{where.run_on_receive} {crafted}"], cwd=tmp_path,
                   check=True, env={"PATH": "/usr/bin:/bin", "SMS_MESSAGES": "1",
                                    "SMS_1_NUMBER": "x;touch PWNED;", "SMS_1_TEXT": "hi"})
    assert not (tmp_path / "PWNED").exists()
    assert len(records(where.spool, "recv")) == 1
    with pytest.raises(ValueError, match="only letters"):
        write_smsd_config(tmp_path / "a folder; rm", dummy=True)


def test_modem_config_and_check_commands(tmp_path):
    base = tmp_path / "modem"
    toml = tmp_path / "config.toml"
    toml.write_text(f'[database]\npath = "{tmp_path / "x.db"}"\n[providers.modem]\n'
                    f'smsd_config = "{base / "smsdrc"}"\nspool = "{base / "spool"}"\n')
    runner = CliRunner()
    done = runner.invoke(main, ["modem", "config", "--device", "/dev/ttyUSB2",
                                "--config", str(toml)])
    assert done.exit_code == 0, done.output
    text = (base / "smsdrc").read_text()
    assert "connection = at\ndevice = /dev/ttyUSB2\n" in text and "set in config.toml" not in \
        done.output
    assert stat.S_IMODE((base / "outbox").stat().st_mode) == 0o2770
    assert (base / "gammu_hook.sh").read_bytes() == HOOK.read_bytes()
    again = runner.invoke(main, ["modem", "config", "--device", "/dev/ttyUSB2",
                                 "--config", str(toml)])
    assert again.exit_code == 0                                  # the same: nothing to say
    other = runner.invoke(main, ["modem", "config", "--config", str(toml)])
    assert other.exit_code == 1 and "--force" in other.output    # an admin's edits stay
    elsewhere = runner.invoke(main, ["modem", "config", "--dummy", "--folder",
                                     str(tmp_path / "b"), "--config", str(toml)])
    assert f'smsd_config = "{tmp_path / "b" / "smsdrc"}"' in elsewhere.output

    checked = runner.invoke(main, ["modem", "check", "--config", str(toml)])
    assert checked.exit_code == 0, checked.output
    assert "outbox " in checked.output and "0 files" in checked.output
    stuck = base / "outbox" / "OUTA20261201_120000_00_+254712345678_smsgw-1-0123abcd.txt"
    stuck.write_bytes(b"\xfe\xff")
    os.utime(stuck, (time.time() - 600, time.time() - 600))
    checked = runner.invoke(main, ["modem", "check", "--config", str(toml)])
    assert checked.exit_code == 1 and "waited 600 s" in checked.output


def test_old_files_are_pruned_and_recent_ones_kept(tmp_path):
    base = tmp_path / "modem"
    write_smsd_config(base, dummy=True)
    where = folders(settings_for(base))
    old, new = where.sent / "OUTA_old.txt", where.inbox / "IN_new.txt"
    waiting = where.outbox / "OUTA_waiting.txt"
    for path in (old, new, waiting):
        path.write_text("x")
    os.utime(old, (time.time() - 8 * 86400,) * 2)
    os.utime(waiting, (time.time() - 8 * 86400,) * 2)
    assert gammu_modem.prune(where, older_than=time.time() - 7 * 86400) == 1
    assert not old.exists() and new.exists() and waiting.exists()


# --------------------------------------------------------------- with gammu-smsd running


@pytest.fixture(scope="module")
def modem(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """gammu-smsd (python-gammu's wheel) on Gammu's dummy phone, for the whole module."""
    base = tmp_path_factory.mktemp("modem") / "m"
    config = write_smsd_config(base, dummy=True, poll_seconds=1, multipart_seconds=10,
                               send_seconds=10)
    daemon = Daemon(config, base / "smsd.log")
    daemon.start()
    try:
        yield base
    finally:
        daemon.stop()


@pytest.fixture
def service(modem: Path, tmp_path: Path) -> Iterator[tuple[Worker, object, Path]]:
    """The worker, its database and the modem's folder, with modem the default provider."""
    config = load(None, environ={}, overrides={
        "database.path": str(tmp_path / "modem.db"), "providers.default": "modem",
        "providers.modem.smsd_config": str(modem / "smsdrc"),
        "providers.modem.spool": str(modem / "spool"),
        "providers.modem.max_per_hour": 36000, "logging.level": "WARNING"})
    conn = db.connect(config["database.path"])
    db.migrate(conn)
    worker = Worker(config, build_senders(config))
    yield worker, conn, modem
    conn.close()


def collect_until(worker: Worker, conn, what: str, condition: Callable[[], object]) -> None:
    """Let the worker collect from the spool until the condition holds."""
    wait_for(lambda: (worker.collect(conn), condition())[1], what)


def test_a_received_sms_is_answered_through_the_modem(service):
    worker, conn, base = service
    drop_incoming(base / "dummy", FARMER, "HELP")
    collect_until(worker, conn, "the SMS", lambda: conn.execute(
        "SELECT COUNT(*) FROM inbound").fetchone()[0])
    inbound = conn.execute("SELECT provider, text, recipient FROM inbound").fetchone()
    assert tuple(inbound) == ("modem", "HELP", "modem")
    reply = conn.execute("SELECT id, provider, kind, status FROM outbox").fetchone()
    assert tuple(reply)[1:] == ("modem", "reply", "queued")

    assert worker.run_once(conn) == 1
    row = conn.execute("SELECT status, provider_message_id FROM outbox").fetchone()
    assert row["status"] == "sent" and row["provider_message_id"].startswith(
        f"smsgw-{reply['id']}-")
    ours = row["provider_message_id"]
    wait_for(lambda: [n for n in os.listdir(base / "sent") if n.endswith(f"_{ours}.txt")],
             "the daemon to send the reply")
    collect_until(worker, conn, "the daemon's sent report", lambda: conn.execute(
        "SELECT provider_status FROM status_events WHERE provider_message_id = ?",
        (ours,)).fetchone())
    assert conn.execute("SELECT status FROM outbox").fetchone()[0] == "sent"

    # A resend of the same message (a crash before our commit) writes no second SMS.
    assert worker.senders["modem"].send(outbox.get(conn, reply["id"])) == ours
    assert os.listdir(base / "outbox") == []
    assert len([n for n in os.listdir(base / "sent") if ours in n]) == 1


def test_a_long_unicode_sms_arrives_whole_and_a_long_reply_goes_out(service):
    worker, conn, base = service
    text = ("Bei ya chai ☕ na mahindi 🌽 Nakuru leo? Asante — ng'ombe ñ\n" * 3).strip()
    drop_incoming(base / "dummy", "+254722000111", text, part_len=67, ucs2=True)
    collect_until(worker, conn, "the long SMS", lambda: conn.execute(
        "SELECT COUNT(*) FROM inbound").fetchone()[0])
    assert conn.execute("SELECT text FROM inbound").fetchone()[0] == text

    long_reply = "Habari! Bei ya mahindi Nakuru leo ni KES 4200 kwa gunia 🌽. " * 4
    with db.transaction(conn):
        queue_message(conn, to_number="+254733000222", text=long_reply, provider="modem",
                      kind="group", now=datetime.now(UTC))
    worker.run_once(conn)
    ours = conn.execute("SELECT provider_message_id FROM outbox WHERE to_number ="
                        " '+254733000222'").fetchone()[0]
    sent = wait_for(lambda: [n for n in os.listdir(base / "sent") if n.endswith(f"_{ours}.txt")],
                    "the long reply to go out")
    assert (base / "sent" / sent[0]).read_bytes()[2:].decode("utf-16-be") == long_reply


def test_a_failure_reported_by_the_daemon_marks_the_message_failed(service):
    """The dummy phone never fails a send: the daemon's RunOnFailure is simulated by
    running the hook as it would, with the outbox file's name."""
    worker, conn, base = service
    with db.transaction(conn):
        queue_message(conn, to_number="+254744000333", text="Order 12 closed", provider="modem",
                      kind="group", now=datetime.now(UTC))
    worker.run_once(conn)
    ours = conn.execute("SELECT provider_message_id FROM outbox").fetchone()[0]
    [name] = wait_for(lambda: [n for n in os.listdir(base / "sent") if ours in n], "the send")
    hook("fail", base / "spool", name)
    collect_until(worker, conn, "the failure", lambda: conn.execute(
        "SELECT status FROM outbox").fetchone()[0] == "failed")
    assert "gave up" in conn.execute("SELECT error FROM outbox").fetchone()[0]
