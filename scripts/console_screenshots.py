#!/usr/bin/env python3
"""Regenerate the screenshots of docs/console.md: every console page, at a laptop's width
and at a phone's (360 px), on a demo database made by real traffic.

    .venv/bin/python scripts/console_screenshots.py          # writes docs/console/*.png

The demo: the WFP Kenya price file, a group with a leader and members who joined by SMS,
subscribers, a buyer's order with pledges, a failed message, and an admin and a leader
who log in. Everything goes through the service's own webhooks (the local provider) and
commands, in a temporary folder; Debian's Chromium, driven by Playwright, takes the
pictures. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "screenshots only"  # noqa: S105 - a throw-away database
TOKEN = "screenshots-token"  # noqa: S105
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
MEMBERS = [f"07110001{i:02d}" for i in range(1, 13)]


def demo(folder: Path):  # noqa: ANN201 - a Flask app
    """An app on a demo database filled by real traffic."""
    import db
    from db import contacts, outbox, users
    from db import groups as groups_db
    from prices.importer import import_prices
    from smsgw import config as configuration
    from smsgw import worker
    from smsgw.app import create_app
    from smsgw.console import passwords

    config = configuration.load(None, environ={}, overrides={
        "database.path": str(folder / "demo.db"), "providers.local.token": TOKEN,
        "console.secure_cookies": False, "logging.level": "WARNING"})
    app = create_app(config)
    conn = db.connect(config["database.path"])
    import_prices(conn, ROOT / "data" / "wfp_food_prices_ken.csv", country="KE")
    client = app.test_client()

    def sms(sender: str, text: str, n: list[int] = [0]) -> None:  # noqa: B006 - a counter
        n[0] += 1
        client.post("/webhooks/local/sms", headers={"Authorization": f"Bearer {TOKEN}"},
                    json={"from": sender, "to": "local", "text": text, "id": f"demo-{n[0]}"})

    now = datetime.now(UTC)
    with db.transaction(conn):
        market = conn.execute("SELECT id FROM markets WHERE name = 'Nakuru'").fetchone()
        group = groups_db.create(conn, code="KIMA", name="Kima maize growers",
                                 market_id=market[0] if market else None, region=None,
                                 products=["MAIZE", "BEANS"])
        leader = contacts.get_or_create(conn, "+254711000001")
        groups_db.set_member(conn, group.id, leader.id, role="leader")
        buyer = contacts.get_or_create(conn, "+254722000009")
        groups_db.set_role(conn, buyer.id, "buyer", "Rift Valley Millers")
        for role, name, group_id, contact in (("admin", "admin", None, None),
                                              ("leader", "wanjiku", group.id, leader.id)):
            users.add(conn, username=name, password_hash=passwords.hashed(PASSWORD, minimum=0),
                      role=role, group_id=group_id, contact_id=contact, now=now)
    for number in MEMBERS:
        sms(number, "JOIN KIMA")
        sms(number, "SUB MAIZE NAKURU")
    sms(MEMBERS[0], "PRICE MAIZE NAKURU")
    sms(MEMBERS[1], "BEI MAHINDI NAKURU")
    sms(MEMBERS[2], "PRICE BEANS ELDORET")
    sms(MEMBERS[3], "STOP")
    sms("+254722000009", "ORDER 200 BAGS MAIZE GRADE 1 @3400 BY 2026-12-20 AT NAKURU")
    code = conn.execute("SELECT code FROM orders ORDER BY id DESC").fetchone()
    if code:
        sms("+254711000001", f"FWD {code[0]}")
        for number, bags in zip(MEMBERS[4:9], (20, 35, 10, 40, 15), strict=True):
            sms(number, f"OFFER {code[0]} {bags}")
    # The worker sends what is queued (the local provider: nothing leaves the machine), and
    # one message fails, as a provider's refusal would.
    with db.transaction(conn):
        queued = conn.execute("SELECT id FROM outbox WHERE status = 'queued'"
                              " ORDER BY id DESC LIMIT 1").fetchone()
        if queued:
            outbox.mark_final(conn, queued[0], outbox.OutboxStatus.FAILED,
                              error="provider said: 21610 unsubscribed recipient", now=now)
    runner = worker.Worker(config, worker.build_senders(config))
    while runner.run_once(conn):
        pass
    conn.close()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "console"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smsgw-shots-") as tmp:
        app = demo(Path(tmp))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        shots = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for width, suffix in ((1280, ""), (360, "-phone")):
                    for user, pages in (("admin", ADMIN_PAGES), ("wanjiku", LEADER_PAGES)):
                        height = 900 if width > 400 else 780
                        context = browser.new_context(viewport={"width": width,
                                                                "height": height})
                        page = context.new_page()
                        page.goto(f"{base}/console/login")
                        page.get_by_label("Username").fill(user)
                        page.get_by_label("Password").fill(PASSWORD)
                        page.get_by_role("button", name="Log in").click()
                        page.wait_for_url(lambda url: "/login" not in url)
                        for name, path, action in pages:
                            page.goto(base + path)
                            if action:
                                action(page)
                            page.wait_for_load_state("networkidle")
                            target = out / f"{name}{suffix}.png"
                            page.screenshot(path=str(target))
                            shots.append(target)
                        context.close()
                browser.close()
        finally:
            server.shutdown()
    for shot in shots:
        print(shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot)
    return 0


def _simulate(page) -> None:  # noqa: ANN001
    """Two SMS from the simulator's phone, so the picture shows a conversation."""
    page.get_by_label("Act as the number").fill("0799000033")
    page.get_by_role("button", name="Use this number").click()
    for text in ("PRICE MAIZE NAKURU", "BEI MAHARAGWE ELDORET"):
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_role("button", name="Send").first.click()
        page.get_by_text(text).first.wait_for()


ADMIN_PAGES = [
    ("overview", "/console/overview", None),
    ("messages", "/console/messages", None),
    ("prices", "/console/prices?c=Maize&m=Nakuru&m=Kisumu", None),
    ("prices-import", "/console/prices/import", None),
    ("prices-review", "/console/prices/reviews", None),
    ("contacts", "/console/contacts", None),
    ("groups", "/console/groups", None),
    ("group", "/console/groups/KIMA", None),
    ("bulletins", "/console/bulletins", None),
    ("simulator", "/console/simulator", _simulate),
]
LEADER_PAGES = [("leader-group", "/console/groups/KIMA", None)]


if __name__ == "__main__":
    sys.exit(main())
