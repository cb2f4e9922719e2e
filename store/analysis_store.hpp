// The analysis' queries (docs/analysis.md): the rollups and details that trends and the
// incident detection read, the stored incidents, the refresh queue, and the evidence of the
// monitor (findings, snapshots, changes) and of the reports (the policies senders applied).
// One connection (store/connection.hpp); not thread-safe (one per thread). Every method
// throws the store's errors (store/errors.hpp), never libpqxx's.
#pragma once

#include "store/analysis_rows.hpp"
#include "store/errors.hpp"
#include "store/report_records.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

class analysis_store {
public:
    // Connects (store_unavailable "cannot connect: …" when it cannot).
    explicit analysis_store(const std::string& db_url);
    ~analysis_store();
    analysis_store(const analysis_store&) = delete;
    analysis_store& operator=(const analysis_store&) = delete;

    // --- Trends (the rollups; days are inclusive) ---
    // Counted rows summed per day and result type (day_type_row), ordered by day.
    std::vector<day_type_row> daily_series(const std::string& domain, utc_date from, utc_date to);
    // Counted rows per key, except policy_type, which shows every row under its own type.
    // sending_ip reads the counted failure details. Ordered by failed descending, then key.
    std::vector<group_row> groups(const std::string& domain, utc_date from, utc_date to, trend_group by);

    // --- Detection ---
    // The domain's rollup rows in [from, to], counted ones only, ordered by day.
    std::vector<rollup_row> rollups(const std::string& domain, utc_date from, utc_date to);

    // --- Incidents ---
    // Incidents of the domain whose days overlap [from, to] (a nullopt bound is open),
    // retracted ones left out, newest onset first.
    std::vector<incident_row> incidents(const std::string& domain, std::optional<utc_date> from,
                                        std::optional<utc_date> to);
    // Every incident of the domain, retracted ones included, whose last day is on or after
    // from: what a refresh reconciles with.
    std::optional<incident_row> incident(long long id);          // nullopt: none (or retracted)
    // Marks the incident acknowledged (the first time only); nullopt when there is none.
    std::optional<incident_row> acknowledge(long long id, const std::string& by);
    std::vector<incident_row> incidents_for_refresh(const std::string& domain, utc_date from);
    // In one transaction: inserts the rows with id 0 (setting their id), updates the others
    // (by id; opened_at and acknowledged_at are kept), and marks retracted the stored
    // incidents listed in retract. Returns the rows as stored.
    std::vector<incident_row> save_incidents(std::vector<incident_row> rows, const std::vector<long long>& retract);

    // --- The refresh queue (sql/0004 analysis_queue) ---
    // Queues domain for a refresh from since on (an earlier since of a queued row wins).
    void enqueue(const std::string& domain, utc_date since);
    // Queues every domain seen in reports or monitored, from since on.
    std::size_t enqueue_all(utc_date since);
    // Claims up to limit queued domains, oldest queued first, that no other refresher holds:
    // their claimed_until moves to now + lease, so another `stswatch serve` on the same
    // database skips them; a claim that dies with its process runs out.
    std::vector<queued_domain> claim(std::size_t limit, std::chrono::seconds lease);
    // The refresh of these claimed domains is saved: deletes their rows, except those queued
    // again since the claim (queued_at moved), which stay, unclaimed, for the next refresh.
    void finish(const std::vector<queued_domain>& done);
    // The refresh of these failed: unclaims them, to be tried again at the next claim.
    void release(const std::vector<queued_domain>& failed);

    // --- Evidence ---
    // Findings of the domain's snapshots checked in [from, to] (RFC 3339 bounds), and of the
    // last usable snapshot before from, ordered by checked_at.
    std::vector<finding_row> findings(const std::string& domain, const std::string& from, const std::string& to);
    // The domain's snapshots checked in [from, to], and the last one before from, ordered by
    // checked_at.
    std::vector<snapshot_facts> snapshots(const std::string& domain, const std::string& from, const std::string& to);
    // Change events detected in [from, to], oldest first.
    std::vector<stored_change> changes(const std::string& domain, const std::string& from, const std::string& to);
    // The domain's policy entries in reports of days [from, to], every type, counted or not.
    std::vector<sender_policy_row> sender_policies(const std::string& domain, utc_date from, utc_date to);
    // Counted failure details of days [from, to] summed by (sending IP, organization,
    // result type, MX), largest first, at most limit rows.
    std::vector<sending_ip_row> sending_ips(const std::string& domain, utc_date from, utc_date to,
                                            std::size_t limit = 50);

    // --- Domains ---
    // Every known domain (monitored or in reported_domains), sorted, with its counted
    // sessions over [recent_from, to] and [baseline_from, recent_from - 1], open incidents,
    // the error findings of its last usable check and its last report.
    // The stored reports (store/report_queries.hpp), for the API and the dashboard.
    report_page reports(const report_query& q, std::optional<std::int64_t> before_id);
    std::optional<stored_report> report(std::int64_t id);

    std::vector<domain_health_row> domain_health(utc_date baseline_from, utc_date recent_from, utc_date to);

    // --- The API's look-ups (docs/api.md) ---
    // Whether the domain is monitored or named by a stored report (reported_domains).
    bool domain_known(const std::string& domain);
    // The domain's newest check (dns_unavailable ones included), with its findings in
    // severity, code and subject order.
    struct check_finding {
        std::string code, severity, subject, message, rfc;
    };
    struct latest_check_row {
        long long snapshot_id = 0;
        std::string checked_at;     // RFC 3339
        bool dns_unavailable = false;
        unsigned errors = 0, warnings = 0;
        std::vector<check_finding> findings;
    };
    std::optional<latest_check_row> latest_check(const std::string& domain);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
