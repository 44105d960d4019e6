#!/usr/bin/env python3
"""How fast the web console's pages answer on a big deployment (issue 17: p95 < 200 ms).

What it does, in order:

1. writes a throw-away config in a temp dir (its own database, logging at WARNING, session
   cookies allowed over plain http, since the benchmark talks to 127.0.0.1 over http);
2. `smsgw init`, then `smsgw import prices data/wfp_food_prices_ken.csv --country KE`, as
   `make run` does (26,745 real prices);
3. seeds, in one transaction, --contacts contacts (100,000 by default: Kenyan mobile
   numbers, a third in Swahili, 2 % opted out, 60 % subscribed to a price bulletin), 50
   groups sharing 50 % of them as members (with two leaders each), 20 open orders relayed to
   5 groups each with 40 pledges per group, one inbound message per contact and two outbound
   (a reply and a bulletin) spread over the last 30 days across the providers and statuses
   (3 % failed with a reason), 500 market agents' reports waiting for review;
4. creates an admin and a leader with `smsgw users add` (password on standard input);
5. starts `smsgw serve` (gunicorn, 2 workers x 4 threads, as `make run`);
6. logs in as the admin, then finds the pages to time by following the console's own links
   from every page of the menu (one URL per shape: /console/contacts/123 and
   /console/contacts/456 are one shape), plus a few searches and filters;
7. per URL: the time of its first answer (cold: the overview counts past days once and
   keeps them for an hour), then --warmup requests, then --requests sequential requests on
   one keep-alive connection; p50, p95 and the slowest; then the same for the leader;
8. prints a table, and writes JSON to bench/results/console_load.json.

Exit 0 when every request answered 200 and every p95 is under --target ms; 1 otherwise.

    .venv/bin/python bench/console_load.py                 # 100,000 contacts
    .venv/bin/python bench/console_load.py --contacts 10000 --requests 20
"""

from __future__ import annotations

import argparse
import html.parser
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "bench password 1"  # noqa: S105 - a throw-away database
PROVIDERS = ("africastalking", "twilio", "android", "local")


