-- The analysis (docs/analysis.md): which entries of a report count its sessions, the
-- domains seen in reports, the queue of domains whose incidents need a refresh, and the
-- incidents themselves.

-- Session counting (docs/analysis.md "Counting sessions"): the tlsa and the sts (with
-- no-policy-found) entries of one report for one domain describe the same sessions, seen
-- under DANE and under MTA-STS. Per (report, domain) the larger of the two views is counted
-- (the sts view on a tie), the other is kept but not counted. A domain with one view only
-- counts everything.
ALTER TABLE report_policies ADD COLUMN IF NOT EXISTS counted boolean NOT NULL DEFAULT true;
ALTER TABLE failure_details ADD COLUMN IF NOT EXISTS counted boolean NOT NULL DEFAULT true;

WITH views AS (
    SELECT report, policy_domain,
           coalesce(sum(total_successful_session_count + total_failure_session_count)
                    FILTER (WHERE policy_type = 'tlsa'), 0) AS tlsa,
           coalesce(sum(total_successful_session_count + total_failure_session_count)
                    FILTER (WHERE policy_type <> 'tlsa'), 0) AS other
    FROM report_policies
    GROUP BY report, policy_domain
    HAVING bool_or(policy_type = 'tlsa') AND bool_or(policy_type <> 'tlsa')
)
UPDATE report_policies p
SET counted = CASE WHEN v.tlsa > v.other THEN p.policy_type = 'tlsa' ELSE p.policy_type <> 'tlsa' END
FROM views v
WHERE p.report = v.report AND p.policy_domain = v.policy_domain;

UPDATE failure_details d
SET counted = false
FROM report_policies p
WHERE NOT p.counted AND d.report = p.report AND d.policy_index = p.policy_index;

-- The rollups carry the flag in their key: trends add the counted rows only, and the
-- policy-type grouping shows each view on its own. Rebuilt from the stored rows, as the
-- flag is per report and the old rows had summed reports together.
ALTER TABLE daily_rollups ADD COLUMN IF NOT EXISTS counted boolean NOT NULL DEFAULT true;
ALTER TABLE daily_rollups DROP CONSTRAINT IF EXISTS daily_rollups_pkey;
TRUNCATE daily_rollups;
INSERT INTO daily_rollups (policy_domain, day, policy_type, result_type, receiving_mx, organization_name,
                           counted, successful_sessions, failed_sessions)
SELECT p.policy_domain, (p.report_start AT TIME ZONE 'UTC')::date, p.policy_type, '', '',
       r.organization_name, p.counted,
       sum(p.total_successful_session_count), sum(p.total_failure_session_count)
FROM report_policies p JOIN reports r ON r.id = p.report
GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO daily_rollups (policy_domain, day, policy_type, result_type, receiving_mx, organization_name,
                           counted, successful_sessions, failed_sessions)
SELECT d.policy_domain, d.day, p.policy_type,
       CASE WHEN d.result_type = '' THEN '(empty)' ELSE d.result_type END,
       coalesce(d.receiving_mx_hostname, d.receiving_ip, ''), d.organization_name, d.counted,
       0, sum(d.failed_session_count)
FROM failure_details d JOIN report_policies p ON p.report = d.report AND p.policy_index = d.policy_index
GROUP BY 1, 2, 3, 4, 5, 6, 7;
ALTER TABLE daily_rollups ADD PRIMARY KEY
    (policy_domain, day, counted, policy_type, result_type, receiving_mx, organization_name);
-- `stswatch domains` sums the counted summaries of every domain over a few weeks: an index
-- only scan of those rows (the details are most of the table).
CREATE INDEX IF NOT EXISTS daily_rollups_counted_summaries ON daily_rollups (day, policy_domain)
    INCLUDE (successful_sessions, failed_sessions) WHERE counted AND result_type = '';

