"""No secret and no full phone number reaches a log line."""

from __future__ import annotations

import io
import logging

from support import AT_TOKEN, TWILIO_TOKEN, post_at, post_local

from smsgw import logsafe


def capture() -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    return stream, handler


def test_filter_redacts_secrets_numbers_and_tokens():
    redactor = logsafe.RedactingFilter([TWILIO_TOKEN, AT_TOKEN])
    line = redactor.redact(f"token {TWILIO_TOKEN} from +254722123456 and 0712 345 678 "
                           f"url /x?token={AT_TOKEN}&a=1 and ?token=guess")
    assert TWILIO_TOKEN not in line and AT_TOKEN not in line and "guess" not in line
    assert "722123456" not in line and "345 678" not in line and "0712345678" not in line
    assert "+254******456" in line


def test_everything_the_app_logs_is_redacted(app, client, config):
    stream, handler = capture()
    try:
        logsafe.setup("DEBUG", config.secrets())
        log = logging.getLogger("test")
        log.warning("leak attempt %s %s %s", TWILIO_TOKEN, config["providers.africastalking.api_key"],
                    "+254722123456")
        post_local(client, "HELP", msg_id="log-1", sender="+254733999888")
        post_local(client, "x", msg_id="log-2", sender="07")  # a 400 that logs its reason
        post_at(client, "/webhooks/africastalking/sms",
                {"id": "a1", "text": "HELP", "from": "+254722123456", "to": "21512"})
        try:
            raise ValueError(f"boom with {AT_TOKEN} for +254722123456")
        except ValueError:
            log.exception("failure")
    finally:
        logging.getLogger().removeHandler(handler)
    output = stream.getvalue()
    assert "local message from +254" in output  # the app did log the senders, masked
    for secret in (TWILIO_TOKEN, AT_TOKEN, config["providers.africastalking.api_key"],
                   "722123456", "733999888"):
        assert secret not in output, secret
