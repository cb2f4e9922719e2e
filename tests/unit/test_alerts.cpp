// Alerts (analyzer/alerts.hpp), the pure parts: the webhook body, its signature, the
// email, the backoff schedule, and which deliveries go out together (quiet period, digest).
#include "analyzer/alerts.hpp"
#include "tests/support/json_text.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;
using namespace stswatch::alerts;

namespace {

constexpr std::int64_t now = 1796212800;   // 2026-12-02T12:00:00Z

alert_event_row event(long long id, const std::string& kind, const std::string& domain)
{
    alert_event_row e;
    e.id = id;
    e.event_key = kind + ":" + std::to_string(id);
    e.kind = kind;
    e.domain = domain;
    e.occurred_at = "2026-12-02T11:00:0" + std::to_string(id % 10) + "Z";
    e.summary = "Incident opened for " + domain;
    if (kind == "finding-error")
        e.finding_json = R"({"code":"policy-fetch-failed","severity":"error","subject":"","message":"no policy"})";
    else
        e.incident_id = id * 10;
    return e;
}

incident_row incident(long long id, const std::string& domain)
{
    incident_row i;
    i.id = id;
    i.domain = domain;
    i.dimension = "mx";
    i.key = "mx2." + domain;
    i.onset = *parse_day("2026-11-25");
    i.last_day = *parse_day("2026-12-01");
    i.failed_sessions = 28;
    i.sessions = 1000;
    i.failure_rate = 0.028;
    i.baseline_rate = 0.001;
    i.result_types = {"validation-failure"};
    i.opened_at = i.updated_at = "2026-12-02T11:00:00Z";
    return i;
}

alert_delivery_row delivery(long long id, const std::string& output, const std::string& domain,
                            const std::string& mode = "immediate", int quiet = 3600)
{
    alert_delivery_row d;
    d.id = id;
    d.output = output;
    d.mode = mode;
    d.quiet_period_s = quiet;
    d.status = "pending";
    d.created_at = now - 60;
    d.next_attempt_at = now - 60;
    d.event = event(id, "incident-opened", domain);
    return d;
}

std::vector<std::vector<long long>> ids_of(const std::vector<alert_batch_choice>& batches)
{
    std::vector<std::vector<long long>> out;
    for (const auto& b : batches)
        out.push_back(b.deliveries);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("the webhook body of one incident event carries the event and the incident", "[alerts]")
{
    auto e = event(7, "incident-opened", "example.com");
    const auto m = message_of("7", "immediate", {{e, incident(70, "example.com")}});
    CHECK(m.id == "evt-7");
    CHECK(m.kind == "incident-opened");
    const auto body = test::json_value<Poco::JSON::Object::Ptr>(webhook_body(m), "object");
    CHECK(body->getValue<std::string>("id") == "evt-7");
    CHECK(body->getValue<std::string>("kind") == "incident-opened");
    CHECK(body->getValue<std::string>("domain") == "example.com");
    CHECK(body->getValue<std::string>("occurred_at") == "2026-12-02T11:00:07Z");
    CHECK(body->getValue<std::string>("summary") == "Incident opened for example.com");
    const auto i = body->getObject("incident");
    REQUIRE(i);
    CHECK(i->getValue<std::int64_t>("id") == 70);
    CHECK(i->getValue<std::string>("key") == "mx2.example.com");
    CHECK_FALSE(body->has("events"));
}

TEST_CASE("the webhook body of a finding event carries the finding", "[alerts]")
{
    const auto m = message_of("3", "immediate", {{event(3, "finding-error", "example.com"), std::nullopt}});
    const auto body = test::json_value<Poco::JSON::Object::Ptr>(webhook_body(m), "object");
    CHECK(body->getValue<std::string>("kind") == "finding-error");
    REQUIRE(body->getObject("finding"));
    CHECK(body->getObject("finding")->getValue<std::string>("code") == "policy-fetch-failed");
    CHECK_FALSE(body->has("incident"));
}

TEST_CASE("events held by the quiet period go out as one group message", "[alerts]")
{
    const auto m = message_of("11", "immediate",
                              {{event(12, "incident-ended", "example.com"), incident(120, "example.com")},
                               {event(11, "finding-error", "example.com"), std::nullopt}});
    CHECK(m.id == "msg-11");
    CHECK(m.kind == "group");
    CHECK(m.domain == "example.com");
    const auto body = test::json_value<Poco::JSON::Object::Ptr>(webhook_body(m), "object");
    const auto events = body->getArray("events");
    REQUIRE(events);
    REQUIRE(events->size() == 2);
    // Oldest first.
    CHECK(events->getObject(0)->getValue<std::string>("id") == "evt-11");
    CHECK(events->getObject(1)->getValue<std::string>("id") == "evt-12");

    const auto digest = message_of("5", "digest", {{event(5, "finding-error", "a.example"), std::nullopt}});
    CHECK(digest.kind == "digest");
    CHECK(digest.id == "msg-5");
    const auto digest_body = test::json_value<Poco::JSON::Object::Ptr>(webhook_body(digest), "object");
    CHECK(digest_body->isNull("domain"));
    CHECK(digest_body->getArray("events")->size() == 1);
}

TEST_CASE("the signature is HMAC-SHA256 over the body in hex", "[alerts]")
{
    // RFC 4231 test case 2.
    CHECK(signature("Jefe", "what do ya want for nothing?") ==
          "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(signature("key", "The quick brown fox jumps over the lazy dog") ==
          "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST_CASE("retries back off from the base doubling up to one hour", "[alerts]")
{
    using std::chrono::seconds;
    CHECK(retry_delay(30, 1) == seconds(30));
    CHECK(retry_delay(30, 2) == seconds(60));
    CHECK(retry_delay(30, 3) == seconds(120));
    CHECK(retry_delay(30, 7) == seconds(1920));
    CHECK(retry_delay(30, 8) == seconds(3600));    // 3840 capped
    CHECK(retry_delay(30, 40) == seconds(3600));
    CHECK(retry_delay(0, 1) == seconds(1));
    CHECK(retry_delay(5000, 1) == seconds(3600));
}

TEST_CASE("the last digest time is the latest digest hour at or before now", "[alerts]")
{
    // now is 12:00Z.
    CHECK(last_digest_time(now, 8) == now - 4 * 3600);
    CHECK(last_digest_time(now, 12) == now);
    CHECK(last_digest_time(now, 13) == now - 23 * 3600);
    CHECK(last_digest_time(now, 0) == now - 12 * 3600);
}

TEST_CASE("immediate deliveries wait for the domain's quiet period and then go together", "[alerts]")
{
    const std::vector<alert_delivery_row> pending = {delivery(1, "webhook", "a.example"),
                                                     delivery(2, "webhook", "a.example"),
                                                     delivery(3, "webhook", "b.example"),
                                                     delivery(4, "email", "a.example")};
    // Nothing sent before: each (output, domain) goes now, as one message.
    CHECK(ids_of(choose_batches(now, pending, {}, 8)) == std::vector<std::vector<long long>>{{1, 2}, {3}, {4}});
    // a.example had a webhook alert 10 minutes ago: its webhook deliveries wait.
    const std::vector<alert_last_sent> recent = {{"webhook", "a.example", now - 600}};
    CHECK(ids_of(choose_batches(now, pending, recent, 8)) == std::vector<std::vector<long long>>{{3}, {4}});
    // Once the hour is over they go out, together.
    const std::vector<alert_last_sent> old = {{"webhook", "a.example", now - 3600}};
    CHECK(ids_of(choose_batches(now, pending, old, 8)) == std::vector<std::vector<long long>>{{1, 2}, {3}, {4}});
    // Quiet period 0: never held.
    std::vector<alert_delivery_row> unquiet = {delivery(5, "webhook", "a.example", "immediate", 0)};
    CHECK(ids_of(choose_batches(now, unquiet, recent, 8)) == std::vector<std::vector<long long>>{{5}});
    // The batch of a new message is named after its first delivery.
    CHECK(choose_batches(now, {pending[0], pending[1]}, {}, 8).front().batch == "1");
}

TEST_CASE("a batch tried before keeps its members and waits for its next attempt", "[alerts]")
{
    auto a = delivery(1, "webhook", "a.example"), b = delivery(2, "webhook", "a.example");
    a.batch = b.batch = "1";
    a.next_attempt_at = b.next_attempt_at = now + 30;
    const auto c = delivery(3, "webhook", "a.example");
    // Not due: only the new one goes (the failed batch's domain has sent nothing yet).
    CHECK(ids_of(choose_batches(now, {a, b, c}, {}, 8)) == std::vector<std::vector<long long>>{{3}});
    a.next_attempt_at = b.next_attempt_at = now;
    const auto due = choose_batches(now, {a, b}, {{"webhook", "a.example", now - 1}}, 8);
    REQUIRE(due.size() == 1);
    CHECK(due[0].batch == "1");
    CHECK(due[0].deliveries == std::vector<long long>{1, 2});
}

TEST_CASE("digest deliveries go out once a day at the digest hour with everything pending", "[alerts]")
{
    auto early = delivery(1, "email", "a.example", "digest"), late = delivery(2, "email", "b.example", "digest");
    early.created_at = now - 5 * 3600;   // 07:00, before today's 08:00
    late.created_at = now - 3600;        // 11:00
    CHECK(ids_of(choose_batches(now, {early, late}, {}, 8)) == std::vector<std::vector<long long>>{{1, 2}});
    // Only events after the last digest hour: they wait for tomorrow's.
    CHECK(choose_batches(now, {late}, {}, 8).empty());
    // Digest deliveries ignore the quiet period.
    CHECK(ids_of(choose_batches(now, {early}, {{"email", "a.example", now - 1}}, 8)) ==
          std::vector<std::vector<long long>>{{1}});
}

TEST_CASE("the email has the headers and a readable body", "[alerts]")
{
    const auto m = message_of("7", "immediate", {{event(7, "incident-opened", "example.com"), incident(70, "example.com")}});
    const auto text = email_message(m, "stswatch <alerts@example.net>", {"a@example.org", "b@example.org"},
                                    "Wed, 02 Dec 2026 12:00:00 +0000", "<evt-7@example.net>");
    CHECK(text.find("From: stswatch <alerts@example.net>\r\n") == 0);
    CHECK(text.find("\r\nTo: a@example.org, b@example.org\r\n") != std::string::npos);
    CHECK(text.find("\r\nSubject: [stswatch] Incident opened for example.com\r\n") != std::string::npos);
    CHECK(text.find("\r\nDate: Wed, 02 Dec 2026 12:00:00 +0000\r\n") != std::string::npos);
    CHECK(text.find("\r\nMessage-ID: <evt-7@example.net>\r\n") != std::string::npos);
    CHECK(text.find("\r\n\r\n") != std::string::npos);
    CHECK(text.find("Failures:    28 of 1000 sessions (2.80 %; baseline 0.10 %)\r\n") != std::string::npos);
    CHECK(text.find("mx mx2.example.com") != std::string::npos);
    // No bare LF anywhere.
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n')
            REQUIRE((i > 0 && text[i - 1] == '\r'));
}

TEST_CASE("alert settings need a sender and recipients for email", "[alerts]")
{
    settings s;
    CHECK(settings_problem(s).empty());
    CHECK(configured_outputs(s).empty());
    s.alerts_email_relay = "smtp.example.net:587";
    CHECK(settings_problem(s).find("alerts.email.from") != std::string::npos);
    s.alerts_email_from = "alerts@example.net";
    CHECK(settings_problem(s).find("alerts.email.to") != std::string::npos);
    s.alerts_email_to = {"ops@example.net"};
    CHECK(settings_problem(s).empty());
    s.alerts_webhook_url = "ftp://example.net/";
    CHECK(settings_problem(s).find("alerts.webhook.url") != std::string::npos);
    s.alerts_webhook_url = "https://hooks.example.net/stswatch";
    CHECK(configured_outputs(s) == std::vector<std::string>{"webhook", "email"});
}
