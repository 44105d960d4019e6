"""Price bulletins and standards notices: wording, the run ledger, quiet hours, catch-up,
Africa's Talking batching, the schedule and the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from click.testing import CliRunner
from support import Clock, make_config
from test_price_commands import money, series
from test_senders import AT_JSON, AT_URL

import db
from db import bulletins as ledger
from db import contacts, subscriptions
from handlers import bulletins as wording
from handlers.segments import count
from prices.standards import import_standards
from smsgw.providers.base import OneAtATime
from smsgw import bulletins
from smsgw.providers.africastalking.sms import AfricasTalkingSender
from smsgw.cli import main
from smsgw.config import ConfigError
from smsgw.quiet import QuietHours
from smsgw.worker import Worker

NOON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)           # 12:00 in Nairobi, a Monday
NIGHT = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)        # 21:30 in Nairobi
SAMPLE_STANDARDS = Path(__file__).resolve().parent.parent / "prices" / "data" / "standards.toml"


@pytest.fixture
def config(kenya_db, tmp_path):
    shutil.copy(kenya_db, tmp_path / "test.db")
    return make_config(tmp_path, **{"bulletins.batch_size": 7})


@pytest.fixture
def conn(config):
    connection = db.connect(config["database.path"])
    yield connection
    connection.close()


def market_id(conn: sqlite3.Connection, name: str) -> int:
    return conn.execute("SELECT id FROM markets WHERE name = ?", (name,)).fetchone()[0]


def follow(conn: sqlite3.Connection, phone: str, *items: tuple[str, str | None],
           language: str | None = None, home: str | None = None) -> int:
    with db.transaction(conn):
        contact = contacts.get_or_create(conn, phone)
        if language:
            contacts.set_language(conn, contact.id, language)
        if home:
            contacts.set_home_market(conn, contact.id, market_id(conn, home))
        for commodity, market in items:
            subscriptions.add(conn, contact.id, commodity,
                              market_id(conn, market) if market else None)
    return contact.id


def bulletin_rows(conn: sqlite3.Connection, phone: str | None = None) -> list[dict[str, Any]]:
    query = "SELECT * FROM outbox WHERE bulletin_run_id IS NOT NULL"
    args: tuple[Any, ...] = ()
    if phone:
        query, args = query + " AND to_number = ?", (phone,)
    return [dict(r) for r in conn.execute(query + " ORDER BY id", args)]


def phone(n: int) -> str:
    return f"+2547{n:08d}"


def nakuru_maize(decimal: str = ".") -> tuple[str, str]:
    rows = series("Nakuru", "Maize", "KG", "Wholesale")
    last, before = float(rows[-1]["price"]), float(rows[-2]["price"])
    sign = "+" if last > before else "-"
    return (money(last).replace(".", decimal),
            f"{sign}{money(abs(last - before))}".replace(".", decimal))


# ---------------------------------------------------------------------------- wording


@pytest.mark.parametrize("language, expected", [
    ("en", "Prices 15 Apr 2022: Maize Nakuru KES {price}/kg {trend} since 15 Mar 2022. Old price: 4 years ago."),
    ("sw", ("Bei 15 Apr 2022: Mahindi Nakuru KES {price}/kg {trend} tangu 15 Mac 2022. Bei ya zamani: miaka 4"
            " iliyopita.")),
    ("fr", "Prix 15 avr. 2022: Mais Nakuru KES {price}/kg {trend} depuis 15 mars 2022. Prix ancien: il y a 4 ans."),
])
def test_price_bulletin_per_language_with_the_file_numbers(config, conn, language, expected):
    price, trend = nakuru_maize("," if language == "fr" else ".")  # French: decimal comma
    follow(conn, phone(1), ("MAIZE", "Nakuru"), language=language)

    report = bulletins.price_bulletin(conn, config, now=NOON)

    [row] = bulletin_rows(conn)
    assert row["text"] == expected.format(price=price, trend=trend)
    assert (row["segments"], row["encoding"]) == (1, "GSM-7")
    assert count(row["text"]).segments == 1
    assert row["kind"] == "bulletin" and row["status"] == "queued"
    assert (report.queued, report.messages, report.segments) == (1, 1, 1)


def test_own_market_comes_first_and_older_lines_carry_their_date(config, conn):
    follow(conn, phone(1), ("BEANS", None), ("MAIZE", "Kisumu"), ("MAIZE", "Nakuru"),
           home="Nakuru")
    bulletins.price_bulletin(conn, config, now=NOON)
    texts = [r["text"] for r in bulletin_rows(conn)]
    joined = " ".join(texts)
    assert joined.index("Maize Nakuru") < joined.index("Maize Kisumu")
    assert "Beans Nakuru" in joined     # no market named: the home market
    for text in texts:
        assert count(text).segments == 1, text


def test_a_long_bulletin_is_split_between_lines_and_numbered(config, conn):
    follow(conn, phone(1), ("MAIZE", "Eldoret town (Uasin Gishu)"), ("BEANS", "Nakuru"),
           ("SORGHUM", None), ("MAIZE", "Kisumu"), ("MAIZE", "Nakuru"))
    # Sorghum's best markets are older than the default window (prices.best_days): widen it.
    bulletins.price_bulletin(conn, {**config, "prices.best_days": 3650}, now=NOON)
    rows = bulletin_rows(conn)
    assert len(rows) >= 2
    total = len(rows)
    for number, row in enumerate(rows, start=1):
        assert f"({number}/{total}):" in row["text"]
        assert row["segments"] == 1 and count(row["text"]).segments == 1
    joined = " ".join(r["text"] for r in rows)
    for name in ("Maize Eldoret town (Uasin Gishu)", "Beans Nakuru", "Sorghum", "Maize Kisumu",
                 "Maize Nakuru"):
        assert name in joined
    # the line is never cut: every part ends at the end of a line
    assert all(r["text"].split(": ", 1)[1].count(";") < 5 for r in rows)


def test_trend_marks():
    class Ctx:
        language = "en"

        def t(self, key: str, **values: str) -> str:
            return ","

    assert wording._mark(Ctx(), None) == ""
    assert wording._mark(Ctx(), 0.001) == " ="
    assert wording._mark(Ctx(), 50.0) == " +50"
    assert wording._mark(Ctx(), -1.2) == " -1.20"


def test_subscriber_with_nothing_to_send_gets_nothing(config, conn):
    with db.transaction(conn):
        conn.execute("INSERT INTO markets (country, name) VALUES ('KE', 'Nowhere')")
    follow(conn, phone(1), ("MAIZE", "Nowhere"))
    report = bulletins.price_bulletin(conn, config, now=NOON)
    assert bulletin_rows(conn) == []
    assert (report.queued, report.empty) == (0, 1)


# ---------------------------------------------------------------------------- the ledger


def crowd(conn: sqlite3.Connection, n: int = 40) -> list[str]:
    phones = [phone(i) for i in range(1, n + 1)]
    for i, number in enumerate(phones):
        follow(conn, number, ("MAIZE", "Nakuru"), ("BEANS", None),
               language=("en", "sw", "fr")[i % 3])
    return phones


def per_phone(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT to_number, COUNT(*) FROM outbox WHERE bulletin_run_id IS NOT NULL"
        " GROUP BY to_number")}


def test_running_the_same_bulletin_twice_sends_nothing_twice(config, conn):
    phones = crowd(conn)
    first = bulletins.price_bulletin(conn, config, now=NOON)
    again = bulletins.price_bulletin(conn, config, now=NOON + timedelta(hours=2))
    assert first.queued == len(phones) and first.subscribers == len(phones)
    assert again.already_done and again.queued == 0
    assert sorted(per_phone(conn)) == sorted(phones)
    assert set(per_phone(conn).values()) == {1}
    # a different day is a different bulletin
    bulletins.price_bulletin(conn, config, now=NOON + timedelta(days=1))
    assert set(per_phone(conn).values()) == {2}


def test_two_concurrent_runs_queue_everyone_exactly_once(config, conn):
    phones = crowd(conn, 60)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def one_run() -> None:
        own = db.connect(config["database.path"])
        try:
            barrier.wait()
            reports.append(bulletins.price_bulletin(own, config, now=NOON))
        except Exception as exc:  # noqa: BLE001 - any failure in the thread is reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert per_phone(conn) == {number: 1 for number in phones}
    assert sum(r.queued for r in reports) == len(phones)
    run = ledger.get(conn, "prices:2026-11-23")
    assert run is not None and run.queued == len(phones) and run.finished_at is not None


def test_a_run_that_crashed_half_way_is_finished_by_the_next(config, conn, monkeypatch):
    phones = crowd(conn, 30)
    calls = {"n": 0}
    real = wording.Renderer.prices

    def dies_on_the_20th(self, subscriber, lines):
        calls["n"] += 1
        if calls["n"] == 20:
            raise RuntimeError("power cut")
        return real(self, subscriber, lines)

    monkeypatch.setattr(wording.Renderer, "prices", dies_on_the_20th)
    with pytest.raises(RuntimeError):
        bulletins.price_bulletin(conn, config, now=NOON)
    half = per_phone(conn)
    assert 0 < len(half) < len(phones)          # whole batches of 7 got queued, no more
    assert len(half) % 7 == 0
    run = ledger.get(conn, "prices:2026-11-23")
    assert run is not None and run.finished_at is None

    monkeypatch.setattr(wording.Renderer, "prices", real)
    report = bulletins.price_bulletin(conn, config, now=NOON)
    assert report.skipped == len(half)
    assert per_phone(conn) == {number: 1 for number in phones}
    assert ledger.get(conn, "prices:2026-11-23").finished_at is not None


def test_opted_out_subscribers_are_skipped_and_counted(config, conn):
    phones = crowd(conn, 5)
    with db.transaction(conn):
        contacts.opt_out_number(conn, phones[0], source="keyword")
    report = bulletins.price_bulletin(conn, config, now=NOON)
    assert phones[0] not in per_phone(conn)
    assert (report.queued, report.opted_out) == (4, 1)
    assert ledger.get(conn, "prices:2026-11-23").opted_out == 1


def test_dry_run_counts_and_writes_nothing(config, conn):
    crowd(conn, 10)
    report = bulletins.price_bulletin(conn, config, now=NOON, dry_run=True)
    assert (report.queued, report.messages) == (10, 10) and report.segments == 10
    assert bulletin_rows(conn) == [] and ledger.get(conn, "prices:2026-11-23") is None


# ---------------------------------------------------------------------------- quiet hours


@pytest.mark.parametrize("local, window, expected", [
    ("21:30", "20:00-07:00", "07:00+1"),
    ("03:00", "20:00-07:00", "07:00"),
    ("12:00", "20:00-07:00", None),
    ("07:00", "20:00-07:00", None),
    ("13:15", "13:00-14:00", "14:00"),
    ("14:00", "13:00-14:00", None),
])
def test_quiet_hours_end(local, window, expected):
    zone = "Africa/Nairobi"
    hours = QuietHours.parse(window, zone)
    day = datetime(2026, 11, 23, *map(int, local.split(":")), tzinfo=hours.zone)
    until = hours.until(day.astimezone(UTC))
    if expected is None:
        assert until is None
        return
    clock, _, plus = expected.partition("+")
    want = datetime(2026, 11, 23 + int(plus or 0), *map(int, clock.split(":")), tzinfo=hours.zone)
    assert until == want.astimezone(UTC)


def test_bad_quiet_hours_and_cron_are_named(tmp_path):
    with pytest.raises(ConfigError, match="bulletins.quiet_hours"):
        make_config(tmp_path, **{"bulletins.quiet_hours": "8pm-7am"})
    with pytest.raises(ConfigError, match="bulletins.prices_schedule"):
        make_config(tmp_path, **{"bulletins.prices_schedule": "every monday"})
    assert make_config(tmp_path, **{"bulletins.quiet_hours": ""})["bulletins.quiet_hours"] == ""


def test_a_bulletin_queued_at_night_waits_for_the_morning(config, conn):
    crowd(conn, 3)
    bulletins.price_bulletin(conn, config, now=NIGHT)
    morning = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)      # 07:00 in Nairobi
    assert {r["next_attempt_at"] for r in bulletin_rows(conn)} == {db.timeutil.iso(morning)}


class Recorder(OneAtATime):
    provider = "local"
    max_per_second = 1000

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: Any) -> str:
        self.sent.append(message.text)
        return f"id-{len(self.sent)}"


def test_worker_holds_bulletins_in_quiet_hours_but_answers_replies(config, conn):
    crowd(conn, 2)
    bulletins.price_bulletin(conn, config, now=NOON)     # queued by day, still unsent at night
    with db.transaction(conn):
        from smsgw.gateway import queue_message
        queue_message(conn, to_number=phone(99), text="Your answer", provider="local",
                      kind="reply", now=NIGHT)
    recorder = Recorder()
    worker = Worker(config, {"local": recorder}, clock=Clock(NIGHT))
    while worker.run_once(conn):
        pass
    assert recorder.sent == ["Your answer"]
    morning = db.timeutil.iso(datetime(2026, 11, 24, 4, 0, tzinfo=UTC))
    for row in bulletin_rows(conn):
        assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("queued", 0, morning)
    later = Worker(config, {"local": recorder}, clock=Clock(datetime(2026, 11, 24, 4, 1,
                                                                      tzinfo=UTC)))
    while later.run_once(conn):
        pass
    assert len(recorder.sent) == 3 and {r["status"] for r in bulletin_rows(conn)} == {"sent"}


# ---------------------------------------------------------------------------- the schedule


def test_previous_fire_and_next_bulletin(config):
    trigger = bulletins.trigger_for(config, "bulletins.prices_schedule")   # Mondays 07:00
    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    monday_7 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    assert bulletins.previous_fire(trigger, wednesday, timedelta(days=7)) == monday_7
    assert bulletins.previous_fire(trigger, wednesday, timedelta(days=1)) is None
    assert bulletins.next_price_bulletin(config)(wednesday) == monday_7 + timedelta(days=7)


def test_missed_runs_are_caught_up_once(config, conn):
    crowd(conn, 4)
    # The machine was off for three Mondays; it comes back on Wednesday 2 Dec.
    back = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    first = bulletins.catch_up(config, now=back)
    assert [r.run_key for r in first] == ["prices:2026-11-30"]
    assert first[0].queued == 4
    assert bulletins.catch_up(config, now=back + timedelta(minutes=5))[0:1] == []
    assert set(per_phone(conn).values()) == {1}
    assert ledger.get(conn, "prices:2026-11-30").trigger == "catch-up"


def test_no_catch_up_when_the_run_happened(config, conn):
    crowd(conn, 2)
    bulletins.price_bulletin(conn, config, now=datetime(2026, 11, 30, 4, 0, tzinfo=UTC),
                             trigger="schedule")
    assert bulletins.catch_up(config, now=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) == []
    assert set(per_phone(conn).values()) == {1}


def test_scheduler_jobs_follow_the_config(config, tmp_path):
    jobs = {job.id: job for job in bulletins.build_scheduler(config).get_jobs()}
    assert set(jobs) == {"prices", "standards", "orders", "listings", "forget", "catch-up"}
    assert jobs["listings"].trigger.interval.total_seconds() == 60 * 60   # digest_minutes
    assert str(jobs["prices"].trigger.timezone) == "Africa/Nairobi"
    assert jobs["prices"].coalesce and jobs["prices"].max_instances == 1
    off = make_config(tmp_path, **{"bulletins.prices_schedule": "",
                                   "bulletins.standards_schedule": ""})
    assert sorted(job.id for job in bulletins.build_scheduler(off).get_jobs()) == [
        "catch-up", "forget", "listings", "orders"]


# ---------------------------------------------------------------------------- standards


def new_maize_version(tmp_path: Path) -> Path:
    path = tmp_path / "maize-v2.toml"
    path.write_text(
        'format = 1\n[[standard]]\nproduct = "maize"\ntitle = "Maize"\ntitle_sw = "Mahindi"\n'
        'title_fr = "Mais"\nversion = "2"\neffective_date = 2026-11-23\nsource = "EAS 2"\n'
        'source_urls = ["https://example.org/eas2"]\ntext_en = "MAIZE v2: moisture max 13%."\n',
        encoding="utf-8")
    return path


def test_a_new_standard_version_notifies_its_followers_once(config, conn, tmp_path):
    import_standards(conn, SAMPLE_STANDARDS)
    follow(conn, phone(1), ("MAIZE", "Nakuru"))
    follow(conn, phone(2), ("MAIZE", None), language="sw")
    follow(conn, phone(3), ("BEANS", None))
    assert bulletins.standard_notices(conn, config, now=NOON) == []   # first versions: no news
    import_standards(conn, new_maize_version(tmp_path))

    [report] = bulletins.standard_notices(conn, config, now=NOON)

    assert report.run_key == "standard:MAIZE:2" and report.queued == 2
    texts = {r["to_number"]: r["text"] for r in bulletin_rows(conn)}
    assert texts == {
        phone(1): "New Maize standard from 23 Nov. Send STD MAIZE for the details.",
        phone(2): "Kiwango kipya cha Mahindi kuanzia 23 Nov. Tuma VIWANGO MAIZE kwa maelezo.",
    }
    assert bulletins.standard_notices(conn, config, now=NOON) == []
    assert len(bulletin_rows(conn)) == 2


# ---------------------------------------------------------------------------- AT batching


def test_identical_bulletins_go_to_africas_talking_in_one_call(tmp_path, kenya_db):
    shutil.copy(kenya_db, tmp_path / "test.db")
    config = make_config(tmp_path, **{"providers.default": "africastalking"})
    conn = db.connect(config["database.path"])
    phones = [phone(1), phone(2), phone(3), phone(4)]
    for number in phones:
        follow(conn, number, ("MAIZE", "Nakuru"))
    follow(conn, phone(5), ("BEANS", "Nakuru"))       # a different text: its own call
    bulletins.price_bulletin(conn, config, now=NOON)
    verdicts = {phones[0]: (101, "Success"), phones[1]: (406, "UserInBlacklist"),
                phones[2]: (500, "InternalServerError"), phones[3]: (101, "Success"),
                phone(5): (101, "Success")}
    calls: list[dict[str, list[str]]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        form = parse_qs(request.body)
        calls.append(form)
        recipients = [{"statusCode": verdicts[n][0], "status": verdicts[n][1], "number": n,
                       "cost": "KES 0.8000", "messageId": f"ATXid_{n[-2:]}"}
                      for n in form["to"][0].split(",")]
        return 201, {}, json.dumps({"SMSMessageData": {"Message": "Sent",
                                                       "Recipients": recipients}})

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, AT_URL, callback=answer, content_type=AT_JSON)
        worker = Worker(config, {"africastalking": AfricasTalkingSender(config)},
                        clock=Clock(NOON), sleep=lambda s: None)
        worker.run_once(conn)

    assert sorted(len(c["to"][0].split(",")) for c in calls) == [1, 4]
    status = {r["to_number"]: (r["status"], r["provider_message_id"]) for r in bulletin_rows(conn)}
    assert status[phones[0]] == ("sent", "ATXid_01")
    assert status[phones[1]][0] == "failed"
    assert status[phones[2]][0] == "queued"           # AT 500: tried again later
    assert status[phones[3]] == ("sent", "ATXid_04")
    assert contacts.find(conn, phones[1]).opted_out   # 406: blacklisted means opted out
    assert worker.totals.sent == 3 and worker.totals.failed == 1 and worker.totals.retried == 1
    conn.close()


# ---------------------------------------------------------------------------- the CLI


def write_config(tmp_path: Path, kenya: Path, extra: str = "") -> Path:
    shutil.copy(kenya, tmp_path / "cli.db")
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{tmp_path / "cli.db"}"\n[logging]\nlevel = "WARNING"\n'
                    f'[bulletins]\ncost_per_segment = 0.8\n{extra}', encoding="utf-8")
    return path


def test_cli_send_dry_run_then_send_then_again(tmp_path, kenya_db):
    path = write_config(tmp_path, kenya_db)
    conn = db.connect(tmp_path / "cli.db")
    crowd(conn, 3)
    runner = CliRunner()
    dry = runner.invoke(main, ["bulletins", "send", "--dry-run", "--date", "2026-11-23",
                               "--kind", "prices", "--config", str(path)])
    assert dry.exit_code == 0, dry.output
    assert "prices:2026-11-23 (dry run): 3 subscriber(s), 3 queued, 3 message(s)," in dry.output
    assert "estimated cost: KES 2.40" in dry.output
    assert bulletin_rows(conn) == []

    sent = runner.invoke(main, ["bulletins", "send", "--date", "2026-11-23", "--config",
                                str(path)])
    assert sent.exit_code == 0, sent.output
    assert "prices:2026-11-23: 3 subscriber(s), 3 queued" in sent.output
    assert len(bulletin_rows(conn)) == 3
    again = runner.invoke(main, ["bulletins", "send", "--date", "2026-11-23", "--config",
                                 str(path)])
    assert "prices:2026-11-23: already sent, nothing to do" in again.output
    runs = runner.invoke(main, ["bulletins", "runs", "--config", str(path)])
    assert "prices:2026-11-23" in runs.output and "3 queued" in runs.output
    assert "3 waiting" in runs.output
    conn.close()


def test_cli_rejects_a_bad_date(tmp_path, kenya_db):
    path = write_config(tmp_path, kenya_db)
    result = CliRunner().invoke(main, ["bulletins", "send", "--date", "23/11/2026",
                                       "--config", str(path)])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_send_units_group_identical_texts_up_to_the_limit_one_number_each(config):
    from db.outbox import OutboxMessage, OutboxStatus

    class Batched(Recorder):
        max_recipients = 2

    def message(n: int, number: str, text: str, provider: str = "batched") -> OutboxMessage:
        return OutboxMessage(n, None, number, text, provider, "bulletin", OutboxStatus.SENDING,
                             "GSM-7", 1, 1, None)

    worker = Worker(config, {"batched": Batched(), "local": Recorder()})
    batch = [message(1, "+1", "a"), message(2, "+1", "a"), message(3, "+2", "a"),
             message(4, "+3", "a"), message(5, "+4", "b"), message(6, "+5", "a"),
             message(7, "+6", "a", provider="local"), message(8, "+7", "a", provider="local")]
    units = [[m.id for m in unit] for unit in worker.units(batch)]
    assert units == [[1, 3], [2, 4], [5], [6], [7], [8]]
