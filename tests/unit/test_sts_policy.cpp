// The MTA-STS policy evaluator (RFC 8461 §3.2) and MX pattern matching (§4.1), from the
// tables in sts_policy_cases.hpp.
#include "mtasts/sts_policy.hpp"
#include "tests/support/findings_text.hpp"
#include "tests/unit/sts_policy_cases.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace stswatch;
using stswatch::test::describe;
using stswatch::test::has_finding;

TEST_CASE("evaluate_policy: good policies parse to mode, max_age and mx")
{
    REQUIRE(test::sts_policy_good_cases().size() >= 15);
    for (const auto& g : test::sts_policy_good_cases()) {
        INFO(g.text);
        const auto e = evaluate_policy("example.com", g.text);
        INFO(describe(e.findings));
        REQUIRE(e.policy);
        CHECK(e.policy->mode == g.mode);
        CHECK(e.policy->max_age == g.max_age);
        CHECK(e.policy->mx == g.mx);
        std::vector<std::string> codes;
        for (const auto& f : e.findings) {
            codes.push_back(f.code);
            CHECK(f.level != severity::error);
        }
        CHECK(codes == g.codes);
    }
}

TEST_CASE("evaluate_policy: bad policies give their finding")
{
    REQUIRE(test::sts_policy_bad_cases().size() >= 39);
    for (const auto& b : test::sts_policy_bad_cases()) {
        INFO(b.text << "\nexpected " << b.code << ": " << b.reason);
        const auto e = evaluate_policy("Example.com", b.text);
        INFO(describe(e.findings));
        CHECK(has_finding(e.findings, b.code, b.reason));
        CHECK(e.policy.has_value() == b.usable);
        for (const auto& f : e.findings) {
            CHECK(f.subject == "mta-sts.example.com");
            REQUIRE(find_finding_kind(f.code) != nullptr);
        }
        CHECK(has_errors(e.findings));
    }
}

TEST_CASE("evaluate_policy: details")
{
    const std::string tail = "mx: mail.example.com\nmax_age: 604800\n";
    SECTION("the first of a repeated key counts (RFC 8461 §3.2)")
    {
        const auto e = evaluate_policy("example.com", "version: STSv1\nmode: enforce\nmode: none\n" + tail);
        REQUIRE(e.policy);
        CHECK(e.policy->mode == sts_mode::enforce);
    }
    SECTION("every mx line counts, the invalid ones are left out")
    {
        const auto e = evaluate_policy("example.com",
            "version: STSv1\nmode: enforce\nmx: a.example.com\nmx: bad_one\nmx: *.b.example.com\nmax_age: 604800\n");
        REQUIRE(e.policy);
        CHECK(e.policy->mx == std::vector<std::string>{"a.example.com", "*.b.example.com"});
    }
    SECTION("only invalid mx lines: not usable, without a second finding saying mx is missing")
    {
        const auto e = evaluate_policy("example.com", "version: STSv1\nmode: enforce\nmx: bad_one\nmax_age: 604800\n");
        CHECK_FALSE(e.policy);
        REQUIRE(e.findings.size() == 1);
        CHECK(e.findings[0].code == "sts-policy-mx-invalid");
    }
    SECTION("a large file of junk gives a bounded number of findings")
    {
        std::string junk;
        for (int i = 0; i < 3000; ++i)
            junk += "junk line " + std::to_string(i) + "\n";
        const auto e = evaluate_policy("example.com", "version: STSv1\nmode: enforce\n" + junk + tail);
        REQUIRE(e.policy);
        CHECK(e.findings.size() <= 25);
        CHECK(has_finding(e.findings, "sts-policy-syntax", "more malformed lines are not listed"));
    }
    SECTION("an HTML page gives one syntax finding and the missing keys")
    {
        std::string html = "<html>\n<head><title>404</title></head>\n";
        for (int i = 0; i < 50; ++i)
            html += "<p>line</p>\n";
        const auto e = evaluate_policy("example.com", html);
        CHECK_FALSE(e.policy);
        CHECK(std::count_if(e.findings.begin(), e.findings.end(),
                            [](const finding& f) { return f.code == "sts-policy-syntax"; }) == 1);
        CHECK(has_finding(e.findings, "sts-policy-version", "no \"version: STSv1\" line"));
    }
    SECTION("mode names round-trip")
    {
        CHECK(std::string(to_string(sts_mode::enforce)) == "enforce");
        CHECK(std::string(to_string(sts_mode::testing)) == "testing");
        CHECK(std::string(to_string(sts_mode::none)) == "none");
    }
}

TEST_CASE("mx_pattern_matches: RFC 8461 §4.1 table")
{
    REQUIRE(test::mx_match_cases().size() >= 18);
    for (const auto& c : test::mx_match_cases()) {
        INFO("pattern \"" << c.pattern << "\" host \"" << c.host << "\"");
        CHECK(mx_pattern_matches(c.pattern, c.host) == c.matches);
    }
}

TEST_CASE("is_valid_mx_pattern: RFC 8461 §3.2 table")
{
    REQUIRE(test::mx_pattern_cases().size() >= 19);
    for (const auto& c : test::mx_pattern_cases()) {
        INFO("pattern \"" << c.pattern << "\"");
        CHECK(is_valid_mx_pattern(c.pattern) == c.valid);
    }
}

TEST_CASE("covering_pattern: the first pattern that matches")
{
    const std::vector<std::string> patterns{"mail.example.com", "*.backup.example.com", "*.example.com"};
    CHECK(covering_pattern(patterns, "b1.backup.example.com") == std::optional<std::string>("*.backup.example.com"));
    CHECK(covering_pattern(patterns, "MAIL.example.com.") == std::optional<std::string>("mail.example.com"));
    CHECK(covering_pattern(patterns, "x.example.com") == std::optional<std::string>("*.example.com"));
    CHECK_FALSE(covering_pattern(patterns, "a.b.c.example.com"));
    CHECK_FALSE(covering_pattern({}, "mail.example.com"));
}
