-- A DKIM pass that rests only on keys in testing mode (t=y) is its own verdict,
-- 'pass-testing': RFC 6376 §3.6.1 says such mail is to be treated as unsigned, so it is
-- neither shown nor ranked as a pass (store/report_rows.hpp: dkim_verdicts_weakest_first).
ALTER TABLE reports DROP CONSTRAINT IF EXISTS reports_dkim_state_check;
ALTER TABLE reports ADD CONSTRAINT reports_dkim_state_check
    CHECK (dkim_state IN ('pass', 'pass-testing', 'fail', 'none', 'temperror', 'permerror'));
