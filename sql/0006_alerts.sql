-- The alert outbox (docs/alerts.md). An event is written in the same transaction as the fact
-- that causes it (an incident stored as open, a stored open incident ended, a new error
-- finding of a check), once: event_key is unique and the writers insert with ON CONFLICT DO
-- NOTHING. The dispatcher of `stswatch serve` gives each event a delivery per configured
-- output, claims due deliveries for a lease (FOR UPDATE SKIP LOCKED, so two instances never
-- send one twice) and marks them sent, or failed after alerts.max_attempts.
CREATE TABLE IF NOT EXISTS alert_events (
    id          bigserial PRIMARY KEY,
    event_key   text NOT NULL UNIQUE,          -- incident-opened:42, finding-error:SNAPSHOT:CODE:SUBJECT
    kind        text NOT NULL CHECK (kind IN ('incident-opened', 'incident-ended', 'finding-error')),
    domain      text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL,
    finding     jsonb,                         -- finding-error: code, severity, subject, message, rfc, snapshot_id
    summary     text NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_occurred ON alert_events (occurred_at);

CREATE TABLE IF NOT EXISTS alert_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    output          text NOT NULL,             -- webhook, email
    mode            text NOT NULL CHECK (mode IN ('immediate', 'digest', 'off')),
    quiet_period_s  integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    batch           text,                      -- the message it is sent in, fixed at its first claim
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,               -- a dispatcher is sending it until then
    sent_at         timestamptz,
    last_error      text,
    UNIQUE (event_id, output)
);
CREATE INDEX IF NOT EXISTS alert_deliveries_pending ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alert_deliveries_sent ON alert_deliveries (output, sent_at) WHERE status = 'sent';
