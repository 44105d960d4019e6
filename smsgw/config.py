"""Settings, declared once as data: name, type, default, help (the datasette way).

Where a value comes from, in order: an environment variable `SMSGW_<SECTION>_<KEY>`
(dots and nothing else become underscores: `providers.local.token` is
`SMSGW_PROVIDERS_LOCAL_TOKEN`), the TOML file, the built-in default. The file is
the one named by `--config`, else by `SMSGW_CONFIG`, else `./config.toml` if present; with
none of them the built-in defaults run everything offline with the local provider.
"""

from __future__ import annotations

import os
from dataclasses import replace
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from prices.review import OUTLIER_FACTOR
from smsgw.providers import PROVIDERS, Provider
from smsgw.settings import ConfigError, Setting

__all__ = ["SETTINGS", "Config", "ConfigError", "Setting", "load"]

LANGUAGES = ("en", "sw", "fr")


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("app.public_url", str, "http://localhost:8000",
            "The URL providers call; their signatures are checked against it"),
    Setting("app.default_region", str, "KE", "Country for numbers written without a country code"),
    Setting("app.default_language", str, "en", "Reply language for new contacts: en, sw or fr"),
    Setting("app.timezone", str, "Africa/Nairobi", "Time zone for dates in replies and schedules"),
    Setting("countries", dict, {},
            "The countries served, one [countries.XX] table each (XX: ISO code), which may"
            " set timezone, currency, quiet_hours and language; none = app.default_region"
            " alone, on the settings below",
            fields=(Setting("timezone", str, "", "IANA time zone (Africa/Accra)"),
                    Setting("currency", str, "", "ISO 4217 currency (GHS)"),
                    Setting("quiet_hours", str, "", "HH:MM-HH:MM, local; empty = none"),
                    Setting("language", str, "", "New contacts' language: en, sw or fr"))),
    Setting("database.path", str, "var/smsgw.db", "The SQLite file (created on first use)"),
    Setting("server.host", str, "127.0.0.1", "Address the web server listens on"),
    Setting("server.port", int, 8000, "Port the web server listens on"),
    Setting("server.workers", int, 2, "Web server worker processes"),
    Setting("server.threads", int, 4, "Threads per web server worker"),
    Setting("server.max_request_bytes", int, 65536, "Larger request bodies get 413"),
    Setting("providers.default", str, "local",
            "Where outbound messages go: the name of a provider (smsgw/providers)"),
    Setting("limits.sender_messages", int, 30,
            "Messages one phone may send per window before replies pause"),
    Setting("limits.sender_window_seconds", int, 3600, "The window for limits.sender_messages"),
    Setting("limits.confirm_above_segments", int, 30,
            "A message that would send more SMS segments than this to other people (a BCAST,"
            " an ORDER's relays) waits for the sender's YES, after showing the count and cost"),
    Setting("limits.confirm_minutes", int, 10, "How long that YES may take"),
    Setting("limits.caused_segments_per_hour", int, 1000,
            "Most SMS segments one sender's messages may send to other people in an hour"),
    Setting("limits.broadcast_max_chars", int, 306,
            "Longest BCAST text (306 = two GSM-7 SMS parts)"),
    Setting("limits.broadcasts_per_hour", int, 3, "Most BCASTs one leader may send in an hour"),
    Setting("limits.orders_per_day", int, 20, "Most ORDERs one buyer may post in a day"),
    Setting("worker.batch_size", int, 50, "Messages the worker claims at a time"),
    Setting("worker.poll_seconds", float, 0.5, "How long the idle worker waits between looks"),
    Setting("worker.lease_seconds", int, 60,
            "A claimed message not confirmed within this is claimed again"),
    Setting("worker.max_attempts", int, 6, "Sends tried before a message is failed"),
    Setting("worker.backoff_seconds", float, 5.0, "First retry delay; doubles each attempt"),
    Setting("worker.backoff_max_seconds", float, 900.0, "Longest retry delay"),
    Setting("prices.stale_days", int, 60,
            "A price older than this many days is answered with its age"),
    Setting("prices.outlier_factor", float, OUTLIER_FACTOR,
            "An imported or reported price more than this many times, or less than 1/this"
            " of, its series' median of the last 12 prices waits for review", minimum=2),
    Setting("prices.best_days", int, 62,
            "\"Best markets\" (PRICE without a market) lists only prices from the last this"
            " many days", minimum=1),
    Setting("bulletins.prices_schedule", str, "0 7 * * mon",
            "When the price bulletin goes out: a cron expression (minute hour day month"
            " weekday) in app.timezone; empty = only by `smsgw bulletins send`"),
    Setting("bulletins.standards_schedule", str, "0 * * * *",
            "When the worker looks for new versions of standards to announce; empty = never"),
    Setting("bulletins.quiet_hours", str, "20:00-07:00",
            "Local time window (HH:MM-HH:MM) in which no bulletin, notice or broadcast is"
            " sent; they wait for it to end. Empty = none"),
    Setting("bulletins.catch_up_days", int, 7,
            "A scheduled run missed (machine off) in this many days is run once at start-up"),
    Setting("bulletins.batch_size", int, 1000, "Subscribers composed and queued per transaction"),
    Setting("bulletins.max_subscriptions", int, 5, "Most commodities one contact may follow"),
    Setting("bulletins.cost_per_segment", float, 0.0,
            "Price of one SMS segment, for the dry run's cost estimate (0 = unknown)"),
    Setting("bulletins.cost_currency", str, "KES", "Currency of bulletins.cost_per_segment"),
    Setting("ussd.screen_chars", int, 182,
            "Most GSM-7 characters on one USSD screen: 182 at most; lower it where an operator"
            " cuts screens shorter"),
    Setting("ussd.session_timeout_seconds", int, 300,
            "A USSD session quiet for longer than this is over; a late request gets END"),
    Setting("ussd.keep_days", int, 30,
            "USSD sessions and their answers are deleted this many days after their last hop"),
    Setting("ussd.service_codes", str, "",
            "USSD codes we answer, comma-separated (e.g. *384*1234#); empty = any; others get 400"),
    Setting("orders.currency", str, "KES", "Currency of an order's @price when none is written"),
    Setting("orders.default_days", int, 14,
            "An order, pool or supplier's offer without BY closes this many days later"),
    Setting("orders.relay_radius_km", float, 150.0,
            "Groups whose market is within this distance of the order's place get it"),
    Setting("orders.update_minutes", int, 30,
            "How often buyers and leaders hear how offers and pools stand (batched, not per"
            " offer); pools past their date close then too"),
    Setting("listings.default_days", int, 14,
            "A SELL without BY is open this many days", minimum=1),
    Setting("listings.digest_minutes", int, 60,
            "How often buyers who follow a product (WANT) get one SMS of the new sales near"
            " them, however many came; leaders of group sales hear of pledges as often",
            minimum=1),
    Setting("console.secret_key", str, "",
            "Signs the console's session cookies; empty = a random key made on first start"
            " and kept in the database", secret=True),
    Setting("console.secure_cookies", bool, True,
            "Session cookies only over HTTPS (and http://localhost); false only on a trusted"
            " network served over plain HTTP"),
    Setting("console.session_hours", int, 12, "A console login lasts this long", minimum=1),
    Setting("console.login_attempts", int, 5,
            "Failed logins for one username in console.login_window_minutes before it must"
            " wait (four times as many from one address)", minimum=1),
    Setting("console.login_window_minutes", int, 15, "The window of console.login_attempts",
            minimum=1),
    Setting("console.password_min_chars", int, 10, "Shortest console password", minimum=8),
    Setting("console.max_upload_bytes", int, 50_000_000,
            "Largest price file imported through the console", minimum=1),
    Setting("console.alert_minutes", int, 30,
            "The banner on every console page names a provider that has had no message"
            " accepted for this many minutes while messages wait for it", minimum=1),
    Setting("console.alert_failure_rate", float, 0.25,
            "The banner also names a provider whose failed share of send attempts in the last"
            " hour is above this (0.25 = a quarter), once it has made at least 10; 1 = never",
            minimum=0),
    Setting("backup.folder", str, "",
            "Where the worker keeps dated backups of the database on backup.schedule (a"
            " USB disk's folder, say); empty = no scheduled backups"),
    Setting("backup.schedule", str, "15 2 * * *",
            "When the worker takes a backup: a cron expression in app.timezone"),
    Setting("backup.keep", int, 14, "How many scheduled backups to keep (the oldest go)",
            minimum=1),
    Setting("retention.message_days", int, 180,
            "Message texts older than this many days are emptied (counts are kept) by"
            " `smsgw prune` and its schedule; 0 = keep forever"),
    Setting("retention.prune_schedule", str, "30 3 * * *",
            "When the worker prunes old message texts: a cron expression in app.timezone;"
            " empty = never (only by `smsgw prune`)"),
    Setting("logging.level", str, "INFO", "DEBUG, INFO, WARNING or ERROR"),
)


