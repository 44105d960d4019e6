-- Produce offers (issue 16): farmers' and groups' listings, the products buyers follow,
-- the digests that tell them, buyers' bids, and the one id space every short id comes from.

-- Every short id people type (K7Q3), with what it names: orders, listings, bids and pools
-- draw from this one space (db.codes), so a code never means two things.
CREATE TABLE codes (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                      -- order | listing | bid | pool
    created_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO codes (code, kind, created_at) SELECT code, 'order', created_at FROM orders;

-- What a farmer (or a leader, for the group) has to sell.
CREATE TABLE listings (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    seller_id INTEGER NOT NULL REFERENCES contacts(id),  -- the farmer, or the leader who posted
    group_id INTEGER REFERENCES groups(id),  -- set: the group sells, members pledge into it
    product TEXT NOT NULL,                   -- folded phrase, as orders and group_products
    offered REAL NOT NULL CHECK (offered > 0),   -- the quantity posted
    quantity REAL NOT NULL CHECK (quantity >= 0),  -- what is left after agreed deals
    unit TEXT NOT NULL,
    grade TEXT,
    price REAL,                              -- per unit; NULL: buyers make an offer
    currency TEXT,
    expires_on TEXT NOT NULL,                -- YYYY-MM-DD: the last day it is open
    market_id INTEGER NOT NULL REFERENCES markets(id),  -- where "near" is measured from
    country TEXT NOT NULL,
    place TEXT,                              -- as typed after AT
    status TEXT NOT NULL CHECK (status IN ('open', 'sold', 'withdrawn', 'expired')),
    pledged REAL NOT NULL DEFAULT 0,         -- group listings: sum of members' pledges
    notified_pledged REAL NOT NULL DEFAULT 0,  -- the pledged total its leader was last told
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX listings_open ON listings (status, product, country);
CREATE INDEX listings_seller ON listings (seller_id, status);

-- Members' pledges into their group's listing (db.pledges, as for orders).
CREATE TABLE listing_pledges (
    listing_id INTEGER NOT NULL REFERENCES listings(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    group_id INTEGER NOT NULL REFERENCES groups(id),
    quantity REAL NOT NULL CHECK (quantity >= 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (listing_id, contact_id)
) WITHOUT ROWID;

-- What a registered buyer follows (WANT MAIZE NAKURU): a product near a market, or
-- anywhere in a country (market_id NULL).
CREATE TABLE wants (
    id INTEGER PRIMARY KEY,
    buyer_id INTEGER NOT NULL REFERENCES contacts(id),
    product TEXT NOT NULL,
    market_id INTEGER REFERENCES markets(id),
    country TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX wants_one ON wants (buyer_id, product, IFNULL(market_id, 0));
CREATE INDEX wants_product ON wants (product, country);

-- A new listing a following buyer has not been told of yet: the worker sends each buyer
-- one digest of theirs every listings.digest_minutes, however many listings came.
CREATE TABLE listing_alerts (
    listing_id INTEGER NOT NULL REFERENCES listings(id),
    buyer_id INTEGER NOT NULL REFERENCES contacts(id),
    created_at TEXT NOT NULL,
    sent_at TEXT,                            -- set when a digest carried it (or it closed)
    PRIMARY KEY (listing_id, buyer_id)
) WITHOUT ROWID;
CREATE INDEX listing_alerts_unsent ON listing_alerts (buyer_id) WHERE sent_at IS NULL;

-- A registered buyer's bid on a listing; the seller agrees or declines. Numbers are
-- exchanged only when the seller agrees.
CREATE TABLE bids (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    listing_id INTEGER NOT NULL REFERENCES listings(id),
    buyer_id INTEGER NOT NULL REFERENCES contacts(id),
    quantity REAL NOT NULL CHECK (quantity > 0),
    price REAL,                              -- per unit; NULL: the listing's, or to agree
    currency TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'agreed', 'declined', 'replaced',
                                           'lapsed')),
    created_at TEXT NOT NULL,
    decided_at TEXT
);
CREATE INDEX bids_listing ON bids (listing_id, status);
CREATE INDEX bids_buyer ON bids (buyer_id, listing_id, status);

-- SMS a command will cause later, in a batch (a listing's digests), charged to its sender
-- when the command runs: handlers.costs counts them with what the command queued at once.
-- `settled` is 0 only inside the command that made the row.
CREATE TABLE promised (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    kind TEXT NOT NULL,
    messages INTEGER NOT NULL,
    segments INTEGER NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX promised_contact ON promised (contact_id, created_at);
CREATE INDEX promised_unsettled ON promised (contact_id) WHERE settled = 0;
