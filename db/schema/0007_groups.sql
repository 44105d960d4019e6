-- Producer groups, their members and leaders, buyers, orders, pledges, leader broadcasts,
-- and the audit trail of everything that moves an order or reaches a group.

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,               -- what farmers text: KIMA (folded, A-Z 0-9)
    name TEXT NOT NULL,
    market_id INTEGER REFERENCES markets(id),  -- home market: where orders are "near"
    region TEXT,                             -- county / province, when no market fits
    approval INTEGER NOT NULL DEFAULT 0,     -- 1: a JOIN waits for a leader's APPROVE
    auto_forward INTEGER NOT NULL DEFAULT 0, -- 1: relayed orders go to members at once
    created_at TEXT NOT NULL
);

-- What a group offers, as folded phrases (MAIZE, BEANS, BASKET): crops or crafts.
CREATE TABLE group_products (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    product TEXT NOT NULL,
    PRIMARY KEY (group_id, product)
) WITHOUT ROWID;
CREATE INDEX group_products_product ON group_products (product);

CREATE TABLE memberships (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    role TEXT NOT NULL CHECK (role IN ('member', 'leader')),
    status TEXT NOT NULL CHECK (status IN ('active', 'pending')),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (group_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX memberships_contact ON memberships (contact_id);

-- Buyers (and admins) by contact; a buyer's name is shown to the groups.
CREATE TABLE roles (
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    role TEXT NOT NULL CHECK (role IN ('buyer', 'admin')),
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (contact_id, role)
) WITHOUT ROWID;

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,               -- short id people text: K7Q3
    buyer_id INTEGER NOT NULL REFERENCES contacts(id),
    product TEXT NOT NULL,                   -- folded phrase, as group_products
    quantity REAL NOT NULL CHECK (quantity > 0),
    unit TEXT NOT NULL,                      -- bags, kg, pieces...
    grade TEXT,
    price REAL,                              -- per unit, in currency
    currency TEXT,
    deliver_by TEXT NOT NULL,                -- YYYY-MM-DD; the order expires after it
    place TEXT,                              -- the market or place named after AT
    market_id INTEGER REFERENCES markets(id),
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'expired')),
    filled_at TEXT,                          -- when pledges first reached the quantity
    pledged REAL NOT NULL DEFAULT 0,         -- sum of pledges, kept with each pledge
    notified_total REAL NOT NULL DEFAULT 0,  -- the total the buyer was last told
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX orders_status ON orders (status, deliver_by);

-- Which groups an order went to, and whether their leader forwarded it to the members.
CREATE TABLE order_relays (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    group_id INTEGER NOT NULL REFERENCES groups(id),
    relayed_at TEXT NOT NULL,
    forwarded_at TEXT,
    forwarded_by INTEGER REFERENCES contacts(id),
    pledged REAL NOT NULL DEFAULT 0,         -- sum of the group's pledges
    notified_total REAL NOT NULL DEFAULT 0,  -- the group total its leaders were last told
    PRIMARY KEY (order_id, group_id)
) WITHOUT ROWID;

-- A member's current offer to an order (OFFER sets it; 0 withdraws): one row per member,
-- so the same SMS twice, or a changed offer, can never count twice. The totals in orders
-- and order_relays move by the difference in the same transaction.
CREATE TABLE pledges (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    group_id INTEGER NOT NULL REFERENCES groups(id),
    quantity REAL NOT NULL CHECK (quantity >= 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX pledges_group ON pledges (order_id, group_id);

-- A leader's BCAST waiting for YES, and what was sent.
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    leader_id INTEGER NOT NULL REFERENCES contacts(id),
    text TEXT NOT NULL,
    members INTEGER NOT NULL,
    segments INTEGER NOT NULL,               -- per message
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX broadcasts_leader ON broadcasts (leader_id, status);

-- Who did what, when: every order, relay, forward, pledge, broadcast and membership change.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id INTEGER REFERENCES contacts(id),   -- NULL: the service or an admin at the CLI
    action TEXT NOT NULL,                    -- order | relay | forward | pledge | close | ...
    order_id INTEGER REFERENCES orders(id),
    group_id INTEGER REFERENCES groups(id),
    detail TEXT NOT NULL DEFAULT '{}'        -- JSON
);
CREATE INDEX audit_order ON audit (order_id);
