// `stswatch check` as users and scripts run it, against a real DNS server (Knot): usage and
// exit codes, DNS being down, a domain without any record, --no-probe, and --policy-file with
// and without the stored reports' MX hosts. The per-finding scenarios with real HTTPS and
// SMTP servers live in their own test file.
#include "tests/support/dns_server.hpp"
#include "tests/support/json_text.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include <set>
#include <sstream>

using namespace stswatch::test;
using Poco::JSON::Object;

namespace {

std::string bin() { return required_env("STSWATCH_BIN"); }

// Two MX hosts on loopback addresses where nothing listens; no _mta-sts record.
const std::string mx_loopback_1 = unique_loopback_address();
const std::string mx_loopback_2 = unique_loopback_address();

dns_server& server()
{
    static dns_server s({
        {"nothing.test", zone_file("nothing.test")},
        {"mxonly.test", zone_file("mxonly.test",
            "@ MX 10 mx1\n"
            "@ MX 20 mx2\n"
            "mx1 A " + mx_loopback_1 + "\n"
            "mx2 A " + mx_loopback_2 + "\n"
            "_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@mxonly.test\"\n")},
    });
    return s;
}

// No database from the environment: only what the test passes.
run_result check(std::vector<std::string> args)
{
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "STSWATCH_DB", bin(), "check"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
}

std::multiset<std::string> codes(const Object::Ptr& result)
{
    std::multiset<std::string> out;
    const auto findings = result->getArray("findings");
    for (std::size_t i = 0; i < findings->size(); ++i)
        out.insert(findings->getObject(static_cast<unsigned>(i))->getValue<std::string>("code"));
    return out;
}

Object::Ptr finding_with(const Object::Ptr& result, const std::string& code, const std::string& subject)
{
    const auto findings = result->getArray("findings");
    for (std::size_t i = 0; i < findings->size(); ++i) {
        auto f = findings->getObject(static_cast<unsigned>(i));
        if (f->getValue<std::string>("code") == code && f->getValue<std::string>("subject") == subject)
            return f;
    }
    return {};
}

bool any_error(const Object::Ptr& result)
{
    const auto findings = result->getArray("findings");
    for (std::size_t i = 0; i < findings->size(); ++i)
        if (findings->getObject(static_cast<unsigned>(i))->getValue<std::string>("severity") == "error")
            return true;
    return false;
}

Object::Ptr mx_entry(const Object::Ptr& result, const std::string& host)
{
    const auto mx = result->getArray("mx");
    for (std::size_t i = 0; i < mx->size(); ++i) {
        auto m = mx->getObject(static_cast<unsigned>(i));
        if (m->getValue<std::string>("host") == host)
            return m;
    }
    return {};
}

const std::string candidate_policy = "version: STSv1\nmode: enforce\nmx: mx1.mxonly.test\nmax_age: 604800\n";

} // namespace

TEST_CASE("check usage errors exit 2", "[check][cli]")
{
    struct usage_case {
        std::vector<std::string> args;
        std::string stderr_names;
    };
    const std::vector<usage_case> cases = {
        {{}, "no DOMAIN"},
        {{"--json"}, "no DOMAIN"},
        {{"--resolver", "not-an-address", "example.com"}, "--resolver"},
        {{"--resolver", "127.0.0.1:99999", "example.com"}, "--resolver"},
        {{"--resolver=", "example.com"}, "--resolver"},
        {{"--resolver"}, "--resolver"},
        {{"--frobnicate", "example.com"}, "--frobnicate"},
        {{"exa mple..com"}, "exa mple..com"},
        {{"--policy-file", "/dev/null", "a.example", "b.example"}, "exactly one DOMAIN"},
    };
    for (const auto& c : cases) {
        INFO("args: " << c.args.size() << (c.args.empty() ? std::string() : " first " + c.args.front()));
        const run_result r = check(c.args);
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("stswatch: ", 0) == 0);
        CHECK(r.err.find(c.stderr_names) != std::string::npos);
    }
}

TEST_CASE("check with an unreadable CA or policy file exits 66", "[check][cli]")
{
    const run_result ca = check({"--ca-file", "/nonexistent/ca.pem", "--resolver", server().address(), "nothing.test"});
    CHECK(ca.exit_code == 66);
    CHECK(ca.out.empty());
    CHECK(ca.err.find("stswatch: check: /nonexistent/ca.pem: ") == 0);

    const run_result policy = check({"--policy-file", "/nonexistent/policy.txt", "--resolver", server().address(), "nothing.test"});
    CHECK(policy.exit_code == 66);
    CHECK(policy.err.find("/nonexistent/policy.txt") != std::string::npos);
}

