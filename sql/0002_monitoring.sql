-- Monitoring of MTA-STS deployments (RFC 8461) and TLS-RPT records (RFC 8460 §3): the
-- domains `stswatch serve` checks on an interval, one snapshot per check with its findings,
-- and the change events found between consecutive snapshots of a domain.
--
-- History outlives monitoring: removing a domain from monitored_domains keeps its
-- snapshots, findings and change events (the analyzer explains past failures with them),
-- so the history tables do not reference monitored_domains.

-- The domains checked by the scheduler. next_check_at is also its work queue: a scheduler
-- claims a due row by moving next_check_at forward (SELECT … FOR UPDATE SKIP LOCKED), so
-- several `stswatch serve` instances on one database never check a domain twice at once.
CREATE TABLE IF NOT EXISTS monitored_domains (
    domain           text PRIMARY KEY,                    -- normalised: lower-case, no trailing dot
    added_at         timestamptz NOT NULL DEFAULT now(),
    next_check_at    timestamptz NOT NULL DEFAULT now(),  -- a new domain is due at once
    last_checked_at  timestamptz,
    last_snapshot_id bigint                               -- check_snapshots.id of the last check
);
CREATE INDEX IF NOT EXISTS monitored_domains_due ON monitored_domains (next_check_at);

-- One check of a domain: the check_result JSON of `stswatch check --json` as it was, plus
-- the columns that queries filter on. dns_unavailable snapshots (the resolver failed, not
-- the domain) are kept for the record but never diffed against.
CREATE TABLE IF NOT EXISTS check_snapshots (
    id              bigserial PRIMARY KEY,
    domain          text NOT NULL,
    checked_at      timestamptz NOT NULL,
    dns_unavailable boolean NOT NULL DEFAULT false,
    sts_id          text,                  -- id= of the _mta-sts record, when it parsed
    policy_sha256   text,                  -- hex SHA-256 of the fetched policy text, when fetched
    snapshot        jsonb NOT NULL,
    errors          integer NOT NULL DEFAULT 0 CHECK (errors >= 0),
    warnings        integer NOT NULL DEFAULT 0 CHECK (warnings >= 0)
);
CREATE INDEX IF NOT EXISTS check_snapshots_domain_time ON check_snapshots (domain, checked_at DESC);

-- The findings of each snapshot, one row each, so that the analyzer can join them to a
-- failure cluster by (domain, subject, time) without opening the JSON.
CREATE TABLE IF NOT EXISTS check_findings (
    snapshot_id bigint NOT NULL REFERENCES check_snapshots (id) ON DELETE CASCADE,
    domain      text NOT NULL,
    checked_at  timestamptz NOT NULL,
    code        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    subject     text NOT NULL,
    message     text NOT NULL,
    rfc         text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS check_findings_domain_code_time ON check_findings (domain, code, checked_at);
CREATE INDEX IF NOT EXISTS check_findings_snapshot ON check_findings (snapshot_id);

-- What changed between a snapshot and the previous usable one of the same domain.
-- before/after are '' when the thing was absent on that side.
CREATE TABLE IF NOT EXISTS change_events (
    id          bigserial PRIMARY KEY,
    domain      text NOT NULL,
    detected_at timestamptz NOT NULL,      -- checked_at of the snapshot that showed it
    snapshot_id bigint NOT NULL REFERENCES check_snapshots (id) ON DELETE CASCADE,
    kind        text NOT NULL,             -- sts-policy-changed, mx-added, mx-cert-rotated, …
    subject     text NOT NULL,
    before      text NOT NULL DEFAULT '',
    after       text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS change_events_domain_time ON change_events (domain, detected_at);
