-- The console's overview and its banner (issue 17): what the outbox worker and the providers'
-- phones last said about themselves, and indexes that let the banner, the overview and the
-- bulletins page read small ranges instead of whole tables.

-- One row per outbox worker process (host:pid). A worker writes it at most once a minute, and
-- when it goes idle after sending, in a small transaction of its own, so the console can say
-- "worker last seen 2 minutes ago". Rows of processes not seen for a day go at the next beat.
CREATE TABLE worker_heartbeats (
    worker TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    stopped_at TEXT,                         -- a clean stop; NULL while running (or killed)
    sent INTEGER NOT NULL DEFAULT 0,         -- messages providers accepted, since it started
    failed INTEGER NOT NULL DEFAULT 0        -- send attempts that failed (retried or final)
) WITHOUT ROWID;

-- What each provider did, minute by minute, as the worker saw it: sends accepted and send
-- attempts that failed. Written with the heartbeat (one row per provider and minute, only
-- for minutes with sends); kept 35 days. The banner's "no send for N minutes" and "failure
-- rate in the last hour" read a provider's last hour of it.
CREATE TABLE provider_minutes (
    provider TEXT NOT NULL,
    minute TEXT NOT NULL,                    -- the minute's start (UTC, as iso())
    sent INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    last_sent_at TEXT,                       -- the last accepted send in that minute
    last_error TEXT,                         -- the last failure's text (secrets and numbers
                                             -- already masked, as in the outbox)
    PRIMARY KEY (provider, minute)
) WITHOUT ROWID;

-- The last health reading of each device a provider reports on: the Android app's
-- system:ping webhook (at the interval set in the app), or `smsgw android check`. The
-- console shows it; it never calls a phone itself.
CREATE TABLE provider_health (
    provider TEXT NOT NULL,
    device TEXT NOT NULL,                    -- the phone's name in the settings
    reported_at TEXT NOT NULL,
    source TEXT NOT NULL,                    -- ping | check
    status TEXT NOT NULL,                    -- the app's own verdict: pass | warn | fail | ?
    battery INTEGER,                         -- percent
    charging INTEGER,                        -- the app's flags: 1 charging, 2 AC, 4 USB
    transport INTEGER,                       -- flags: 2 cellular, 4 Wi-Fi, 8 Ethernet
    cellular INTEGER,                        -- 2..5: 2G..5G (the app reports no signal strength)
    internet INTEGER,                        -- 1: a validated internet connection
    failed_last_hour INTEGER,                -- SMS the phone failed to send in its last hour
    version TEXT,                            -- the app's version
    PRIMARY KEY (provider, device)
) WITHOUT ROWID;

-- Messages waiting, by provider (the banner on every page). Like outbox_due it holds only
-- queued and sending rows, so a reply answered inline never touches it: it costs an index
-- write when the worker's messages are queued, claimed and sent, which happen at a
-- provider's rate, not at the gateway's.
CREATE INDEX outbox_waiting ON outbox (provider, status, next_attempt_at)
    WHERE status IN ('queued', 'sending');

-- How each bulletin run's messages ended, counted from the index alone (a run of 100,000
-- messages read 100,000 rows before). Only bulletin rows are in it.
DROP INDEX outbox_bulletin;
CREATE INDEX outbox_bulletin ON outbox (bulletin_run_id, status) WHERE bulletin_run_id IS NOT NULL;

-- Opt-outs, in total and by when: a few rows, written only when someone sends STOP.
CREATE INDEX contacts_opted_out ON contacts (opted_out_at) WHERE opted_out = 1;
