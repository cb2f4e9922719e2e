// Alerts (analyzer/alerts.hpp, docs/alerts.md): the messages, their schedule and the
// dispatcher. The outputs are analyzer/alert_webhook.cpp and analyzer/alert_email.cpp.
#include "analyzer/alerts.hpp"

#include "analyzer/alert_tls.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/json_out.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "common/worker.hpp"
#include "store/analysis_store.hpp"

#include <Poco/JSON/Parser.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <sstream>

namespace stswatch::alerts {

using namespace stswatch::text;
using analysis::json_out;

namespace {

bool is_event_kind(const std::string& kind)
{
    return kind == "incident-opened" || kind == "incident-ended" || kind == "finding-error";
}

std::string event_id(const alert_event_row& e) { return "evt-" + std::to_string(e.id); }

std::string percent(double rate)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f %%", rate * 100);
    return buf;
}

std::int64_t now_epoch() { return static_cast<std::int64_t>(std::time(nullptr)); }

} // namespace

// --- Messages ---

message message_of(const std::string& batch, const std::string& mode, std::vector<event_item> items)
{
    std::sort(items.begin(), items.end(), [](const event_item& a, const event_item& b) {
        return std::tie(a.event.occurred_at, a.event.id) < std::tie(b.event.occurred_at, b.event.id);
    });
    message m;
    if (!items.empty())
        m.occurred_at = items.back().event.occurred_at;
    if (mode == "digest") {
        m.id = "msg-" + batch;
        m.kind = "digest";
        std::vector<std::string> domains;
        for (const auto& i : items)
            if (std::find(domains.begin(), domains.end(), i.event.domain) == domains.end())
                domains.push_back(i.event.domain);
        m.summary = "Daily digest: " + std::to_string(items.size()) + (items.size() == 1 ? " alert" : " alerts") +
                    " for " + join(domains, ", ");
    } else if (items.size() == 1) {
        m.id = event_id(items[0].event);
        m.kind = items[0].event.kind;
        m.domain = items[0].event.domain;
        m.summary = items[0].event.summary;
    } else {
        m.id = "msg-" + batch;
        m.kind = "group";
        m.domain = items.empty() ? std::string() : items[0].event.domain;
        m.summary = std::to_string(items.size()) + " alerts for " + m.domain;
    }
    m.events = std::move(items);
    return m;
}

message test_message(const std::string& now_rfc3339)
{
    message m;
    m.id = "test-" + std::to_string(now_epoch());
    m.kind = "test";
    m.occurred_at = now_rfc3339;
    m.summary = "Test alert from stswatch: this output works";
    return m;
}

namespace {

void write_event_fields(json_out& j, const event_item& item)
{
    j.field("id", event_id(item.event));
    j.field("kind", item.event.kind);
    j.field("domain", item.event.domain);
    j.field("occurred_at", item.event.occurred_at);
    j.field("summary", item.event.summary);
    if (item.event.kind == "finding-error") {
        j.key("finding");
        if (item.event.finding_json.empty())
            j.null();
        else
            j.raw(item.event.finding_json);
    } else {
        j.key("incident");
        if (item.incident)
            j.raw(analysis::incident_json(*item.incident));
        else
            j.null();
    }
}

} // namespace

std::string event_json(const event_item& item)
{
    json_out j;
    j.begin_object();
    write_event_fields(j, item);
    j.end_object();
    return j.take();
}

std::string webhook_body(const message& m)
{
    if (is_event_kind(m.kind) && m.events.size() == 1)
        return event_json(m.events[0]);
    json_out j;
    j.begin_object();
    j.field("id", m.id);
    j.field("kind", m.kind);
    j.key("domain");
    if (m.domain.empty())
        j.null();
    else
        j.value(m.domain);
    j.field("occurred_at", m.occurred_at);
    j.field("summary", m.summary);
    j.key("events").begin_array();
    for (const auto& e : m.events)
        j.raw(event_json(e));
    j.end_array();
    j.end_object();
    return j.take();
}

std::string signature(const std::string& secret, const std::string& body)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len))
        throw std::runtime_error("HMAC-SHA256 failed");
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned i = 0; i < len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 0xf];
    }
    return out;
}

