// The dashboard in a real browser: a timeline of a domain (reports of four senders, daily
// checks, an MX added on the onset day that the policy does not cover) is seeded into a
// scratch database with dates up to today, its incidents refreshed; `stswatch serve` runs
// on it with the API listener, its monitor pointed at the DNS, HTTPS and SMTP fixtures of
// the check tests, where a second, healthy domain is deployed; then dashboard.mjs drives a
// headless Chromium through playwright-core against serve (tests/browser/run.sh).
#include "analyzer/incidents.hpp"
#include "store/analysis_store.hpp"
#include "tests/support/check_scenario.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/timeline.hpp"

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;
using namespace std::chrono_literals;

namespace {


std::string env_or(const char* name, const std::string& fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

} // namespace

TEST_CASE("the dashboard in headless Chromium: sign-in and a domain's chart and incident and adding a domain", "[browser]")
{
    const std::string script = required_env("STSWATCH_BROWSER_SCRIPT");
    const std::string out_dir = required_env("STSWATCH_BROWSER_OUT");

    // A healthy deployment for the domain the browser adds.
    scenario fresh;
    fresh.domain = "new.browser.test";
    deployment servers({fresh});

    // 30 days up to today; mx2 added on day 17 at 09:12 and not covered by the policy.
    timeline t("shop.browser.test", 30, real_today());
    const std::string mx1 = t.mx("mx1"), mx2 = t.mx("mx2");
    deployment_state before;
    before.policy_text = policy_text({mx1});
    before.mx = {{mx1, 10}};
    deployment_state after = before;
    after.mx.push_back({mx2, 10, "2027-06-01T00:00:00Z", true, true, "bb22"});
    after.findings = {make_finding("mx-not-covered", mx2,
                                   mx2 + " is an MX of " + t.domain() + " but matches none of the policy's mx "
                                   "patterns (" + mx1 + "); add it to the policy and change the id")};
    t.check_daily(1, 16, before);
    REQUIRE(t.check(t.at(17, 9, 12), after).size() == 1);
    t.check_daily(18, 29, after);
    for (const std::string org : {"Google Inc.", "Microsoft Corporation", "Yahoo Inc.", "Comcast"}) {
        policy_spec ok;
        ok.policy_string = policy_lines(before.policy_text);
        ok.mx_host = {mx1};
        ok.successful = 200;
        t.daily(org, 1, 16, [&](int) { return std::vector{ok}; });
        policy_spec failing = ok;
        failing.successful = 150;
        failing.failures = {{"validation-failure", mx2, "198.51.100.7", 4}};
        t.daily(org, 17, 29, [&](int) { return std::vector{failing}; });
    }
    REQUIRE(t.store() == 4 * 29);
    {
        analysis_store store(t.url());
        REQUIRE_FALSE(analysis::refresh_incidents(store, t.domain(), t.day(1), t.today()).incidents.empty());
    }

    const std::string token = "browser-test-token-5f1c0e";
    const std::string api_port = std::to_string(free_port());
    serve_process serve({
        "serve", "--db", t.url(), "--log-level", "information",
        "--set", "api.listen=127.0.0.1:" + api_port,
        "--set", "api.token=" + token,
        "--set", "collector.https.listen=127.0.0.1:" + std::to_string(free_port()),
        "--set", "collector.https.cert=" + tls_file("server.pem"),
        "--set", "collector.https.key=" + tls_file("server.key"),
        "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()),
        "--set", "checks.resolver=" + servers.resolver(),
        "--set", "checks.ca_file=" + test_ca_file(),
        "--set", "checks.allow_private=true",
        "--set", "checks.timeout=2",
        "--set", "analyzer.refresh_interval=1",
    });
    const std::string base = "http://127.0.0.1:" + api_port;
    bool up = false;
    for (auto deadline = std::chrono::steady_clock::now() + 20s; !up && std::chrono::steady_clock::now() < deadline;) {
        up = run_program({"curl", "-sf", "-o", "/dev/null", base + "/healthz"}).exit_code == 0;
        if (!up)
            std::this_thread::sleep_for(100ms);
    }
    INFO("serve log:\n" << serve.log());
    REQUIRE(up);

    // The assets through the router: cached for long, not no-store as the pages.
    const auto head = run_program({"curl", "-sI", base + "/assets/app.css"});
    INFO("asset headers:\n" << head.out);
    CHECK(head.out.find("Cache-Control: public, max-age=31536000, immutable") != std::string::npos);
    CHECK(head.out.find("no-store") == std::string::npos);
    CHECK(head.out.find("ETag: \"") != std::string::npos);

    ::setenv("DASHBOARD_URL", base.c_str(), 1);
    ::setenv("DASHBOARD_TOKEN", token.c_str(), 1);
    ::setenv("DASHBOARD_DOMAIN", t.domain().c_str(), 1);
    ::setenv("DASHBOARD_NEW_DOMAIN", fresh.domain.c_str(), 1);
    ::setenv("DASHBOARD_MARKER", ("mx-added " + mx2).c_str(), 1);
    ::setenv("DASHBOARD_TOP_CAUSE", "mx-not-covered", 1);
    ::setenv("DASHBOARD_OUT", out_dir.c_str(), 1);
    ::setenv("CHROMIUM", env_or("CHROMIUM", "/usr/bin/chromium").c_str(), 1);
    const auto browser = run_program({"node", script}, {}, std::chrono::seconds(180));
    std::cout << browser.out << browser.err << std::flush;
    INFO("browser test:\n" << browser.out << browser.err);
    CHECK_FALSE(browser.timed_out);
    CHECK(browser.exit_code == 0);
    CHECK(serve.stop() == 0);
}
