// Alerts (docs/alerts.md): the events of the outbox (sql/0006_alerts.sql) sent to the
// configured outputs, a signed webhook POST and an email through the SMTP relay. The pure
// parts (message bodies, signature, backoff, which deliveries go out together) are here for
// the tests; the dispatcher of `stswatch serve` polls the outbox every alerts.interval.
#pragma once

#include "common/settings.hpp"
#include "store/alert_store.hpp"
#include "store/analysis_rows.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace stswatch::alerts {

// --- Messages ---

// One event as it is sent: the event and, for incident events, the incident as stored.
struct event_item {
    alert_event_row event;
    std::optional<incident_row> incident;
};

// What one message carries: one event, a group held back by a domain's quiet period, a
// daily digest, or the test message of `stswatch alerts test`.
struct message {
    std::string id;                 // X-Stswatch-Event: evt-N for one event, msg-BATCH otherwise
    std::string kind;               // the event's kind, or "group", "digest", "test"
    std::string domain;             // "" for a digest and the test
    std::string occurred_at;        // RFC 3339: the event's, the newest event's, or now
    std::string summary;
    std::vector<event_item> events;
};

// The message of a batch of deliveries of one output: one event (immediate) or several.
message message_of(const std::string& batch, const std::string& mode, std::vector<event_item> items);
message test_message(const std::string& now_rfc3339);

// The webhook body (docs/alerts.md "The JSON body").
std::string event_json(const event_item& item);
std::string webhook_body(const message& m);
// HMAC-SHA256 of body under secret, as "sha256=<lower-case hex>".
std::string signature(const std::string& secret, const std::string& body);

// The email (RFC 5322): subject and a plain-text body.
std::string email_subject(const message& m);
std::string email_text(const message& m);
// The whole message with From, To, Subject, Date, Message-ID, MIME headers, CRLF line ends.
std::string email_message(const message& m, const std::string& from, const std::vector<std::string>& to,
                          const std::string& date_rfc5322, const std::string& message_id);

// --- Delivery schedule ---

// Seconds before the attempt after attempt number `attempts` (1 = the first failed):
// base doubled per attempt, at most one hour.
std::chrono::seconds retry_delay(unsigned base_s, unsigned attempts);

// The last digest_hour:00 UTC at or before now (epoch seconds).
std::int64_t last_digest_time(std::int64_t now, unsigned digest_hour);

// Which pending deliveries go out now, and together (store/alert_store.hpp chooser):
// - a batch already formed (a retry) as it is, when its next attempt is due;
// - immediate ones per (output, domain), once the domain's quiet period after its last
//   alert sent through that output has passed: all of them in one message;
// - digest ones per output, once one of them is older than the last digest_hour:00 UTC.
std::vector<alert_batch_choice> choose_batches(std::int64_t now, const std::vector<alert_delivery_row>& pending,
                                               const std::vector<alert_last_sent>& last, unsigned digest_hour);

// --- Outputs ---

struct send_result {
    bool ok = false;
    bool retry = false;             // false with !ok: given up at once (a 4xx other than 408/429)
    std::string error;
};

// POSTs the message (docs/alerts.md) to alerts.webhook.url.
send_result send_webhook(const settings& s, const message& m);
// Sends it through alerts.email.relay.
send_result send_email(const settings& s, const message& m);

// The outputs configured ("webhook", "email"), in that order.
std::vector<std::string> configured_outputs(const settings& s);
// "" when the alert settings are usable, else what is wrong ("alerts.email.from is not set").
std::string settings_problem(const settings& s);

// --- The dispatcher ---

class dispatcher {
public:
    explicit dispatcher(settings s);
    ~dispatcher();                   // stops
    void start();
    void stop();
    void poke();                     // read the outbox now
    // One pass over the outbox (what the thread does every alerts.interval); returns the
    // messages sent.
    std::size_t run_once();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch::alerts