def _smsgw() -> str:
    return str(Path(sys.executable).parent / "smsgw")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed(path: Path, contacts: int, rng: random.Random) -> dict[str, int]:
    """Fill the database as a national deployment's would be after a month."""
    conn = sqlite3.connect(path)
    now = datetime.now(UTC)
    markets = [row[0] for row in conn.execute("SELECT id FROM markets")]
    commodities = [row[0] for row in conn.execute(
        "SELECT name FROM commodities LIMIT 30")] or ["Maize"]
    with conn:
        conn.executemany(
            "INSERT INTO contacts (phone, language, opted_out, created_at, updated_at,"
            " home_market_id) VALUES (?, ?, ?, ?, ?, ?)",
            ((f"+2547{10_000_000 + i:08d}", "sw" if i % 3 == 0 else "en", int(i % 50 == 0),
              _iso(now - timedelta(days=rng.randrange(400))), _iso(now),
              rng.choice(markets) if i % 2 else None) for i in range(contacts)))
        ids = [row[0] for row in conn.execute("SELECT id FROM contacts ORDER BY id")]
        conn.executemany(
            "INSERT OR IGNORE INTO subscriptions (contact_id, commodity, market_id, created_at)"
            " VALUES (?, ?, ?, ?)",
            ((cid, rng.choice(commodities), rng.choice(markets), _iso(now))
             for cid in ids if rng.random() < 0.6))
        for g in range(50):
            cursor = conn.execute(
                "INSERT INTO groups (code, name, market_id, created_at) VALUES (?, ?, ?, ?)",
                (f"G{g:02d}", f"Group {g}", rng.choice(markets), _iso(now)))
            gid = cursor.lastrowid
            conn.execute("INSERT INTO group_products (group_id, product) VALUES (?, 'MAIZE')",
                         (gid,))
            share = ids[g * 1000:(g + 1) * 1000]
            conn.executemany(
                "INSERT INTO memberships (group_id, contact_id, role, status, joined_at)"
                " VALUES (?, ?, ?, 'active', ?)",
                ((gid, cid, "leader" if k < 2 else "member", _iso(now))
                 for k, cid in enumerate(share)))
        buyer = ids[-1]
        conn.execute("INSERT INTO roles (contact_id, role, name, created_at)"
                     " VALUES (?, 'buyer', 'Bench Millers', ?)", (buyer, _iso(now)))
        for o in range(20):
            cursor = conn.execute(
                "INSERT INTO orders (code, buyer_id, product, quantity, unit, deliver_by,"
                " status, pledged, created_at) VALUES (?, ?, 'MAIZE', 1000, 'bags', ?, 'open',"
                " 0, ?)", (f"B{o:03d}X", buyer, (now + timedelta(days=10)).date().isoformat(),
                           _iso(now)))
            oid = cursor.lastrowid
            total = 0.0
            for g in range(5):
                gid = 1 + (o + g) % 50
                members = ids[(gid - 1) * 1000 + 2:(gid - 1) * 1000 + 42]
                conn.executemany(
                    "INSERT INTO pledges (order_id, contact_id, group_id, quantity, created_at,"
                    " updated_at) VALUES (?, ?, ?, 3, ?, ?)",
                    ((oid, cid, gid, _iso(now), _iso(now)) for cid in members))
                conn.execute("INSERT INTO order_relays (order_id, group_id, relayed_at, pledged)"
                             " VALUES (?, ?, ?, ?)", (oid, gid, _iso(now), 3.0 * len(members)))
                total += 3.0 * len(members)
            conn.execute("UPDATE orders SET pledged = ? WHERE id = ?", (total, oid))
        inbound_rows, outbox_rows = [], []
        for n, cid in enumerate(ids):
            at = now - timedelta(seconds=rng.randrange(30 * 86400))
            provider = PROVIDERS[n % len(PROVIDERS)]
            inbound_rows.append((provider, f"bench-{n}", cid, "PRICE MAIZE NAKURU", _iso(at)))
        conn.executemany(
            "INSERT INTO inbound (provider, provider_message_id, contact_id, text, received_at,"
            " outcome) VALUES (?, ?, ?, ?, ?, 'handled')", inbound_rows)
        for n, cid in enumerate(ids):
            provider = PROVIDERS[n % len(PROVIDERS)]
            for kind in ("reply", "bulletin"):
                at = now - timedelta(seconds=rng.randrange(30 * 86400))
                roll = rng.random()
                status, error = (("failed", "provider said: invalid destination")
                                 if roll < 0.03 else ("delivered", None))
                outbox_rows.append((cid, f"+2547{10_000_000 + n:08d}", "Maize KES 3,400/90kg",
                                    provider, kind, status, "GSM-7", 1, error, _iso(at),
                                    _iso(at)))
        conn.executemany(
            "INSERT INTO outbox (contact_id, to_number, text, provider, kind, status, encoding,"
            " segments, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            outbox_rows)
    counts = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
              for table in ("contacts", "subscriptions", "memberships", "pledges", "inbound",
                            "outbox", "prices")}
    conn.execute("ANALYZE")
    conn.close()
    return counts


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.links.append(href)


