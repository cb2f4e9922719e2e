-- Per-domain settings that the dashboard and the API change (docs/api.md): how often the
-- monitor checks the domain, and how its alerts are sent. NULL means the configured
-- default (monitor.interval, alerts.*).
ALTER TABLE monitored_domains ADD COLUMN IF NOT EXISTS interval_s integer
    CHECK (interval_s IS NULL OR interval_s BETWEEN 60 AND 604800);
ALTER TABLE monitored_domains ADD COLUMN IF NOT EXISTS alert_mode text
    CHECK (alert_mode IS NULL OR alert_mode IN ('immediate', 'digest', 'off'));
ALTER TABLE monitored_domains ADD COLUMN IF NOT EXISTS quiet_period_s integer
    CHECK (quiet_period_s IS NULL OR quiet_period_s BETWEEN 0 AND 604800);
