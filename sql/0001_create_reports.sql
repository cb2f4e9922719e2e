-- SMTP TLS reports (RFC 8460 §4) as received, with how they came in and the daily
-- rollups that trend queries read. Released migrations are never edited: add 0002_… instead.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per distinct report. RFC 8460 §4.4: organization-name plus report-id identify a
-- report, so a report resent (by retry, by a second rua, over another transport) is a
-- duplicate of this row, never a second one.
CREATE TABLE IF NOT EXISTS reports (
    id                             bigserial PRIMARY KEY,
    organization_name              text NOT NULL,
    report_id                      text NOT NULL,          -- verbatim, case kept
    start_datetime                 timestamptz NOT NULL,
    end_datetime                   timestamptz NOT NULL,
    contact_info                   text,
    received_at                    timestamptz NOT NULL DEFAULT now(),   -- first receipt
    policy_count                   integer NOT NULL CHECK (policy_count >= 0),
    -- Sessions of the report as a whole. Microsoft (2023): the tlsa and sts policies of
    -- one report count the same sessions, so this is not always the sum over policies.
    total_successful_session_count bigint NOT NULL CHECK (total_successful_session_count >= 0),
    total_failure_session_count    bigint NOT NULL CHECK (total_failure_session_count >= 0),
    warnings                       text[] NOT NULL DEFAULT '{}',
    metadata                       jsonb NOT NULL DEFAULT '{}',   -- email headers, file name, filled fields
    -- RFC 8460 §3: whether the email carried a valid DKIM signature of the reporting
    -- domain ('pass', 'fail', 'none', 'temperror', 'permerror'); NULL when not checked
    -- (HTTPS has no signature). A later copy by mail can upgrade it to 'pass'.
    dkim_state                     text CHECK (dkim_state IN ('pass', 'fail', 'none', 'temperror', 'permerror')),
    dkim_domain                    text,                   -- d= of the signature that passed
    CONSTRAINT reports_identity UNIQUE (organization_name, report_id)
);
CREATE INDEX IF NOT EXISTS reports_start ON reports (start_datetime DESC);
CREATE INDEX IF NOT EXISTS reports_received ON reports (received_at);

-- Every transport a report came by, once each: a report first POSTed and later mailed
-- shows both.
CREATE TABLE IF NOT EXISTS report_receipts (
    report         bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    transport      text NOT NULL CHECK (transport IN ('https', 'smtp', 'import', 'pipe')),
    received_at    timestamptz NOT NULL DEFAULT now(),
    source_address text NOT NULL DEFAULT '',             -- peer IP, file path, …
    PRIMARY KEY (report, transport)
);

-- The bytes as received, for audit and for re-parsing when the parser improves. Kept apart
-- from reports so that scans of the hot table do not drag these pages along.
-- raw is always a gzip member whose content is the report JSON: the body itself when it
-- came gzipped (raw_encoding 'gzip'), else the JSON body compressed here ('json').
-- sha256 and size describe the body as received.
CREATE TABLE IF NOT EXISTS report_raw (
    report       bigint PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    raw          bytea NOT NULL,
    raw_encoding text NOT NULL CHECK (raw_encoding IN ('gzip', 'json')),
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    size         bigint NOT NULL CHECK (size >= 0)
);
-- Already compressed: spare PostgreSQL a second, useless compression attempt.
ALTER TABLE report_raw ALTER COLUMN raw SET STORAGE EXTERNAL;

-- RFC 8460 §4.4 "policies": one row per entry, in the report's order. Google sends several
-- entries for one domain (no-policy-found and two sts policies when the policy changed
-- during the day), so (report, policy_domain) is not unique.
CREATE TABLE IF NOT EXISTS report_policies (
    report                         bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    policy_index                   integer NOT NULL CHECK (policy_index >= 0),
    policy_type                    text NOT NULL CHECK (policy_type IN ('sts', 'tlsa', 'no-policy-found')),
    policy_domain                  text NOT NULL,
    policy_domain_filled           boolean NOT NULL DEFAULT false,   -- from metadata, not the JSON
    policy_string                  text[] NOT NULL DEFAULT '{}',     -- verbatim lines, sender's order
    mx_host                        text[] NOT NULL DEFAULT '{}',
    total_successful_session_count bigint NOT NULL CHECK (total_successful_session_count >= 0),
    total_failure_session_count    bigint NOT NULL CHECK (total_failure_session_count >= 0),
    report_start                   timestamptz NOT NULL,   -- reports.start_datetime, for listing by domain
    PRIMARY KEY (report, policy_index)
);
CREATE INDEX IF NOT EXISTS report_policies_domain ON report_policies (policy_domain, report_start DESC);

-- RFC 8460 §4.4 "failure-details", the large table: partitioned by month on day (the UTC
-- date of the report's start-datetime). The store creates each month's partition on
-- demand; the DEFAULT partition catches rows for a month whose partition was dropped.
CREATE TABLE IF NOT EXISTS failure_details (
    report                 bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    policy_index           integer NOT NULL CHECK (policy_index >= 0),
    detail_index           integer NOT NULL CHECK (detail_index >= 0),
    day                    date NOT NULL,
    policy_domain          text NOT NULL,
    organization_name      text NOT NULL,
    result_type            text NOT NULL,      -- verbatim: the IANA registry grows
    -- Text, not inet: senders put host names, ports and garbage in these.
    sending_mta_ip         text,
    receiving_mx_hostname  text,
    receiving_mx_helo      text,
    receiving_ip           text,
    failed_session_count   bigint NOT NULL CHECK (failed_session_count >= 0),
    additional_information text,
    failure_reason_code    text
) PARTITION BY RANGE (day);
CREATE TABLE IF NOT EXISTS failure_details_default PARTITION OF failure_details DEFAULT;
CREATE INDEX IF NOT EXISTS failure_details_report ON failure_details (report);
-- Trends by sending IP and incident evidence read details per domain and day.
CREATE INDEX IF NOT EXISTS failure_details_domain_day ON failure_details (policy_domain, day, result_type);

-- Sessions per (policy domain, day, policy type, result type, receiving MX, sending
-- organization), maintained at ingest in the report's transaction, so that trends never
-- scan the details. '' means "none" in key columns (NULLs would defeat the key):
--   result_type '' and receiving_mx '' : the policy's summary (RFC 8460 §4.4 "summary"),
--                                        successful and failed sessions
--   result_type <type>                 : failure details of that type, failed sessions only;
--                                        receiving_mx is the detail's receiving-mx-hostname,
--                                        else its receiving-ip, else ''.
-- policy_type is part of the key because senders that evaluate both DANE and MTA-STS
-- report the same sessions under each (Microsoft): trends pick a type, never add them up.
CREATE TABLE IF NOT EXISTS daily_rollups (
    policy_domain       text NOT NULL,
    day                 date NOT NULL,
    policy_type         text NOT NULL,
    result_type         text NOT NULL DEFAULT '',
    receiving_mx        text NOT NULL DEFAULT '',
    organization_name   text NOT NULL,
    successful_sessions bigint NOT NULL DEFAULT 0 CHECK (successful_sessions >= 0),
    failed_sessions     bigint NOT NULL DEFAULT 0 CHECK (failed_sessions >= 0),
    PRIMARY KEY (policy_domain, day, policy_type, result_type, receiving_mx, organization_name)
);
-- The key serves per-domain ranges of days; these serve "by sender" and "across domains".
CREATE INDEX IF NOT EXISTS daily_rollups_org_day ON daily_rollups (organization_name, day);
CREATE INDEX IF NOT EXISTS daily_rollups_day ON daily_rollups (day);
