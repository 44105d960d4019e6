-- Subscriptions (SUB / UNSUB / MY) and the ledger that makes every bulletin run idempotent.

-- What a contact follows: a commodity (as the folded phrase it matched, e.g. MAIZE for
-- every maize, MAIZE WHITE for one kind), at one market or, with market_id NULL, at the
-- contact's home market (REG) or else where it sells best. STOP leaves these rows alone,
-- so START restores them; UNSUB deletes them.
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    commodity TEXT NOT NULL,
    market_id INTEGER REFERENCES markets(id),
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_key
    ON subscriptions (contact_id, commodity, IFNULL(market_id, 0));
CREATE INDEX subscriptions_commodity ON subscriptions (commodity);

-- One row per bulletin run. run_key names what is sent, so the same bulletin can never
-- be run twice as two different runs: prices:2026-11-23 (one price bulletin per day),
-- standard:MAIZE:2024-06 (one notice per new version of a standard).
CREATE TABLE bulletin_runs (
    id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                      -- prices | standard
    trigger TEXT NOT NULL,                   -- schedule | catch-up | cli
    started_at TEXT NOT NULL,
    finished_at TEXT,                        -- NULL: running, or stopped half way (run again)
    queued INTEGER NOT NULL DEFAULT 0,       -- subscribers a message was queued for
    messages INTEGER NOT NULL DEFAULT 0,     -- outbox rows (a long bulletin may be 2 SMS)
    segments INTEGER NOT NULL DEFAULT 0,
    opted_out INTEGER NOT NULL DEFAULT 0,    -- subscribers skipped because they sent STOP
    empty INTEGER NOT NULL DEFAULT 0         -- subscribers with nothing to send
);

-- The ledger: a contact appears here once per run, in the same transaction as the
-- outbox rows queued for them (or as skipped: opted out, or nothing to send). A re-run, a second concurrent run or a run after a crash
-- skips exactly the contacts already here.
CREATE TABLE bulletin_deliveries (
    run_id INTEGER NOT NULL REFERENCES bulletin_runs(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    outcome TEXT NOT NULL,                   -- queued | opted_out | empty
    PRIMARY KEY (run_id, contact_id)
) WITHOUT ROWID;

ALTER TABLE outbox ADD COLUMN bulletin_run_id INTEGER REFERENCES bulletin_runs(id);
CREATE INDEX outbox_bulletin ON outbox (bulletin_run_id) WHERE bulletin_run_id IS NOT NULL;
