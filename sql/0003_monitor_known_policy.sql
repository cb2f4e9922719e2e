-- What a snapshot carries past a transient failure (docs/monitoring.md, "Decisions worth
-- knowing"): a policy fetch that failed on the way (RFC 8461 §5.1: senders keep their
-- cached policy through it) or an MX that did not answer says nothing about the domain, so
-- the next check compares that part with the last snapshot that showed it. Both columns are
-- NULL when the snapshot shows everything itself, as in the snapshots stored before them.

-- The last snapshot of the domain whose policy was known (fetched, or known to be absent),
-- when this one's was not. Trimming old history clears it: the policy is then unknown until
-- it is fetched again.
ALTER TABLE check_snapshots
    ADD COLUMN IF NOT EXISTS policy_source_id bigint REFERENCES check_snapshots (id) ON DELETE SET NULL;
-- For the MX hosts whose probe presented no certificate: the last one each presented,
-- {"<host>": {"sha256": …, "not_after": …}}.
ALTER TABLE check_snapshots ADD COLUMN IF NOT EXISTS carried_certificates jsonb;

-- Deleting old snapshots looks up the rows that point at them.
CREATE INDEX IF NOT EXISTS check_snapshots_policy_source ON check_snapshots (policy_source_id)
    WHERE policy_source_id IS NOT NULL;
