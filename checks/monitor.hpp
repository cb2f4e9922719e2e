// Monitoring: the domains `stswatch serve` checks every monitor.interval, the snapshot each
// check stores (the check_result JSON: records, policy text, MX set, certificates) with its
// findings, and the change events between a snapshot and the one before it.
#pragma once

#include "checks/checker.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
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

struct stored_snapshot {
    long long id = 0;
    check_result result;
};

// What a check is compared with: the domain's last usable snapshot and, for the parts of it
// that a transient failure can hide without saying anything about the domain (the policy
// when its host could not be reached, the certificate of an MX that did not answer), the
// last values seen.
struct diff_base {
    stored_snapshot previous;
    // The last snapshot whose published policy was known (fetched, or known to be absent),
    // when previous's was not: its policy text, parsed policy and the _mta-sts id it was
    // fetched under are what the next policy is compared with. Empty when previous's own
    // policy is known, or when none ever was.
    std::optional<stored_snapshot> policy_source;
    // "<MX host> <address>" of previous's live set -> the last certificate presented there,
    // for the addresses that presented none in previous (only sha256 and not_after kept).
    std::map<std::string, certificate_info> certificates;
};

// Pure: the base for the check after `snapshot`, given the base `snapshot` was compared
// with (nullptr for a domain's first snapshot).
diff_base next_diff_base(const diff_base* base, const stored_snapshot& snapshot);

// Pure: the change events from before to after (same domain), in a stable order. A policy
// that senders would read differently while the _mta-sts id stayed the same also yields the
// finding sts-policy-changed-without-id, appended to findings_out.
std::vector<change_event> diff_snapshots(const diff_base& before, const check_result& after,
                                         std::vector<finding>& findings_out);
// The same with nothing carried from earlier snapshots: before is all there is.
std::vector<change_event> diff_snapshots(const check_result& before, const check_result& after,
                                         std::vector<finding>& findings_out);

struct monitored_domain {
    std::string domain;
    std::string added_at;                      // RFC 3339
    std::optional<std::string> last_checked_at;
    std::optional<std::string> next_check_at;
    unsigned errors = 0, warnings = 0;         // of the last check
};

// A change event as stored, with when and by which snapshot it was seen.
struct stored_change {
    change_event event;
    std::string detected_at;                   // RFC 3339: checked_at of the snapshot
    long long snapshot_id = 0;
};

// The monitor's tables (sql/0002, sql/0003): monitored_domains, check_snapshots,
// check_findings, change_events. One connection; not thread-safe (one per thread).
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
    // the domain's next check time. base is what result was compared with: what it carries
    // past a transient failure in result (next_diff_base) is stored with the snapshot.
    long long save(const check_result& result, const std::vector<change_event>& changes,
                   std::chrono::system_clock::time_point next_check, const diff_base* base = nullptr);
    // The newest snapshot that is not dns_unavailable.
    std::optional<stored_snapshot> latest(const std::string& domain);
    // What the next check diffs against: latest() with what it carries from earlier
    // snapshots (sql/0003).
    std::optional<diff_base> comparison_base(const std::string& domain);
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
