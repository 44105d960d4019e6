"""Shared fixtures: a real SQLite file per test, the app on a test configuration, the Kenya
price data. Helpers and constants are in support.py (imported); fixtures are never imported."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any
from datetime import UTC, datetime
from pathlib import Path
import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import Clock, make_config

import db
from smsgw import config as configuration
from smsgw.app import create_app


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


@pytest.fixture
def config(tmp_path: Path) -> configuration.Config:
    return make_config(tmp_path)


@pytest.fixture
def app(config: configuration.Config, clock: Clock) -> Flask:
    return create_app(config, clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def conn(config: configuration.Config, app: Flask) -> Iterator[sqlite3.Connection]:
    connection = db.connect(config["database.path"])
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def kenya_db(tmp_path_factory) -> Path:
    """A database with the WFP Kenya price file imported, built once per session; tests
    copy it."""
    from prices.catalog import load_aliases
    from prices.importer import import_prices

    path = tmp_path_factory.mktemp("kenya") / "kenya.db"
    connection = db.connect(path)
    db.migrate(connection)
    with db.transaction(connection):
        load_aliases(connection)
    import_prices(connection, Path(__file__).resolve().parent.parent / "data"
                  / "wfp_food_prices_ken.csv", country="KE")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


@pytest.fixture(scope="session")
def ghana_db(tmp_path_factory) -> Path:
    """A database with the synthetic Ghana sample (tests/data/README.md) imported as GH,
    built once per session; tests copy it."""
    from prices.catalog import load_aliases
    from prices.importer import import_prices

    path = tmp_path_factory.mktemp("ghana") / "ghana.db"
    connection = db.connect(path)
    db.migrate(connection)
    with db.transaction(connection):
        load_aliases(connection)
    import_prices(connection, Path(__file__).resolve().parent / "data"
                  / "wfp_food_prices_gha.csv", country="GH")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


# ------------------------------------------------------------------------- the web console


@pytest.fixture
def console_client(app: Flask) -> FlaskClient:
    """A test client for the console. Werkzeug's client sends the Secure session cookie over
    its http:// too; a test about HTTPS itself passes base_url="https://localhost"."""
    return app.test_client()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot work here);
    `make test` installs Chromium."""
    from playwright.sync_api import sync_playwright

    from support import CHROMIUM, CHROMIUM_ARGS

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served on a loopback port by a real threaded HTTP server; its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser page (its own cookies), at a laptop's width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
