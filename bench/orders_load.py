#!/usr/bin/env python3
"""Orders through the real server: relaying an order to a group of 10,000 members, and
absorbing 10,000 pledges.

1. Starts `smsgw serve` exactly as bench/gateway_load.py does (its Server class: temp
   config, gunicorn gthread, 2 workers x 4 threads by default). Before the start it loads
   the Kenya prices with the real CLI (`smsgw import prices`), then writes a buyer and
   group KIMA (market Nakuru, offers maize) with one leader and --members members straight
   into the bench database.
2. Relay: --orders times, the buyer's signed Twilio `ORDER 200 BAGS MAIZE ... AT NAKURU`,
   then the leader's `FWD <id>`, which queues one SMS per member inside that one request.
   Reports each request's latency and checks the outbox got a row per member.
3. Pledges: every member sends `OFFER <id> <n>` (signed Twilio webhooks, a new MessageSid
   each), closed loop over 16 keep-alive connections spread over the workers. Reports
   throughput and p50/p99, then checks the order's total in the database equals the sum
   sent. Then 1,000 of the same webhooks again (a provider retrying): the total must not
   move.
Only 200 answers with `<Message>` in the TwiML count as good. No worker runs: the SMS stay
in the outbox and nothing leaves the machine.

    .venv/bin/python bench/orders_load.py
    .venv/bin/python bench/orders_load.py --members 2000 --orders 2
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from gateway_load import (  # the shared server and client machinery
    ACCOUNT_SID,
    AUTH_TOKEN,
    HELP_PATH,
    HOST,
    ROOT,
    TWILIO_NUMBER,
    Server,
    Workload,
    _free_port,
    _kenyan_senders,
    _smsgw_executable,
    machine_info,
    run_phase,
    wait_for_quiet,
)

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "orders_load.json"
KENYA = ROOT / "data" / "wfp_food_prices_ken.csv"
BUYER = "+254700000001"
LEADER = "+254711000001"


class Signed:
    """Signed Twilio inbound webhooks with any text, each with a new MessageSid."""

    def __init__(self, port: int, public_url: str, seed: int) -> None:
        from twilio.request_validator import RequestValidator

        self._validator = RequestValidator(AUTH_TOKEN)
        self._url = public_url.rstrip("/") + HELP_PATH
        self._host = f"{HOST}:{port}"
        self._rng = random.Random(seed)

    def make(self, sender: str, text: str) -> bytes:
        sid = "SM" + self._rng.getrandbits(128).to_bytes(16, "big").hex()
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid,
                  "AccountSid": ACCOUNT_SID, "From": sender, "To": TWILIO_NUMBER,
                  "Body": text, "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01",
                  "SmsStatus": "received", "FromCountry": "KE", "ToCountry": "KE"}
        body = urlencode(params).encode("ascii")
        signature = self._validator.compute_signature(self._url, params)
        return (f"POST {HELP_PATH} HTTP/1.1\r\nHost: {self._host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
                ).encode("ascii") + body


def prepare(server: Server, members: list[str]) -> None:
    """Prices (through the CLI, as an admin would) and the group, written directly."""
    smsgw = _smsgw_executable()
    for args in (["init"], ["import", "prices", str(KENYA)]):
        done = subprocess.run([smsgw, *args, "--config", str(server.config_path)],
                              capture_output=True, env=server.env)
        if done.returncode not in (0, 1):   # 1: some rows held for review, as in this file
            raise RuntimeError(f"smsgw {' '.join(args)} failed: {done.stderr!r}")
    sys.path.insert(0, str(ROOT))
    import db
    from db import contacts
    from db import groups as groups_db
    from db.timeutil import iso, utcnow

    conn = db.connect(server.config["database.path"])
    now = iso(utcnow())
    with db.transaction(conn):
        nakuru = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()[0]
        group = groups_db.create(conn, code="KIMA", name="Kima Farmers", market_id=nakuru,
                                 region=None, products=["MAIZE"])
        groups_db.set_member(conn, group.id, contacts.get_or_create(conn, LEADER).id,
                             role="leader")
        groups_db.set_role(conn, contacts.get_or_create(conn, BUYER).id, "buyer", "Unga Millers")
        conn.executemany("INSERT INTO contacts (phone, created_at, updated_at) VALUES (?, ?, ?)",
                         [(phone, now, now) for phone in members])
        conn.execute(
            "INSERT INTO memberships (group_id, contact_id, role, status, joined_at)"
            " SELECT ?, id, 'member', 'active', ? FROM contacts WHERE phone NOT IN (?, ?)",
            (group.id, now, LEADER, BUYER))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def one_request(server: Server, request: bytes) -> tuple[float, str]:
    """Send one request on a fresh connection; (seconds, TwiML body)."""
    import socket

    began = time.perf_counter()
    with socket.create_connection((HOST, server.port), timeout=60) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += sock.recv(65536)
    status = int(head.split(b" ")[1])
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    return time.perf_counter() - began, body.decode()


def reply_text(twiml: str) -> str:
    import html
    import re

    found = re.search(r"<Message>(.*?)</Message>", twiml, re.DOTALL)
    return html.unescape(found.group(1)) if found else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=3, help="orders relayed and forwarded")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    waited = wait_for_quiet(args.quiet_wait)
    rng = random.Random(20261123)
    members = [n for n in _kenyan_senders(args.members + 2, rng) if n not in (BUYER, LEADER)]
    members = members[:args.members]
    server = Server(_free_port(), None, None)
    results: dict[str, Any] = {"members": len(members), "waited_for_quiet_s": round(waited, 1)}
    try:
        prepare(server, members)
        server.start()
        signed = Signed(server.port, server.public_url, 7)
        relays = []
        code = ""
        for _ in range(args.orders):
            seconds, twiml = one_request(server, signed.make(
                BUYER, "ORDER 200 BAGS MAIZE GRADE1 @3400 BY 2026-12-20 AT NAKURU"))
            code = reply_text(twiml).split(":")[0].split()[-1]
            fwd_seconds, fwd_twiml = one_request(server, signed.make(LEADER, f"FWD {code}"))
            relays.append({"order_ms": seconds * 1000, "fwd_ms": fwd_seconds * 1000,
                           "fwd_reply": reply_text(fwd_twiml)})
            print(f"order {code}: ORDER {seconds * 1000:.0f} ms, FWD to {len(members):,}"
                  f" members {fwd_seconds * 1000:.0f} ms: {reply_text(fwd_twiml)}")
        conn = sqlite3.connect(server.config["database.path"])
        queued = conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'order' AND text LIKE"
                              " ? AND to_number != ?", (f"Order {code} from%", LEADER)).fetchone()[0]
        results["relay"] = relays
        results["forward_rows_last_order"] = queued
        # Pledges: every member offers 1 to 9 bags to the last order.
        amounts = [1 + i % 9 for i in range(len(members))]
        requests = [signed.make(phone, f"OFFER {code} {amount}")
                    for phone, amount in zip(members, amounts, strict=True)]
        work = Workload("OFFER", requests, b"<Message>")
        phase = run_phase(server, "asyncio", work, mode="closed", connections=args.connections,
                          count=len(requests), duration=600.0)
        total = conn.execute("SELECT SUM(p.quantity) FROM pledges p JOIN orders o ON o.id ="
                             " p.order_id WHERE o.code = ?", (code,)).fetchone()[0]
        again = run_phase(server, "asyncio", Workload("OFFER again", requests[:1000],
                                                      b"<Message>"),
                          mode="closed", connections=args.connections, count=1000,
                          duration=120.0)
        total_after = conn.execute("SELECT SUM(p.quantity) FROM pledges p JOIN orders o ON o.id"
                                   " = p.order_id WHERE o.code = ?", (code,)).fetchone()[0]
        kept = conn.execute("SELECT pledged FROM orders WHERE code = ?", (code,)).fetchone()[0]
        conn.close()
        results["pledges"] = {
            "sent": phase.sent, "ok": phase.ok, "errors": phase.errors,
            "throughput_rps": round(phase.throughput_rps, 1), "p50_ms": round(phase.p50_ms, 2),
            "p99_ms": round(phase.p99_ms, 2), "max_ms": round(phase.max_ms, 2),
            "other_cpu_cores": phase.other_cpu_cores, "total_in_db": total,
            "total_sent": sum(amounts), "total_kept": kept}
        results["retried"] = {"ok": again.ok, "errors": again.errors,
                              "total_after": total_after}
    finally:
        server.stop()
        server.cleanup()
    pledges = results["pledges"]
    print(f"pledges: {pledges['ok']:,} of {pledges['sent']:,} good, "
          f"{pledges['throughput_rps']:,.0f}/s, p50 {pledges['p50_ms']:.1f} ms,"
          f" p99 {pledges['p99_ms']:.1f} ms, max {pledges['max_ms']:.0f} ms;"
          f" total {pledges['total_in_db']} (sent {pledges['total_sent']});"
          f" after 1,000 retried webhooks {results['retried']['total_after']};"
          f" other load {pledges['other_cpu_cores']} cores")
    print(f"forward rows for the last order: {results['forward_rows_last_order']:,}")
    correct = (pledges["total_in_db"] == pledges["total_sent"] == pledges["total_kept"]
               == results["retried"]["total_after"]
               and results["forward_rows_last_order"] == len(members)
               and not pledges["errors"] and not results["retried"]["errors"])
    results.update(correct=correct, machine=machine_info(),
                   command=".venv/bin/python bench/orders_load.py")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.output.relative_to(ROOT)}; {'all correct' if correct else 'WRONG'}")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
