// GET /metrics of `stswatch serve` (docs/metrics.md), read by a real exposition-format
// parser (prometheus_client, through tests/integration/parse_metrics.py): the token, the
// intake counters moved by exactly the reports posted over HTTPS, the spool's gauges, the
// per-domain series of monitored domains only, no label naming a sender, and an answer
// with stswatch_database_up 0 while the database is down.
#include "tests/support/json_text.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/timeline.hpp"
#include "tlsrpt/report_json.hpp"

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;
using namespace std::chrono_literals;

namespace {

const std::string api_token = "metrics-test-token-0123456789";

std::string bin() { return required_env("STSWATCH_BIN"); }


struct http_reply {
    int status = 0;        // 0: no answer (not listening yet)
    std::string body;
};

// curl, whose last three bytes of output are the status (-w).
http_reply curl(std::vector<std::string> args)
{
    std::vector<std::string> argv{"curl", "-sS", "-o", "-", "-w", "%{http_code}", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto run = run_program(argv);
    http_reply r;
    if (run.exit_code != 0 || run.out.size() < 3)
        return r;
    r.status = std::stoi(run.out.substr(run.out.size() - 3));
    r.body = run.out.substr(0, run.out.size() - 3);
    return r;
}

http_reply scrape(std::uint16_t api_port, bool with_token)
{
    std::vector<std::string> args;
    if (with_token) {
        args.push_back("-H");
        args.push_back("Authorization: Bearer " + api_token);
    }
    args.push_back("http://127.0.0.1:" + std::to_string(api_port) + "/metrics");
    return curl(args);
}

http_reply post_report(std::uint16_t https_port, const std::string& file)
{
    return curl({"--cacert", tls_file("ca.pem"), "--resolve", "localhost:" + std::to_string(https_port) + ":127.0.0.1",
                 "-H", "Content-Type: application/tlsrpt+json", "--data-binary", "@" + file,
                 "https://localhost:" + std::to_string(https_port) + "/v1/tlsrpt"});
}

struct metric_sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct exposition {
    std::map<std::string, std::string> types;   // family name (as the parser names it) → type
    std::vector<metric_sample> samples;

    // The value of the sample with exactly these labels; nullopt when absent.
    std::optional<double> value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const
    {
        for (const auto& s : samples)
            if (s.name == name && s.labels == labels)
                return s.value;
        return std::nullopt;
    }
    double value_or_0(const std::string& name, const std::map<std::string, std::string>& labels = {}) const
    {
        return value(name, labels).value_or(0);
    }
    std::vector<metric_sample> named(const std::string& name) const
    {
        std::vector<metric_sample> out;
        for (const auto& s : samples)
            if (s.name == name)
                out.push_back(s);
        return out;
    }
};

// The text through prometheus_client's parser; FAILs when it does not parse.
exposition parse(const std::string& text)
{
    // The system's Python, which Debian's python3-prometheus-client (./dev setup) is for:
    // another python3 earlier in PATH may not have it.
    const auto run = run_program({"/usr/bin/python3", std::string(STSWATCH_SOURCE_DIR) + "/tests/integration/parse_metrics.py"},
                                 text);
    INFO("exposition:\n" << text);
    INFO("parser stderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    const auto doc = json_object(run.out);
    exposition e;
    const auto families = doc->getArray("families");
    for (unsigned i = 0; i < families->size(); ++i) {
        const auto f = families->getObject(i);
        e.types[f->getValue<std::string>("name")] = f->getValue<std::string>("type");
    }
    const auto samples = doc->getArray("samples");
    for (unsigned i = 0; i < samples->size(); ++i) {
        const auto s = samples->getObject(i);
        metric_sample m;
        m.name = s->getValue<std::string>("name");
        const auto labels = s->getObject("labels");
        for (const auto& [k, v] : *labels)
            m.labels[k] = v.toString();
        const auto v = s->get("value");
        m.value = v.isString() ? std::stod(v.toString()) : v.convert<double>();
        e.samples.push_back(std::move(m));
    }
    return e;
}

// Scrapes until check accepts the exposition (the database's figures are kept for a few
// seconds) or 30 s pass; returns the last one.
exposition scrape_until(std::uint16_t api_port, const std::function<bool(const exposition&)>& check)
{
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        const auto r = scrape(api_port, true);
        REQUIRE(r.status == 200);
        auto e = parse(r.body);
        if (check(e) || std::chrono::steady_clock::now() > deadline)
            return e;
        std::this_thread::sleep_for(250ms);
    }
}

// Waits until the API listener answers.
void wait_for_api(std::uint16_t api_port, const serve_process& serve)
{
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (curl({"http://127.0.0.1:" + std::to_string(api_port) + "/healthz"}).status != 200) {
        INFO("serve log:\n" << serve.log());
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(100ms);
    }
}

const std::string report_address = "tlsrpt@metrics.test";

std::vector<std::string> serve_args(const std::string& db_url, std::uint16_t https_port, std::uint16_t api_port,
                                    const std::vector<std::string>& extra, std::uint16_t smtp_port = free_port())
{
    std::vector<std::string> args = {
        "serve", "--db", db_url, "--log-level", "information",
        "--set", "collector.https.listen=127.0.0.1:" + std::to_string(https_port),
        "--set", "collector.https.cert=" + tls_file("server.pem"),
        "--set", "collector.https.key=" + tls_file("server.key"),
        "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(smtp_port),
        "--set", "collector.smtp.recipients=" + report_address,
        "--set", "api.listen=127.0.0.1:" + std::to_string(api_port),
        "--set", "api.token=" + api_token,
        // Checks of the monitored domain fail fast: nothing answers DNS there.
        "--set", "checks.resolver=127.0.0.1:" + std::to_string(free_port()),
        "--set", "checks.timeout=1",
    };
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::string report_json(const std::string& org, utc_date day, const std::string& domain, std::int64_t successful,
                        std::int64_t failed)
{
    policy_spec p;
    p.policy_string = {"version: STSv1", "mode: enforce", "mx: mx1." + domain, "max_age: 604800"};
    p.mx_host = {"mx1." + domain};
    p.successful = successful;
    if (failed > 0)
        p.failures = {{"certificate-expired", "mx1." + domain, "198.51.100.7", failed}};
    return to_canonical_json(make_report(org, day, domain, {p}));
}

// A report mail (RFC 8460 §5.3) with the report as a plain JSON attachment.
std::string report_mail(const std::string& json)
{
    return "From: Reporter <tlsrpt@sender.example>\r\n"
           "To: " + report_address + "\r\n"
           "Subject: Report Domain: watched.metrics.test\r\n"
           "Message-ID: <m1@sender.example>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/report; boundary=\"b1\"; report-type=tlsrpt\r\n"
           "\r\n"
           "--b1\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "A TLS report.\r\n"
           "--b1\r\n"
           "Content-Type: application/tlsrpt+json\r\n"
           "Content-Disposition: attachment; filename=\"sender.example!watched.metrics.test!1!2!1.json\"\r\n"
           "Content-Transfer-Encoding: 7bit\r\n"
           "\r\n" + json + "\r\n"
           "--b1--\r\n";
}

run_result swaks(std::uint16_t port, const std::string& message_file)
{
    return run_program({"swaks", "--server", "127.0.0.1", "--port", std::to_string(port), "--from",
                        "tlsrpt@sender.example", "--to", report_address, "--data", "@" + message_file, "--timeout",
                        "20"});
}

} // namespace

TEST_CASE("metrics count the reports posted and show monitored domains only", "[metrics][e2e]")
{
    scratch_database db;
    const std::string monitored = "watched.metrics.test", unmonitored = "other.metrics.test";
    const auto added = run_program({bin(), "--db", db.url(), "monitor", "add", monitored});
    INFO(added.err);
    REQUIRE(added.exit_code == 0);

    temp_dir files;
    const utc_date yesterday = real_today() - std::chrono::days(1);
    const auto first = files.write("a.json", report_json("Google Inc.", yesterday, monitored, 90, 10));
    const auto second = files.write("b.json", report_json("Microsoft Corporation", yesterday, monitored, 100, 0));
    const auto other = files.write("c.json", report_json("Google Inc.", yesterday, unmonitored, 50, 50));
    const auto bad = files.write("bad.json", "{\"organization-name\": \"broken\"}");
    const auto mail = files.write("m.eml", report_mail(report_json("Yahoo Inc.", yesterday, monitored, 10, 0)));
    const auto no_report = files.write("n.eml", "From: a@b.example\r\nTo: " + report_address +
                                                    "\r\nSubject: hello\r\n\r\nNo report here.\r\n");

    const auto https_port = free_port(), api_port = free_port(), smtp_port = free_port();
    serve_process serve(serve_args(db.url(), https_port, api_port,
                                   {"--set", "collector.spool_dir=" + (files.path / "spool").string()}, smtp_port));
    wait_for_api(api_port, serve);
    INFO("serve log:\n" << serve.log());

    // The token is required by default.
    CHECK(scrape(api_port, false).status == 401);

    const auto before = parse(scrape(api_port, true).body);
    const auto received = [](const exposition& e, const std::string& outcome) {
        return e.value_or_0("stswatch_reports_received_total", {{"transport", "https"}, {"outcome", outcome}});
    };

    CHECK(post_report(https_port, first).status == 201);
    CHECK(post_report(https_port, second).status == 201);
    CHECK(post_report(https_port, other).status == 201);
    CHECK(post_report(https_port, first).status == 200);   // the same report again
    CHECK(post_report(https_port, bad).status == 400);
    const auto delivered = swaks(smtp_port, mail);
    INFO("swaks: " << delivered.out << delivered.err);
    CHECK(delivered.exit_code == 0);
    CHECK(swaks(smtp_port, no_report).exit_code != 0);   // 554: no report in it

    // The in-process counters move at once; the database's figures within their few seconds.
    const auto after = scrape_until(api_port, [&](const exposition& e) {
        return e.value_or_0("stswatch_domain_sessions", {{"domain", monitored}, {"result", "successful"}}) == 200;
    });
    const auto by_smtp = [](const exposition& e, const std::string& outcome) {
        return e.value_or_0("stswatch_reports_received_total", {{"transport", "smtp"}, {"outcome", outcome}});
    };
    CHECK(by_smtp(after, "stored") - by_smtp(before, "stored") == 1);
    CHECK(by_smtp(after, "rejected") - by_smtp(before, "rejected") == 1);
    CHECK(after.value_or_0("stswatch_ingest_duration_seconds_count", {{"transport", "smtp"}})
              - before.value_or_0("stswatch_ingest_duration_seconds_count", {{"transport", "smtp"}}) == 2);
    CHECK(received(after, "stored") - received(before, "stored") == 3);
    CHECK(received(after, "duplicate") - received(before, "duplicate") == 1);
    CHECK(received(after, "rejected") - received(before, "rejected") == 1);
    CHECK(after.value_or_0("stswatch_ingest_duration_seconds_count", {{"transport", "https"}})
              - before.value_or_0("stswatch_ingest_duration_seconds_count", {{"transport", "https"}}) == 5);
    CHECK(after.value("stswatch_ingest_duration_seconds_bucket", {{"transport", "https"}, {"le", "+Inf"}})
          == after.value("stswatch_ingest_duration_seconds_count", {{"transport", "https"}}));
    CHECK(after.value_or_0("stswatch_store_commit_duration_seconds_count")
          >= before.value_or_0("stswatch_store_commit_duration_seconds_count") + 1);
    CHECK(after.value_or_0("stswatch_store_batch_reports_sum") - before.value_or_0("stswatch_store_batch_reports_sum")
          >= 3);
    CHECK(after.types.at("stswatch_reports_received") == "counter");
    CHECK(after.types.at("stswatch_ingest_duration_seconds") == "histogram");

    // The monitored domain has its series of yesterday; the other one none.
    CHECK(after.value("stswatch_domain_sessions", {{"domain", monitored}, {"result", "successful"}}) == 200);
    CHECK(after.value("stswatch_domain_sessions", {{"domain", monitored}, {"result", "failed"}}) == 10);
    REQUIRE(after.value("stswatch_domain_failure_ratio", {{"domain", monitored}}));
    CHECK(*after.value("stswatch_domain_failure_ratio", {{"domain", monitored}}) == Approx(10.0 / 210));
    for (const auto& s : after.samples) {
        INFO(s.name);
        if (s.labels.count("domain"))
            CHECK(s.labels.at("domain") == monitored);
        // Never a label by sending organisation, MX or IP.
        for (const auto& forbidden : {"organization", "organisation", "org", "mx", "ip", "sending_ip"})
            CHECK(s.labels.count(forbidden) == 0);
    }

    // The database's gauges, each over its bounded set.
    CHECK(after.value("stswatch_database_up") == 1);
    CHECK(after.value("stswatch_monitored_domains") == 1);
    CHECK(after.named("stswatch_incidents_open").size() == 6);
    CHECK(after.named("stswatch_findings").size() == 3);
    CHECK(after.value("stswatch_findings", {{"severity", "error"}}));
    // The spool (collector.spool_dir set) is empty: the database was there.
    CHECK(after.value("stswatch_spool_reports") == 0);
    CHECK(after.value("stswatch_spool_bytes") == 0);
    CHECK(after.value("stswatch_spool_oldest_age_seconds") == 0);
    // The process.
    CHECK(after.value_or_0("process_resident_memory_bytes") > 0);
    CHECK(after.value_or_0("process_open_fds") > 0);
    CHECK(after.value_or_0("process_start_time_seconds") > 1.7e9);

    CHECK(serve.stop() == 0);
}

TEST_CASE("metrics need no token with api.metrics_token false and domain series are off with none", "[metrics][e2e]")
{
    scratch_database db;
    const std::string monitored = "watched.metrics.test";
    REQUIRE(run_program({bin(), "--db", db.url(), "monitor", "add", monitored}).exit_code == 0);
    temp_dir files;
    const auto report = files.write("a.json", report_json("Google Inc.", real_today() - std::chrono::days(1),
                                                          monitored, 10, 0));

    const auto https_port = free_port(), api_port = free_port();
    serve_process serve(serve_args(db.url(), https_port, api_port,
                                   {"--set", "api.metrics_token=false", "--set", "api.metrics_domains=none"}));
    wait_for_api(api_port, serve);
    INFO("serve log:\n" << serve.log());
    REQUIRE(post_report(https_port, report).status == 201);

    const auto r = scrape(api_port, false);
    REQUIRE(r.status == 200);
    const auto e = parse(r.body);
    CHECK(e.value("stswatch_reports_received_total", {{"transport", "https"}, {"outcome", "stored"}}) == 1);
    CHECK(e.value("stswatch_database_up") == 1);
    CHECK(e.named("stswatch_domain_sessions").empty());
    CHECK(e.named("stswatch_domain_failure_ratio").empty());
    // No spool configured: no spool gauges.
    CHECK(e.named("stswatch_spool_reports").empty());
    CHECK(serve.stop() == 0);
}

TEST_CASE("a scrape with the database down answers with the process metrics and database_up 0", "[metrics][e2e]")
{
    private_cluster cluster;
    cluster.start();
    const auto url = cluster.url("postgres");
    temp_dir files;
    const auto https_port = free_port(), api_port = free_port();
    serve_process serve(serve_args(url, https_port, api_port,
                                   {"--set", "collector.spool_dir=" + (files.path / "spool").string()}));
    wait_for_api(api_port, serve);
    INFO("serve log:\n" << serve.log());
    CHECK(scrape_until(api_port, [](const exposition& e) { return e.value("stswatch_database_up") == 1; })
              .value("stswatch_database_up") == 1);

    cluster.stop();
    // A report posted now waits in the spool (202).
    const auto report = files.write("a.json", report_json("Google Inc.", real_today() - std::chrono::days(1),
                                                          "down.metrics.test", 10, 0));
    CHECK(post_report(https_port, report).status == 202);

    const auto e = scrape_until(api_port, [](const exposition& x) { return x.value("stswatch_database_up") == 0; });
    CHECK(e.value("stswatch_database_up") == 0);
    CHECK(e.value("stswatch_reports_received_total", {{"transport", "https"}, {"outcome", "spooled"}}) == 1);
    CHECK(e.value("stswatch_spool_reports") == 1);
    CHECK(e.value_or_0("stswatch_spool_bytes") > 0);
    CHECK(e.value_or_0("stswatch_spool_oldest_age_seconds") >= 0);
    CHECK(e.named("stswatch_findings").empty());
    CHECK(e.value_or_0("process_resident_memory_bytes") > 0);

    // The database back: the drainer stores the spooled report.
    cluster.start();
    const auto drained = scrape_until(api_port, [](const exposition& x) {
        return x.value("stswatch_spool_drained_total", {{"outcome", "stored"}}) == 1
               && x.value("stswatch_spool_reports") == 0 && x.value("stswatch_database_up") == 1;
    });
    CHECK(drained.value("stswatch_spool_drained_total", {{"outcome", "stored"}}) == 1);
    CHECK(drained.value("stswatch_spool_reports") == 0);
    CHECK(drained.value("stswatch_spool_oldest_age_seconds") == 0);
    CHECK(serve.stop() == 0);
}
