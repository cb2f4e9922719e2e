// The analysis end to end: `stswatch serve` monitors a domain whose deployment is broken
// (an MX that the policy's mx patterns do not cover) on the real DNS, HTTPS and SMTP
// fixtures of the check tests; reports of the last weeks are imported with `stswatch
// import`; serve's refresher finds the MX incident by itself, and `stswatch explain --json`
// names mx-not-covered as its cause.
#include "tests/support/check_scenario.hpp"
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
#include <string>
#include <thread>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;
using namespace std::chrono_literals;

namespace {

std::string bin() { return required_env("STSWATCH_BIN"); }


} // namespace

TEST_CASE("serve finds the incident of an MX not covered by the policy and explain names the cause", "[analysis][e2e]")
{
    // The domain publishes a policy for mx1 only; mx2, an MX of the same preference, is not
    // covered: senders applying the policy fail validation there.
    scenario s;
    s.domain = "uncovered.e2e.test";
    scenario_mx second;
    second.label = "mx2";
    s.mx.push_back(second);
    s.policy_body = "version: STSv1\r\nmode: enforce\r\nmx: mx1.{domain}\r\nmax_age: 604800\r\n";
    deployment servers({s});
    const std::string mx1 = "mx1." + s.domain, mx2 = "mx2." + s.domain;

    scratch_database db;
    const auto added = run_program({bin(), "--db", db.url(), "monitor", "add", s.domain});
    INFO(added.err);
    REQUIRE(added.exit_code == 0);

    // Three weeks of reports from four senders, up to yesterday's (a day's reports come the
    // next day); mx2 fails from a week ago on. The check serve runs now, after the last
    // reported day, still holds during the ongoing incident.
    const utc_date today = real_today();
    const utc_date first = today - std::chrono::days(21), onset = today - std::chrono::days(7);
    const std::vector<std::string> lines = {"version: STSv1", "mode: enforce", "mx: " + mx1, "max_age: 604800"};
    temp_dir reports;
    std::int64_t failed_sessions = 0;
    for (const std::string org : {"Google Inc.", "Microsoft Corporation", "Yahoo Inc.", "Comcast"}) {
        for (utc_date day = first; day < today; day += std::chrono::days(1)) {
            policy_spec p;
            p.policy_string = lines;
            p.mx_host = {mx1};
            p.successful = 200;
            if (day >= onset) {
                p.successful = 150;
                p.failures = {{"validation-failure", mx2, "198.51.100.7", 4}};
                failed_sessions += 4;
            }
            const auto r = make_report(org, day, s.domain, {p});
            reports.write(org.substr(0, org.find(' ')) + "-" + format_day(day) + ".json", to_canonical_json(r));
        }
    }

    const std::string https_port = std::to_string(free_port());
    serve_process serve({
        "serve", "--db", db.url(), "--log-level", "information",
        "--set", "collector.https.listen=127.0.0.1:" + https_port,
        "--set", "collector.https.cert=" + tls_file("server.pem"),
        "--set", "collector.https.key=" + tls_file("server.key"),
        "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()),
        "--set", "checks.resolver=" + servers.resolver(),
        "--set", "checks.ca_file=" + test_ca_file(),
        "--set", "checks.allow_private=true",
        "--set", "checks.timeout=2",
        "--set", "analyzer.refresh_interval=1",
    });

    const auto imported = run_program({bin(), "--db", db.url(), "import", "--no-progress", reports.path.string()});
    INFO("import: " << imported.out << imported.err);
    REQUIRE(imported.exit_code == 0);

    // serve checks the domain at once and refreshes the queued domain within a second or so;
    // explain only reads what serve stored (--no-refresh).
    const std::vector<std::string> explain_args = {bin(), "--db", db.url(), "explain", s.domain, "--since",
                                                   format_day(first), "--until", format_day(today), "--no-refresh",
                                                   "--json"};
    Poco::JSON::Object::Ptr incident;
    std::string last_output;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!incident && std::chrono::steady_clock::now() < deadline) {
        const auto r = run_program(explain_args);
        last_output = r.out + r.err;
        if (r.exit_code == 0) {
            const auto doc = json_object(r.out);
            const auto incidents = doc->getArray("incidents");
            for (unsigned i = 0; incidents && i < incidents->size(); ++i) {
                const auto candidate = incidents->getObject(i);
                const auto causes = candidate->getArray("causes");
                // serve may refresh while the import is still running; the incident counts once
                // a refresh has seen every imported failure.
                if (candidate->getValue<std::string>("dimension") == "mx" && causes && causes->size() > 0 &&
                    causes->getObject(0)->getValue<std::string>("kind") == "finding" &&
                    candidate->getValue<std::int64_t>("failed_sessions") == failed_sessions)
                    incident = candidate;
            }
        }
        if (!incident)
            std::this_thread::sleep_for(200ms);
    }
    INFO("serve log:\n" << serve.log());
    INFO("last explain output:\n" << last_output);
    REQUIRE(incident);
    CHECK(incident->getValue<std::string>("key") == mx2);
    CHECK(incident->getValue<std::string>("onset") == format_day(onset));
    CHECK(incident->isNull("end"));
    const auto top = incident->getArray("causes")->getObject(0);
    CHECK(top->getValue<int>("rank") == 1);
    CHECK(top->getValue<std::string>("code") == "mx-not-covered");
    CHECK(top->getValue<std::string>("subject") == mx2);
    CHECK(top->getValue<std::string>("first_seen").substr(0, 10) == format_day(today));

    CHECK(serve.stop() == 0);
    CHECK(serve.log().find("analyzer") != std::string::npos);
}