def all_settings(providers: Sequence[Provider] = PROVIDERS) -> tuple[Setting, ...]:
    """The core settings and those each provider declares, in one table."""
    return CORE_SETTINGS + tuple(s for provider in providers for s in provider.settings)


SETTINGS = all_settings()   # with every registered provider (docs, tests)


class Config(Mapping[str, Any]):
    """Validated settings, read as `config["database.path"]`."""

    def __init__(self, values: Mapping[str, Any], source: str,
                 providers: Sequence[Provider] = PROVIDERS) -> None:
        self._values = dict(values)
        self.source = source
        self.providers = tuple(providers)
        self.provider_names = tuple(provider.name for provider in self.providers)
        self.settings = all_settings(self.providers)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def provider_enabled(self, name: str) -> bool:
        """Whether a provider's webhooks are accepted and it can send."""
        if name not in self.provider_names:
            return False
        return bool(self[f"providers.{name}.enabled"]) or self["providers.default"] == name

    def secrets(self) -> list[str]:
        """Every secret value set, so logging can redact them (those inside tables too)."""
        found = [str(self[s.key]) for s in self.settings if s.secret and self[s.key]]
        for setting in self.settings:
            for table in (self[setting.key] or {}).values() if setting.is_table else ():
                found += [str(table[f.key]) for f in setting.fields
                          if f.secret and table.get(f.key)]
        return found

    def redacted(self) -> dict[str, Any]:
        """The settings with secrets masked, for display."""
        return {s.key: _redact_tables(s, self[s.key]) if s.is_table else
                ("***" if s.secret and self[s.key] else self[s.key]) for s in self.settings}


