-- Credit packs bought through Checkout, by the PaymentIntent that paid them: a refund or dispute of
-- that payment (charge.refunded, charge.dispute.created) finds the credits it granted here. Auto
-- top-ups are found in top_ups by their payment_intent_id.
CREATE TABLE credit_purchases (
    payment_intent_id    text        PRIMARY KEY,
    account_id           bigint      NOT NULL REFERENCES accounts (id),
    credits              bigint      NOT NULL CHECK (credits > 0),
    amount               bigint      NOT NULL CHECK (amount >= 0),   -- what was charged, smallest currency unit
    currency             text,
    grant_key            text        NOT NULL,                       -- the grant's idempotency key in credit_transactions
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_purchases_account ON credit_purchases (account_id);
