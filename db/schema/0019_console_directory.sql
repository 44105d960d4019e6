-- The console's contacts and groups pages (issue 17): look-ups that must stay index reads
-- with 100,000 contacts.

-- "Last digits of a number": a suffix of E.164 text cannot use the phone index, so the last
-- four characters are indexed as an expression (built in, so any SQLite shell can use the
-- file). A search for 4+ digits reads the ~n/10,000 numbers with those four last digits
-- and checks the rest; 3 digits reads the ten four-digit tails that end with them.
CREATE INDEX contacts_phone_tail ON contacts (substr(phone, -4));

-- One contact's message history: what went to them, newest first (inbound has its own).
CREATE INDEX outbox_contact_time ON outbox (contact_id, created_at) WHERE contact_id IS NOT NULL;

-- A group's recent broadcasts (and other actions) on its page, newest first.
CREATE INDEX audit_group_action ON audit (group_id, action, at) WHERE group_id IS NOT NULL;

-- A group's leaders and join requests among tens of thousands of members, and its counts
-- by status and role, read from the index alone (the primary key is by contact).
CREATE INDEX memberships_group_state ON memberships (group_id, status, role);
