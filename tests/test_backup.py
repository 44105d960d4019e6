"""Backups during a burst of webhooks, checked and restored: every message acknowledged
before the backup began is in it, with its replies, and the copy is whole and private."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from support import LOCAL_AUTH

import db
from db import backup


def post(client, n: int) -> bool:
    response = client.post("/webhooks/local/sms", headers=LOCAL_AUTH, json={
        "from": f"+25471400{n % 500:04d}", "to": "local", "text": "HELP", "id": f"burst-{n}"})
    return response.status_code == 200


def test_a_backup_taken_during_a_burst_holds_every_acknowledged_message(app, config, tmp_path):
    acknowledged: list[int] = []
    stop = threading.Event()
    counter = iter(range(1_000_000))
    lock = threading.Lock()

    def sender() -> None:
        client = app.test_client()
        while not stop.is_set():
            with lock:
                n = next(counter)
            if post(client, n):
                with lock:
                    acknowledged.append(n)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 150:
        pass
    with lock:
        before = set(acknowledged)
    snapshot = backup.backup(config["database.path"], tmp_path / "backups")
    stop.set()
    for thread in threads:
        thread.join(10)
    assert snapshot.inbound >= len(before)
    assert stat.S_IMODE(os.stat(snapshot.path).st_mode) == 0o600

    restored = tmp_path / "restored.db"
    assert backup.restore(snapshot.path, restored).inbound == snapshot.inbound
    conn = db.connect(restored)
    ids = {row[0] for row in conn.execute("SELECT provider_message_id FROM inbound")}
    assert {f"burst-{n}" for n in before} <= ids
    unanswered = conn.execute("SELECT COUNT(*) FROM inbound i WHERE NOT EXISTS (SELECT 1 FROM"
                              " outbox o WHERE o.inbound_id = i.id)").fetchone()[0]
    assert unanswered == 0      # a message is in the copy with its reply, or not at all


def test_a_damaged_or_foreign_file_is_refused_and_nothing_is_replaced(config, app, tmp_path):
    good = backup.backup(config["database.path"], tmp_path / "good.db")
    damaged = tmp_path / "damaged.db"
    data = bytearray(good.path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    damaged.write_bytes(bytes(data))
    target = tmp_path / "live.db"
    target.write_bytes(b"the live database")
    for bad in (damaged, tmp_path / "missing.db"):
        with pytest.raises(backup.BadBackup):
            backup.restore(bad, target)
    foreign = tmp_path / "foreign.db"
    conn = db.connect(foreign)
    conn.execute("CREATE TABLE other (x)")
    conn.close()
    with pytest.raises(backup.BadBackup, match="not an smsgw database"):
        backup.restore(foreign, target)
    assert target.read_bytes() == b"the live database"


def test_restore_refuses_a_database_that_looks_open(config, app, tmp_path):
    snapshot = backup.backup(config["database.path"], tmp_path / "b.db")
    live = db.connect(config["database.path"])
    live.execute("CREATE TABLE IF NOT EXISTS scratch (x)")   # the WAL is there while open
    with pytest.raises(backup.DatabaseInUse, match="Stop it"):
        backup.restore(snapshot.path, config["database.path"])
    live.close()


def test_rotation_keeps_the_newest(tmp_path):
    for stamp in ("20261101-020000", "20261102-020000", "20261103-020000"):
        (tmp_path / f"smsgw-{stamp}.db").write_bytes(b"x")
    gone = backup.rotate(tmp_path, keep=2)
    assert [p.name for p in gone] == ["smsgw-20261101-020000.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smsgw-20261102-020000.db",
                                                          "smsgw-20261103-020000.db"]


def test_the_cli_backs_up_and_restores_and_the_worker_schedules_backups(tmp_path):
    from click.testing import CliRunner
    from support import make_config

    from smsgw.bulletins import build_scheduler, scheduled_backup
    from smsgw.cli import main

    folder = tmp_path / "usb"
    folder.mkdir()
    config = make_config(tmp_path, **{"backup.folder": str(folder), "backup.keep": 2})
    env = {"SMSGW_DATABASE_PATH": config["database.path"]}
    runner = CliRunner(env=env)
    assert runner.invoke(main, ["init"]).exit_code == 0
    made = runner.invoke(main, ["backup", str(tmp_path / "by-hand.db")])
    assert made.exit_code == 0 and "backed up to" in made.output
    into = runner.invoke(main, ["backup", str(tmp_path / "new-folder") + "/"])
    assert into.exit_code == 0 and len(list((tmp_path / "new-folder").glob("smsgw-*.db"))) == 1
    refused = runner.invoke(main, ["restore", str(tmp_path / "nothing.db"), "--yes"])
    assert refused.exit_code == 1 and "not restored" in refused.output
    back = runner.invoke(main, ["restore", str(tmp_path / "by-hand.db"), "--yes"])
    assert back.exit_code == 0 and "restored" in back.output
    jobs = {job.id for job in build_scheduler(config).get_jobs()}
    assert "backup" in jobs
    import time

    for _ in range(3):
        scheduled_backup(config)
        time.sleep(1.05)   # dated names have one-second resolution
    assert len(list(folder.glob("smsgw-*.db"))) == 2
