#!/usr/bin/env python3
"""Load test of USSD sessions through the real server: p50/p99 of every hop of whole sessions.

What it does, in order:

1. waits (up to --quiet-wait s) for the machine to be idle, as gateway_load.py does, and
   reports for every phase how much CPU other processes used ("other load");
2. starts `smsgw serve` exactly as bench/gateway_load.py does (its Server class: a temp
   config, gunicorn gthread, 2 workers x 4 threads by default), with Africa's Talking
   enabled, a callback token and `ussd.service_codes` set; before the start it loads the
   Kenya prices and the shipped standards into the bench database with the real CLI
   (`smsgw import prices data/wfp_food_prices_ken.csv --config TMP`, then standards);
3. closed loop: --concurrency simulated phones, each on its own keep-alive connection (spread
   evenly over the workers), each running whole sessions back to back with no think time:
   a new sessionId and phone number per session, every hop sent as soon as the previous
   screen is in; --rounds rounds of --duration s after a warm-up;
4. open loop: sessions start at a fixed rate (--open-rate, default half the closed-loop
   peak), each session's hops one after the other; the first hop's latency counts from the
   session's due time (no coordinated omission), every later hop's from its send;
5. prints p50/p90/p99/max per hop of each session script, and writes JSON to
   bench/results/ussd_load.json.

Session scripts (the same mix in every phase, round-robin, English screens):
  price: home, 1 (products), 1*2 (Maize: markets), 1*2*98 (more markets),
         1*2*98*3 (the price), 1*2*98*3*1 (send it by SMS: END, one outbox row)
  typed: home, 1, 1*MAHINDI (a typed Swahili name), 1*MAHINDI*NAKURU (the price)
  reg:   home, 3, 3*NAKRU (typed, with a typo), 3*NAKRU*1 (registered: END + SMS)
  std:   home, 2, 2*1 (maize standard, page 1), 2*1*98 (page 2)
A hop counts as good only if it is a 200 whose body starts with the expected screen start
(`CON Welcome.`, `CON Maize: pick a market`, `END Sent.` ...). The SMS go to the outbox
only: no worker runs and nothing leaves the machine. Exit status 1 on any bad hop, or with
--strict when a hop's p99 misses the 100 ms target.

Usage (from the repository root; figures in docs/benchmarks.md):

    .venv/bin/python bench/ussd_load.py
    .venv/bin/python bench/ussd_load.py --concurrency 32 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import math
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from gateway_load import (  # the shared server and client machinery
    HOST,
    OTHER_LOAD_WARN,
    REQUEST_TIMEOUT_S,
    ROOT,
    Server,
    _async_wrap,
    _client_cpu,
    _connect,
    _free_port,
    _HttpProtocol,
    _kenyan_senders,
    _machine_busy,
    _smsgw_executable,
    _toml_str,
    machine_info,
    percentile,
    wait_for_quiet,
)

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "ussd_load.json"
USSD_PATH = "/webhooks/africastalking/ussd"
CALLBACK_TOKEN = "bench-ussd-callback-token"
SERVICE_CODE = "*384*1234#"
TARGET_P99_MS = 100.0   # from the USSD issue: p99 under 100 ms through the real server

# (hop name, cumulative text, the start of the expected screen)
SCRIPTS: dict[str, tuple[tuple[str, str, bytes], ...]] = {
    "price": (("home", "", b"CON Welcome."), ("products", "1", b"CON Prices: pick"),
              ("markets", "1*2", b"CON Maize: pick a market"),
              ("more markets", "1*2*98", b"CON Maize: pick a market"),
              ("price", "1*2*98*3", b"CON Maize, "), ("sms", "1*2*98*3*1", b"END Sent.")),
    "typed": (("home", "", b"CON Welcome."), ("products", "1", b"CON Prices: pick"),
              ("typed product", "1*MAHINDI", b"CON Maize: pick a market"),
              ("price", "1*MAHINDI*NAKURU", b"CON Maize, Nakuru, ")),
    "reg": (("home", "", b"CON Welcome."), ("my market", "3", b"CON "),
            ("typed market", "3*NAKRU", b"CON Make Nakuru your market?"),
            ("confirm", "3*NAKRU*1", b"END Your market is now Nakuru.")),
    "std": (("home", "", b"CON Welcome."), ("standards", "2", b"CON Standards: pick"),
            ("bulletin", "2*1", b"CON MAIZE, East Africa"), ("bulletin 98", "2*1*98", b"CON ")),
}
MIX = ("price", "price", "typed", "reg", "std")


class Sessions:
    """Makes the raw requests of whole sessions: a new sessionId and phone each time."""

    def __init__(self, port: int, senders: Sequence[str], seed: int) -> None:
        self._host = f"{HOST}:{port}"
        self._senders = senders
        self._rng = random.Random(seed)
        self._next = itertools.count()
        self.made = 0

    def next(self) -> tuple[str, list[tuple[str, bytes, bytes]]]:
        """(script name, [(hop name, request bytes, expected start) ...]) of a new session."""
        n = next(self._next)
        script = MIX[n % len(MIX)]
        session_id = "ATUid_" + self._rng.getrandbits(128).to_bytes(16, "big").hex()
        phone = self._senders[n % len(self._senders)]
        self.made += 1
        return script, [(name, self._request(session_id, phone, text), expect)
                        for name, text, expect in SCRIPTS[script]]

    def _request(self, session_id: str, phone: str, text: str) -> bytes:
        body = urlencode({"sessionId": session_id, "serviceCode": SERVICE_CODE,
                          "phoneNumber": phone, "networkCode": "63902",
                          "text": text}).encode("ascii")
        return (f"POST {USSD_PATH}?token={CALLBACK_TOKEN} HTTP/1.1\r\nHost: {self._host}\r\n"
                "User-Agent: AfricasTalking\r\nContent-Type: application/x-www-form-urlencoded"
                f"\r\nContent-Length: {len(body)}\r\n\r\n").encode("ascii") + body


@dataclass
class Phase:
    name: str
    mode: str                         # closed | open
    phones: int
    target_rate: float | None = None  # open loop: sessions started per second
    sessions: int = 0                 # completed, every hop good
    hops: int = 0
    elapsed_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    other_cpu_cores: float = math.nan
    connections_per_worker: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Per hop: count and p50/p90/p99/max in ms; and the phase totals."""
        per_hop = {}
        every: list[float] = []
        for key, values in sorted(self.latencies.items()):
            values.sort()
            every += values
            per_hop[key] = _stats(values)
        every.sort()
        return {
            "phase": self.name, "mode": self.mode, "phones": self.phones,
            "target_sessions_per_s": self.target_rate, "sessions": self.sessions,
            "hops": self.hops, "errors": dict(self.errors),
            "sessions_per_s": round(self.sessions / self.elapsed_s, 1) if self.elapsed_s else 0,
            "hops_per_s": round(self.hops / self.elapsed_s, 1) if self.elapsed_s else 0,
            "all_hops": _stats(every),
            "server_cpu_ms_per_hop": round(self.server_cpu_s / self.hops * 1e3, 3)
            if self.hops else None,
            "client_cpu_us_per_hop": round(self.client_cpu_s / self.hops * 1e6, 1)
            if self.hops else None,
            "other_cpu_cores": self.other_cpu_cores,
            "connections_per_worker": self.connections_per_worker,
            "per_hop": per_hop,
        }