def _redact_tables(setting: Setting, tables: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    secret = {f.key for f in setting.fields if f.secret}
    return {name: {key: ("***" if key in secret and value else value)
                   for key, value in table.items()} for name, table in tables.items()}


def _flatten(table: Mapping[str, Any], known: Mapping[str, Setting],
             prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and key not in known:
            flat.update(_flatten(value, known, key + "."))
        else:
            flat[key] = value
    return flat


def _coerce_env(setting: Setting, raw: str) -> Any:
    if setting.is_table:   # a TOML inline table: {airtel = {url = "http://..."}}
        try:
            return _check_type(setting, tomllib.loads(f"value = {raw}")["value"], setting.env)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{setting.env}: expected a TOML inline table ({exc})") from None
    if setting.type is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{setting.env}: expected true or false, got {raw!r}")
    try:
        return setting.type(raw)
    except ValueError:
        raise ConfigError(f"{setting.env}: expected {setting.type.__name__}, got {raw!r}") from None


def _check_type(setting: Setting, value: Any, where: str) -> Any:
    if setting.is_table:
        return _check_tables(setting, value, where)
    expected = setting.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise ConfigError(
            f"{where}: {setting.key} must be {expected.__name__}, got {type(value).__name__}"
        )
    return value


def _check_tables(setting: Setting, value: Any, where: str) -> dict[str, dict[str, Any]]:
    """A table of named tables: each name a table holding only the declared fields."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {setting.key} must be a table of named tables"
                          f" ([{setting.key}.NAME])")
    fields = {f.key: f for f in setting.fields}
    tables: dict[str, dict[str, Any]] = {}
    for name, table in value.items():
        at = f"{setting.key}.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {at} must be a table ([{at}])")
        checked = {}
        for key, item in table.items():
            if key not in fields:
                raise ConfigError(f"{where}: unknown setting {at}.{key!r}"
                                  f" (known: {', '.join(fields)})")
            checked[key] = _check_type(replace(fields[key], key=f"{at}.{key}"), item, where)
            minimum = fields[key].minimum
            if minimum is not None and checked[key] < minimum:
                raise ConfigError(f"{at}.{key} must be at least {minimum:g}")
        tables[str(name)] = checked
    return tables


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """The config file to read: --config, else SMSGW_CONFIG, else ./config.toml if present."""
    named = explicit or environ.get("SMSGW_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    local = Path("config.toml")
    return local if local.is_file() else None


def load(explicit: str | None = None, *, environ: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None,
         providers: Sequence[Provider] = PROVIDERS) -> Config:
    """Read, merge and validate the configuration; raise ConfigError naming the bad key.

    `providers` are the ones this deployment knows (smsgw.providers.PROVIDERS): their
    settings are the only provider settings accepted.
    """
    environ = os.environ if environ is None else environ
    settings = all_settings(providers)
    known = {setting.key: setting for setting in settings}
    path = find_config_file(explicit, environ)
    file_values: dict[str, Any] = {}
    if path is not None:
        try:
            file_values = _flatten(tomllib.loads(path.read_text(encoding="utf-8")), known)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    where = str(path) if path else "built-in defaults"
    values: dict[str, Any] = {}
    for key, value in {**file_values, **(overrides or {})}.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        values[key] = _check_type(known[key], value, where)
    for setting in settings:
        if setting.env in environ:
            values[setting.key] = _coerce_env(setting, environ[setting.env])
        values.setdefault(setting.key, setting.default)
    config = Config(values, where, providers)
    validate(config)
    return config


def validate(config: Config) -> None:
    """Check values that have a type but also a range or a fixed set of choices."""
    if config["providers.default"] not in config.provider_names:
        raise ConfigError(f"providers.default must be one of {', '.join(config.provider_names)}")
    if config["app.default_language"] not in LANGUAGES:
        raise ConfigError(f"app.default_language must be one of {', '.join(LANGUAGES)}")
    if config["app.default_region"] not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"app.default_region: unknown region {config['app.default_region']!r}")
    try:
        ZoneInfo(config["app.timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"app.timezone: unknown time zone {config['app.timezone']!r}") from None
    if not str(config["app.public_url"]).startswith(("http://", "https://")):
        raise ConfigError("app.public_url must start with http:// or https://")
    for key in ("server.port", "server.workers", "server.threads", "worker.batch_size",
                "worker.max_attempts", "limits.sender_messages",
                "bulletins.batch_size", "bulletins.max_subscriptions", "orders.default_days",
                "orders.update_minutes", "limits.confirm_minutes",
                "limits.caused_segments_per_hour", "limits.broadcast_max_chars",
                "limits.broadcasts_per_hour", "limits.orders_per_day"):
        if config[key] < 1:
            raise ConfigError(f"{key} must be at least 1")
    if config["console.alert_failure_rate"] > 1:
        raise ConfigError("console.alert_failure_rate is a share of send attempts: 0 to 1")
    _validate_bulletins(config)
    _validate_retention(config)
    _validate_countries(config)
    if not 60 <= config["ussd.screen_chars"] <= 182:
        raise ConfigError("ussd.screen_chars must be between 60 and 182")
    for key in ("ussd.session_timeout_seconds", "ussd.keep_days"):
        if config[key] < 1:
            raise ConfigError(f"{key} must be at least 1")
    for setting in config.settings:
        if setting.minimum is not None and not setting.is_table and \
                config[setting.key] < setting.minimum:
            raise ConfigError(f"{setting.key} must be at least {setting.minimum:g}")
    for provider in config.providers:
        _validate_provider(config, provider)


def _validate_provider(config: Config, provider: Provider) -> None:
    if config.provider_enabled(provider.name):
        for key in provider.required:
            if not config[key]:
                raise ConfigError(f"{key} is required when {provider.name} is enabled"
                                  f" (set it in the config file or in"
                                  f" SMSGW_{key.replace('.', '_').upper()})")
    if provider.check is not None:
        provider.check(config)


def _validate_bulletins(config: Config) -> None:
    """The schedules (bulletins, prune, backup) are cron expressions; quiet hours a window."""
    from apscheduler.triggers.cron import CronTrigger

    from smsgw.quiet import BadQuietHours, QuietHours

    for key in ("bulletins.prices_schedule", "bulletins.standards_schedule",
                "retention.prune_schedule", "backup.schedule"):
        if config[key].strip():
            try:
                CronTrigger.from_crontab(config[key], timezone=ZoneInfo(config["app.timezone"]))
            except ValueError as exc:
                raise ConfigError(f"{key}: not a cron expression ({exc})") from None
    try:
        QuietHours.parse(config["bulletins.quiet_hours"], config["app.timezone"])
    except BadQuietHours as exc:
        raise ConfigError(f"bulletins.quiet_hours: {exc}") from None
    if config["bulletins.catch_up_days"] < 0 or config["bulletins.cost_per_segment"] < 0:
        raise ConfigError("bulletins.catch_up_days and bulletins.cost_per_segment must not be"
                          " negative")


def _validate_countries(config: Config) -> None:
    """Each [countries.XX]: a real region code, and its overrides valid like the defaults."""
    from prices import countries
    from smsgw.quiet import BadQuietHours, QuietHours

    for code in config["countries"]:
        if code.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"countries.{code}: not an ISO 3166 country code")
    for country in countries.served(config).values():
        at = f"countries.{country.code}"
        try:
            ZoneInfo(country.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{at}.timezone: unknown time zone {country.timezone!r}") from None
        try:
            QuietHours.parse(country.quiet_hours, country.timezone)
        except BadQuietHours as exc:
            raise ConfigError(f"{at}.quiet_hours: {exc}") from None
        if country.language not in LANGUAGES:
            raise ConfigError(f"{at}.language must be one of {', '.join(LANGUAGES)}")
        if len(country.currency) != 3 or not country.currency.isalpha():
            raise ConfigError(f"{at}.currency must be a 3-letter ISO 4217 code")


def _validate_retention(config: Config) -> None:
    if config["retention.message_days"] < 0:
        raise ConfigError("retention.message_days must not be negative (0 = keep forever)")

