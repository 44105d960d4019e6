-- Names people use for commodities and markets, per language, kept as data admins extend.
-- `target` is a folded phrase: a commodity's base name (MAIZE: every maize), a full
-- commodity name (MAIZE WHITE), or a market name (WAKULIMA NAKURU).
CREATE TABLE aliases (
    kind TEXT NOT NULL CHECK (kind IN ('commodity', 'market')),
    alias TEXT NOT NULL,                     -- folded: MAHINDI
    language TEXT NOT NULL,                  -- en | sw | fr | * (any)
    target TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'seed',     -- seed | admin
    PRIMARY KEY (kind, alias, target)
);

-- A contact's home market (REG), used when PRICE names no market.
ALTER TABLE contacts ADD COLUMN home_market_id INTEGER REFERENCES markets(id);