def _stats(values: Sequence[float]) -> dict[str, float | int]:
    ms = 1000.0
    return {"n": len(values), "p50_ms": round(percentile(values, 50) * ms, 2),
            "p90_ms": round(percentile(values, 90) * ms, 2),
            "p99_ms": round(percentile(values, 99) * ms, 2),
            "max_ms": round((values[-1] if values else math.nan) * ms, 2)}


async def _session(protocol: _HttpProtocol, port: int, phase: Phase, script: str,
                   hops: list[tuple[str, bytes, bytes]], due: float) -> _HttpProtocol:
    """Run one session's hops in order on one connection; returns the connection to reuse."""
    perf = time.perf_counter
    for n, (name, raw, expect) in enumerate(hops):
        start = due if n == 0 else perf()
        try:
            if protocol.closed:
                protocol = await _async_wrap(_connect(port))
            status, body, keep = await asyncio.wait_for(protocol.request(raw), REQUEST_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            phase.errors[f"{script}/{name}: {type(exc).__name__}"] += 1
            protocol.transport.close()  # type: ignore[union-attr]
            return await _async_wrap(_connect(port))
        latency = perf() - start
        if status != 200 or not body.startswith(expect):
            phase.errors[f"{script}/{name}: HTTP {status} {body[:40]!r}"] += 1
            return protocol
        phase.latencies[f"{script} {n + 1} {name}"].append(latency)
        phase.hops += 1
        if not keep:
            protocol.transport.close()  # type: ignore[union-attr]
            protocol = await _async_wrap(_connect(port))
    phase.sessions += 1
    return protocol


async def _closed(port: int, phase: Phase, socks: list[socket.socket], sessions: Sessions,
                  duration: float) -> float:
    protocols = [await _async_wrap(sock) for sock in socks]
    start = time.perf_counter()
    deadline = start + duration

    async def phone(protocol: _HttpProtocol) -> None:
        while time.perf_counter() < deadline:
            script, hops = sessions.next()
            protocol = await _session(protocol, port, phase, script, hops, time.perf_counter())
        protocol.transport.close()  # type: ignore[union-attr]

    await asyncio.gather(*(phone(p) for p in protocols))
    return time.perf_counter() - start


async def _open(port: int, phase: Phase, socks: list[socket.socket], sessions: Sessions,
                rate: float, duration: float) -> float:
    pool: asyncio.Queue[_HttpProtocol] = asyncio.Queue()
    for sock in socks:
        pool.put_nowait(await _async_wrap(sock))
    start = time.perf_counter()
    count = max(1, int(rate * duration))

    async def one(i: int) -> None:
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        protocol = await pool.get()   # waiting for a free connection counts in the latency
        script, hops = sessions.next()
        pool.put_nowait(await _session(protocol, port, phase, script, hops, due))

    await asyncio.gather(*(one(i) for i in range(count)))
    while not pool.empty():
        pool.get_nowait().transport.close()  # type: ignore[union-attr]
    return time.perf_counter() - start


def run(server: Server, phase: Phase, sessions: Sessions, *, duration: float,
        rate: float | None = None, balance: bool = True) -> Phase:
    """One measured phase with server CPU, client CPU and other load around it."""
    socks, phase.connections_per_worker = server.open_connections(phase.phones, balance=balance)
    gc.collect()
    cpu0, server0, busy0 = _client_cpu(), server.cpu_seconds(), _machine_busy()
    if rate is None:
        phase.elapsed_s = asyncio.run(_closed(server.port, phase, socks, sessions, duration))
    else:
        phase.elapsed_s = asyncio.run(_open(server.port, phase, socks, sessions, rate, duration))
    cpu1, server1, busy1 = _client_cpu(), server.cpu_seconds(), _machine_busy()
    phase.client_cpu_s = cpu1 - cpu0
    phase.server_cpu_s = sum(server1[pid] - server0.get(pid, 0.0) for pid in server1)
    if phase.elapsed_s > 0:
        other = (busy1 - busy0) - phase.server_cpu_s - phase.client_cpu_s
        phase.other_cpu_cores = round(max(0.0, other) / phase.elapsed_s, 3)
    return phase


def prepare(server: Server) -> dict[str, float]:
    """Enable AT USSD in the server's config and load the Kenya prices and standards."""
    with server.config_path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join([
            "# added by bench/ussd_load.py",
            "[providers.africastalking]", "enabled = true",
            f"api_key = {_toml_str('bench-key-not-used')}",
            f"callback_token = {_toml_str(CALLBACK_TOKEN)}",
            "[ussd]", f"service_codes = {_toml_str(SERVICE_CODE)}", ""]))
    from smsgw import config as configuration

    server.config = configuration.load(str(server.config_path), environ=server.env)
    timings = {}
    for what, path in (("prices", ROOT / "data" / "wfp_food_prices_ken.csv"),
                       ("standards", ROOT / "prices" / "data" / "standards.toml")):
        began = time.perf_counter()
        done = subprocess.run([_smsgw_executable(), "import", what, str(path), "--config",
                               str(server.config_path)], cwd=server.dir, env=server.env,
                              stdout=subprocess.DEVNULL)
        if done.returncode not in (0, 1):   # 1: some price rows held for review (Kenya's)
            raise RuntimeError(f"smsgw import {what} failed ({done.returncode})")
        timings[what] = round(time.perf_counter() - began, 2)
    return timings


