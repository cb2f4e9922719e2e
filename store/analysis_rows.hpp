// The analysis' rows (sql/0004_analysis.sql, docs/analysis.md), as the store reads and writes
// them. No libpqxx here: analyzer/ builds and reads these.
#pragma once

#include "common/time.hpp"
#include "store/monitor_rows.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

// One row of daily_rollups. result_type "" and receiving_mx "" is the policy's summary
// (successful and failed sessions); otherwise the failed sessions of that result type at
// that MX (successful is 0).
struct rollup_row {
    utc_date day{};
    std::string policy_type;      // sts, tlsa, no-policy-found
    std::string result_type;      // "" for the summary
    std::string receiving_mx;     // "" for the summary, or when the detail named no MX
    std::string organization;
    bool counted = true;          // docs/analysis.md "Counting sessions"
    std::int64_t successful = 0, failed = 0;
};

// The trends' series, summed in SQL over the counted rows: one row per day and result
// type; result_type "" carries the day's successful and failed sessions (the summaries),
// the others the failed sessions of that type.
struct day_type_row {
    utc_date day{};
    std::string result_type;
    std::int64_t successful = 0, failed = 0;
};

enum class trend_group { result_type, mx, organization, sending_ip, policy_type };

// One key of a grouping. successful is nullopt where the reports carry no successful count
// for that key (RFC 8460 §4.4: summaries are per policy, not per MX, result type or IP).
struct group_row {
    std::string key;
    std::optional<std::int64_t> successful;
    std::int64_t failed = 0;
    utc_date first_seen{}, last_seen{};
};

// An incident as stored (sql/0004 incidents). id 0: not stored yet.
struct incident_row {
    long long id = 0;
    std::string domain;
    std::string dimension;        // domain, mx, result-type, organization, new-result-type, silent-reporter
    std::string key;
    utc_date onset{};
    utc_date last_day{};          // last day the failures were elevated
    std::optional<utc_date> end;  // nullopt while ongoing
    std::string status = "open";  // open, ended, retracted
    std::int64_t failed_sessions = 0;
    std::int64_t sessions = 0;    // the denominator of failure_rate
    double failure_rate = 0, baseline_rate = 0, p_value = 1;
    std::vector<std::string> mx, result_types, organizations;
    std::string days_json = "[]"; // per-day figures, a JSON array
    std::string opened_at, updated_at;   // RFC 3339; set by the store
    std::optional<std::string> acknowledged_at;
    std::optional<std::string> acknowledged_by;
};

// A domain queued for a refresh of its incidents from since on.
struct queued_domain {
    std::string domain;
    utc_date since{};
    std::string queued_at;        // as claimed (RFC 3339 with microseconds): finish() compares it
};

// A finding as stored with its snapshot's time.
struct finding_row {
    long long snapshot_id = 0;
    std::string checked_at;       // RFC 3339
    std::string code, severity, subject, message;
};

// What the analysis reads of a snapshot (extracted in SQL from its JSON, docs/check.md).
struct snapshot_facts {
    long long id = 0;
    std::string checked_at;                   // RFC 3339
    bool dns_unavailable = false;
    std::string sts_id;                       // "" when none
    std::string policy_sha256;                // "" when not fetched
    std::optional<std::string> policy_text;   // sts.policy_text, when fetched
    std::string policy_json;                  // sts.policy ("null" when none or unusable)
    std::string mx_json;                      // the mx array ("[]" when none)
    long long policy_source_id = 0;           // sql/0003, 0 when none
    std::string carried_certificates_json;    // sql/0003, "" when none
};

// One policy entry of a report as a sender applied it: the report's organization and day,
// the policy lines verbatim, and its sessions.
struct sender_policy_row {
    std::string organization;
    utc_date day{};
    std::string policy_type;
    std::vector<std::string> policy_string;
    std::vector<std::string> mx_host;
    bool counted = true;
    std::int64_t successful = 0, failed = 0;
};

// Counted failure details summed by sending IP, for the evidence of an incident.
struct sending_ip_row {
    std::string sending_ip;       // "" when the detail had none
    std::string organization;
    std::string result_type;
    std::string receiving_mx;
    std::int64_t failed = 0;
};

// One known domain (monitored, or seen in reports) with what `stswatch domains` shows.
struct domain_health_row {
    std::string domain;
    bool monitored = false;
    // Counted sessions over [from, to] (the recent window) and over the baseline window.
    std::int64_t recent_successful = 0, recent_failed = 0;
    std::int64_t baseline_successful = 0, baseline_failed = 0;
    long long open_incidents = 0;
    std::vector<std::string> error_findings;   // codes of the last usable check's error findings
    std::optional<std::string> last_checked_at;
    std::optional<utc_date> last_report_day;
    std::optional<std::string> last_report_received_at;
};

} // namespace stswatch
