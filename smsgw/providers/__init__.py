"""The providers, one module (or small package) each, registered in this one list.

Adding a provider means writing its module (see smsgw/providers/base.py for what it
declares) and adding it here; the config, the app and the worker read this list.
"""

from __future__ import annotations

from smsgw.providers import africastalking, android_sms, gammu_modem, local_sms, twilio_sms
from smsgw.providers.base import Provider

PROVIDERS: tuple[Provider, ...] = (
    local_sms.DECLARATION,
    twilio_sms.DECLARATION,
    africastalking.DECLARATION,
    android_sms.DECLARATION,
    gammu_modem.DECLARATION,
)
