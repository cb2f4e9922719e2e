// Alerts end to end (docs/alerts.md): the events that the stores write with incidents and
// check findings; the dispatcher's webhook POST to a local receiver (body, signature, one
// delivery per event, a retry after a 500), its email through a local relay with STARTTLS,
// and `stswatch serve` killed with SIGKILL before an alert went out, which sends it once
// after the restart.
#include "analyzer/alert_tls.hpp"
#include "analyzer/alerts.hpp"
#include "store/analysis_store.hpp"
#include "store/monitor_store.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/smtp_sink.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/test_support.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

using namespace stswatch;
using namespace stswatch::test;
using namespace std::chrono_literals;

namespace {

std::string bin() { return required_env("STSWATCH_BIN"); }

incident_row open_incident(const std::string& domain)
{
    incident_row r;
    r.domain = domain;
    r.dimension = "mx";
    r.key = "mx2." + domain;
    r.onset = *parse_day("2026-11-25");
    r.last_day = *parse_day("2026-12-01");
    r.status = "open";
    r.failed_sessions = 40;
    r.sessions = 1000;
    r.failure_rate = 0.04;
    r.baseline_rate = 0.001;
    r.p_value = 1e-9;
    r.mx = {"mx2." + domain};
    r.result_types = {"validation-failure"};
    r.organizations = {"Google Inc."};
    return r;
}

snapshot_row snapshot(const std::string& domain, const std::vector<finding>& findings)
{
    snapshot_row s;
    s.domain = domain;
    s.snapshot_json = "{}";
    s.findings = findings;
    for (const auto& f : findings)
        (f.level == severity::error ? s.errors : s.warnings) += 1;
    return s;
}

finding error_finding(const std::string& code, const std::string& subject)
{
    return {code, severity::error, subject, "the " + code + " of " + subject, "RFC 8461 §3.3"};
}

long long count(const std::string& url, const std::string& sql) { return query_count(url, sql); }

// What the webhook receiver got.
struct received_post {
    std::string body, event, signature, content_type;
};

// A Poco HTTPServer on 127.0.0.1 that records each POST and answers with the next status of
// its list (200 once the list is used up).
class webhook_receiver {
public:
    explicit webhook_receiver(std::uint16_t port = 0, std::deque<int> statuses = {})
        : state_(std::make_shared<shared>()), socket_(Poco::Net::SocketAddress("127.0.0.1", port))
    {
        state_->statuses = std::move(statuses);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new factory(state_), socket_, new Poco::Net::HTTPServerParams);
        server_->start();
    }
    ~webhook_receiver() { server_->stopAll(true); }
    std::uint16_t port() const { return socket_.address().port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hooks/stswatch"; }
    std::vector<received_post> posts() const
    {
        std::lock_guard lock(state_->mutex);
        return state_->posts;
    }

private:
    struct shared {
        std::mutex mutex;
        std::deque<int> statuses;
        std::vector<received_post> posts;
    };
    class handler : public Poco::Net::HTTPRequestHandler {
    public:
        explicit handler(std::shared_ptr<shared> s) : s_(std::move(s)) {}
        void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override
        {
            received_post p;
            std::ostringstream body;
            Poco::StreamCopier::copyStream(request.stream(), body);
            p.body = body.str();
            p.event = request.get("X-Stswatch-Event", "");
            p.signature = request.get("X-Stswatch-Signature", "");
            p.content_type = request.getContentType();
            int status = 200;
            {
                std::lock_guard lock(s_->mutex);
                if (request.getURI() == "/hooks/stswatch")
                    s_->posts.push_back(p);
                if (!s_->statuses.empty()) {
                    status = s_->statuses.front();
                    s_->statuses.pop_front();
                }
            }
            response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
            response.setContentLength(0);
            response.send();
        }

    private:
        std::shared_ptr<shared> s_;
    };
    class factory : public Poco::Net::HTTPRequestHandlerFactory {
    public:
        explicit factory(std::shared_ptr<shared> s) : s_(std::move(s)) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override
        {
            return new handler(s_);
        }

    private:
        std::shared_ptr<shared> s_;
    };
    std::shared_ptr<shared> state_;
    Poco::Net::ServerSocket socket_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

settings alert_settings(const std::string& db_url)
{
    settings s;
    s.db_url = db_url;
    s.alerts_quiet_period = 0;
    s.alerts_retry_base = 30;
    s.alerts_webhook_timeout = 5;
    s.alerts_email_timeout = 5;
    return s;
}

// Waits (bounded) until done() holds; returns whether it did.
template <typename Done>
bool eventually(Done done, std::chrono::seconds limit = 30s)
{
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}


} // namespace

TEST_CASE("incidents and new error findings write their events once in the same transaction", "[alerts]")
{
    scratch_database db;
    analysis_store analysis(db.url());
    const std::string events = "SELECT count(*) FROM alert_events";

    // Opened: one event. Stored again unchanged: none more.
    auto saved = analysis.save_incidents({open_incident("events.test")}, {});
    REQUIRE(saved.size() == 1);
    CHECK(count(db.url(), events) == 1);
    CHECK(query_text(db.url(), "SELECT kind || ' ' || incident_id FROM alert_events") ==
          "incident-opened " + std::to_string(saved[0].id));
    saved = analysis.save_incidents(saved, {});
    CHECK(count(db.url(), events) == 1);

    // Already ended when first found (an import of old reports): no alert.
    auto old = open_incident("events.test");
    old.dimension = "domain";
    old.key = "events.test";
    old.status = "ended";
    old.end = *parse_day("2025-01-10");
    analysis.save_incidents({old}, {});
    CHECK(count(db.url(), events) == 1);

    // The open one ends: incident-ended, once.
    auto ended = saved[0];
    ended.status = "ended";
    ended.end = *parse_day("2026-12-02");
    analysis.save_incidents({ended}, {});
    CHECK(count(db.url(), "SELECT count(*) FROM alert_events WHERE kind = 'incident-ended'") == 1);
    analysis.save_incidents({ended}, {});
    CHECK(count(db.url(), events) == 2);

    // Findings: the first check's errors are new; the same error again is not; a new one
    // is; warnings never; a check without DNS says nothing new.
    monitor_store monitor(db.url());
    const auto next = std::chrono::system_clock::now() + 1h;
    monitor.save(snapshot("events.test", {error_finding("policy-fetch-failed", "mta-sts.events.test"),
                                           {"tlsrpt-missing", severity::warning, "events.test", "w", ""}}),
                 {}, next);
    CHECK(count(db.url(), "SELECT count(*) FROM alert_events WHERE kind = 'finding-error'") == 1);
    monitor.save(snapshot("events.test", {error_finding("policy-fetch-failed", "mta-sts.events.test")}), {}, next);
    CHECK(count(db.url(), "SELECT count(*) FROM alert_events WHERE kind = 'finding-error'") == 1);
    auto blind = snapshot("events.test", {error_finding("dns-unavailable", "events.test")});
    blind.dns_unavailable = true;
    monitor.save(blind, {}, next);
    CHECK(count(db.url(), "SELECT count(*) FROM alert_events WHERE kind = 'finding-error'") == 1);
    monitor.save(snapshot("events.test", {error_finding("policy-fetch-failed", "mta-sts.events.test"),
                                           error_finding("mx-not-covered", "mx2.events.test")}),
                 {}, next);
    CHECK(count(db.url(), "SELECT count(*) FROM alert_events WHERE kind = 'finding-error'") == 2);
    CHECK(query_text(db.url(), "SELECT finding->>'subject' FROM alert_events WHERE kind = 'finding-error'"
                               " ORDER BY id DESC LIMIT 1") == "mx2.events.test");
}

TEST_CASE("the webhook gets each event once signed and a 500 is tried again", "[alerts]")
{
    scratch_database db;
    webhook_receiver receiver(0, {500});
    auto s = alert_settings(db.url());
    s.alerts_webhook_url = receiver.url();
    s.alerts_webhook_secret = "s3cret";

    analysis_store analysis(db.url());
    const auto saved = analysis.save_incidents({open_incident("hook.test")}, {});
    alerts::dispatcher d(s);

    // First attempt: 500, kept for a retry after alerts.retry_base.
    CHECK(d.run_once() == 0);
    REQUIRE(receiver.posts().size() == 1);
    CHECK(query_text(db.url(), "SELECT status || ' ' || attempts FROM alert_deliveries") == "pending 1");
    CHECK(query_text(db.url(), "SELECT last_error FROM alert_deliveries").find("500") != std::string::npos);
    CHECK(count(db.url(), "SELECT count(*) FROM alert_deliveries WHERE next_attempt_at > now() + interval '20 s'") == 1);
    // Not due yet: nothing sent.
    CHECK(d.run_once() == 0);
    CHECK(receiver.posts().size() == 1);

    // Due (the backoff has passed): sent.
    query_count(db.url(), "WITH u AS (UPDATE alert_deliveries SET next_attempt_at = now() RETURNING 1) SELECT count(*) FROM u");
    CHECK(d.run_once() == 1);
    const auto posts = receiver.posts();
    REQUIRE(posts.size() == 2);
    CHECK(query_text(db.url(), "SELECT status || ' ' || attempts FROM alert_deliveries") == "sent 2");

    const auto& p = posts[1];
    CHECK(p.event == posts[0].event);
    CHECK(p.body == posts[0].body);
    CHECK(p.content_type == "application/json");
    CHECK(p.signature == alerts::signature("s3cret", p.body));
    CHECK(p.signature.rfind("sha256=", 0) == 0);
    const auto body = json_object(p.body);
    CHECK(body->getValue<std::string>("id") == p.event);
    CHECK(p.event == "evt-" + query_text(db.url(), "SELECT id FROM alert_events"));
    CHECK(body->getValue<std::string>("kind") == "incident-opened");
    CHECK(body->getValue<std::string>("domain") == "hook.test");
    CHECK(!body->getValue<std::string>("occurred_at").empty());
    CHECK(body->getValue<std::string>("summary").find("hook.test") != std::string::npos);
    REQUIRE(body->getObject("incident"));
    CHECK(body->getObject("incident")->getValue<long long>("id") == saved[0].id);

    // Sent is sent: later passes send nothing; a new event goes out on its own.
    CHECK(d.run_once() == 0);
    CHECK(receiver.posts().size() == 2);
    monitor_store(db.url()).save(snapshot("hook.test", {error_finding("policy-fetch-failed", "mta-sts.hook.test")}),
                                 {}, std::chrono::system_clock::now() + 1h);
    CHECK(d.run_once() == 1);
    REQUIRE(receiver.posts().size() == 3);
    CHECK(json_object(receiver.posts()[2].body)->getValue<std::string>("kind") == "finding-error");
    CHECK(count(db.url(), "SELECT count(*) FROM alert_deliveries WHERE status = 'sent'") == 2);
}

TEST_CASE("a quiet period holds a domain's later events and sends them together", "[alerts]")
{
    scratch_database db;
    webhook_receiver receiver;
    auto s = alert_settings(db.url());
    s.alerts_webhook_url = receiver.url();
    s.alerts_quiet_period = 3600;
    analysis_store analysis(db.url());
    alerts::dispatcher d(s);

    auto saved = analysis.save_incidents({open_incident("quiet.test")}, {});
    CHECK(d.run_once() == 1);
    saved[0].status = "ended";
    saved[0].end = *parse_day("2026-12-02");
    analysis.save_incidents(saved, {});
    auto other = open_incident("quiet.test");
    other.dimension = "organization";
    other.key = "Microsoft Corporation";
    analysis.save_incidents({other}, {});
    // Within the hour: held.
    CHECK(d.run_once() == 0);
    CHECK(receiver.posts().size() == 1);
    // The hour is over: one message with both.
    query_count(db.url(), "WITH u AS (UPDATE alert_deliveries SET sent_at = sent_at - interval '2 hours'"
                          " WHERE status = 'sent' RETURNING 1) SELECT count(*) FROM u");
    CHECK(d.run_once() == 1);
    REQUIRE(receiver.posts().size() == 2);
    const auto group = json_object(receiver.posts()[1].body);
    CHECK(group->getValue<std::string>("kind") == "group");
    CHECK(group->getArray("events")->size() == 2);
}

TEST_CASE("the email goes through the relay with STARTTLS", "[alerts]")
{
    scratch_database db;
    const auto cert = make_test_cert({"localhost"});
    smtp_sink_options so;
    so.cert_file = cert.cert_file;
    so.key_file = cert.key_file;
    smtp_sink relay(so);
    auto s = alert_settings(db.url());
    s.alerts_email_relay = "localhost:" + std::to_string(relay.port());
    s.alerts_email_from = "stswatch <alerts@watch.test>";
    s.alerts_email_to = {"ops@mail.test"};
    s.alerts_email_username = "alerts";
    s.alerts_email_password = "pw";
    s.alerts_ca_file = test_ca_file();

    analysis_store(db.url()).save_incidents({open_incident("mail.test")}, {});
    alerts::dispatcher d(s);
    CHECK(d.run_once() == 1);
    CHECK(d.run_once() == 0);
    const auto got = relay.messages();
    REQUIRE(got.size() == 1);
    const auto& m = got[0];
    CHECK(m.tls);
    CHECK(m.auth == alerts::base64(std::string("\0alerts\0pw", 10)));
    CHECK(m.mail_from == "<alerts@watch.test>");
    CHECK(m.rcpt_to == std::vector<std::string>{"<ops@mail.test>"});
    CHECK(m.data.find("From: stswatch <alerts@watch.test>\r\n") != std::string::npos);
    CHECK(m.data.find("To: ops@mail.test\r\n") != std::string::npos);
    CHECK(m.data.find("Subject: [stswatch] Incident opened for mail.test") != std::string::npos);
    CHECK(m.data.find("\r\nDate: ") != std::string::npos);
    CHECK(m.data.find("\r\nMessage-ID: <evt-") != std::string::npos);
    CHECK(m.data.find("Failures:    40 of 1000 sessions") != std::string::npos);
    CHECK(count(db.url(), "SELECT count(*) FROM alert_deliveries WHERE output = 'email' AND status = 'sent'") == 1);
}

TEST_CASE("the email is not sent in clear text when STARTTLS is required", "[alerts]")
{
    scratch_database db;
    smtp_sink relay(smtp_sink_options{});   // no certificate: no STARTTLS offered
    auto s = alert_settings(db.url());
    s.alerts_email_relay = "127.0.0.1:" + std::to_string(relay.port());
    s.alerts_email_from = "alerts@watch.test";
    s.alerts_email_to = {"ops@mail.test"};
    analysis_store(db.url()).save_incidents({open_incident("clear.test")}, {});
    alerts::dispatcher d(s);
    CHECK(d.run_once() == 0);
    CHECK(relay.messages().empty());
    CHECK(query_text(db.url(), "SELECT status FROM alert_deliveries") == "failed");
    CHECK(query_text(db.url(), "SELECT last_error FROM alert_deliveries").find("STARTTLS") != std::string::npos);
}

TEST_CASE("alerts test reports each output and exits 69 when one fails", "[alerts][cli]")
{
    webhook_receiver receiver;
    const auto closed_port = std::to_string(free_port());
    auto r = run_program({bin(), "alerts", "test", "--set", "alerts.webhook.url=" + receiver.url()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("webhook " + receiver.url() + ": ok") != std::string::npos);
    REQUIRE(receiver.posts().size() == 1);
    CHECK(json_object(receiver.posts()[0].body)->getValue<std::string>("kind") == "test");

    r = run_program({bin(), "alerts", "test", "--set", "alerts.webhook.url=" + receiver.url(), "--set",
                     "alerts.email.relay=127.0.0.1:" + closed_port, "--set", "alerts.email.from=a@watch.test",
                     "--set", "alerts.email.to=ops@mail.test", "--set", "alerts.email.timeout=2"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 69);
    CHECK(r.out.find("email 127.0.0.1:" + closed_port + ": failed") != std::string::npos);
    CHECK(r.err.find("stswatch: alerts email: relay 127.0.0.1:" + closed_port) != std::string::npos);

    r = run_program({bin(), "alerts", "test"});
    CHECK(r.exit_code == 78);
    CHECK(r.err.find("no output configured") != std::string::npos);
    r = run_program({bin(), "alerts", "test", "--set", "alerts.email.relay=127.0.0.1:25"});
    CHECK(r.exit_code == 78);
    CHECK(r.err.find("alerts.email.from") != std::string::npos);
}

TEST_CASE("serve killed before an alert went out sends it once after the restart", "[alerts][serve]")
{
    scratch_database db;
    const auto hook_port = free_port();
    const std::string hook_url = "http://127.0.0.1:" + std::to_string(hook_port) + "/hooks/stswatch";
    analysis_store(db.url()).save_incidents({open_incident("crash.test")}, {});

    const auto serve_args = [&] {
        return std::vector<std::string>{
            "serve", "--db", db.url(), "--log-level", "information",
            "--set", "collector.https.listen=127.0.0.1:" + std::to_string(free_port()),
            "--set", "collector.https.cert=" + tls_file("server.pem"),
            "--set", "collector.https.key=" + tls_file("server.key"),
            "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()),
            "--set", "alerts.webhook.url=" + hook_url,
            "--set", "alerts.webhook.secret=k",
            "--set", "alerts.interval=1",
            "--set", "alerts.retry_base=5",
            "--set", "alerts.quiet_period=0",
        };
    };
    {
        // The receiver is not listening yet: the first attempt fails, the next is 5 s away;
        // serve dies with SIGKILL while the alert waits.
        serve_process first(serve_args());
        const bool tried = eventually([&] {
            return count(db.url(), "SELECT count(*) FROM alert_deliveries WHERE attempts >= 1 AND claimed_until IS NULL") == 1;
        });
        INFO("serve log:\n" << first.log());
        REQUIRE(tried);
        first.kill();
        CHECK(first.log().find("alerts") != std::string::npos);
    }
    CHECK(count(db.url(), "SELECT count(*) FROM alert_deliveries WHERE status = 'pending'") == 1);

    webhook_receiver receiver(hook_port);
    serve_process second(serve_args());
    const bool sent = eventually([&] {
        return count(db.url(), "SELECT count(*) FROM alert_deliveries WHERE status = 'sent'") == 1;
    });
    INFO("serve log:\n" << second.log());
    REQUIRE(sent);
    // A few more passes of the outbox (alerts.interval=1) send nothing more.
    std::this_thread::sleep_for(2500ms);
    CHECK(second.stop() == 0);
    const auto posts = receiver.posts();
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].signature == alerts::signature("k", posts[0].body));
    CHECK(json_object(posts[0].body)->getValue<std::string>("domain") == "crash.test");
    CHECK(second.log().find("outputs") != std::string::npos);
}

TEST_CASE("a domain's alert_mode off skips its alerts and digest sends them at the digest hour", "[alerts]")
{
    scratch_database db;
    webhook_receiver receiver;
    auto s = alert_settings(db.url());
    s.alerts_webhook_url = receiver.url();
    monitor_store monitor(db.url());
    REQUIRE(monitor.add("off.test"));
    REQUIRE(monitor.add("digest.test"));
    query_count(db.url(), "WITH u AS (UPDATE monitored_domains SET alert_mode = CASE domain WHEN 'off.test' THEN 'off'"
                          " ELSE 'digest' END RETURNING 1) SELECT count(*) FROM u");
    analysis_store analysis(db.url());
    analysis.save_incidents({open_incident("off.test"), open_incident("digest.test")}, {});
    alerts::dispatcher d(s);
    CHECK(d.run_once() == 0);
    CHECK(receiver.posts().empty());
    CHECK(query_text(db.url(), "SELECT d.status FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
                               " WHERE e.domain = 'off.test'") == "skipped");
    CHECK(query_text(db.url(), "SELECT d.status || ' ' || d.mode FROM alert_deliveries d"
                               " JOIN alert_events e ON e.id = d.event_id WHERE e.domain = 'digest.test'") ==
          "pending digest");
    // Created before the last digest hour: the digest goes out now, once.
    query_count(db.url(), "WITH u AS (UPDATE alert_deliveries SET created_at = now() - interval '25 hours'"
                          " WHERE status = 'pending' RETURNING 1) SELECT count(*) FROM u");
    CHECK(d.run_once() == 1);
    CHECK(d.run_once() == 0);
    REQUIRE(receiver.posts().size() == 1);
    const auto digest = json_object(receiver.posts()[0].body);
    CHECK(digest->getValue<std::string>("kind") == "digest");
    REQUIRE(digest->getArray("events")->size() == 1);
    CHECK(digest->getArray("events")->getObject(0)->getValue<std::string>("domain") == "digest.test");
}
