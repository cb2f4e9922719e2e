// Monitoring: the domains `stswatch serve` checks every monitor.interval, the snapshot each
// check stores (the check_result JSON: records, policy text, MX set, certificates) with its
// findings, and the change events between consecutive snapshots.
#pragma once

#include "checks/checker.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
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
                           // mx-preference-changed
    std::string subject;   // the domain, an MX host, a record name
    std::string before;    // "" when absent
    std::string after;     // "" when absent
};

// Pure: the change events from before to after (same domain), in a stable order. A policy
// whose text changed while the _mta-sts id stayed the same also yields the finding
// sts-policy-changed-without-id, appended to findings_out.
std::vector<change_event> diff_snapshots(const check_result& before, const check_result& after,
                                         std::vector<finding>& findings_out);

struct monitored_domain {
    std::string domain;
    std::string added_at;                      // RFC 3339
    std::optional<std::string> last_checked_at;
    std::optional<std::string> next_check_at;
    unsigned errors = 0, warnings = 0;         // of the last check
};

struct stored_snapshot {
    long long id = 0;
    check_result result;
};

// A change event as stored, with when and by which snapshot it was seen.
struct stored_change {
    change_event event;
    std::string detected_at;                   // RFC 3339: checked_at of the snapshot
    long long snapshot_id = 0;
};

// The monitor's tables (sql/0002): monitored_domains, check_snapshots, check_findings,
// change_events. One connection; not thread-safe (one per thread).
class monitor_store {
public:
    explicit monitor_store(const std::string& db_url);
    ~monitor_store();
    monitor_store(const monitor_store&) = delete;
    monitor_store& operator=(const monitor_store&) = delete;

    bool add(const std::string& domain);       // false when already monitored
    bool remove(const std::string& domain);    // false when it was not monitored
    std::vector<monitored_domain> list();

    // Domains whose next check is due at now, at most limit, oldest due first.
    std::vector<std::string> due(std::size_t limit);
    // As due(), and claims them: their next check moves to now + lease, so that another
    // scheduler on the same database (or the next poll) does not pick them while they are
    // checked; save() or reschedule() then sets the real next check. A check that dies
    // with its process is retried when the lease runs out.
    std::vector<std::string> claim_due(std::size_t limit, std::chrono::seconds lease);
    // Sets the next check of a monitored domain (after a check that failed to run).
    void reschedule(const std::string& domain, std::chrono::system_clock::time_point next_check);
    // Stores the snapshot, its findings and the change events in one transaction, and sets
    // the domain's next check time.
    long long save(const check_result& result, const std::vector<change_event>& changes,
                   std::chrono::system_clock::time_point next_check);
    // The newest snapshot that is not dns_unavailable (what the next check diffs against).
    std::optional<stored_snapshot> latest(const std::string& domain);
    // Change events, newest check first (in diff order within one check).
    std::vector<change_event> changes(const std::string& domain, std::size_t limit = 100);
    std::vector<stored_change> change_history(const std::string& domain, std::size_t limit = 100);

    // MX hosts seen in the domain's stored reports (failure details' receiving MX and
    // policies' mx patterns are not hosts: only receiving_mx_hostname), for --policy-file.
    std::vector<std::string> reported_mx_hosts(const std::string& domain);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

struct monitor_options {
    std::string db_url;
    unsigned interval_s = 3600;
    unsigned jitter_percent = 10;
    unsigned concurrency = 4;
    unsigned poll_ms = 1000;                   // how often due domains are looked for
};

// The scheduler in `serve`: checks due domains with bounded concurrency, stores each
// snapshot with its change events, logs one line per check. check is run_check bound to
// a resolver and options (replaceable in tests).
class monitor {
public:
    using check_function = std::function<check_result(const std::string& domain)>;
    monitor(monitor_options options, check_function check);
    ~monitor();   // stops
    void start();
    void stop();  // waits for running checks
private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
