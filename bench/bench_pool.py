#!/usr/bin/env python3
"""Pools through the real server: 10,000 members answering one group purchase.

1. Starts `smsgw serve` exactly as bench/gateway_load.py does (its Server class: temp
   config, gunicorn gthread, 2 workers x 4 threads by default). Before the start it runs
   `smsgw init`, then writes group KIMA with one leader and --pledges members, and one open
   pool with price tiers (DAP 50kg @3200, 3,000 from 100, 2,900 from 1,000) straight into
   the bench database. (Opening it by SMS would announce it to every member: above
   `limits.confirm_above_segments` that waits for YES, and tests/test_pools.py plays it.)
2. Pledges: every member sends `OFFER <pool> <n>` (signed Twilio webhooks, a new MessageSid
   each), closed loop over --connections keep-alive connections spread over the workers.
   Reports throughput and p50/p99, then checks that the pool's kept total, the sum of the
   answers in the database and the sum sent are equal.
3. Retries: the first 1,000 of the same webhooks again (a provider retrying): the total
   must not move.
4. Changes: a tenth of the members send a new quantity (new webhooks): the total moves by
   exactly the differences.
5. Close: `smsgw pools close` (the function the leader's CLOSE runs), timed; checks one
   closing line per member was queued.
Only 200 answers with `<Message>` in the TwiML count as good. No worker runs: the SMS stay
in the outbox and nothing leaves the machine.

    .venv/bin/python bench/bench_pool.py                                  # 10,000 pledges
    .venv/bin/python bench/bench_pool.py --pledges 200 --quiet-wait 0    # a quick check
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from gateway_load import (  # the shared server and client machinery
    ROOT,
    Server,
    Workload,
    _free_port,
    _kenyan_senders,
    _smsgw_executable,
    machine_info,
    run_phase,
    wait_for_quiet,
)
from orders_load import Signed  # signed Twilio webhooks with any text

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "bench_pool.json"
LEADER = "+254711000001"
TIERS = ((0.0, 3200.0), (100.0, 3000.0), (1000.0, 2900.0))


def prepare(server: Server, members: list[str]) -> str:
    """The database (through the CLI, as an admin would), then the group and its open pool
    written directly; returns the pool's id."""
    subprocess.run([_smsgw_executable(), "init", "--config", str(server.config_path)],
                   check=True, capture_output=True, env=server.env)
    sys.path.insert(0, str(ROOT))
    import db
    from db import contacts
    from db import groups as groups_db
    from db import pools as pools_db
    from db.timeutil import iso, utcnow

    conn = db.connect(server.config["database.path"])
    now = utcnow()
    with db.transaction(conn):
        group = groups_db.create(conn, code="KIMA", name="Kima Farmers", market_id=None,
                                 region=None, products=["MAIZE"])
        leader = contacts.get_or_create(conn, LEADER)
        groups_db.set_member(conn, group.id, leader.id, role="leader")
        conn.executemany("INSERT INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)",
                         [(phone, iso(now), iso(now)) for phone in members])
        conn.execute(
            "INSERT INTO memberships (group_id, contact_id, role, status, joined_at)"
            " SELECT ?, id, 'member', 'active', ? FROM contacts WHERE phone != ?",
            (group.id, iso(now), LEADER))
        pool = pools_db.create(conn, group_id=group.id, leader_id=leader.id, supply_id=None,
                               supplier_id=None, product="DAP", unit="x 50kg", currency="KES",
                               tiers=TIERS, close_on=now.date() + timedelta(days=365),
                               now=now)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return pool.code


def totals(path: str, code: str) -> tuple[float, float, int]:
    """(the pool's kept total, the sum of its answers, members with an answer)."""
    conn = sqlite3.connect(path)
    try:
        kept = conn.execute("SELECT pledged FROM pools WHERE code = ?", (code,)).fetchone()[0]
        summed, answered = conn.execute(
            "SELECT COALESCE(SUM(a.quantity), 0), COUNT(*) FROM pool_pledges a JOIN pools p"
            " ON p.id = a.pool_id WHERE p.code = ? AND a.quantity > 0", (code,)).fetchone()
    finally:
        conn.close()
    return float(kept), float(summed), int(answered)


def phase_figures(phase: Any) -> dict[str, Any]:
    return {"sent": phase.sent, "ok": phase.ok, "errors": phase.errors,
            "throughput_rps": round(phase.throughput_rps, 1), "p50_ms": round(phase.p50_ms, 2),
            "p99_ms": round(phase.p99_ms, 2), "max_ms": round(phase.max_ms, 2),
            "server_cpu_ms_per_req": round(phase.server_cpu_ms_per_req, 2),
            "other_cpu_cores": phase.other_cpu_cores}


