-- The console's notification bell counts unread notifications on every page: a partial index keeps
-- that count (bounded by a LIMIT) to the unread rows, however many read ones accumulate.
CREATE INDEX notifications_unread ON notifications (id) WHERE read_at IS NULL;
