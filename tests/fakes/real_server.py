"""The real web server, `smsgw serve` (gunicorn, N workers x M threads), started by a test.

Everything it does stays on 127.0.0.1: the server binds there, on a free port, with a
temporary config file and database of its own; `app.public_url` is that same loopback URL
(Twilio signatures are computed over it, hence `providers.twilio.allow_http`). It runs in
its own session, so its process group holds the master and its workers and nothing else:
`kill_all` SIGKILLs exactly that group, `kill_worker` one worker by pid, and `stop` (which
fixtures call in a `finally`) ends whatever is left of it. Adapted from bench/gateway_load.py's
`Server`, which starts the same command the same way.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SMSGW = str(Path(sys.executable).parent / "smsgw")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _toml(value: object) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value).lower() \
        if isinstance(value, bool) else str(value)


class RealServer:
    """`smsgw serve --config FILE --host 127.0.0.1 --port P` as a subprocess."""

    def __init__(self, directory: Path, settings: Mapping[str, Mapping[str, object]], *,
                 workers: int = 2, threads: int = 4, port: int | None = None) -> None:
        self.dir = directory
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.workers = workers
        self.db_path = directory / "smsgw.db"
        self.config_path = directory / "config.toml"
        self.log_path = directory / "server.log"
        sections: dict[str, dict[str, object]] = {
            "app": {"public_url": self.url},
            "database": {"path": str(self.db_path)},
            "server": {"host": HOST, "port": self.port, "workers": workers, "threads": threads},
            "logging": {"level": "WARNING"},
        }
        for name, values in settings.items():
            sections.setdefault(name, {}).update(values)
        lines = ["# written by tests/fakes/real_server.py for one test run"]
        for name, values in sections.items():
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # The server reads only this file: no SMSGW_* variable from the caller's shell.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGW_")}
        self.process: subprocess.Popen[bytes] | None = None
        self.reopened = 0   # connections `connections` reopened last time to spread them
        self._log: Any = None

    # ------------------------------------------------------------------ life cycle

    def start(self, timeout: float = 30.0) -> float:
        """Start the server; wait until /healthz answers and every worker is up; seconds."""
        assert self.process is None or self.process.poll() is not None, "already running"
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("ab")
        began = time.monotonic()
        self.process = subprocess.Popen(
            [SMSGW, "serve", "--config", str(self.config_path), "--host", HOST, "--port",
             str(self.port)], cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready(timeout, began=began)
        return time.monotonic() - began

    def wait_ready(self, timeout: float = 30.0, *, began: float | None = None) -> None:
        """Wait until /healthz answers 200 and the master has all its workers."""
        deadline = (began or time.monotonic()) + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if self.get("/healthz")[0] == 200 and len(self.worker_pids()) == self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """End the master and its workers, whatever state they are in (SIGINT, gunicorn's
        quick shutdown, then SIGKILL to the process group, which is theirs alone)."""
        process = self.process
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self._kill_group(process.pid)
            if process.poll() is None:
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill_all(self) -> None:
        """SIGKILL the master and every worker at once (a power cut of the server)."""
        assert self.process is not None
        self._kill_group(self.process.pid)
        self.process.wait(timeout=10)
        # Workers orphaned by the master (none should be: they were in its group).
        deadline = time.monotonic() + 5
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def kill_worker(self, pid: int) -> None:
        """SIGKILL one worker (gunicorn's master then starts a new one)."""
        assert pid in self.worker_pids(), f"{pid} is not one of our workers"
        os.kill(pid, signal.SIGKILL)

    @staticmethod
    def _kill_group(pgid: int) -> None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # ------------------------------------------------------------------ looking at it

    def worker_pids(self) -> list[int]:
        """The master's live children (its workers)."""
        if self.process is None or self.process.poll() is not None:
            return []
        master = self.process.pid
        try:
            text = Path(f"/proc/{master}/task/{master}/children").read_text()
            return [int(pid) for pid in text.split()]
        except OSError:
            found = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                        found.append(int(stat.parent.name))
                except (OSError, IndexError, ValueError):
                    continue
            return found

    def connection_owners(self) -> dict[int, int]:
        """Which worker holds each accepted connection: {client's port: worker pid}."""
        by_inode: dict[int, int] = {}
        for pid in self.worker_pids():
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    by_inode[int(link[8:-1])] = pid
        owners: dict[int, int] = {}
        try:
            lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
        except OSError:
            return owners
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == self.port and int(fields[9]) in by_inode:
                owners[int(fields[2].rsplit(":", 1)[1], 16)] = by_inode[int(fields[9])]
        return owners

    def connections(self, count: int, *, spread: bool = True,
                    timeout: float = 10.0) -> list[http.client.HTTPConnection]:
        """`count` open connections; with `spread` (and count >= 2) at least one of them
        is held by each of two different workers, so requests on them race across
        processes. Which worker accepts a connection is the kernel's choice: connections
        are reopened until the spread is there (RuntimeError if it is not within 30 s: on a
        loaded machine one worker can be slow to come back to accept)."""
        conns = [self._connect(timeout) for _ in range(count)]
        if count < 2 or not spread or self.workers < 2:
            return conns
        deadline = time.monotonic() + 30.0
        self.reopened = 0
        while time.monotonic() < deadline:
            owners = self.connection_owners()
            held = [owners.get(c.sock.getsockname()[1]) for c in conns]  # type: ignore[union-attr]
            if None not in held and len(set(held)) >= 2:
                return conns
            if None in held:          # not all accepted yet
                time.sleep(0.005)
                continue
            # All on one worker: reopen the last one and look again.
            conns[-1].close()
            conns[-1] = self._connect(timeout)
            self.reopened += 1
        for conn in conns:
            conn.close()
        raise RuntimeError(f"{count} connections all stayed on one worker for 30 s")

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        conn.connect()
        return conn

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
