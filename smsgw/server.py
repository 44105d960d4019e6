"""Running the WSGI app under gunicorn (a production server), started from our own CLI."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from smsgw import config as configuration


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: configuration.Config, options: dict[str, Any]) -> None:
        self._config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from smsgw.app import create_app

        return create_app(self._config)


def run_server(config: configuration.Config, *, host: str | None = None,
               port: int | None = None) -> None:
    """Serve the app until stopped; the database is migrated once, before workers fork."""
    bind = f"{host or config['server.host']}:{port or config['server.port']}"
    options = {
        "bind": bind,
        "workers": config["server.workers"],
        "threads": config["server.threads"],
        "worker_class": "gthread",
        "preload_app": True,   # create_app (and its migration) runs once, in the master
        "accesslog": None,     # gunicorn's access log would print AT's ?token= secrets
        "errorlog": "-",
        "timeout": 30,
        "keepalive": 5,
        "proc_name": "smsgw",
    }
    _Gunicorn(config, options).run()