namespace {

void event_text(std::ostringstream& out, const event_item& item)
{
    const auto& e = item.event;
    out << e.summary << "\n\n";
    out << "  Domain:      " << e.domain << "\n";
    out << "  Event:       " << e.kind << " (" << event_id(e) << ")\n";
    out << "  Occurred at: " << e.occurred_at << "\n";
    if (item.incident) {
        const auto& i = *item.incident;
        out << "  Incident:    #" << i.id << ", " << i.dimension << (i.dimension == "domain" ? "" : " " + i.key)
            << ", " << i.status << "\n";
        out << "  Days:        " << format_day(i.onset) << " to " << (i.end ? format_day(*i.end) : std::string("now"))
            << " (last elevated " << format_day(i.last_day) << ")\n";
        out << "  Failures:    " << i.failed_sessions << " of " << i.sessions << " sessions ("
            << percent(i.failure_rate) << "; baseline " << percent(i.baseline_rate) << ")\n";
        if (!i.result_types.empty())
            out << "  Results:     " << join(i.result_types, ", ") << "\n";
        if (!i.mx.empty())
            out << "  MX:          " << join(i.mx, ", ") << "\n";
        if (!i.organizations.empty())
            out << "  Reporters:   " << join(i.organizations, ", ") << "\n";
        out << "  See:         stswatch explain " << e.domain << "\n";
    }
    if (!e.finding_json.empty()) {
        try {
            Poco::JSON::Parser parser;
            const auto f = parser.parse(e.finding_json).extract<Poco::JSON::Object::Ptr>();
            out << "  Finding:     " << f->optValue<std::string>("code", "") << " (error)\n";
            if (const auto subject = f->optValue<std::string>("subject", ""); !subject.empty())
                out << "  Subject:     " << subject << "\n";
            out << "  Message:     " << f->optValue<std::string>("message", "") << "\n";
            if (const auto rfc = f->optValue<std::string>("rfc", ""); !rfc.empty())
                out << "  Rule:        " << rfc << "\n";
            out << "  Checked at:  " << f->optValue<std::string>("checked_at", "") << "\n";
        } catch (const Poco::Exception&) {
            out << "  Finding:     " << e.finding_json << "\n";
        }
    }
}

} // namespace

std::string email_subject(const message& m) { return "[stswatch] " + m.summary; }

std::string email_text(const message& m)
{
    std::ostringstream out;
    if (m.kind == "test") {
        out << m.summary << ".\n\nSent at " << m.occurred_at << ". Alerts of stswatch reach this address.\n";
        return out.str();
    }
    if (m.kind == "group")
        out << m.summary << ", held during the domain's quiet period after its last alert.\n\n";
    else if (m.kind == "digest")
        out << m.summary << ".\n\n";
    for (std::size_t i = 0; i < m.events.size(); ++i) {
        if (m.events.size() > 1)
            out << "--- " << (i + 1) << " of " << m.events.size() << " ---\n";
        event_text(out, m.events[i]);
        out << "\n";
    }
    out << "-- \nstswatch (message " << m.id << ")\n";
    return out.str();
}

namespace {

// RFC 2047 encoded-word for a header value that is not plain ASCII.
std::string header_text(const std::string& value)
{
    const bool ascii = std::all_of(value.begin(), value.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != '\r' && c != '\n'; });
    if (ascii)
        return value;
    return "=?UTF-8?B?" + base64(value) + "?=";
}

} // namespace

std::string email_message(const message& m, const std::string& from, const std::vector<std::string>& to,
                          const std::string& date_rfc5322, const std::string& message_id)
{
    std::string out;
    out += "From: " + from + "\r\n";
    out += "To: " + join(to, ", ") + "\r\n";
    out += "Subject: " + header_text(email_subject(m)) + "\r\n";
    out += "Date: " + date_rfc5322 + "\r\n";
    out += "Message-ID: " + message_id + "\r\n";
    out += "X-Stswatch-Event: " + m.id + "\r\n";
    out += "Auto-Submitted: auto-generated\r\n";   // RFC 3834 §5
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n\r\n";
    const auto text = email_text(m);
    for (const char c : text) {
        if (c == '\n')
            out += "\r\n";
        else if (c != '\r')
            out += c;
    }
    return out;
}

// --- Delivery schedule ---

std::chrono::seconds retry_delay(unsigned base_s, unsigned attempts)
{
    constexpr std::int64_t cap = 3600;
    std::int64_t d = std::max<std::int64_t>(base_s, 1);
    for (unsigned i = 1; i < attempts && d < cap; ++i)
        d *= 2;
    return std::chrono::seconds(std::min(d, cap));
}

std::int64_t last_digest_time(std::int64_t now, unsigned digest_hour)
{
    const std::int64_t day = now - ((now % 86400) + 86400) % 86400;
    std::int64_t t = day + static_cast<std::int64_t>(digest_hour) * 3600;
    if (t > now)
        t -= 86400;
    return t;
}

