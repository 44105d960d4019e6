-- USSD sessions (Africa's Talking), the screen answered for every hop, and session ends.
-- AT sends the whole input so far (`1*2*NAKURU`) on every hop; `last_text` is the input
-- the stored `state` (JSON: screen, its parameters, the numbers shown, the way back)
-- answers, so the next hop's new input is what follows it, `*` and all.
CREATE TABLE ussd_sessions (
    session_id TEXT PRIMARY KEY,             -- AT's sessionId (ATUid_...)
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    service_code TEXT NOT NULL DEFAULT '',   -- *384*1234#
    network_code TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,                     -- JSON, written by handlers.ussd
    last_text TEXT NOT NULL,
    hops INTEGER NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,        -- 1 once we answered END
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    end_status TEXT,                         -- from the events callback: Success | Incomplete | Failed
    end_reported_at TEXT
);
CREATE INDEX ussd_sessions_contact ON ussd_sessions (contact_id, updated_at);
CREATE INDEX ussd_sessions_updated ON ussd_sessions (updated_at);

-- Every answered hop: a repeated request (same session, same text) gets the same screen
-- back, and nothing it did (a registration, an SMS) happens twice.
CREATE TABLE ussd_hops (
    session_id TEXT NOT NULL REFERENCES ussd_sessions(session_id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    screen TEXT NOT NULL,                    -- what the screen said (without CON / END)
    ends INTEGER NOT NULL,                   -- 1: it closed the session (END)
    answered_at TEXT NOT NULL,
    PRIMARY KEY (session_id, text)
) WITHOUT ROWID;

-- Session-end notifications (the USSD "events" callback), one per session.
CREATE TABLE ussd_events (
    session_id TEXT PRIMARY KEY,
    phone TEXT NOT NULL DEFAULT '',          -- E.164 when it parsed, else as sent
    service_code TEXT NOT NULL DEFAULT '',
    network_code TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,                    -- Success | Incomplete | Failed (others kept as sent)
    cost TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER,
    hops_count INTEGER,
    input TEXT NOT NULL DEFAULT '',
    last_app_response TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    reported_date TEXT NOT NULL DEFAULT '',  -- AT's `date`, as sent
    received_at TEXT NOT NULL
);

-- SMS the menu sends are held to the per-sender limit; only those rows are indexed.
CREATE INDEX outbox_ussd_contact ON outbox (contact_id, created_at) WHERE kind = 'ussd';