def _shape(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(sorted(key for key, _, _ in
                            (item.partition("=") for item in parts.query.split("&") if item)))
    return re.sub(r"/[^/]*\d[^/]*", "/N", parts.path) + ("?" + query if query else "")


FIRST: dict[str, float] = {}   # the first (cold) answer of each URL found, ms


def discover(session: requests.Session, base: str, start: list[str], limit: int) -> list[str]:
    """The console's pages, found by following its own links (one URL per shape); the time
    of each one's first answer, before any cache of the server's is warm, goes to FIRST."""
    seen_shapes: dict[str, str] = {}
    todo = list(start)
    while todo and len(seen_shapes) < limit:
        url = todo.pop(0)
        if not url.startswith("/console") or url.startswith("/console/static") \
                or "logout" in url or _shape(url) in seen_shapes:
            continue
        began = time.perf_counter()
        response = session.get(base + url)
        FIRST.setdefault(url, round((time.perf_counter() - began) * 1000, 1))
        if response.status_code != 200 or "text/html" not in response.headers.get(
                "Content-Type", ""):
            continue
        seen_shapes[_shape(url)] = url
        parser = _Links()
        parser.feed(response.text)
        todo.extend(urlsplit(urljoin(base + url, href)).path
                    + (("?" + urlsplit(href).query) if urlsplit(href).query else "")
                    for href in parser.links)
    return list(seen_shapes.values())


def login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/console/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    done = session.post(f"{base}/console/login", data={
        "username": username, "password": PASSWORD, "csrf_token": token[1]},
        allow_redirects=False)
    if done.status_code != 302:
        raise RuntimeError(f"login as {username} failed: {done.status_code}")
    return session


def time_url(session: requests.Session, url: str, warmup: int, count: int) -> dict:
    for _ in range(warmup):
        session.get(url)
    times, bad = [], 0
    for _ in range(count):
        began = time.perf_counter()
        response = session.get(url)
        times.append((time.perf_counter() - began) * 1000)
        bad += response.status_code != 200
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "max_ms": round(times[-1], 1), "errors": bad, "requests": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--pages", type=int, default=40, help="most URL shapes to time")
    parser.add_argument("--target", type=float, default=200.0, help="p95 bound, ms")
    parser.add_argument("--prices", default=str(ROOT / "data" / "wfp_food_prices_ken.csv"))
    parser.add_argument("--output", default=str(ROOT / "bench" / "results"
                                                / "console_load.json"))
    args = parser.parse_args(argv)
    rng = random.Random(17)
    port = _free_port()
    base = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory(prefix="smsgw-console-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "config.toml"
        config.write_text("\n".join([
            "# written by bench/console_load.py; removed when it ends",
            "[app]", f'public_url = "{base}"',
            "[database]", f'path = "{folder / "bench.db"}"',
            "[server]", f'host = "{HOST}"', f"port = {port}",
            "[console]", "secure_cookies = false  # the benchmark talks plain http to loopback",
            "[logging]", 'level = "WARNING"', ""]), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGW_")}

        def smsgw(*command: str, stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> None:
            done = subprocess.run([_smsgw(), *command, "--config", str(config)], cwd=folder,
                                  env=env, input=stdin, capture_output=True, text=True,
                                  check=False)
            if done.returncode not in ok:
                raise RuntimeError(f"smsgw {' '.join(command)}: {done.returncode}\n"
                                   f"{done.stdout}{done.stderr}")

        began = time.perf_counter()
        smsgw("init")
        smsgw("import", "prices", args.prices, "--country", "KE", ok=(0, 1))
        counts = seed(folder / "bench.db", args.contacts, rng)
        smsgw("users", "add", "admin", "--role", "admin", stdin=PASSWORD + "\n")
        smsgw("users", "add", "leader", "--role", "leader", "--group", "G07",
              stdin=PASSWORD + "\n")
        print(f"seeded in {time.perf_counter() - began:.1f} s: {counts}", flush=True)
        log = (folder / "server.log").open("wb")
        server = subprocess.Popen([_smsgw(), "serve", "--config", str(config)], cwd=folder,
                                  env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
            admin = login(base, "admin")
            start = [re.sub(r"^https?://[^/]+", "", a) for a in _nav(admin, base)]
            start = ["/console/groups/G07",   # 1,000 members, orders with pledges
                     "/console/prices?c=Maize&m=Nakuru&m=Kisumu",
                     "/console/prices?c=Maize&area=admin1:Rift+Valley",
                     "/console/contacts?q=0042", "/console/messages?status=failed", *start]
            urls = discover(admin, base, start, args.pages)
            results = {}
            for url in urls:
                results[url] = time_url(admin, base + url, args.warmup, args.requests)
                results[url]["first_ms"] = FIRST.get(url)
                print(f"{url:<60} first {FIRST.get(url, 0):>7} ms  p50 {results[url]['p50_ms']:>7} ms  p95"
                      f" {results[url]['p95_ms']:>7} ms  max {results[url]['max_ms']:>7} ms"
                      f"  errors {results[url]['errors']}", flush=True)
            leader = login(base, "leader")
            for url in discover(leader, base, ["/console/"], 10):
                key = f"leader {url}"
                results[key] = time_url(leader, base + url, args.warmup, args.requests)
                print(f"{key:<60} p50 {results[key]['p50_ms']:>7} ms  p95"
                      f" {results[key]['p95_ms']:>7} ms  max {results[key]['max_ms']:>7} ms"
                      f"  errors {results[key]['errors']}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
            log.close()
    worst = max(results.values(), key=lambda r: r["p95_ms"])
    ok = all(r["errors"] == 0 and r["p95_ms"] < args.target for r in results.values())
    print(f"{len(results)} pages; worst p95 {worst['p95_ms']} ms; target < {args.target} ms:"
          f" {'met' if ok else 'MISSED'}")
    Path(args.output).write_text(json.dumps({
        "contacts": args.contacts, "counts": counts, "requests_per_page": args.requests,
        "pages": results, "target_ms": args.target, "met": ok,
        "when": datetime.now(UTC).isoformat(timespec="seconds")}, indent=2) + "\n")
    return 0 if ok else 1


def _nav(session: requests.Session, base: str) -> list[str]:
    began = time.perf_counter()
    page = session.get(f"{base}/console/overview")   # the first page an admin sees: cold
    FIRST["/console/overview"] = round((time.perf_counter() - began) * 1000, 1)
    parser = _Links()
    parser.feed(page.text)
    return [href for href in parser.links if href.startswith("/console")]


if __name__ == "__main__":
    sys.exit(main())
