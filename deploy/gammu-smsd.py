#!/usr/bin/env python3
"""Run Gammu's SMS daemon from python-gammu's wheel, for the smsgw modem provider.

    usage: gammu-smsd.py CONFIG [--stuck-seconds N]

The same daemon as Debian's `gammu-smsd -c CONFIG`, in the foreground, but from the
python-gammu wheel pinned in requirements.lock (libgammu 1.45.1, statically linked). That
version has the upstream fixes Debian's 1.42 lacks (the RunOnReceive shell injection, the
hang after a bad outbox file, the broken inbox and sent files), and it is the daemon the
tests run. It is a separate program: smsgw itself never imports Gammu (GPL); the two share
folders only. deploy/smsgw-modem.service runs it as the daemon's own user.

SIGTERM or SIGINT stops it cleanly: MainLoop runs in a thread (it holds the main thread in
C, where Python cannot run signal handlers) and is asked to shut down. A watchdog: when an
SMS has waited in the outbox longer than --stuck-seconds (0 = no watchdog) the daemon or the
modem hangs, and the process exits with status 3 at once, whatever the daemon's thread is
doing, for systemd to start it again (Restart=always).
"""

from __future__ import annotations

import argparse
import configparser
import os
import signal
import sys
import threading
import time

import gammu
import gammu.smsd


def outbox_of(config: str) -> str | None:
    """The outbox folder named in the daemon's config ([smsd] outboxpath)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       inline_comment_prefixes=None)
    parser.read(config, encoding="utf-8")
    for section in parser.sections():
        if section.lower() == "smsd":
            return parser[section].get("outboxpath", "").strip() or None
    return None


def oldest_waiting(outbox: str) -> float:
    """Seconds the oldest SMS has waited in the outbox (0 when none waits)."""
    try:
        entries = [e for e in os.scandir(outbox) if e.name.startswith("OUT") and e.is_file()]
        if not entries:
            return 0.0
        return time.time() - min(e.stat().st_mtime for e in entries)
    except OSError:
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="gammu-smsd's config (smsgw modem config writes one)")
    parser.add_argument("--stuck-seconds", type=float, default=0,
                        help="exit with status 3 when an SMS waits longer in the outbox")
    args = parser.parse_args()

    smsd = gammu.smsd.SMSD(args.config)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            smsd.MainLoop()
        except gammu.GSMError as exc:   # the phone cannot be opened, and so on
            outcome["error"] = exc

    loop = threading.Thread(target=run, name="gammu-smsd", daemon=True)
    loop.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    outbox = outbox_of(args.config) if args.stuck_seconds > 0 else None
    print(f"gammu-smsd.py: Gammu {gammu.Version()[0]} running {args.config}", flush=True)
    while loop.is_alive() and not stop.wait(1.0):
        if outbox and oldest_waiting(outbox) > args.stuck_seconds:
            print(f"gammu-smsd.py: an SMS has waited more than {args.stuck_seconds:.0f} s in"
                  f" {outbox}: the daemon or the modem hangs; exiting to be restarted",
                  file=sys.stderr, flush=True)
            os._exit(3)   # the daemon's thread may be stuck in C: do not wait for it
    if loop.is_alive():
        smsd.Shutdown()
        loop.join(10)
        if loop.is_alive():
            print("gammu-smsd.py: the daemon did not stop in 10 s", file=sys.stderr, flush=True)
            os._exit(1)
    if "error" in outcome:
        print(f"gammu-smsd.py: {outcome['error']}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
