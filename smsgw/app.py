"""The Flask application factory: it wires the parts together and does nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

import db
from db.timeutil import utcnow
from handlers.registry import build_menu, build_router
from handlers.router import Router
from handlers.ussd import Menu
from prices.catalog import load_aliases
from smsgw import config as configuration
from smsgw import console, logsafe, webhooks
from smsgw.context import Services, close_connection
from smsgw.gateway import Gateway
from smsgw.ussd_gateway import UssdGateway


def create_app(config: configuration.Config | None = None, *, router: Router | None = None,
               clock: Callable[[], datetime] = utcnow, menu: Menu | None = None) -> Flask:
    """Build the web application for a configuration (the defaults run offline)."""
    config = config or configuration.load()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config["server.max_request_bytes"]
    app.config["MAX_FORM_MEMORY_SIZE"] = config["server.max_request_bytes"]
    logsafe.setup(config["logging.level"], config.secrets())
    init_database(config)
    gateway = Gateway(config, router or build_router(), clock)
    ussd = UssdGateway(config, menu or build_menu(), clock)
    app.extensions["smsgw"] = Services(config, gateway, clock, ussd)
    app.teardown_appcontext(close_connection)
    webhooks.init_app(app)
    console.init_app(app)
    return app


def init_database(config: configuration.Config) -> list[str]:
    """Create or migrate the database file; return the steps applied."""
    conn = db.connect(config["database.path"])
    try:
        applied = db.migrate(conn)
        with db.transaction(conn):
            load_aliases(conn)  # the shipped names (MAHINDI, MAIS...); never removes any
        return applied
    finally:
        conn.close()
