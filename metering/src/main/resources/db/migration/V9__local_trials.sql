-- A local trial (issue 16): an account without a Stripe customer tries a plan until trial_ends_at,
-- then returns to the free plan unless a Stripe subscription took over. NULL: no local trial.
ALTER TABLE accounts ADD COLUMN trial_ends_at timestamptz;
CREATE INDEX accounts_trial_ends_at ON accounts (trial_ends_at) WHERE trial_ends_at IS NOT NULL;