def print_phase(result: dict[str, Any]) -> None:
    rate = result["target_sessions_per_s"]
    title = (f"{result['phase']}: {result['phones']} phones, {result['sessions']} sessions"
             f" ({result['sessions_per_s']}/s), {result['hops']} hops ({result['hops_per_s']}/s)"
             + (f", sessions offered at {rate:.1f}/s" if rate else ""))
    print(f"\n{title}; server {result['server_cpu_ms_per_hop']} ms CPU/hop,"
          f" other load {result['other_cpu_cores']} cores")
    rows = [("hop", "n", "p50 ms", "p90 ms", "p99 ms", "max ms")]
    for name, s in [*result["per_hop"].items(), ("all hops", result["all_hops"])]:
        rows.append((name, str(s["n"]), f"{s['p50_ms']:.2f}", f"{s['p90_ms']:.2f}",
                     f"{s['p99_ms']:.2f}", f"{s['max_ms']:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    if result["errors"]:
        print(f"  ERRORS: {result['errors']}")
    if result["other_cpu_cores"] > OTHER_LOAD_WARN:
        print(f"  warning: other processes used {result['other_cpu_cores']:.2f} cores: the"
              " machine was not quiet, figures are pessimistic")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16,
                        help="phones (keep-alive connections) in the closed loop")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per closed round")
    parser.add_argument("--rounds", type=int, default=3, help="closed-loop rounds")
    parser.add_argument("--warmup", type=float, default=2.0, help="closed-loop warm-up, s")
    parser.add_argument("--open-duration", type=float, default=10.0, help="open loop, s")
    parser.add_argument("--open-rate", type=float, default=None,
                        help="sessions started per second in the open loop (default: half"
                             " the closed-loop peak)")
    parser.add_argument("--open-connections", type=int, default=None,
                        help="connections for the open loop (default: --concurrency)")
    parser.add_argument("--workers", type=int, default=None, help="server.workers (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="server.threads (default 4)")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--senders", type=int, default=5000, help="distinct phone numbers")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="wait up to this long for an idle machine first (0 = do not)")
    parser.add_argument("--no-balance", dest="balance", action="store_false",
                        help="keep connections where gunicorn put them")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a hop's p99 misses the target too")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if min(args.concurrency, args.rounds, args.senders) < 1:
        parser.error("--concurrency, --rounds and --senders must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the server
    rng = random.Random(args.seed)
    started_at = datetime.now(UTC)
    idle = wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else math.nan
    if idle > OTHER_LOAD_WARN:
        print(f"warning: the machine is busy ({idle:.2f} cores used by others)", flush=True)
    server = Server(args.port or _free_port(), args.workers, args.threads)
    sessions = Sessions(server.port, _kenyan_senders(args.senders, rng), rng.getrandbits(64))
    phases: list[dict[str, Any]] = []
    report: dict[str, Any] = {}
    exit_code = 0
    try:
        imports = prepare(server)
        print(f"bench database loaded in {imports} s; starting {' '.join(server.command)}",
              flush=True)
        ready = server.start()
        print(f"server ready in {ready:.2f} s", flush=True)
        if args.warmup > 0:
            run(server, Phase("warm-up", "closed", args.concurrency), sessions,
                duration=args.warmup, balance=args.balance)
        closed = []
        for n in range(1, args.rounds + 1):
            result = run(server, Phase(f"closed {n}", "closed", args.concurrency), sessions,
                         duration=args.duration, balance=args.balance).summary()
            print_phase(result)
            closed.append(result)
        phases += closed
        peak = statistics.median(r["sessions_per_s"] for r in closed)
        rate = args.open_rate or peak / 2
        if rate <= 0:
            raise RuntimeError("no session completed: cannot set the open-loop rate")
        result = run(server, Phase("open", "open", args.open_connections or args.concurrency,
                                   rate), sessions, duration=args.open_duration, rate=rate,
                     balance=args.balance).summary()
        print_phase(result)
        phases.append(result)
        worst = {p["phase"]: max(h["p99_ms"] for h in p["per_hop"].values()) for p in phases}
        targets = {"hop_p99_ms_under": TARGET_P99_MS, "worst_hop_p99_ms": worst,
                   "met": {name: value < TARGET_P99_MS for name, value in worst.items()}}
        print("\ntarget: every hop's p99 under 100 ms")
        for name, value in worst.items():
            print(f"  {name}: worst hop p99 {value:.2f} ms:"
                  f" {'MET' if value < TARGET_P99_MS else 'NOT MET'}")
        report = {"benchmark": "ussd_load", "started_at": started_at.isoformat(timespec="seconds"),
                  "machine": machine_info(),
                  "command": [Path(sys.executable).name, "bench/ussd_load.py",
                              *(sys.argv[1:] if argv is None else list(argv))],
                  "server": {"command": server.command[1:], "ready_s": round(ready, 3),
                             "workers": server.config["server.workers"],
                             "threads": server.config["server.threads"]},
                  "imports_s": imports, "other_load_before_start_cores": idle,
                  "settings": {k: str(v) if isinstance(v, Path) else v
                               for k, v in vars(args).items()},
                  "scripts": {k: [[n, t] for n, t, _ in v] for k, v in SCRIPTS.items()},
                  "mix": MIX, "sessions_made": sessions.made, "targets": targets,
                  "phases": phases}
        if any(p["errors"] for p in phases):
            print("\nBAD HOPS: see above; the figures do not describe a healthy run")
            exit_code = 1
        elif args.strict and not all(targets["met"].values()):
            exit_code = 1
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"\nbenchmark failed: {exc!r}", file=sys.stderr)
        traceback.print_exc()
        exit_code = 1
    finally:
        code = server.stop()
        print(f"\nserver stopped (exit status {code})")
        if exit_code and server.process is not None:
            print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
        server.cleanup()
    if report:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
