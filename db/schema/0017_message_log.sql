-- The console's Messages page (issue 17): the outbox and the inbox, failures first, then
-- newest first, filtered by time, provider and kind, in pages (db/message_log.py).
--
-- Time order: (time, id) is the page order and its keyset, so a page is an index range
-- read, never a sort of the whole table. Provider and kind ride along in the index, so a
-- filter on them is checked in the index without reading the row. Failures have small
-- partial indexes of their own: they are listed first however old they are, and counted.
-- Neither index holds the status, which changes three or four times in a message's life:
-- only a move into failed or undelivered writes to an index here.
CREATE INDEX outbox_created ON outbox (created_at, id, provider, kind);
CREATE INDEX outbox_failures ON outbox (created_at, id, provider, kind)
    WHERE status IN ('failed', 'undelivered');

CREATE INDEX inbound_received ON inbound (received_at, id, provider);
CREATE INDEX inbound_failures ON inbound (received_at, id, provider) WHERE outcome = 'failed';
