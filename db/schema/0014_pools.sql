-- Input pooling (issue 16): suppliers an admin registers, the offers they post with price
-- tiers, and group purchases (pools) a leader opens and members answer with how much they
-- want. Pools and offers take their short ids from the one space of db/codes.py (codes).

-- Who may post offers by SMS (SUPPLY); told when registered that leaders who pool against
-- their offers get their number.
CREATE TABLE suppliers (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id),
    name TEXT NOT NULL,                      -- shown to leaders and members: Nakuru Agrovet
    created_at TEXT NOT NULL
);
-- What a supplier may offer, folded as group_products (none listed: anything).
CREATE TABLE supplier_products (
    contact_id INTEGER NOT NULL REFERENCES suppliers(contact_id) ON DELETE CASCADE,
    product TEXT NOT NULL,
    PRIMARY KEY (contact_id, product)
) WITHOUT ROWID;

-- A supplier's price list for one product and pack: SUPPLY DAP 50KG @3200 100+@3000.
-- A newer offer for the same product and pack replaces it; CLOSE <id> withdraws it.
CREATE TABLE supplies (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,               -- S7K3, from the shared id space
    supplier_id INTEGER NOT NULL REFERENCES contacts(id),
    product TEXT NOT NULL,                   -- folded phrase: DAP, MAIZE SEED
    unit TEXT NOT NULL,                      -- what is counted: "x 50kg", bags, crates
    currency TEXT NOT NULL,
    tiers TEXT NOT NULL,                     -- JSON [[from_quantity, price], ...], from 0 up
    valid_until TEXT NOT NULL,               -- YYYY-MM-DD, the last day it holds
    status TEXT NOT NULL CHECK (status IN ('open', 'replaced', 'withdrawn')),
    created_at TEXT NOT NULL
);
CREATE INDEX supplies_product ON supplies (product, status);
CREATE INDEX supplies_supplier ON supplies (supplier_id, status);

-- A group purchase: POOL DAP 50KG @3200 100+@3000 BY 2027-01-15, or POOL <offer id>.
-- The tiers are copied from the offer when there is one, so a later offer never changes
-- the price members answered to; the price of the tier the total reaches applies to all.
CREATE TABLE pools (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,               -- P4K2, from the shared id space
    group_id INTEGER NOT NULL REFERENCES groups(id),
    leader_id INTEGER NOT NULL REFERENCES contacts(id),   -- opened it; gets the list
    supply_id INTEGER REFERENCES supplies(id),            -- the offer pooled against
    supplier_id INTEGER REFERENCES contacts(id),          -- told the total at the close
    product TEXT NOT NULL,
    unit TEXT NOT NULL,
    currency TEXT NOT NULL,
    tiers TEXT NOT NULL,                     -- as in supplies
    close_on TEXT NOT NULL,                  -- YYYY-MM-DD, the last day answers are taken
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    pledged REAL NOT NULL DEFAULT 0,         -- sum of the answers, kept with each answer
    notified_total REAL NOT NULL DEFAULT 0,  -- the total the leader was last told
    price REAL,                              -- at the close: the unit price for the total
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX pools_status ON pools (status, close_on);

-- A member's answer to a pool (OFFER P4K2 3 sets it; 0 withdraws): one row per member, so
-- the same SMS twice never counts twice; pools.pledged moves by the difference.
CREATE TABLE pool_pledges (
    pool_id INTEGER NOT NULL REFERENCES pools(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    quantity REAL NOT NULL CHECK (quantity >= 0),
    name TEXT NOT NULL DEFAULT '',           -- a name the member gave (OFFER P4K2 3 MARY W)
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (pool_id, contact_id)
) WITHOUT ROWID;