TEST_CASE("check --policy-file over 64 KiB exits 65", "[check][cli]")
{
    temp_dir dir("stswatch-check");
    const std::string big = dir.write("big.txt", candidate_policy + std::string(70000, '#'));
    const run_result r = check({"--policy-file", big, "--resolver", server().address(), "mxonly.test"});
    CHECK(r.exit_code == 65);
    CHECK(r.out.empty());
    CHECK(r.err.find("64 KiB") != std::string::npos);
}

TEST_CASE("check exits 69 when the resolver does not answer", "[check][cli][dns]")
{
    const std::string closed = "127.0.0.1:" + std::to_string(free_port());
    const run_result r = check({"--json", "--set", "checks.timeout=1", "--resolver", closed, "example.com"});
    CHECK(r.exit_code == 69);
    CHECK(r.err.find("stswatch: check: example.com: ") != std::string::npos);
    const auto result = json_object(r.out);
    CHECK(result->getValue<std::string>("domain") == "example.com");
    const auto found = codes(result);
    CHECK(found.count("sts-record-dns-error") >= 1);
    const auto f = finding_with(result, "sts-record-dns-error", "_mta-sts.example.com");
    REQUIRE(f);
    CHECK(f->getValue<std::string>("severity") == "error");
    CHECK(f->getValue<std::string>("rfc").rfind("RFC ", 0) == 0);
    CHECK_FALSE(f->getValue<std::string>("message").empty());
}

TEST_CASE("check of a domain without any record", "[check][cli]")
{
    const run_result r = check({"--json", "--resolver", server().address(), "Nothing.Test."});
    const auto result = json_object(r.out);
    CHECK(result->getValue<std::string>("domain") == "nothing.test");
    CHECK_FALSE(result->getValue<std::string>("checked_at").empty());
    const auto found = codes(result);
    CHECK(found.count("sts-record-missing") == 1);
    CHECK(found.count("tlsrpt-record-missing") == 1);
    CHECK(found.count("mx-missing") == 1);
    CHECK(found.count("sts-record-dns-error") == 0);
    CHECK(r.exit_code == (any_error(result) ? 1 : 0));
    CHECK(r.exit_code == 1);   // mx-missing is an error

    const auto sts = result->getObject("sts");
    CHECK(sts->isNull("record"));
    CHECK(sts->isNull("fetch"));   // no record: nothing to fetch
    CHECK(sts->isNull("policy"));
    CHECK(result->getObject("tlsrpt")->isNull("record"));
    CHECK(result->getArray("mx")->size() == 0);

    // Findings come errors first.
    const auto findings = result->getArray("findings");
    bool seen_non_error = false;
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const bool error = findings->getObject(static_cast<unsigned>(i))->getValue<std::string>("severity") == "error";
        CHECK_FALSE((error && seen_non_error));
        seen_non_error = seen_non_error || !error;
    }
}

TEST_CASE("check text report on a pipe has no colour", "[check][cli]")
{
    const run_result r = check({"--resolver", server().address(), "nothing.test"});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("nothing.test: ", 0) == 0);
    CHECK(r.out.find("mx-missing") != std::string::npos);
    CHECK(r.out.find("sts-record-missing") != std::string::npos);
    CHECK(r.out.find('\033') == std::string::npos);
}

TEST_CASE("check refuses to probe MX hosts on loopback without --allow-private", "[check][cli]")
{
    const run_result r = check({"--json", "--resolver", server().address(), "mxonly.test"});
    const auto result = json_object(r.out);
    CHECK(r.exit_code == 1);
    for (const std::string host : {"mx1.mxonly.test", "mx2.mxonly.test"}) {
        INFO(host);
        const auto f = finding_with(result, "mx-unreachable", host);
        REQUIRE(f);
        CHECK(f->getValue<std::string>("message").find("--allow-private") != std::string::npos);
        const auto m = mx_entry(result, host);
        REQUIRE(m);
        CHECK(m->isNull("starttls"));
        CHECK(m->isNull("probe"));
    }
    CHECK(result->getObject("tlsrpt")->getArray("rua")->getElement<std::string>(0) == "mailto:tlsrpt@mxonly.test");
}

TEST_CASE("check --no-probe resolves the MX set without probing it", "[check][cli]")
{
    const run_result r = check({"--json", "--no-probe", "--resolver", server().address(), "mxonly.test"});
    const auto result = json_object(r.out);
    const auto found = codes(result);
    CHECK(found.count("mx-unreachable") == 0);
    CHECK(found.count("mx-missing") == 0);
    CHECK(found.count("sts-record-missing") == 1);
    CHECK(found.count("tlsrpt-record-missing") == 0);
    CHECK(r.exit_code == (any_error(result) ? 1 : 0));

    const auto mx = result->getArray("mx");
    REQUIRE(mx->size() == 2);
    const auto mx1 = mx->getObject(0);
    CHECK(mx1->getValue<std::string>("host") == "mx1.mxonly.test");
    CHECK(mx1->getValue<int>("preference") == 10);
    REQUIRE(mx1->getArray("addresses")->size() == 1);
    CHECK(mx1->getArray("addresses")->getElement<std::string>(0) == mx_loopback_1);
    CHECK(mx1->isNull("starttls"));
    CHECK(mx1->isNull("covered_by"));   // no policy
    CHECK(mx->getObject(1)->getValue<std::string>("host") == "mx2.mxonly.test");
}

