// The alert outbox (sql/0006_alerts.sql, docs/alerts.md): the events the stores write with
// the facts that cause them, and their deliveries, one per (event, output), that the
// dispatcher of `stswatch serve` claims, sends and marks. One connection; not thread-safe
// (one per thread). Every method throws the store's errors (store/errors.hpp).
#pragma once

#include "store/errors.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

struct alert_event_row {
    long long id = 0;
    std::string event_key;
    std::string kind;                       // incident-opened, incident-ended, finding-error
    std::string domain;
    std::string occurred_at;                // RFC 3339
    std::optional<long long> incident_id;   // incident events (nullopt when deleted since)
    std::string finding_json;               // finding-error: the finding; "" otherwise
    std::string summary;
};

struct alert_delivery_row {
    long long id = 0;
    std::string output;                     // webhook, email
    std::string mode;                       // immediate, digest
    int quiet_period_s = 0;
    std::string status;                     // pending, sent, failed, skipped
    std::string batch;                      // "" until first claimed
    int attempts = 0;
    std::int64_t created_at = 0;            // epoch seconds
    std::int64_t next_attempt_at = 0;       // epoch seconds
    std::string sent_at, last_error;        // "" when none
    alert_event_row event;
};

// When an immediate alert of a domain last went out through an output (or is going out
// now: a claimed delivery counts as sent at the claim).
struct alert_last_sent {
    std::string output, domain;
    std::int64_t at = 0;                    // epoch seconds
};

// The deliveries chosen to go out in one message.
struct alert_batch_choice {
    std::string batch;
    std::vector<long long> deliveries;
};

struct alert_delivery_defaults {
    std::string mode = "immediate";         // for domains without their own alert_mode
    int quiet_period_s = 0;                 // for domains without their own quiet_period_s
    std::chrono::seconds max_age{std::chrono::hours(24)};   // older events get no delivery
};

class alert_store {
public:
    explicit alert_store(const std::string& db_url);
    ~alert_store();
    alert_store(const alert_store&) = delete;
    alert_store& operator=(const alert_store&) = delete;

    // Gives every event of the last max_age without a delivery for an output one, with the
    // domain's alert_mode and quiet_period_s (sql/0005), or the defaults: mode off is
    // created skipped. Returns how many were created.
    std::size_t create_deliveries(const std::vector<std::string>& outputs, const alert_delivery_defaults& d);

    // In one transaction: reads the pending deliveries that no dispatcher holds (FOR UPDATE
    // SKIP LOCKED), asks choose which go out now and in which batch, and claims those for
    // lease. Returns the claimed deliveries with their events, batch set.
    using chooser = std::function<std::vector<alert_batch_choice>(
        std::int64_t now, const std::vector<alert_delivery_row>& pending, const std::vector<alert_last_sent>& last)>;
    std::vector<alert_delivery_row> claim(const chooser& choose, std::chrono::seconds lease);

    void mark_sent(const std::vector<long long>& ids);
    // Another attempt after delay (attempts counted), the claim released.
    void mark_retry(const std::vector<long long>& ids, const std::string& error, std::chrono::seconds delay);
    // Given up: failed (attempts counted) or skipped (no attempt: nothing to send).
    void mark_failed(const std::vector<long long>& ids, const std::string& error);
    void mark_skipped(const std::vector<long long>& ids, const std::string& reason);

    // The newest deliveries with their events, for `stswatch alerts list`; status "" = any.
    std::vector<alert_delivery_row> deliveries(const std::string& status, std::size_t limit);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
