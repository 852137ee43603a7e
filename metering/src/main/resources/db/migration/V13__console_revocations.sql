-- Console sessions and customer links are signed, expiring tokens kept by the browser, not here.
-- A token signed out or revoked before its expiry is listed until then, and refused while listed.
CREATE TABLE console_revocations (
    token_id    text        PRIMARY KEY,              -- 'session:<id>' or 'customer-link:<signature>'
    account_id  bigint      REFERENCES accounts (id), -- a customer link's account; null for a session
    expires_at  timestamptz NOT NULL,                 -- when the token expires anyway: the row is useless after
    revoked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_revocations_expires_at ON console_revocations (expires_at);
