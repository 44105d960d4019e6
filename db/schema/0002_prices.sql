-- Markets, commodities, price observations and the log of import runs.
-- Table and column names are a contract other modules query; add, never rename.
CREATE TABLE markets (
    id INTEGER PRIMARY KEY,
    country TEXT NOT NULL,                   -- ISO 3166-1 alpha-2, upper case (KE)
    name TEXT NOT NULL,                      -- as in the source file (Kakuma, Nairobi)
    admin1 TEXT,                             -- region / province
    admin2 TEXT,                             -- district / county
    latitude REAL,
    longitude REAL,
    source_id TEXT,                          -- the publisher's id (WFP market_id)
    UNIQUE (country, name)
);

CREATE TABLE commodities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,               -- as in the file: "Maize (white)"
    category TEXT,                           -- "cereals and tubers"
    source_id TEXT                           -- the publisher's id (WFP commodity_id)
);

CREATE TABLE prices (
    id INTEGER PRIMARY KEY,
    commodity_id INTEGER NOT NULL REFERENCES commodities(id),
    market_id INTEGER NOT NULL REFERENCES markets(id),
    unit TEXT NOT NULL,                      -- KG, 90 KG, L, Bunch: prices are per this unit
    price_type TEXT NOT NULL
        CHECK (price_type IN ('retail', 'wholesale', 'producer', 'farmgate')),
    currency TEXT NOT NULL,                  -- ISO 4217, upper case (KES)
    date TEXT NOT NULL,                      -- YYYY-MM-DD
    price REAL NOT NULL,
    usd_price REAL,
    price_flag TEXT,                         -- WFP: actual | aggregate | actual,aggregate
    source TEXT NOT NULL,                    -- who published it ("WFP via HDX")
    updated_at TEXT NOT NULL,                -- db.timeutil.iso() of the last insert/change
    UNIQUE (commodity_id, market_id, unit, price_type, currency, date)
);
-- Latest observations of one commodity everywhere (ORDER BY date DESC).
CREATE INDEX prices_commodity_date ON prices (commodity_id, date);
-- Latest observations of one commodity at one market, and everything at one market.
CREATE INDEX prices_market_commodity_date ON prices (market_id, commodity_id, date);

CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                      -- prices | standards
    file_name TEXT NOT NULL,
    sha256 TEXT,
    read INTEGER NOT NULL DEFAULT 0,         -- data rows read (header and HXL row excluded)
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    dry_run INTEGER NOT NULL DEFAULT 0,      -- 1: counted, nothing else was saved
    started_at TEXT NOT NULL,
    finished_at TEXT,
    format TEXT,                             -- wfp | template
    country TEXT
);
CREATE INDEX imports_kind_started ON imports (kind, started_at);
