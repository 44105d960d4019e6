-- The web console (issue 17): its users, failed logins (rate limits that hold across
-- gunicorn's worker processes), the key that signs sessions, and who did what from it.

CREATE TABLE console_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,             -- argon2id, with its parameters (PHC string)
    role TEXT NOT NULL CHECK (role IN ('admin', 'leader')),
    group_id INTEGER REFERENCES groups(id),  -- a leader's group
    contact_id INTEGER REFERENCES contacts(id),  -- a leader's own phone, when tied to it
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,       -- a change ends every session signed before it
    CHECK (role = 'admin' OR group_id IS NOT NULL)
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL COLLATE NOCASE,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_address ON login_failures (address, at);

-- One row: the key that signs session cookies when console.secret_key is not set, made on
-- first start and shared by every worker process and restart.
CREATE TABLE console_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key TEXT NOT NULL
);

-- The console user who did it (NULL: a contact by SMS, or the command line).
ALTER TABLE audit ADD COLUMN console_user TEXT;
CREATE INDEX audit_time ON audit (at);
