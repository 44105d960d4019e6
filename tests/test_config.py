"""Configuration: defaults run offline, every key is documented, errors name the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from smsgw import config as configuration
from smsgw.config import SETTINGS, ConfigError, load

ROOT = Path(__file__).resolve().parent.parent


def test_builtin_defaults_run_offline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load(None, environ={})
    assert config.source == "built-in defaults"
    assert config["providers.default"] == "local"
    assert not config.provider_enabled("twilio") and not config.provider_enabled("africastalking")


def test_example_config_mentions_and_parses_every_setting():
    text = (ROOT / "config.example.toml").read_text()
    flat = configuration._flatten(tomllib.loads(text), {s.key: s for s in SETTINGS})
    assert set(flat) == {s.key for s in SETTINGS}
    for setting in SETTINGS:
        assert setting.env in text, f"{setting.env} is not documented in config.example.toml"
    config = load(str(ROOT / "config.example.toml"), environ={})
    assert config["database.path"] == "var/smsgw.db"


def test_readme_names_the_environment_variables_for_secrets():
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        if setting.secret:
            assert setting.env in readme


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text,named", [
    ("[app]\npublic_urll = 'x'\n", "app.public_urll"),
    ("[providers.twilio]\ntoken = 'x'\n", "providers.twilio.token"),
    ("[nonsense]\na = 1\n", "nonsense.a"),
    ("[server]\nport = '8000'\n", "server.port must be int"),
    ("[providers.twilio]\nenabled = 'yes'\n", "providers.twilio.enabled must be bool"),
    ("[server]\nport = true\n", "server.port must be int"),
    ("[providers]\ndefault = 'sms'\n", "providers.default"),
    ("[app]\ntimezone = 'Mars/Olympus'\n", "app.timezone"),
    ("[app]\ndefault_language = 'de'\n", "app.default_language"),
    ("[app]\npublic_url = 'gateway.example.com'\n", "app.public_url"),
    ("[providers]\ndefault = 'twilio'\n", "providers.twilio.account_sid is required"),
    ("[providers.africastalking]\nenabled = true\napi_key = 'k'\n",
     "providers.africastalking.callback_token is required"),
    ("not toml at all [", "not valid TOML"),
])
def test_bad_config_stops_with_the_key_named(tmp_path, text, named):
    with pytest.raises(ConfigError) as error:
        load(write(tmp_path, text), environ={})
    assert named in str(error.value)


def test_missing_secret_message_names_the_environment_variable(tmp_path):
    with pytest.raises(ConfigError, match="SMSGW_PROVIDERS_TWILIO_AUTH_TOKEN"):
        load(write(tmp_path, "[providers.twilio]\nenabled = true\naccount_sid = 'AC1'\n"
                             "from_number = '+15005550006'\n"), environ={})


def test_secrets_can_come_from_the_environment(tmp_path):
    path = write(tmp_path, "[app]\npublic_url = 'https://gateway.example.com'\n"
                           "[providers]\ndefault = 'twilio'\n[providers.twilio]\n"
                           "from_number = '+15005550006'\n")
    environ = {"SMSGW_PROVIDERS_TWILIO_ACCOUNT_SID": "AC1",
               "SMSGW_PROVIDERS_TWILIO_AUTH_TOKEN": "tok", "SMSGW_SERVER_PORT": "9000"}
    config = load(path, environ=environ)
    assert config["providers.twilio.auth_token"] == "tok" and config["server.port"] == 9000
    assert config.redacted()["providers.twilio.auth_token"] == "***"
    with pytest.raises(ConfigError, match="SMSGW_SERVER_PORT"):
        load(path, environ=environ | {"SMSGW_SERVER_PORT": "eighty"})


def test_config_file_is_found_by_flag_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("[server]\nport = 8001\n")
    (tmp_path / "other.toml").write_text("[server]\nport = 8002\n")
    assert load(None, environ={})["server.port"] == 8001
    assert load(None, environ={"SMSGW_CONFIG": "other.toml"})["server.port"] == 8002
    assert load("other.toml", environ={"SMSGW_CONFIG": "config.toml"})["server.port"] == 8002
    with pytest.raises(ConfigError, match="not found"):
        load("missing.toml", environ={})


def test_every_setting_has_help_and_a_valid_env_name():
    for setting in SETTINGS:
        assert setting.help and re.fullmatch(r"SMSGW_[A-Z0-9_]+", setting.env)


def test_countries_default_to_the_one_region_and_inherit_what_they_leave_out(tmp_path):
    from prices import countries

    assert list(countries.served(load(None, environ={}))) == ["KE"]
    path = tmp_path / "c.toml"
    path.write_text('[countries.KE]\n[countries.GH]\ntimezone = "Africa/Accra"\n'
                    'currency = "GHS"\n')
    config = load(str(path), environ={})
    ghana = countries.served(config)["GH"]
    assert (ghana.timezone, ghana.currency, ghana.quiet_hours) == \
        ("Africa/Accra", "GHS", config["bulletins.quiet_hours"])
    assert countries.only(config) is None
    assert countries.of_number(config, "+233201234567") == "GH"
    assert countries.of_number(config, "+256772123456") is None   # Uganda: not served


@pytest.mark.parametrize("table, named", [
    ('[countries.XX]', "countries.XX: not an ISO"),
    ('[countries.GH]\ntimezone = "Mars/Olympus"', "countries.GH.timezone"),
    ('[countries.GH]\nquiet_hours = "25:00-07:00"', "countries.GH.quiet_hours"),
    ('[countries.GH]\ncurrency = 5', "countries.GH"),   # wrong type
    ('[countries.GH]\ntz = "Africa/Accra"', "unknown setting countries.GH.'tz'"),
    ('countries = 3', "must be a table"),
])
def test_a_bad_country_table_stops_start_up_naming_it(tmp_path, table, named):
    path = tmp_path / "c.toml"
    path.write_text(table + "\n")
    with pytest.raises(ConfigError, match=re.escape(named)):
        load(str(path), environ={})


def test_countries_from_the_environment_as_an_inline_table():
    config = load(None, environ={"SMSGW_COUNTRIES": '{UG = {currency = "UGX"}}'})
    assert config["countries"] == {"UG": {"currency": "UGX"}}
    with pytest.raises(ConfigError, match="SMSGW_COUNTRIES"):
        load(None, environ={"SMSGW_COUNTRIES": "{UG = "})
