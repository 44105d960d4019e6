"""Phone numbers for the adapters: the functions live in handlers.phone (used by commands too)."""

from handlers.phone import InvalidNumber, display_phone, mask, parse_phone, to_e164

__all__ = ["InvalidNumber", "display_phone", "mask", "parse_phone", "to_e164"]