def close_pool(server: Server, code: str, members: int) -> dict[str, Any]:
    """`smsgw pools close`, timed; the closing lines queued for the members."""
    began = time.perf_counter()
    done = subprocess.run([_smsgw_executable(), "pools", "close", code, "--config",
                           str(server.config_path)], capture_output=True, text=True,
                          env=server.env, check=False)
    seconds = time.perf_counter() - began
    conn = sqlite3.connect(server.config["database.path"])
    try:
        lines = conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'pool' AND text LIKE ?",
                             (f"Pool {code} closed at %",)).fetchone()[0]
        lists = conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'pool' AND to_number = ?",
                             (LEADER,)).fetchone()[0]
        price = conn.execute("SELECT price FROM pools WHERE code = ?", (code,)).fetchone()[0]
    finally:
        conn.close()
    return {"exit": done.returncode, "output": done.stdout.strip(), "seconds": round(seconds, 2),
            "member_lines": lines, "leader_list_parts": lists, "price": price,
            "members": members}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", type=int, default=10_000,
                        help="members, each answering the pool once")
    parser.add_argument("--retries", type=int, default=1_000,
                        help="webhooks sent again (at most --pledges)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="seconds to wait for the machine to be idle first")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    waited = wait_for_quiet(args.quiet_wait)
    rng = random.Random(20261123)
    members = [n for n in _kenyan_senders(args.pledges + 1, rng) if n != LEADER][:args.pledges]
    server = Server(_free_port(), None, None)
    results: dict[str, Any] = {"pledges": len(members), "waited_for_quiet_s": round(waited, 1)}
    path = server.config["database.path"]
    code = ""
    try:
        code = prepare(server, members)
        server.start()
        signed = Signed(server.port, server.public_url, 11)
        amounts = [1 + i % 9 for i in range(len(members))]
        requests = [signed.make(phone, f"OFFER {code} {amount}")
                    for phone, amount in zip(members, amounts, strict=True)]
        phase = run_phase(server, "asyncio", Workload("OFFER pool", requests, b"<Message>"),
                          mode="closed", connections=args.connections, count=len(requests),
                          duration=600.0)
        kept, summed, answered = totals(path, code)
        results["answers"] = phase_figures(phase) | {
            "total_kept": kept, "total_summed": summed, "total_sent": sum(amounts),
            "members_answered": answered}

        retried = requests[:min(args.retries, len(requests))]
        again = run_phase(server, "asyncio", Workload("OFFER retried", retried, b"<Message>"),
                          mode="closed", connections=args.connections, count=len(retried),
                          duration=120.0)
        results["retried"] = phase_figures(again) | {"total_after": totals(path, code)[0]}

        changers = range(0, len(members), 10)
        changed = {i: amounts[i] + 5 for i in changers}
        change_requests = [signed.make(members[i], f"OFFER {code} {amount}")
                           for i, amount in changed.items()]
        moved = run_phase(server, "asyncio", Workload("OFFER changed", change_requests,
                                                      b"<Message>"),
                          mode="closed", connections=args.connections,
                          count=len(change_requests), duration=120.0)
        expected = sum(amounts) + 5 * len(changed)
        after_change = totals(path, code)
        results["changed"] = phase_figures(moved) | {
            "total_kept": after_change[0], "total_summed": after_change[1],
            "total_expected": expected}
    finally:
        server.stop()
    try:
        results["close"] = close_pool(server, code, len(members))   # the server is stopped
    finally:
        server.cleanup()
    answers, close = results["answers"], results["close"]
    print(f"answers: {answers['ok']:,} of {answers['sent']:,} good,"
          f" {answers['throughput_rps']:,.0f}/s, p50 {answers['p50_ms']:.1f} ms,"
          f" p99 {answers['p99_ms']:.1f} ms, max {answers['max_ms']:.0f} ms;"
          f" total {answers['total_kept']:g} (sent {answers['total_sent']});"
          f" other load {answers['other_cpu_cores']} cores")
    print(f"after {results['retried']['sent']:,} retried webhooks:"
          f" {results['retried']['total_after']:g}; after {results['changed']['sent']:,}"
          f" changes: {results['changed']['total_kept']:g}"
          f" (expected {results['changed']['total_expected']})")
    print(f"close: {close['seconds']} s, {close['member_lines']:,} member lines,"
          f" {close['leader_list_parts']} list part(s) for the leader, at {close['price']:g}")
    correct = (answers["total_kept"] == answers["total_summed"] == answers["total_sent"]
               and answers["members_answered"] == len(members)
               and results["retried"]["total_after"] == answers["total_kept"]
               and results["changed"]["total_kept"] == results["changed"]["total_summed"]
               == results["changed"]["total_expected"]
               and not answers["errors"] and not results["retried"]["errors"]
               and not results["changed"]["errors"]
               and close["exit"] == 0 and close["member_lines"] == len(members)
               and close["leader_list_parts"] >= 1)
    results.update(correct=correct, machine=machine_info(),
                   command=".venv/bin/python bench/bench_pool.py"
                   + ("" if args.pledges == 10_000 else f" --pledges {args.pledges}"))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"wrote {shown}; {'all correct' if correct else 'WRONG'}")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
