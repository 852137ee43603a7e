-- Version 5: usage events Postgres refuses to store.

-- A usage stream entry whose row Postgres rejects (a data exception, an integrity violation, a
-- program limit: SQLSTATE classes 22, 23, 54) would fail its batch on every pass and hold back
-- the whole shard. The consumer isolates it, records it here and acknowledges it, so the rest
-- flows. `entry` is the raw stream entry as a JSON object of its fields, every string escaped
-- (a NUL byte appears as \u0000), so any entry fits in a text column; replaying one is an XADD
-- of corrected fields (docs/operations.md, "Dead-lettered usage events").
CREATE TABLE usage_dead_letters (
    id               bigserial   PRIMARY KEY,
    stream           text        NOT NULL,
    entry_id         text        NOT NULL,
    event_id         text,
    account_id       bigint,
    entry            text        NOT NULL,
    error            text        NOT NULL,
    sqlstate         text,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    -- The same entry delivered again (a consumer died before XACK) is recorded once.
    UNIQUE (stream, entry_id)
);
