// The monitor's tables (sql/0002, sql/0003): monitored_domains, check_snapshots,
// check_findings, change_events. One connection (store/connection.hpp); not thread-safe (one
// per thread). Every method throws the store's errors (store/errors.hpp), never libpqxx's.
#pragma once

#include "store/errors.hpp"
#include "store/monitor_rows.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

class monitor_store {
public:
    // Connects (store_unavailable "cannot connect: …" when it cannot).
    explicit monitor_store(const std::string& db_url);
    ~monitor_store();
    monitor_store(const monitor_store&) = delete;
    monitor_store& operator=(const monitor_store&) = delete;

    bool add(const std::string& domain);       // false when already monitored
    bool remove(const std::string& domain);    // false when it was not monitored
    std::vector<monitored_domain> list();
    std::optional<monitored_domain> get(const std::string& domain);
    // Replaces the domain's settings (sql/0005); false when it is not monitored. Throws
    // std::invalid_argument naming the setting when a value is out of range.
    bool set_settings(const std::string& domain, const domain_settings& settings);
    // Makes the domain due now, so that the running monitor checks it within its poll
    // interval; false when it is not monitored.
    bool check_soon(const std::string& domain);

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
    // the domain's next check time. Returns the snapshot's id.
    long long save(const snapshot_row& snapshot, const std::vector<change_event>& changes,
                   std::chrono::system_clock::time_point next_check);
    // The newest snapshot that is not dns_unavailable.
    std::optional<snapshot_text> latest(const std::string& domain);
    // latest() with what it carries from earlier snapshots (sql/0003).
    std::optional<comparison_rows> comparison(const std::string& domain);
    // Change events, newest check first (in diff order within one check).
    std::vector<change_event> changes(const std::string& domain, std::size_t limit = 100);
    std::vector<stored_change> change_history(const std::string& domain, std::size_t limit = 100);

    // reported_mx_hosts (store/report_queries.hpp) on this store's connection.
    std::vector<std::string> reported_mx_hosts(const std::string& domain);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
