// The monitor's rows (sql/0002_monitoring.sql, sql/0003_monitor_known_policy.sql), as the
// store reads and writes them: a snapshot is the check result's JSON text with the columns
// kept beside it. No libpqxx here: checks/ builds and reads these (checks/monitor_snapshots).
#pragma once

#include "mtasts/findings.hpp"

#include <optional>
#include <string>
#include <vector>

namespace stswatch {

// One difference between two consecutive snapshots of a domain.
struct change_event {
    std::string kind;      // sts-record-added, sts-record-removed, sts-id-changed,
                           // sts-policy-added, sts-policy-removed, sts-policy-changed,
                           // sts-mode-changed, sts-max-age-changed, sts-mx-patterns-changed,
                           // mx-added, mx-removed, mx-cert-rotated, tlsrpt-record-added,
                           // tlsrpt-record-removed, tlsrpt-record-changed,
                           // mx-preference-changed, sts-policy-expired-at-senders,
                           // sts-policy-recovered, mx-tlsa-changed
    std::string subject;   // the domain, an MX host, a record name
    std::string before;    // "" when absent
    std::string after;     // "" when absent
};

// sql/0005_domain_settings.sql: nullopt = the configured default.
struct domain_settings {
    std::optional<unsigned> interval_s;        // 60..604800
    std::optional<std::string> alert_mode;     // immediate, digest, off
    std::optional<unsigned> quiet_period_s;    // 0..604800
};

struct monitored_domain {
    std::string domain;
    std::string added_at;                      // RFC 3339
    std::optional<std::string> last_checked_at;
    std::optional<std::string> next_check_at;
    unsigned errors = 0, warnings = 0;         // of the last check
    domain_settings settings;
};

// A change event as stored, with when and by which snapshot it was seen.
struct stored_change {
    change_event event;
    std::string detected_at;                   // RFC 3339: checked_at of the snapshot
    long long snapshot_id = 0;
};

// One row of check_snapshots to insert, with its findings.
struct snapshot_row {
    std::string domain;                      // normalised
    std::string checked_at;                  // RFC 3339; "" for the transaction's time
    bool dns_unavailable = false;
    std::string sts_id;                      // "" when none
    std::string policy_sha256;               // of the published policy text; "" when none
    std::string snapshot_json;               // the check result (checks/checker.hpp to_json_text)
    unsigned errors = 0, warnings = 0;
    long long policy_source_id = 0;          // 0 when none (sql/0003)
    std::string carried_certificates_json;   // "" when none (sql/0003)
    std::vector<finding> findings;
};

// A stored snapshot's id and JSON text.
struct snapshot_text {
    long long id = 0;
    std::string json;
};

// What the next check of a domain is compared with, as stored: the newest snapshot that is
// not dns_unavailable, the certificates it carries and its policy source (sql/0003).
struct comparison_rows {
    snapshot_text previous;
    std::optional<std::string> carried_certificates_json;
    std::optional<snapshot_text> policy_source;
};

} // namespace stswatch
