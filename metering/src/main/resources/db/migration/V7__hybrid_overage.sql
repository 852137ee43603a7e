-- Hybrid accounts bill by meter only the usage their credits did not cover. The settle script
-- splits each charge; the part not covered is kept per event, and only it reaches Stripe.

ALTER TABLE usage_events ADD COLUMN overage_credits bigint NOT NULL DEFAULT 0 CHECK (overage_credits >= 0);
