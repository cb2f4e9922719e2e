-- Ingest writes about ten failure details and eight rollup rows per report, and each of
-- those rows pays for every index and foreign key of its table (bench/README.md, "Profile
-- of HTTPS intake"). This keeps the ones a query reads and drops the rest.

-- No query reads daily_rollups by organization or by day alone: trends, incidents and the
-- domain list go through the primary key (domain first) or daily_rollups_counted_summaries.
DROP INDEX IF EXISTS daily_rollups_org_day;
DROP INDEX IF EXISTS daily_rollups_day;

-- One index on failure_details by domain and day serves every reader of them: trends and
-- evidence by sending IP (counted rows of a domain's days) and the MX hosts seen in
-- reports (all rows of a domain). It replaces two: one on (domain, day, result_type),
-- which no query used beyond its (domain, day) prefix, and a partial one on
-- (domain, day, sending IP) where counted.
CREATE INDEX IF NOT EXISTS failure_details_domain_day_ip_all
    ON failure_details (policy_domain, day, sending_mta_ip);
DROP INDEX IF EXISTS failure_details_domain_day;
DROP INDEX IF EXISTS failure_details_domain_day_ip;

-- The foreign key of failure_details checked every detail row against reports at insert
-- (a third of the cost of storing them), yet the store writes a report and its details in
-- one transaction, so no detail can name a missing report. What the key also did, deleting
-- a report's details with it, is kept by a statement trigger: one DELETE per statement
-- that deletes reports, however many.
ALTER TABLE failure_details DROP CONSTRAINT IF EXISTS failure_details_report_fkey;

CREATE OR REPLACE FUNCTION stswatch_delete_failure_details() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM failure_details d USING gone g WHERE d.report = g.id;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS reports_delete_failure_details ON reports;
CREATE TRIGGER reports_delete_failure_details
    AFTER DELETE ON reports REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION stswatch_delete_failure_details();
