"""The gateway: Flask webhooks, provider adapters, the outbox worker and the CLI."""