TEST_CASE("check several domains prints one JSON object per line", "[check][cli]")
{
    const run_result r = check({"--json", "--no-probe", "--resolver", server().address(), "nothing.test", "mxonly.test"});
    CHECK(r.exit_code == 1);
    std::istringstream lines(r.out);
    std::vector<std::string> domains;
    for (std::string line; std::getline(lines, line);)
        domains.push_back(json_object(line)->getValue<std::string>("domain"));
    CHECK(domains == std::vector<std::string>{"nothing.test", "mxonly.test"});
}

TEST_CASE("check --policy-file checks a candidate policy against the live MX set", "[check][cli]")
{
    temp_dir dir("stswatch-check");
    const std::string policy_file = dir.write("mta-sts.txt", candidate_policy);
    const run_result r = check({"--json", "--no-probe", "--policy-file", policy_file, "--resolver", server().address(),
                                "mxonly.test"});
    const auto result = json_object(r.out);
    CHECK(r.exit_code == 1);
    // No database configured: the user is told that stored reports were not consulted.
    CHECK(r.err.find("not consulted") != std::string::npos);

    const auto sts = result->getObject("sts");
    CHECK(sts->getValue<bool>("candidate"));
    CHECK(sts->getValue<std::string>("policy_text") == candidate_policy);
    CHECK(sts->isNull("fetch"));   // no _mta-sts record: nothing live to fetch
    const auto policy = sts->getObject("policy");
    REQUIRE(policy);
    CHECK(policy->getValue<std::string>("mode") == "enforce");

    const auto uncovered = finding_with(result, "mx-not-covered", "mx2.mxonly.test");
    REQUIRE(uncovered);
    CHECK(uncovered->getValue<std::string>("message").find("mx1.mxonly.test") != std::string::npos);
    CHECK_FALSE(finding_with(result, "mx-not-covered", "mx1.mxonly.test"));
    CHECK(mx_entry(result, "mx1.mxonly.test")->getValue<std::string>("covered_by") == "mx1.mxonly.test");
    CHECK(mx_entry(result, "mx2.mxonly.test")->isNull("covered_by"));
}

TEST_CASE("check --policy-file also matches MX hosts seen in stored reports", "[check][cli][db]")
{
    scratch_database db;
    temp_dir dir("stswatch-check");
    const std::string report_file =
        dir.write("report.json", mx_failure_report("check-cli-reported-mx-1", "mxonly.test", "old-mx.mxonly.test"));
    const run_result imported = run_program({bin(), "--db", db.url(), "import", "--no-progress", report_file});
    REQUIRE(imported.exit_code == 0);

    const std::string policy_file = dir.write("mta-sts.txt", candidate_policy);
    const run_result r = check({"--db", db.url(), "--json", "--no-probe", "--policy-file", policy_file,
                                "--resolver", server().address(), "mxonly.test"});
    INFO(r.err);
    const auto result = json_object(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("not consulted") == std::string::npos);

    const auto old_mx = mx_entry(result, "old-mx.mxonly.test");
    REQUIRE(old_mx);
    CHECK(old_mx->getValue<bool>("from_reports"));
    CHECK(old_mx->isNull("probe"));
    const auto f = finding_with(result, "mx-not-covered", "old-mx.mxonly.test");
    REQUIRE(f);
    CHECK(f->getValue<std::string>("message").find("reports") != std::string::npos);
    // The live MX hosts are still checked, and are not marked as coming from reports.
    CHECK(mx_entry(result, "mx1.mxonly.test")->getValue<bool>("from_reports") == false);
    CHECK(finding_with(result, "mx-not-covered", "mx2.mxonly.test"));
}

TEST_CASE("check --policy-file with an unreachable database warns and goes on", "[check][cli]")
{
    temp_dir dir("stswatch-check");
    const std::string policy_file = dir.write("mta-sts.txt", candidate_policy);
    const std::string dead_db = "host=127.0.0.1 port=" + std::to_string(free_port()) + " user=postgres dbname=none connect_timeout=2";
    const run_result r = check({"--db", dead_db, "--json", "--no-probe", "--policy-file", policy_file,
                                "--resolver", server().address(), "mxonly.test"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("warning") != std::string::npos);
    CHECK(r.err.find("not consulted") != std::string::npos);
    CHECK(json_object(r.out)->getObject("sts")->getValue<bool>("candidate"));
}
