"""Gammu's dummy phone for the modem tests: make it "receive" an SMS, and run gammu-smsd.

The dummy driver (`connection = none`, `model = dummy`, `device = <folder>`) reads the SMS
in its SIM inbox from `<device>/sms/1/<location>`, one file per location 1..10000, each in
Gammu's smsbackup format; gammu-smsd deletes a file once it has handled it. It sends
nothing: every send succeeds (status 0, reference 255) and leaves no trace, so a failure
can only be simulated (tests call the hook's `fail` record themselves).
"""

from __future__ import annotations

import datetime
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "deploy" / "gammu-smsd.py"


def _hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def drop_incoming(dummy: Path, sender: str, text: str, *, part_len: int = 0,
                  ucs2: bool = False) -> list[Path]:
    """Put an SMS in the dummy's SIM inbox, split into concatenated parts (UDH 05 00 03
    ref total n) of part_len characters if given, one location per part as a modem would.
    Written under a dot name and renamed: the dummy opens only names that are numbers."""
    folder = dummy / "sms" / "1"
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [text[i:i + part_len] for i in range(0, len(text), part_len)] if part_len else [text]
    ref = random.randint(0, 255)
    when = datetime.datetime.now(datetime.UTC)
    written = []
    for n, chunk in enumerate(chunks, 1):
        hexed = _hex(chunk)
        lines = ["[SMSBackup000]", 'SMSC = "+254700000000"', "PDU = Deliver",
                 f"Sent = {when:%Y%m%dT%H%M%S}Z", "State = UnRead", 'Number = "x"',
                 f"NumberUnicode = {_hex(sender)}",
                 f"Coding = {'Unicode_No_Compression' if ucs2 else 'Default_No_Compression'}",
                 "Folder = 1", "Class = -1"]
        lines += [f"Text{i // 200:02d} = {hexed[i:i + 200]}"
                  for i in range(0, max(len(hexed), 1), 200)]
        lines.append(f"Length = {len(hexed) // 4}")
        if len(chunks) > 1:
            lines.append(f"UDH = 050003{ref:02X}{len(chunks):02X}{n:02X}")
        location = 1
        while (folder / str(location)).exists():
            location += 1
        tmp = folder / f".tmp{location}"
        tmp.write_text("\n".join(lines) + "\n")
        os.rename(tmp, folder / str(location))
        written.append(folder / str(location))
    return written


class Daemon:
    """gammu-smsd from python-gammu's wheel (deploy/gammu-smsd.py), in its own session."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.output = config.parent / "runner.out"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        env = {**os.environ, "LANG": "C.UTF-8"}   # SMS_n_TEXT follows the daemon's locale
        with self.output.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, str(RUNNER), str(self.config)],
                                            start_new_session=True, env=env, stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while "Starting phone communication" not in self._log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gammu-smsd did not start: {self.output.read_text()}"
                                   f"{self._log()}")
            time.sleep(0.05)

    def _log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM to its whole session, SIGKILL after 6 s."""
        if self.process is None or self.process.poll() is not None:
            return
        for signum, wait in ((signal.SIGTERM, 6), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
