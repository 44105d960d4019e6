"""Security hardening: Twilio is not configured with a URL it will never sign."""

from __future__ import annotations

import pytest

from conftest import make_config
from smsgw.config import ConfigError


# --------------------------------------------------------------------------- 6. Twilio URL


@pytest.mark.parametrize("url", ["http://gateway.example.com", "http://localhost:8000"])
def test_twilio_needs_an_https_public_url(tmp_path, url):
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, **{"app.public_url": url})
    assert "app.public_url" in str(error.value)
    assert "providers.twilio.allow_http" in str(error.value)


def test_twilio_default_public_url_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="providers.twilio.allow_http"):
        make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                 "providers.default": "twilio",
                                 "providers.twilio.enabled": False})


def test_http_is_allowed_for_a_local_tunnel_or_without_twilio(tmp_path):
    allowed = make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                       "providers.twilio.allow_http": True})
    assert allowed["providers.twilio.allow_http"] is True
    without = make_config(tmp_path, **{"app.public_url": "http://localhost:8000",
                                       "providers.twilio.enabled": False})
    assert not without.provider_enabled("twilio")
    assert make_config(tmp_path)["providers.twilio.allow_http"] is False
