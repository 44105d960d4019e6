#!/usr/bin/env python3
"""A SELL fanned out to --buyers following buyers (10,000 by default) through the real server.

1. Starts `smsgw serve` exactly as bench/gateway_load.py does (its Server class: temp
   config, gunicorn gthread, 2 workers x 4 threads by default), with the cost limits raised
   so one SELL may reach every buyer without a YES (the bench measures the fan-out, not the
   confirmation; tests/test_listings.py checks those rules). Before the start it loads the
   Kenya prices with the real CLI (`smsgw init`, `smsgw import prices`), then writes
   --buyers registered buyers who follow maize at Nakuru (`WANT MAIZE NAKURU`) straight into
   the bench database.
2. One SELL: a farmer's signed Twilio `SELL 20 BAGS MAIZE GRADE1 @3500 AT NAKURU`. Inside
   that one request the sale is stored, one digest alert per following buyer is written and
   the seller is charged for them (db.promised). Reports its latency and checks the reply
   names every buyer and the database holds an alert each.
3. The digest: `smsgw listings tick` (the worker's job, as cron would run it) composes and
   queues one SMS per buyer. Reports its wall time and checks the outbox got exactly one
   `listing` row per buyer, each naming the sale and no phone number.
4. Ten sales in an hour: --sales more SELLs by the same farmer (each request timed), then
   one tick: still one SMS per buyer (not --sales per buyer), and the farmer charged once
   per buyer for the lot.
Only 200 answers with `<Message>` in the TwiML count as good. No outbox worker runs: the SMS
stay in the outbox and nothing leaves the machine.

    .venv/bin/python bench/bench_sell.py                    # 10,000 buyers (the issue's figure)
    .venv/bin/python bench/bench_sell.py --buyers 200 --sales 3   # a quick check
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from gateway_load import (  # the shared server and client machinery
    ROOT,
    Server,
    _free_port,
    _kenyan_senders,
    _smsgw_executable,
    machine_info,
    wait_for_quiet,
)
from orders_load import Signed, one_request, reply_text

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "bench_sell.json"
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"
FARMER = "+254791357246"
SELL = "SELL 20 BAGS MAIZE GRADE1 @3500 AT NAKURU"
LIMITS = ("confirm_above_segments = 100000000\ncaused_segments_per_hour = 100000000\n"
          "sender_messages = 1000000\n")


def raise_limits(server: Server) -> None:
    """One SELL may reach every buyer without YES or the hourly quota stopping it."""
    from smsgw import config as configuration

    text = server.config_path.read_text(encoding="utf-8")
    text = re.sub(r"\[limits\]\n(sender_messages = \d+\n)?", "[limits]\n" + LIMITS, text)
    server.config_path.write_text(text, encoding="utf-8")
    server.config = configuration.load(str(server.config_path), environ=server.env)


def prepare(server: Server, buyers: list[str]) -> None:
    """Prices (through the CLI, as an admin would) and the buyers, written directly."""
    for args in (["init"], ["import", "prices", str(KENYA)]):
        done = subprocess.run([_smsgw_executable(), *args, "--config", str(server.config_path)],
                              capture_output=True, text=True, env=server.env, check=False)
        if done.returncode not in (0, 1):   # 1: some rows held for review, as in this file
            raise RuntimeError(f"smsgw {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}")
    sys.path.insert(0, str(ROOT))
    import db
    from db.timeutil import iso, utcnow

    conn = db.connect(server.config["database.path"])
    now = iso(utcnow())
    with db.transaction(conn):
        nakuru = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]
        conn.executemany("INSERT INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)",
                         [(phone, now, now) for phone in buyers])
        conn.execute("INSERT INTO roles (contact_id, role, name, created_at) SELECT id,"
                     " 'buyer', 'Buyer ' || id, ? FROM contacts WHERE phone != ?", (now, FARMER))
        conn.execute("INSERT INTO wants (buyer_id, product, market_id, country, created_at)"
                     " SELECT contact_id, 'MAIZE', ?, 'KE', ? FROM roles WHERE role = 'buyer'",
                     (nakuru, now))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def tick(server: Server) -> tuple[float, str]:
    """`smsgw listings tick` as cron would run it; (seconds, its output)."""
    began = time.perf_counter()
    done = subprocess.run([_smsgw_executable(), "listings", "tick", "--config",
                           str(server.config_path)], capture_output=True, text=True,
                          env=server.env, check=True)
    return time.perf_counter() - began, done.stdout.strip()


def digests(conn: sqlite3.Connection, after: int) -> tuple[int, int, int]:
    """(listing SMS queued after an outbox id, distinct recipients, those naming a number)."""
    rows = conn.execute("SELECT to_number, text FROM outbox WHERE kind = 'listing' AND id > ?",
                        (after,)).fetchall()
    leaking = sum(1 for _, text in rows if re.search(r"\d{7,}", text.replace(" ", "")))
    return len(rows), len({to for to, _ in rows}), leaking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=10, help="more SELLs before one digest")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    waited = wait_for_quiet(args.quiet_wait)
    rng = random.Random(20261123)
    buyers = [n for n in _kenyan_senders(args.buyers + 1, rng) if n != FARMER][:args.buyers]
    server = Server(_free_port(), None, None)
    results: dict[str, Any] = {"buyers": len(buyers), "waited_for_quiet_s": round(waited, 1)}
    try:
        raise_limits(server)
        prepare(server, buyers)
        server.start()
        signed = Signed(server.port, server.public_url, 11)
        conn = sqlite3.connect(server.config["database.path"])
        seconds, twiml = one_request(server, signed.make(FARMER, SELL))
        reply = reply_text(twiml)
        found = re.match(r"Sale (\w{4})", reply)
        if found is None:
            raise RuntimeError(f"SELL refused: {reply}")
        code = found.group(1)
        alerts = conn.execute("SELECT COUNT(*) FROM listing_alerts a JOIN listings l ON l.id ="
                              " a.listing_id WHERE l.code = ?", (code,)).fetchone()[0]
        print(f"SELL {code} to {len(buyers):,} following buyers: {seconds * 1000:.0f} ms: {reply}")
        before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
        tick_s, said = tick(server)
        queued, people, leaking = digests(conn, before)
        print(f"digest: {tick_s:.2f} s ({said}); {queued:,} SMS to {people:,} buyers")
        results["sell"] = {"ms": round(seconds * 1000, 1), "reply": reply, "alerts": alerts,
                           "digest_s": round(tick_s, 2), "digest_sms": queued,
                           "digest_buyers": people, "digests_naming_a_number": leaking}
        # Ten sales before the next digest: still one SMS per buyer.
        sell_ms = []
        for n in range(args.sales):
            began = time.perf_counter()
            _, twiml = one_request(server, signed.make(FARMER, f"SELL {n + 1} BAGS MAIZE AT"
                                                               f" NAKURU"))
            sell_ms.append((time.perf_counter() - began) * 1000)
            if not reply_text(twiml).startswith("Sale "):
                raise RuntimeError(f"SELL {n + 1} refused: {reply_text(twiml)}")
        before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
        batch_tick_s, said = tick(server)
        batch_queued, batch_people, batch_leaking = digests(conn, before)
        farmer = conn.execute("SELECT id FROM contacts WHERE phone = ?", (FARMER,)).fetchone()[0]
        charged = conn.execute("SELECT SUM(segments) FROM promised WHERE contact_id = ?",
                               (farmer,)).fetchone()[0]
        conn.close()
        print(f"{args.sales} more SELLs: {min(sell_ms):.0f}-{max(sell_ms):.0f} ms each; digest"
              f" {batch_tick_s:.2f} s: {batch_queued:,} SMS to {batch_people:,} buyers;"
              f" farmer charged {charged:,} SMS in all")
        results["batch"] = {"sales": args.sales, "sell_ms": [round(m, 1) for m in sell_ms],
                            "digest_s": round(batch_tick_s, 2), "digest_sms": batch_queued,
                            "digest_buyers": batch_people,
                            "digests_naming_a_number": batch_leaking,
                            "seller_charged_segments": charged}
    finally:
        server.stop()
        server.cleanup()
    first, batch = results["sell"], results["batch"]
    correct = (first["alerts"] == len(buyers) and f"{len(buyers):,} buyer(s)" in first["reply"]
               and first["digest_sms"] == first["digest_buyers"] == len(buyers)
               and batch["digest_sms"] == batch["digest_buyers"] == len(buyers)
               and batch["seller_charged_segments"] == 2 * len(buyers)
               and not first["digests_naming_a_number"] and not batch["digests_naming_a_number"])
    results.update(correct=correct, machine=machine_info(),
                   command=f".venv/bin/python bench/bench_sell.py --buyers {args.buyers}"
                           f" --sales {args.sales}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT)}; {'all correct' if correct else 'WRONG'}")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
