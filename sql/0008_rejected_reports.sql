-- Reports refused at intake, with their bytes and the reason: not a valid TLS report for
-- the parser of the version that received them, or a value the database cannot hold. A
-- report refused by an older version can then be taken again (`stswatch reports retry`)
-- instead of being lost. Bounded by collector.rejected.keep rows (the oldest go) and
-- collector.rejected.max_bytes per body (a longer body keeps its first bytes, truncated,
-- and cannot be retried). The same bytes refused again (a sender retrying) are one row.
CREATE TABLE IF NOT EXISTS rejected_reports (
    id               bigserial PRIMARY KEY,
    first_received_at timestamptz NOT NULL DEFAULT now(),
    last_received_at timestamptz NOT NULL DEFAULT now(),
    times            bigint NOT NULL DEFAULT 1 CHECK (times >= 1),   -- refusals of these bytes
    transport        text NOT NULL CHECK (transport IN ('https', 'smtp', 'import', 'pipe')),
    source_address   text NOT NULL DEFAULT '',
    reason           text NOT NULL,
    raw              bytea NOT NULL,            -- the body as received, or its first max_bytes
    size             bigint NOT NULL CHECK (size >= 0),   -- of the whole body
    truncated        boolean NOT NULL DEFAULT false,
    sha256           bytea NOT NULL CHECK (length(sha256) = 32),   -- of the whole body
    metadata         jsonb NOT NULL DEFAULT '{}',   -- file name, email headers, as for reports
    retried_at       timestamptz,
    -- 'stored', 'duplicate', or the reason the retry refused it again
    retry_result     text,
    report           bigint REFERENCES reports (id) ON DELETE SET NULL,   -- what the retry stored
    CONSTRAINT rejected_reports_body UNIQUE (sha256)
);
