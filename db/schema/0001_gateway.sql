-- Contacts, inbound messages, the outbox and provider status events.
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,              -- E.164
    language TEXT,                           -- en | sw | fr; NULL = the configured default
    opted_out INTEGER NOT NULL DEFAULT 0,
    opted_out_at TEXT,
    opt_out_source TEXT,                     -- keyword | provider
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE inbound (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    recipient TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL,                   -- handled | rate_limited | opted_out
    UNIQUE (provider, provider_message_id)
);
CREATE INDEX inbound_contact_time ON inbound (contact_id, received_at);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER REFERENCES contacts(id),
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,                      -- reply | optout_confirmation | ...
    status TEXT NOT NULL,
    encoding TEXT NOT NULL,
    segments INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    lease_until TEXT,
    provider_message_id TEXT,
    error TEXT,
    inbound_id INTEGER REFERENCES inbound(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_inbound ON outbox (inbound_id);
CREATE UNIQUE INDEX outbox_provider_message
    ON outbox (provider, provider_message_id) WHERE provider_message_id IS NOT NULL;

CREATE TABLE status_events (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER REFERENCES outbox(id),
    provider TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    provider_status TEXT NOT NULL,
    error_code TEXT,
    received_at TEXT NOT NULL
);
CREATE INDEX status_events_message ON status_events (provider, provider_message_id);
