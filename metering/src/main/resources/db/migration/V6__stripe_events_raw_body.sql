-- Postgres text and jsonb cannot hold U+0000, and a Stripe event may carry one (a NUL typed
-- into a customer's name or metadata). Such an event is stored with each NUL in payload replaced
-- by U+FFFD, and its body exactly as signed and received here, so nothing is lost. NULL for
-- every other event: their payload already is the body.
ALTER TABLE stripe_events ADD COLUMN raw_body bytea;