std::vector<alert_batch_choice> choose_batches(std::int64_t now, const std::vector<alert_delivery_row>& pending,
                                               const std::vector<alert_last_sent>& last, unsigned digest_hour)
{
    std::map<std::string, std::vector<const alert_delivery_row*>> retries;
    std::map<std::pair<std::string, std::string>, std::vector<const alert_delivery_row*>> immediate;
    std::map<std::string, std::vector<const alert_delivery_row*>> digest;
    for (const auto& d : pending) {
        if (!d.batch.empty())
            retries[d.batch].push_back(&d);
        else if (d.mode == "digest")
            digest[d.output].push_back(&d);
        else if (d.mode == "immediate")
            immediate[{d.output, d.event.domain}].push_back(&d);
    }
    const auto ids = [](const std::vector<const alert_delivery_row*>& rows) {
        std::vector<long long> out;
        for (const auto* r : rows)
            out.push_back(r->id);
        std::sort(out.begin(), out.end());
        return out;
    };
    std::vector<alert_batch_choice> out;
    for (const auto& [batch, rows] : retries) {
        std::int64_t due = 0;
        for (const auto* r : rows)
            due = std::max(due, r->next_attempt_at);
        if (due <= now)
            out.push_back({batch, ids(rows)});
    }
    for (const auto& [key, rows] : immediate) {
        int quiet = 0;
        for (const auto* r : rows)
            quiet = std::max(quiet, r->quiet_period_s);
        bool due = true;
        for (const auto& l : last)
            if (l.output == key.first && l.domain == key.second && quiet > 0 && now < l.at + quiet)
                due = false;
        if (due) {
            auto list = ids(rows);
            out.push_back({std::to_string(list.front()), std::move(list)});
        }
    }
    const auto boundary = last_digest_time(now, digest_hour);
    for (const auto& [output, rows] : digest) {
        const bool due = std::any_of(rows.begin(), rows.end(), [&](const auto* r) { return r->created_at < boundary; });
        if (due) {
            auto list = ids(rows);
            out.push_back({std::to_string(list.front()), std::move(list)});
        }
    }
    return out;
}

// --- Settings ---

std::vector<std::string> configured_outputs(const settings& s)
{
    std::vector<std::string> out;
    if (!s.alerts_webhook_url.empty())
        out.push_back("webhook");
    if (!s.alerts_email_relay.empty())
        out.push_back("email");
    return out;
}

std::string settings_problem(const settings& s)
{
    if (!s.alerts_webhook_url.empty() && !istarts_with(s.alerts_webhook_url, "http://") &&
        !istarts_with(s.alerts_webhook_url, "https://"))
        return "alerts.webhook.url must start with http:// or https:// (\"" + s.alerts_webhook_url + "\")";
    if (!s.alerts_email_relay.empty()) {
        const auto colon = s.alerts_email_relay.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == s.alerts_email_relay.size())
            return "alerts.email.relay must be HOST:PORT (\"" + s.alerts_email_relay + "\")";
        if (s.alerts_email_from.empty())
            return "alerts.email.from is not set (alerts.email.relay needs a sender address)";
        if (s.alerts_email_to.empty())
            return "alerts.email.to is not set (alerts.email.relay needs recipients)";
    }
    return {};
}

// --- The dispatcher ---

struct dispatcher::impl {
    settings s;
    std::vector<std::string> outputs;
    std::mutex mutex;
    std::condition_variable_any wake;
    bool poked = false;
    worker thread;
    std::unique_ptr<alert_store> store;
    std::unique_ptr<analysis_store> incidents;
    bool unavailable_logged = false;

    // Messages claimed per pass: the lease covers that many sends, so that a delivery of a
    // process that died while sending is tried again minutes later, not an hour. Passes
    // follow each other while they send, so a backlog still drains at once.
    static constexpr std::size_t batches_per_pass = 1;

    std::chrono::seconds lease() const
    {
        const unsigned per_send = std::max(s.alerts_webhook_timeout, 10 * s.alerts_email_timeout);
        return std::chrono::seconds(60 + batches_per_pass * per_send);
    }

    send_result send(const std::string& output, const message& m)
    {
        if (output == "webhook")
            return send_webhook(s, m);
        if (output == "email")
            return send_email(s, m);
        return {false, false, "unknown output " + output};
    }