-- The counted sessions per domain, day and result type: what the trends' series read, a
-- twentieth of the rollups' rows for a domain with several senders and MX hosts (a year of
-- one domain in a few thousand rows). Kept at ingest in the report's transaction, as the
-- rollups; result_type '' is the summaries, as there.
CREATE TABLE IF NOT EXISTS daily_type_rollups (
    policy_domain       text NOT NULL,
    day                 date NOT NULL,
    result_type         text NOT NULL DEFAULT '',
    successful_sessions bigint NOT NULL DEFAULT 0 CHECK (successful_sessions >= 0),
    failed_sessions     bigint NOT NULL DEFAULT 0 CHECK (failed_sessions >= 0),
    -- The sums in the key's index: a domain's year is a few contiguous index pages read by
    -- an index-only scan, rather than a heap page per day (rows arrive day by day for
    -- every domain, so a domain's rows are spread over the table).
    PRIMARY KEY (policy_domain, day, result_type) INCLUDE (successful_sessions, failed_sessions)
);
INSERT INTO daily_type_rollups (policy_domain, day, result_type, successful_sessions, failed_sessions)
SELECT policy_domain, day, result_type, sum(successful_sessions), sum(failed_sessions)
FROM daily_rollups WHERE counted
GROUP BY 1, 2, 3;

-- Trends by sending IP read the counted details of a domain's days.
CREATE INDEX IF NOT EXISTS failure_details_domain_day_ip ON failure_details (policy_domain, day, sending_mta_ip)
    WHERE counted;

-- Every policy domain seen in a report, maintained at ingest: `stswatch domains` lists
-- these with the monitored ones, and the last report of each.
CREATE TABLE IF NOT EXISTS reported_domains (
    domain           text PRIMARY KEY,
    first_day        date NOT NULL,          -- earliest report day (UTC day of start-datetime)
    last_day         date NOT NULL,          -- latest report day
    last_received_at timestamptz NOT NULL    -- when the latest report was received
);
INSERT INTO reported_domains (domain, first_day, last_day, last_received_at)
SELECT p.policy_domain, min((p.report_start AT TIME ZONE 'UTC')::date),
       max((p.report_start AT TIME ZONE 'UTC')::date), max(r.received_at)
FROM report_policies p JOIN reports r ON r.id = p.report
GROUP BY p.policy_domain
ON CONFLICT (domain) DO NOTHING;

-- Domains whose incidents must be computed again from since_day on: a report stored for a
-- day (late ones included) queues its domains, in the report's transaction; the analyzer
-- of `stswatch serve` claims rows for a lease (FOR UPDATE SKIP LOCKED, so several instances
-- share the work) and deletes them when the refresh is saved, unless queued again meanwhile.
CREATE TABLE IF NOT EXISTS analysis_queue (
    domain    text PRIMARY KEY,
    since_day date NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz                -- a refresher holds it until then
);
INSERT INTO analysis_queue (domain, since_day)
SELECT domain, greatest(first_day, last_day - 60) FROM reported_domains
ON CONFLICT (domain) DO NOTHING;

-- Incidents (docs/analysis.md "Incidents"): a departure of a domain's failures from its own
-- baseline on one dimension and key. The id is stable: a refresh that finds the same
-- incident again (same domain, dimension, key, overlapping days) updates this row, so that
-- an alert fires once per incident. An incident that later data no longer supports (late
-- reports that add successful sessions) is marked retracted, not deleted.
CREATE TABLE IF NOT EXISTS incidents (
    id              bigserial PRIMARY KEY,
    domain          text NOT NULL,
    dimension       text NOT NULL CHECK (dimension IN ('domain', 'mx', 'result-type', 'organization',
                                                       'new-result-type', 'silent-reporter')),
    key             text NOT NULL,
    onset           date NOT NULL,
    last_day        date NOT NULL,           -- last day the failures were elevated
    end_day         date,                    -- NULL while ongoing
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ended', 'retracted')),
    failed_sessions bigint NOT NULL DEFAULT 0 CHECK (failed_sessions >= 0),
    sessions        bigint NOT NULL DEFAULT 0 CHECK (sessions >= 0),   -- the denominator
    failure_rate    double precision NOT NULL DEFAULT 0,
    baseline_rate   double precision NOT NULL DEFAULT 0,
    p_value         double precision NOT NULL DEFAULT 1,
    mx              text[] NOT NULL DEFAULT '{}',
    result_types    text[] NOT NULL DEFAULT '{}',
    organizations   text[] NOT NULL DEFAULT '{}',
    days            jsonb NOT NULL DEFAULT '[]',  -- per-day figures of the incident
    opened_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text
);
CREATE INDEX IF NOT EXISTS incidents_domain_onset ON incidents (domain, onset DESC);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (domain) WHERE status = 'open';
