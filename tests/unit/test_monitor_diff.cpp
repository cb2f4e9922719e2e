// diff_snapshots: the change events between two check results of a domain, and the
// sts-policy-changed-without-id finding.
#include "checks/monitor.hpp"
#include "tests/support/check_builders.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace stswatch;
using stswatch::test::healthy_mx;

namespace {

const std::string policy_v1 = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";
const std::string policy_v2 = "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n";

void set_policy(check_result& r, const std::string& text, sts_mode mode, std::uint64_t max_age,
                std::vector<std::string> patterns)
{
    policy_fetch_result f;
    f.status = policy_fetch_status::ok;
    f.body = text;
    r.sts.fetch = f;
    r.sts.policy_text = text;
    r.sts.policy = sts_policy{mode, max_age, std::move(patterns)};
}

void fetch_failed(check_result& r, policy_fetch_status status, dns_status dns = dns_status::ok)
{
    policy_fetch_result f;
    f.status = status;
    f.dns = dns;
    r.sts.fetch = f;
    r.sts.policy_text.reset();
    r.sts.policy.reset();
}

// A healthy example.com: record id 20250101, policy v1, one MX, a TLS-RPT record.
check_result baseline()
{
    check_result r;
    r.domain = "example.com";
    r.checked_at = "2025-07-08T12:00:00Z";
    r.sts.record = "v=STSv1; id=20250101";
    r.sts.id = "20250101";
    set_policy(r, policy_v1, sts_mode::enforce, 86400, {"mx1.example.com"});
    r.tlsrpt.record = "v=TLSRPTv1; rua=mailto:tlsrpt@example.com";
    r.tlsrpt.rua = {"mailto:tlsrpt@example.com"};
    r.mx = {healthy_mx("mx1.example.com", 10)};
    return r;
}

using edit = std::function<void(check_result&)>;

struct diff_case {
    const char* name;
    edit before_edit;
    edit after_edit;
    std::vector<change_event> expected;
    bool without_id_finding = false;
};

void no_edit(check_result&) {}

std::string describe(const std::vector<change_event>& events)
{
    std::string out;
    for (const auto& e : events)
        out += e.kind + " | " + e.subject + " | " + e.before + " | " + e.after + "\n";
    return out;
}

} // namespace

