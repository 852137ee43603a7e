-- Billable actions (issue 15): events an application reports through the ingest API
-- (POST /tollgate/v1/events, reservations), priced in tiers, with allowances per tier per period.
-- A usage event records its action and tier, how many units it carried and how many of them the
-- tier's allowance covered (the rest cost its credits); the client's event id, the time it gave
-- and its properties are kept for support and exports. Proxied requests leave them NULL (0).

ALTER TABLE usage_events ADD COLUMN action text;
ALTER TABLE usage_events ADD COLUMN tier text;
ALTER TABLE usage_events ADD COLUMN quantity bigint CHECK (quantity IS NULL OR quantity >= 0);
ALTER TABLE usage_events ADD COLUMN allowance_units bigint NOT NULL DEFAULT 0 CHECK (allowance_units >= 0);
ALTER TABLE usage_events ADD COLUMN ingest_id text;
ALTER TABLE usage_events ADD COLUMN reported_at timestamptz;
ALTER TABLE usage_events ADD COLUMN properties jsonb;

-- The allowance counters are rebuilt from here when Redis has lost them: per account and period.
CREATE INDEX usage_events_account_tier ON usage_events (account_id, occurred_at) WHERE tier IS NOT NULL;

-- Rollups by action and tier too ('' for proxied requests), so usage by action is a rollup query.
ALTER TABLE usage_rollups_hourly ADD COLUMN action text NOT NULL DEFAULT '';
ALTER TABLE usage_rollups_hourly ADD COLUMN tier text NOT NULL DEFAULT '';
ALTER TABLE usage_rollups_hourly ADD COLUMN quantity bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_rollups_hourly ADD COLUMN allowance_units bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_rollups_hourly DROP CONSTRAINT usage_rollups_hourly_pkey;
ALTER TABLE usage_rollups_hourly ADD PRIMARY KEY (account_id, hour, key_id, route, model, action, tier);
