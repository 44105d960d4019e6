"""Benchmark bulletins at national scale: 100,000 subscribers over the Kenya data.

Targets (issue 4): composing and queueing one price bulletin run for 100,000 subscribers in
under 20 s with peak memory (RSS) under 200 MB; the worker's send loop, against a fake
provider with no rate limit, not the bottleneck below 500 messages per second.

Set-up (not timed): a fresh on-disk database (WAL) with the Kenya file imported and the
shipped aliases, then N generated contacts (seeded), each following 1 to 3 commodities
drawn from the 12 most reported ones, at a market with data for it, at their home market
(30 % registered one) or at the best markets; languages en/sw/fr; 2 % have sent STOP.

Phases, each in its own child process so its peak RSS is its own:
1. `queue`: `smsgw.bulletins.price_bulletin` (what `smsgw bulletins send` and the schedule
   call), timed around the call; reports rows queued and segments.
2. `send`: `smsgw.worker.Worker.run_once` in a loop until the outbox is empty, with a fake
   sender that accepts every message at once (`max_per_second` = 1,000,000, so the token
   bucket never waits). Messages per second = messages sent / seconds.
3. `send_at`: the same through the real `AfricasTalkingSender` (the SDK and `requests`),
   with only HTTP faked by `responses`, answering every recipient 101; identical texts go
   in batched calls. Reports messages per second and API calls made.
4. `send_at_same`: as 3, with every message given the same text (a standards notice), so
   the batching of identical texts shows in the number of API calls.

    .venv/bin/python bench/bench_bulletins.py                 # 100,000 subscribers
    .venv/bin/python bench/bench_bulletins.py --subscribers 20000 --send-limit 20000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smsgw.providers.base import OneAtATime

ROOT = Path(__file__).resolve().parent.parent
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"
RESULTS = ROOT / "bench" / "results" / "bench_bulletins.json"
SEED = 20261123
TARGETS = {"queue_seconds": 20.0, "queue_peak_rss_mb": 200.0, "send_messages_per_second": 500.0}
NOON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)    # 12:00 in Nairobi: outside quiet hours
sys.path.insert(0, str(ROOT))


def settings(db_path: str, provider: str = "local") -> Any:
    from smsgw import config as configuration

    overrides: dict[str, Any] = {
        "database.path": db_path, "logging.level": "WARNING", "bulletins.quiet_hours": "",
        "providers.default": provider, "worker.batch_size": 500,
    }
    if provider == "africastalking":
        overrides.update({"providers.africastalking.api_key": "bench-key",
                          "providers.africastalking.callback_token": "bench-token",
                          "providers.africastalking.max_per_second": 1_000_000})
    return configuration.load(None, environ={}, overrides=overrides)


# ---------------------------------------------------------------------------- set-up


def build(db_path: Path, subscribers: int) -> dict[str, int]:
    """The Kenya data and the generated subscribers (not timed)."""
    import db
    from db.timeutil import iso
    from prices.catalog import base_name, load_aliases
    from prices.importer import import_prices

    conn = db.connect(db_path)
    db.migrate(conn)
    with db.transaction(conn):
        load_aliases(conn)
    import_prices(conn, KENYA, country="KE")
    rng = random.Random(SEED)
    popular = [row[0] for row in conn.execute(
        "SELECT c.name FROM commodities c JOIN prices p ON p.commodity_id = c.id"
        " GROUP BY c.id ORDER BY COUNT(*) DESC LIMIT 12")]
    bases = sorted({base_name(name) for name in popular})
    markets_for = {base: [row[0] for row in conn.execute(
        "SELECT DISTINCT p.market_id FROM prices p JOIN commodities c ON c.id = p.commodity_id"
        " WHERE upper(c.name) LIKE ?", (base.replace(" ", "%") + "%",))] for base in bases}
    all_markets = [row[0] for row in conn.execute("SELECT id FROM markets")]
    now = iso(NOON)
    contacts, subs = [], []
    for n in range(1, subscribers + 1):
        home = rng.choice(all_markets) if rng.random() < 0.3 else None
        contacts.append((n, f"+2547{n:08d}", rng.choice(["en", "sw", "fr"]),
                         1 if rng.random() < 0.02 else 0, home, now, now))
        for base in rng.sample(bases, rng.randint(1, 3)):
            roll = rng.random()
            market = rng.choice(markets_for[base]) if roll < 0.6 and markets_for[base] else None
            subs.append((n, base, market, now))
    with db.transaction(conn):
        conn.executemany(
            "INSERT INTO contacts (id, phone, language, opted_out, home_market_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", contacts)
        conn.executemany(
            "INSERT OR IGNORE INTO subscriptions (contact_id, commodity, market_id, created_at)"
            " VALUES (?, ?, ?, ?)", subs)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counted = conn.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0]
    conn.close()
    return {"contacts": len(contacts), "subscriptions": counted, "commodities": len(bases)}


# ---------------------------------------------------------------------------- the phases


def child_queue(db_path: str) -> dict[str, Any]:
    import db
    from smsgw.bulletins import price_bulletin

    conn = db.connect(db_path)
    config = settings(db_path)
    started = time.perf_counter()
    report = price_bulletin(conn, config, now=NOON)
    seconds = time.perf_counter() - started
    rows = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    conn.close()
    return {"seconds": seconds, "subscribers": report.subscribers, "queued": report.queued,
            "messages": report.messages, "segments": report.segments,
            "opted_out": report.opted_out, "empty": report.empty, "outbox_rows": rows}


class FakeSender(OneAtATime):
    """Accepts every message at once: the provider is never the limit."""

    provider = "local"
    max_per_second = 1_000_000

    def __init__(self) -> None:
        self.count = 0

    def send(self, message: Any) -> str:
        self.count += 1
        return f"fake-{self.count}"


def child_send(db_path: str, limit: int) -> dict[str, Any]:
    import db
    from smsgw.worker import Worker

    conn = db.connect(db_path)
    _only_first(conn, limit, "local")
    sender = FakeSender()
    worker = Worker(settings(db_path), {"local": sender}, clock=lambda: NOON)
    started = time.perf_counter()
    while worker.run_once(conn):
        pass
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "messages": worker.totals.sent,
            "messages_per_second": worker.totals.sent / seconds,
            "suppressed": worker.totals.suppressed, "calls": sender.count}


def child_send_at(db_path: str, limit: int, identical: bool = False) -> dict[str, Any]:
    import responses

    import db
    from smsgw.providers.africastalking.sms import AfricasTalkingSender
    from smsgw.worker import Worker

    conn = db.connect(db_path)
    _only_first(conn, limit, "africastalking")
    if identical:  # a standards notice: the same text to everyone (one language)
        with db.transaction(conn):
            conn.execute("UPDATE outbox SET text = 'New Maize standard from 23 Nov 2026."
                         " Send STD MAIZE for the details.', kind = 'standard_notice'")
    config = settings(db_path, "africastalking")
    calls = {"n": 0}
    ids = iter(range(1, 10**9))

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        from urllib.parse import parse_qs

        calls["n"] += 1
        numbers = parse_qs(request.body)["to"][0].split(",")
        recipients = [{"statusCode": 101, "status": "Success", "number": n, "cost": "KES 0.8",
                       "messageId": f"ATX{next(ids)}"} for n in numbers]
        return 201, {}, json.dumps({"SMSMessageData": {"Recipients": recipients}})

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST,
                          "https://api.sandbox.africastalking.com/version1/messaging",
                          callback=answer, content_type="application/json")
        worker = Worker(config, {"africastalking": AfricasTalkingSender(config)},
                        clock=lambda: NOON)
        started = time.perf_counter()
        while worker.run_once(conn):
            pass
        seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "messages": worker.totals.sent,
            "messages_per_second": worker.totals.sent / seconds, "api_calls": calls["n"],
            "suppressed": worker.totals.suppressed}


def _only_first(conn: sqlite3.Connection, limit: int, provider: str) -> None:
    """Keep the first `limit` queued messages due, the rest parked; all on `provider`."""
    import db

    with db.transaction(conn):
        conn.execute("UPDATE outbox SET provider = ?", (provider,))
        conn.execute("UPDATE outbox SET status = 'failed' WHERE id > (SELECT MIN(id) FROM outbox)"
                     " + ? - 1", (limit,))


def run_child(phase: str, *args: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", phase, *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["wall_seconds"] = time.perf_counter() - started
    return figures


def child_main(phase: str, args: list[str]) -> None:
    if phase == "queue":
        figures = child_queue(args[0])
    elif phase == "send":
        figures = child_send(args[0], int(args[1]))
    else:
        figures = child_send_at(args[0], int(args[1]), identical=phase == "send_at_same")
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM belongs to the address space, which exec replaces.

    (`getrusage(RUSAGE_SELF).ru_maxrss` is not used: Linux carries the pre-exec high-water
    mark over an exec, so a child would report the parent's RSS at fork time if larger.)
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--send-limit", type=int, default=30_000,
                        help="messages the send phases deliver (each phase gets a fresh copy)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1:])
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_bulletins_") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        made = build(work / "b.db", args.subscribers)
        print(f"set-up: {made} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        queue = run_child("queue", str(work / "b.db"))
        print(f"queue: {queue}", file=sys.stderr)
        copies = {}
        for name in ("send", "send_at", "send_at_same"):
            copy = work / f"{name}.db"
            source = sqlite3.connect(work / "b.db")
            target = sqlite3.connect(copy)
            source.backup(target)
            source.close()
            target.close()
            copies[name] = run_child(name, str(copy), str(args.send_limit))
            print(f"{name}: {copies[name]}", file=sys.stderr)
    met = {
        "queue_seconds": queue["seconds"] < TARGETS["queue_seconds"],
        "queue_peak_rss_mb": queue["peak_rss_mb"] < TARGETS["queue_peak_rss_mb"],
        "send_messages_per_second":
            copies["send"]["messages_per_second"] >= TARGETS["send_messages_per_second"],
    }
    print(f"{'phase':<13}{'seconds':>9}{'peak RSS MB':>13}  figures")
    print(f"{'queue':<13}{queue['seconds']:>9.2f}{queue['peak_rss_mb']:>13.1f}  "
          f"{queue['subscribers']:,} subscribers, {queue['queued']:,} queued, "
          f"{queue['messages']:,} messages, {queue['segments']:,} segments, "
          f"{queue['opted_out']:,} opted out, {queue['empty']:,} empty")
    for name, figures in copies.items():
        extra = f", {figures['api_calls']:,} API calls" if "api_calls" in figures else ""
        print(f"{name:<13}{figures['seconds']:>9.2f}{figures['peak_rss_mb']:>13.1f}  "
              f"{figures['messages']:,} sent, {figures['messages_per_second']:,.0f} msg/s{extra}")
    print("targets: " + ", ".join(f"{k} {TARGETS[k]:g}: {'met' if v else 'MISSED'}"
                                  for k, v in met.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "bench/bench_bulletins.py", "seed": SEED, "set_up": made,
        "targets": TARGETS, "targets_met": met, "queue": queue, **copies,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "platform": platform.platform()},
        "command": ".venv/bin/python bench/bench_bulletins.py",
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
