-- The worker sends what matters most first, for every provider (offline SMS issue): at a
-- phone's few hundred SMS an hour, one bulletin would otherwise hold every reply back.
-- 0: replies to a farmer's own message, opt-out confirmations, USSD confirmations;
-- 1: group and order messages, broadcasts; 2: bulletins and notices.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
UPDATE outbox SET priority = CASE
    WHEN kind IN ('reply', 'optout_confirmation', 'ussd') THEN 0
    WHEN kind IN ('bulletin', 'standard_notice') THEN 2
    ELSE 1 END;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, priority, next_attempt_at)
    WHERE status IN ('queued', 'sending');

-- A reply goes out as the farmer's message came in: from the short code they texted, and
-- with Africa's Talking's linkId for an on-demand premium short code.
ALTER TABLE outbox ADD COLUMN reply_from TEXT;
ALTER TABLE outbox ADD COLUMN link_id TEXT;

-- A delivery report can arrive before the worker has recorded the provider's id for the
-- message (the provider answered, the report overtook our commit). It is kept here with
-- what it means, and applied when the id is recorded.
ALTER TABLE status_events ADD COLUMN status TEXT;
ALTER TABLE status_events ADD COLUMN opted_out INTEGER NOT NULL DEFAULT 0;
CREATE INDEX status_events_unmatched ON status_events (provider, provider_message_id)
    WHERE outbox_id IS NULL;
