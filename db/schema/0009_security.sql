-- Security and privacy (issue 12): simulated contacts, who caused a message (cost quotas),
-- one pending confirmation per sender, consent for leaders' numbers, and erasure.

-- 1: a contact the simulator (smsgw sim, the console) acts as; everything such a contact
-- causes goes to the local provider, never to a paying one.
ALTER TABLE contacts ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
-- Set when the person asked to be forgotten: the number is gone, the row stays as an
-- anonymous id so that counts (orders, pledges, audit) keep adding up.
ALTER TABLE contacts ADD COLUMN forgotten_at TEXT;
-- Set when the person asked by SMS (FORGET, then YES): they are opted out at once and
-- forgotten by the worker once the last message to them has gone.
ALTER TABLE contacts ADD COLUMN forget_requested_at TEXT;

-- The contact whose message caused this outbound message to someone else (a broadcast,
-- an order relay); NULL for replies to the sender themself and for bulletins. Quotas
-- count these.
ALTER TABLE outbox ADD COLUMN caused_by INTEGER REFERENCES contacts(id);
CREATE INDEX outbox_caused ON outbox (caused_by, created_at) WHERE caused_by IS NOT NULL;

-- 1: buyers see the leaders' numbers in an order's closing summary. Leaders are told
-- of it when they become leaders; off unless an admin turns it on.
ALTER TABLE groups ADD COLUMN share_leader_numbers INTEGER NOT NULL DEFAULT 0;

-- What waits for the sender's YES: the message to run again, and what it will cost.
-- One per sender: a newer request replaces the older one.
CREATE TABLE confirmations (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id),
    text TEXT NOT NULL,                      -- the command as the sender wrote it
    language TEXT NOT NULL,                  -- the language it was answered in
    messages INTEGER NOT NULL,
    segments INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Quotas count a contact's own actions (broadcasts an hour, orders a day) in the audit trail.
CREATE INDEX audit_actor ON audit (actor_id, action, at) WHERE actor_id IS NOT NULL;