    std::size_t pass()
    {
        if (!store) {
            store = std::make_unique<alert_store>(s.db_url);
            incidents = std::make_unique<analysis_store>(s.db_url);
        }
        alert_delivery_defaults defaults;
        defaults.mode = s.alerts_digest ? "digest" : "immediate";
        defaults.quiet_period_s = static_cast<int>(s.alerts_quiet_period);
        store->create_deliveries(outputs, defaults);
        const unsigned digest_hour = s.alerts_digest_hour;
        const auto claimed = store->claim(
            [digest_hour](std::int64_t now, const std::vector<alert_delivery_row>& pending,
                          const std::vector<alert_last_sent>& last) {
                auto b = choose_batches(now, pending, last, digest_hour);
                if (b.size() > batches_per_pass)
                    b.resize(batches_per_pass);
                return b;
            },
            lease());
        std::map<std::string, std::vector<const alert_delivery_row*>> batches;
        for (const auto& d : claimed)
            batches[d.batch].push_back(&d);
        std::size_t sent = 0;
        for (const auto& [batch, rows] : batches) {
            std::vector<event_item> items;
            std::vector<long long> ids, skipped;
            for (const auto* d : rows) {
                event_item item{d->event, std::nullopt};
                if (d->event.kind != "finding-error") {
                    if (d->event.incident_id)
                        item.incident = incidents->incident(*d->event.incident_id);
                    // Later reports showed it was none (docs/analysis.md): nothing to tell.
                    if (!item.incident) {
                        skipped.push_back(d->id);
                        continue;
                    }
                }
                items.push_back(std::move(item));
                ids.push_back(d->id);
            }
            if (!skipped.empty())
                store->mark_skipped(skipped, "incident retracted");
            if (items.empty())
                continue;
            const auto& first = *rows.front();
            const auto m = message_of(batch, first.mode, std::move(items));
            const auto r = send(first.output, m);
            const unsigned attempts = static_cast<unsigned>(first.attempts) + 1;
            if (r.ok) {
                store->mark_sent(ids);
                ++sent;
                log::info("alerts", "sent", {{"output", first.output}, {"message", m.id}, {"kind", m.kind},
                                             {"domain", m.domain}, {"events", std::to_string(ids.size())}});
            } else if (r.retry && attempts < s.alerts_max_attempts) {
                const auto delay = retry_delay(s.alerts_retry_base, attempts);
                store->mark_retry(ids, r.error, delay);
                log::warning("alerts", "not sent; trying again later",
                             {{"output", first.output}, {"message", m.id}, {"attempt", std::to_string(attempts)},
                              {"retry_in", std::to_string(delay.count())}, {"error", r.error}});
            } else {
                store->mark_failed(ids, r.error);
                log::error("alerts", "given up", {{"output", first.output}, {"message", m.id},
                                                  {"attempts", std::to_string(attempts)}, {"error", r.error}});
            }
        }
        return sent;
    }

    std::size_t run_once()
    {
        try {
            const auto n = pass();
            if (unavailable_logged)
                log::info("alerts", "database available again");
            unavailable_logged = false;
            return n;
        } catch (const store_unavailable& e) {
            store.reset();
            incidents.reset();
            if (!unavailable_logged)
                log::warning("alerts", "database unavailable; alerts wait", {{"error", e.what()}});
            unavailable_logged = true;
        } catch (const std::exception& e) {
            store.reset();
            incidents.reset();
            log::error("alerts", "outbox pass failed", {{"error", e.what()}});
        }
        return 0;
    }

    void run(std::stop_token stop)
    {
        while (!stop.stop_requested()) {
            while (!stop.stop_requested() && run_once() > 0) {
            }
            std::unique_lock lock(mutex);
            wake.wait_for(lock, stop, std::chrono::seconds(std::max(1u, s.alerts_interval)), [this] { return poked; });
            poked = false;
        }
    }
};

dispatcher::dispatcher(settings s) : impl_(std::make_unique<impl>())
{
    impl_->s = std::move(s);
    impl_->outputs = configured_outputs(impl_->s);
}

dispatcher::~dispatcher() { stop(); }

void dispatcher::start()
{
    if (!impl_->thread.running())
        impl_->thread = worker("alerts", [this](std::stop_token stop) { impl_->run(stop); });
}

void dispatcher::stop() { impl_->thread.stop(); }

void dispatcher::poke()
{
    {
        std::lock_guard lock(impl_->mutex);
        impl_->poked = true;
    }
    impl_->wake.notify_all();
}

std::size_t dispatcher::run_once() { return impl_->run_once(); }

} // namespace stswatch::alerts
