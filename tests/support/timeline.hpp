// Timelines for the analysis' scenario tests: weeks of one domain's history written into a
// fresh migrated database through the real stores, with past dates. Reports (one
// organization, one day, the domain's policies with summary counts and failure details) go
// through store_batch (store/report_store.hpp), checks through monitor_store::save
// (store/monitor_store.hpp) as the monitor writes them: the check result's JSON
// (docs/check.md), its findings, and the change events that checks/monitor_diff finds
// against the previous check. Days count from a fixed today, so that the scenarios do not
// depend on the clock.
#pragma once

#include "checks/checker.hpp"
#include "common/time.hpp"
#include "store/monitor_rows.hpp"
#include "tests/support/test_support.hpp"
#include "tlsrpt/report.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace stswatch::test {

// The today of the scenarios: 2026-11-30.
utc_date timeline_today();

// "2026-11-17" as a day; FAILs on anything else.
utc_date day_from(const std::string& text);

// Failed sessions of one failure detail.
struct failure_spec {
    std::string result_type;
    std::string receiving_mx;      // "" leaves receiving-mx-hostname out
    std::string sending_ip;        // "" leaves sending-mta-ip out
    std::int64_t count = 0;
};

// One policy entry of a report. Its total-failure-session-count is the failures' sum.
struct policy_spec {
    stswatch::policy_type type = stswatch::policy_type::sts;
    std::string domain;                        // "" for the timeline's domain
    std::vector<std::string> policy_string;    // the lines as the sender applied them
    std::vector<std::string> mx_host;
    std::int64_t successful = 0;
    std::vector<failure_spec> failures;
};

// One MX as a check saw it: STARTTLS, TLS 1.3, the certificate's names (the host when
// empty), end of validity, trust and digest.
struct mx_state {
    std::string host;
    std::uint16_t preference = 10;
    std::string not_after = "2027-06-01T00:00:00Z";
    bool trusted = true;
    bool starttls = true;
    std::string sha256 = "aa11";
};

// The deployment as one check saw it.
struct deployment_state {
    std::string sts_id = "20261001T000000";
    std::string policy_text;                   // the policy served; "" when none could be fetched
    std::vector<mx_state> mx;
    std::vector<stswatch::finding> findings;   // besides what the diff with the previous check adds
};

// "version: STSv1\r\nmode: <mode>\r\nmx: <each>\r\nmax_age: <max_age>\r\n".
std::string policy_text(const std::vector<std::string>& mx, long long max_age = 604800,
                        const std::string& mode = "enforce");
// The lines of a policy text, as senders put them in policy-string.
std::vector<std::string> policy_lines(const std::string& text);

// A report of organization for day (00:00:00Z to 23:59:59Z), report-id unique per
// organization and day unless given.
stswatch::tls_report make_report(const std::string& organization, utc_date day, const std::string& domain,
                                 const std::vector<policy_spec>& policies, const std::string& report_id = {});

class timeline {
public:
    // A fresh migrated database, domain monitored. Day 1 is today - days + 1.
    explicit timeline(std::string domain, int days = 30, utc_date today = timeline_today());
    ~timeline();
    timeline(const timeline&) = delete;
    timeline& operator=(const timeline&) = delete;

    const std::string& url() const;
    const std::string& domain() const { return domain_; }
    utc_date today() const { return today_; }
    int days() const { return days_; }
    utc_date day(int n) const;                 // day n, 1-based: day(days()) is today
    std::string at(int n, int hour = 6, int minute = 0) const;   // RFC 3339 of day n, UTC
    std::string mx(const std::string& label) const { return label + "." + domain_; }

    // Queues a report; store() writes what is queued.
    void report(const std::string& organization, int day, const std::vector<policy_spec>& policies,
                const std::string& report_id = {});
    void report(stswatch::tls_report r);
    // A report as a sender wrote it, read by the report parser (FAILs when it does not parse).
    void report_json(const std::string& json);
    // One report of organization on each of days [from, to], its policies given by the day.
    void daily(const std::string& organization, int from, int to,
               const std::function<std::vector<policy_spec>(int day)>& policies);
    // Stores the queued reports in batches, each report received at the end of its day
    // (received_at); returns how many were new (not duplicates).
    std::size_t store();

    // Saves a check of the deployment at checked_at (RFC 3339), with the change events and
    // the findings the diff with the previous check gives (checks/monitor_diff.hpp).
    // Returns the change events saved.
    std::vector<stswatch::change_event> check(const std::string& checked_at, const deployment_state& state);
    // One check a day at hour:00 on days [from, to] of the same deployment.
    void check_daily(int from, int to, const deployment_state& state, int hour = 6);

    // The check result of a state (also for tests that need its JSON).
    stswatch::check_result check_result_of(const std::string& checked_at, const deployment_state& state) const;

private:
    struct impl;
    std::string domain_;
    int days_;
    utc_date today_;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch::test