TEST_CASE("diff_snapshots gives exactly the expected change events", "[monitor]")
{
    const std::vector<diff_case> cases = {
        {"no change gives no events", no_edit, no_edit, {}},
        {"a later check time alone is no change", no_edit,
         [](check_result& r) { r.checked_at = "2025-07-08T13:00:00Z"; }, {}},
        {"sts record removed",
         no_edit, [](check_result& r) { r.sts.record.reset(); r.sts.id.reset(); },
         {{"sts-record-removed", "_mta-sts.example.com", "v=STSv1; id=20250101", ""}}},
        {"sts record added",
         [](check_result& r) { r.sts.record.reset(); r.sts.id.reset(); }, no_edit,
         {{"sts-record-added", "_mta-sts.example.com", "", "v=STSv1; id=20250101"}}},
        {"id changed with the policy",
         no_edit,
         [](check_result& r) {
             r.sts.record = "v=STSv1; id=20250202";
             r.sts.id = "20250202";
             set_policy(r, policy_v2, sts_mode::testing, 604800, {"mx1.example.com", "*.backup.example.com"});
         },
         {{"sts-id-changed", "_mta-sts.example.com", "20250101", "20250202"},
          {"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2},
          {"sts-mode-changed", "mta-sts.example.com", "enforce", "testing"},
          {"sts-max-age-changed", "mta-sts.example.com", "86400", "604800"},
          {"sts-mx-patterns-changed", "mta-sts.example.com", "mx1.example.com",
           "*.backup.example.com,mx1.example.com"}}},
        {"policy changed without a new id",
         no_edit,
         [](check_result& r) { set_policy(r, policy_v2, sts_mode::testing, 604800, {"mx1.example.com", "*.backup.example.com"}); },
         {{"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2},
          {"sts-mode-changed", "mta-sts.example.com", "enforce", "testing"},
          {"sts-max-age-changed", "mta-sts.example.com", "86400", "604800"},
          {"sts-mx-patterns-changed", "mta-sts.example.com", "mx1.example.com",
           "*.backup.example.com,mx1.example.com"}},
         true},
        {"policy text changed in form only, same id: still a change, still the finding",
         no_edit,
         [](check_result& r) {
             set_policy(r, "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n", sts_mode::enforce,
                        86400, {"mx1.example.com"});
         },
         {{"sts-policy-changed", "mta-sts.example.com", policy_v1,
           "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n"}},
         true},
        {"mx patterns reordered only is no pattern change",
         [](check_result& r) { r.sts.policy->mx = {"a.example.com", "b.example.com"}; },
         [](check_result& r) { r.sts.policy->mx = {"b.example.com", "a.example.com"}; }, {}},
        {"policy no longer fetched counts as removed",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::http_status); },
         {{"sts-policy-removed", "mta-sts.example.com", policy_v1, ""}}},
        {"policy fetched again counts as added",
         [](check_result& r) { fetch_failed(r, policy_fetch_status::cert_invalid); }, no_edit,
         {{"sts-policy-added", "mta-sts.example.com", "", policy_v1}}},
        {"policy host unresolvable because our resolver failed is not a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::no_address, dns_status::temporary_failure); },
         {}},
        {"policy host gone from DNS is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::no_address, dns_status::nxdomain); },
         {{"sts-policy-removed", "mta-sts.example.com", policy_v1, ""}}},
        {"a --policy-file candidate is not the published policy",
         no_edit, [](check_result& r) { r.sts.fetch.reset(); r.sts.policy_text = policy_v2; r.sts.candidate = true; },
         {{"sts-policy-removed", "mta-sts.example.com", policy_v1, ""}}},
        {"mx added and removed, with preference",
         no_edit, [](check_result& r) { r.mx = {healthy_mx("mx0.example.com", 5), healthy_mx("mx2.example.com", 20)}; },
         {{"mx-added", "mx0.example.com", "", "5 mx0.example.com"},
          {"mx-removed", "mx1.example.com", "10 mx1.example.com", ""},
          {"mx-added", "mx2.example.com", "", "20 mx2.example.com"}}},
        {"mx preference changed",
         no_edit, [](check_result& r) { r.mx[0].preference = 30; },
         {{"mx-preference-changed", "mx1.example.com", "10 mx1.example.com", "30 mx1.example.com"}}},
        {"mx from reports is not part of the published set",
         no_edit,
         [](check_result& r) { auto m = healthy_mx("old-mx.example.com", 0); m.from_reports = true; r.mx.push_back(m); },
         {}},
        {"null mx published",
         no_edit, [](check_result& r) { r.mx = {healthy_mx("", 0)}; r.mx[0].probe.reset(); },
         {{"mx-added", "example.com", "", "0 ."}, {"mx-removed", "mx1.example.com", "10 mx1.example.com", ""}}},
        {"mx certificate rotated",
         no_edit, [](check_result& r) { r.mx = {healthy_mx("mx1.example.com", 10, "bb22", "2027-06-01T00:00:00Z")}; },
         {{"mx-cert-rotated", "mx1.example.com", "sha256 aa11 not_after 2027-01-01T00:00:00Z",
           "sha256 bb22 not_after 2027-06-01T00:00:00Z"}}},
        {"mx unreachable is no rotation",
         no_edit,
         [](check_result& r) {
             r.mx[0].probe->status = starttls_status::unreachable;
             r.mx[0].probe->certificate = {};
         },
         {}},
        {"tlsrpt record changed",
         no_edit, [](check_result& r) { r.tlsrpt.record = "v=TLSRPTv1; rua=https://tlsrpt.example.com/v1"; },
         {{"tlsrpt-record-changed", "_smtp._tls.example.com", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
           "v=TLSRPTv1; rua=https://tlsrpt.example.com/v1"}}},
        {"tlsrpt record removed",
         no_edit, [](check_result& r) { r.tlsrpt.record.reset(); r.tlsrpt.rua.clear(); },
         {{"tlsrpt-record-removed", "_smtp._tls.example.com", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com", ""}}},
        {"tlsrpt record added",
         [](check_result& r) { r.tlsrpt.record.reset(); }, no_edit,
         {{"tlsrpt-record-added", "_smtp._tls.example.com", "", "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"}}},
        {"dns unavailable after: no events",
         no_edit, [](check_result& r) { r.dns_unavailable = true; r.sts.record.reset(); r.mx.clear(); }, {}},
        {"dns unavailable before: no events",
         [](check_result& r) { r.dns_unavailable = true; r.sts.record.reset(); r.mx.clear(); }, no_edit, {}},
    };

    for (const auto& c : cases) {
        SECTION(c.name)
        {
            check_result before = baseline();
            check_result after = baseline();
            c.before_edit(before);
            c.after_edit(after);
            std::vector<finding> findings;
            const auto events = diff_snapshots(before, after, findings);
            INFO("got:\n" << describe(events) << "expected:\n" << describe(c.expected));
            REQUIRE(events.size() == c.expected.size());
            for (std::size_t i = 0; i < events.size(); ++i) {
                CHECK(events[i].kind == c.expected[i].kind);
                CHECK(events[i].subject == c.expected[i].subject);
                CHECK(events[i].before == c.expected[i].before);
                CHECK(events[i].after == c.expected[i].after);
            }
            if (c.without_id_finding) {
                REQUIRE(findings.size() == 1);
                CHECK(findings[0].code == "sts-policy-changed-without-id");
                CHECK(findings[0].subject == "_mta-sts.example.com");
                CHECK(findings[0].message.find("max_age") != std::string::npos);
                CHECK(findings[0].message.find("20250101") != std::string::npos);
                CHECK_FALSE(findings[0].rfc.empty());
            } else {
                CHECK(findings.empty());
            }
        }
    }
}

TEST_CASE("diff_snapshots is symmetric for every added and removed kind", "[monitor]")
{
    // Each kind that appears one way appears as its opposite the other way round.
    check_result full = baseline();
    check_result empty = baseline();
    empty.sts.record.reset();
    empty.sts.id.reset();
    fetch_failed(empty, policy_fetch_status::connect_failed);
    empty.tlsrpt.record.reset();
    empty.mx.clear();

    std::vector<finding> findings;
    const auto appeared = diff_snapshots(empty, full, findings);
    const auto vanished = diff_snapshots(full, empty, findings);
    CHECK(findings.empty());
    REQUIRE(appeared.size() == 4);
    REQUIRE(vanished.size() == 4);
    const std::vector<std::string> added = {"sts-record-added", "sts-policy-added", "mx-added", "tlsrpt-record-added"};
    const std::vector<std::string> removed = {"sts-record-removed", "sts-policy-removed", "mx-removed",
                                              "tlsrpt-record-removed"};
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(appeared[i].kind == added[i]);
        CHECK(vanished[i].kind == removed[i]);
        CHECK(appeared[i].subject == vanished[i].subject);
        CHECK(appeared[i].after == vanished[i].before);
    }
}

TEST_CASE("the without-id finding needs the same non-empty id on both sides", "[monitor]")
{
    struct id_case { std::optional<std::string> before_id, after_id; bool finding; };
    const std::vector<id_case> cases = {
        {"20250101", "20250101", true},
        {"20250101", "20250102", false},
        {std::nullopt, std::nullopt, false},   // record unparsable on both sides: other findings say so
        {"", "", false},
    };
    for (const auto& c : cases) {
        check_result before = baseline();
        check_result after = baseline();
        before.sts.id = c.before_id;
        after.sts.id = c.after_id;
        set_policy(after, policy_v2, sts_mode::testing, 604800, {"mx1.example.com"});
        std::vector<finding> findings;
        diff_snapshots(before, after, findings);
        INFO("before id " << c.before_id.value_or("(none)") << ", after id " << c.after_id.value_or("(none)"));
        CHECK(findings.size() == (c.finding ? 1u : 0u));
    }
}
