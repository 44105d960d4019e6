-- The worker only ever looks for queued or sending messages. Replies delivered inline in the
-- webhook answer (status replied) were most of this index and cost an index write for every
-- SMS answered; they are left out now (claim_due names the same condition, so SQLite uses it).
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at) WHERE status IN ('queued', 'sending');
