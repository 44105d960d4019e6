-- Prices a farmer can trust (issue 15): market agents who report prices by SMS, and the
-- review queue of observations that wait for an admin instead of being served.

-- Market agents (enumerators): who may send RPT, and for which markets.
CREATE TABLE agents (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id),
    auto_approve INTEGER NOT NULL DEFAULT 0, -- 1: in-range reports from their own markets
                                             --    are published at once
    created_at TEXT NOT NULL
);
CREATE TABLE agent_markets (
    contact_id INTEGER NOT NULL REFERENCES agents(contact_id) ON DELETE CASCADE,
    market_id INTEGER NOT NULL REFERENCES markets(id),
    PRIMARY KEY (contact_id, market_id)
) WITHOUT ROWID;

-- Observations that are not simply published: import rows held as outliers, and every
-- agent report (published at once or not, so that it can be withdrawn and is audited).
-- Price queries read `prices` only: nothing here is served until it is published, which
-- copies it into `prices` with the importer's upsert.
CREATE TABLE price_reviews (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL CHECK (origin IN ('import', 'agent')),
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'published', 'rejected', 'withdrawn')),
    reason TEXT,                             -- why it waited: outlier | unassigned | approval
                                             -- (comma-separated); NULL: published at once
    commodity_id INTEGER NOT NULL REFERENCES commodities(id),
    market_id INTEGER NOT NULL REFERENCES markets(id),
    unit TEXT NOT NULL,                      -- the series' unit, after any conversion
    price_type TEXT NOT NULL
        CHECK (price_type IN ('retail', 'wholesale', 'producer', 'farmgate')),
    currency TEXT NOT NULL,
    date TEXT NOT NULL,                      -- YYYY-MM-DD
    price REAL NOT NULL CHECK (price > 0),   -- per `unit`
    usd_price REAL,
    price_flag TEXT,
    source TEXT NOT NULL,                    -- as it will be in prices.source
    median REAL,                             -- the recent median it was compared with
    reported TEXT,                           -- an agent's item as understood: 3400/90 KG
    file_name TEXT,                          -- import: the file and line it came from
    line INTEGER,
    import_id INTEGER REFERENCES imports(id),
    agent_id INTEGER REFERENCES contacts(id),  -- agent: who reported it, from which SMS
    inbound_id INTEGER REFERENCES inbound(id),
    item INTEGER,                            -- its place among the SMS's items (1, 2...)
    created_at TEXT NOT NULL,
    decided_at TEXT,                         -- published, rejected or withdrawn: when, by whom
    decided_by TEXT,                         -- an admin's name, or 'auto'
    UNIQUE (inbound_id, item)                -- one SMS handled twice is one report
);
CREATE INDEX price_reviews_status ON price_reviews (status, id);
CREATE INDEX price_reviews_series ON price_reviews
    (commodity_id, market_id, unit, price_type, currency, date);

-- Held rows of an import run (imports.read = inserted + updated + unchanged + rejected + held).
ALTER TABLE imports ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
