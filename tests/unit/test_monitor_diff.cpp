// diff_snapshots: the change events between two check results of a domain, and the
// sts-policy-changed-without-id finding.
#include "checks/monitor.hpp"
#include "tests/support/check_builders.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace stswatch;
using stswatch::test::healthy_mx;

namespace {

const std::string policy_v1 = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";
const std::string policy_v2 = "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.backup.example.com\r\nmax_age: 604800\r\n";
// policy_v1 with LF line endings (RFC 8461 §3.2 allows both): senders read the same policy.
const std::string policy_v1_lf = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n";
// A version no sender knows: no usable policy.
const std::string policy_v2_version = "version: STSv2\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";

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

// The probe of m's second address, 192.0.2.26, which presents a certificate of its own.
starttls_probe_result second_address(mx_check& m, const std::string& sha256)
{
    if (m.addresses.size() < 2)
        m.addresses.push_back("192.0.2.26");
    starttls_probe_result p = *m.probe;
    p.address = "192.0.2.26";
    p.certificate.sha256 = sha256;
    return p;
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

// The DANE part of the first MX as a validating check leaves it.
void with_tlsa(check_result& r, dns_status status, std::vector<std::string> records)
{
    mx_check::dane_part d;
    d.status = status;
    d.validated = true;
    d.secure = true;
    d.records = std::move(records);
    r.mx[0].dane = std::move(d);
}


struct diff_case {
    const char* name;
    edit before_edit;
    edit after_edit;
    std::vector<change_event> expected;
    bool without_id_finding = false;
};

void no_edit(check_result&) {}

// What the monitor records when policy_v1 can no longer be fetched (docs/monitoring.md).
const std::vector<change_event> policy_v1_removed = {{"sts-policy-removed", "mta-sts.example.com", policy_v1, ""}};

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
        {"line endings changed only, same id: a change, but senders read the same policy (no finding)",
         no_edit, [](check_result& r) { set_policy(r, policy_v1_lf, sts_mode::enforce, 86400, {"mx1.example.com"}); },
         {{"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v1_lf}}},
        {"mx lines reordered only, same id: a change, no finding",
         [](check_result& r) {
             set_policy(r, "version: STSv1\r\nmode: enforce\r\nmx: a.example.com\r\nmx: b.example.com\r\nmax_age: 86400\r\n",
                        sts_mode::enforce, 86400, {"a.example.com", "b.example.com"});
         },
         [](check_result& r) {
             set_policy(r, "version: STSv1\r\nmode: enforce\r\nmx: b.example.com\r\nmx: a.example.com\r\nmax_age: 86400\r\n",
                        sts_mode::enforce, 86400, {"b.example.com", "a.example.com"});
         },
         {{"sts-policy-changed", "mta-sts.example.com",
           "version: STSv1\r\nmode: enforce\r\nmx: a.example.com\r\nmx: b.example.com\r\nmax_age: 86400\r\n",
           "version: STSv1\r\nmode: enforce\r\nmx: b.example.com\r\nmx: a.example.com\r\nmax_age: 86400\r\n"}}},
        {"policy no longer usable (another version), same id: the finding",
         no_edit,
         [](check_result& r) { set_policy(r, policy_v2_version, sts_mode::enforce, 0, {}); r.sts.policy.reset(); },
         {{"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2_version}},
         true},
        {"mx patterns reordered only is no pattern change",
         [](check_result& r) { r.sts.policy->mx = {"a.example.com", "b.example.com"}; },
         [](check_result& r) { r.sts.policy->mx = {"b.example.com", "a.example.com"}; }, {}},
        {"policy no longer fetched counts as removed",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::http_status); },
         policy_v1_removed},
        {"HTTP 404 after a fetched policy is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::http_status); r.sts.fetch->http_status = 404; },
         policy_v1_removed},
        {"a redirect is a removal (RFC 8461 §3.3: not followed)",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::redirect); },
         policy_v1_removed},
        {"the wrong content type is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::content_type); },
         policy_v1_removed},
        {"a body over 64 KiB is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::too_large); },
         policy_v1_removed},
        {"an invalid certificate is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::cert_invalid); },
         policy_v1_removed},
        {"a policy host at a private address is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::private_address); },
         policy_v1_removed},
        {"policy host without addresses (NODATA) is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::no_address, dns_status::nodata); },
         policy_v1_removed},
        {"connection failed (host unreachable, timed out) is not a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::connect_failed); }, {}},
        {"TLS handshake failed is not a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::tls_failed); }, {}},
        {"an answer that is not HTTP is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::invalid_response); },
         policy_v1_removed},
        {"response cut short or timed out is not a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::bad_response); }, {}},
        {"policy fetched after a connection failure is not an addition",
         [](check_result& r) { fetch_failed(r, policy_fetch_status::connect_failed); }, no_edit, {}},
        {"policy fetched again counts as added",
         [](check_result& r) { fetch_failed(r, policy_fetch_status::cert_invalid); }, no_edit,
         {{"sts-policy-added", "mta-sts.example.com", "", policy_v1}}},
        {"policy host unresolvable because our resolver failed is not a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::no_address, dns_status::temporary_failure); },
         {}},
        {"policy host gone from DNS is a removal",
         no_edit, [](check_result& r) { fetch_failed(r, policy_fetch_status::no_address, dns_status::nxdomain); },
         policy_v1_removed},
        {"a --policy-file candidate is not the published policy",
         no_edit, [](check_result& r) { r.sts.fetch.reset(); r.sts.policy_text = policy_v2; r.sts.candidate = true; },
         policy_v1_removed},
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
        {"the first address down, the second's own certificate is no rotation",
         [](check_result& r) { r.mx[0].other_probes.push_back(second_address(r.mx[0], "cc33")); },
         [](check_result& r) { r.mx[0].probe = second_address(r.mx[0], "cc33"); },
         {}},
        {"the second address answering first with a new certificate is a rotation",
         [](check_result& r) { r.mx[0].other_probes.push_back(second_address(r.mx[0], "cc33")); },
         [](check_result& r) { r.mx[0].probe = second_address(r.mx[0], "dd44"); },
         {{"mx-cert-rotated", "mx1.example.com", "sha256 cc33 not_after 2027-01-01T00:00:00Z",
           "sha256 dd44 not_after 2027-01-01T00:00:00Z"}}},
        {"one address answering before, only the other now, with its own certificate: no rotation",
         [](check_result& r) { r.mx[0].addresses.push_back("192.0.2.26"); },
         [](check_result& r) { r.mx[0].probe = second_address(r.mx[0], "cc33"); },
         {}},
        {"a new certificate on both addresses is one rotation",
         [](check_result& r) { r.mx[0].other_probes.push_back(second_address(r.mx[0], "aa11")); },
         [](check_result& r) {
             r.mx[0].probe->certificate.sha256 = "bb22";
             r.mx[0].other_probes.push_back(second_address(r.mx[0], "bb22"));
         },
         {{"mx-cert-rotated", "mx1.example.com", "sha256 aa11 not_after 2027-01-01T00:00:00Z",
           "sha256 bb22 not_after 2027-01-01T00:00:00Z"}}},
        {"mx unreachable is no rotation",
         no_edit,
         [](check_result& r) {
             r.mx[0].probe->status = starttls_status::unreachable;
             r.mx[0].probe->certificate = {};
         },
         {}},
        {"tlsa record replaced",
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 aa11"}); },
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 bb22"}); },
         {{"mx-tlsa-changed", "mx1.example.com", "3 1 1 aa11", "3 1 1 bb22"}}},
        {"tlsa record added beside the first",
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 aa11"}); },
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"2 1 1 cc33", "3 1 1 aa11"}); },
         {{"mx-tlsa-changed", "mx1.example.com", "3 1 1 aa11", "2 1 1 cc33; 3 1 1 aa11"}}},
        {"tlsa records removed",
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 aa11"}); },
         [](check_result& r) { with_tlsa(r, dns_status::nxdomain, {}); },
         {{"mx-tlsa-changed", "mx1.example.com", "3 1 1 aa11", ""}}},
        {"tlsa lookup failing is no change",
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 aa11"}); },
         [](check_result& r) { with_tlsa(r, dns_status::temporary_failure, {}); },
         {}},
        {"tlsa answer turned bogus is no change of the records",
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 aa11"}); },
         [](check_result& r) { with_tlsa(r, dns_status::ok, {}); r.mx[0].dane->bogus = true; },
         {}},
        {"tlsa seen by a resolver that does not validate is not compared",
         [](check_result& r) { with_tlsa(r, dns_status::nodata, {}); },
         [](check_result& r) { with_tlsa(r, dns_status::ok, {"3 1 1 aa11"}); r.mx[0].dane->validated = false; },
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
                CHECK(findings[0].level == severity::error);
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
    fetch_failed(empty, policy_fetch_status::http_status);
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
    const std::vector<std::string> subjects = {"_mta-sts.example.com", "mta-sts.example.com", "mx1.example.com",
                                               "_smtp._tls.example.com"};
    const std::vector<std::string> values = {"v=STSv1; id=20250101", policy_v1, "10 mx1.example.com",
                                             "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"};
    for (std::size_t i = 0; i < 4; ++i) {
        INFO("event " << i);
        CHECK(appeared[i].kind == added[i]);
        CHECK(vanished[i].kind == removed[i]);
        CHECK(appeared[i].subject == subjects[i]);
        CHECK(vanished[i].subject == subjects[i]);
        CHECK(appeared[i].before.empty());
        CHECK(appeared[i].after == values[i]);
        CHECK(vanished[i].before == values[i]);
        CHECK(vanished[i].after.empty());
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
        const auto events = diff_snapshots(before, after, findings);
        INFO("before id " << c.before_id.value_or("(none)") << ", after id " << c.after_id.value_or("(none)")
                          << ", got:\n" << describe(events));
        // The text, mode and max_age changed in every case; the id too in one of them.
        std::vector<change_event> expected;
        if (c.before_id.value_or("") != c.after_id.value_or(""))
            expected.push_back({"sts-id-changed", "_mta-sts.example.com", *c.before_id, *c.after_id});
        expected.push_back({"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2});
        expected.push_back({"sts-mode-changed", "mta-sts.example.com", "enforce", "testing"});
        expected.push_back({"sts-max-age-changed", "mta-sts.example.com", "86400", "604800"});
        REQUIRE(events.size() == expected.size());
        for (std::size_t i = 0; i < events.size(); ++i) {
            CHECK(events[i].kind == expected[i].kind);
            CHECK(events[i].subject == expected[i].subject);
            CHECK(events[i].before == expected[i].before);
            CHECK(events[i].after == expected[i].after);
        }
        if (c.finding) {
            REQUIRE(findings.size() == 1);
            CHECK(findings[0].code == "sts-policy-changed-without-id");
            CHECK(findings[0].level == severity::error);
            CHECK(findings[0].subject == "_mta-sts.example.com");
            CHECK(findings[0].message.find(*c.before_id) != std::string::npos);
        } else {
            CHECK(findings.empty());
        }
    }
}

namespace {

// Each check of a sequence compared as the monitor does: with the base the previous one
// left (next_diff_base), not with the previous check alone.
struct sequence_case {
    const char* name;
    std::vector<edit> checks;                          // applied to baseline(), in order
    std::vector<std::vector<change_event>> expected;   // for each check after the first
    bool without_id_finding = false;
};

void connect_failed(check_result& r) { fetch_failed(r, policy_fetch_status::connect_failed); }

void policy_v2_same_id(check_result& r)
{
    set_policy(r, policy_v2, sts_mode::testing, 604800, {"mx1.example.com", "*.backup.example.com"});
}

void mx_unreachable(check_result& r)
{
    r.mx[0].probe->status = starttls_status::unreachable;
    r.mx[0].probe->certificate = {};
}

void new_id(check_result& r)
{
    r.sts.record = "v=STSv1; id=20250202";
    r.sts.id = "20250202";
}

} // namespace

TEST_CASE("a transient failure between two checks hides no change and invents none", "[monitor]")
{
    const std::vector<change_event> v1_to_v2 = {
        {"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v2},
        {"sts-mode-changed", "mta-sts.example.com", "enforce", "testing"},
        {"sts-max-age-changed", "mta-sts.example.com", "86400", "604800"},
        {"sts-mx-patterns-changed", "mta-sts.example.com", "mx1.example.com", "*.backup.example.com,mx1.example.com"},
    };
    const std::vector<sequence_case> cases = {
        {"policy, fetch failed, the same policy: nothing", {no_edit, connect_failed, no_edit}, {{}, {}}},
        {"policy, two failures, the same policy: nothing",
         {no_edit, connect_failed, [](check_result& r) { fetch_failed(r, policy_fetch_status::tls_failed); }, no_edit},
         {{}, {}, {}}},
        {"policy, fetch failed, another text under the same id: changed, and the finding",
         {no_edit, connect_failed, policy_v2_same_id}, {{}, v1_to_v2}, true},
        {"policy, fetch failed, new line endings only under the same id: changed, no finding",
         {no_edit, connect_failed,
          [](check_result& r) { set_policy(r, policy_v1_lf, sts_mode::enforce, 86400, {"mx1.example.com"}); }},
         {{}, {{"sts-policy-changed", "mta-sts.example.com", policy_v1, policy_v1_lf}}}},
        {"policy, fetch failed under a new id, another text: changed, no finding (the id changed)",
         {no_edit, [](check_result& r) { new_id(r); connect_failed(r); },
          [](check_result& r) { new_id(r); policy_v2_same_id(r); }},
         {{{"sts-id-changed", "_mta-sts.example.com", "20250101", "20250202"}}, v1_to_v2}},
        {"policy, fetch failed, HTTP 404: removed",
         {no_edit, connect_failed, [](check_result& r) { fetch_failed(r, policy_fetch_status::http_status); }},
         {{}, policy_v1_removed}},
        {"HTTP 404, fetch failed, policy: added",
         {[](check_result& r) { fetch_failed(r, policy_fetch_status::http_status); }, connect_failed, no_edit},
         {{}, {{"sts-policy-added", "mta-sts.example.com", "", policy_v1}}}},
        {"no policy known yet (only failures): nothing to compare the first policy with",
         {connect_failed, connect_failed, no_edit}, {{}, {}}},
        {"our resolver failed in between: compared with the check before it",
         {no_edit, [](check_result& r) { r.dns_unavailable = true; r.sts.record.reset(); r.mx.clear(); }, policy_v2_same_id},
         {{}, v1_to_v2}, true},
        {"MX certificate, MX unreachable, another certificate: rotated",
         {no_edit, mx_unreachable,
          [](check_result& r) { r.mx = {healthy_mx("mx1.example.com", 10, "bb22", "2027-06-01T00:00:00Z")}; }},
         {{}, {{"mx-cert-rotated", "mx1.example.com", "sha256 aa11 not_after 2027-01-01T00:00:00Z",
                "sha256 bb22 not_after 2027-06-01T00:00:00Z"}}}},
        {"two addresses with their own certificates, both down, then the second: nothing",
         {[](check_result& r) { r.mx[0].other_probes.push_back(second_address(r.mx[0], "cc33")); },
          [](check_result& r) {
              r.mx[0].addresses.push_back("192.0.2.26");
              mx_unreachable(r);
          },
          [](check_result& r) { r.mx[0].probe = second_address(r.mx[0], "cc33"); },
          [](check_result& r) { r.mx[0].other_probes.push_back(second_address(r.mx[0], "cc33")); }},
         {{}, {}, {}}},
        {"MX certificate, MX unreachable twice, the same certificate: nothing",
         {no_edit, mx_unreachable, mx_unreachable, no_edit}, {{}, {}, {}}},
        {"MX removed while unreachable, added back with another certificate: no rotation",
         {no_edit, mx_unreachable, [](check_result& r) { r.mx.clear(); },
          [](check_result& r) { r.mx = {healthy_mx("mx1.example.com", 10, "bb22")}; }},
         {{}, {{"mx-removed", "mx1.example.com", "10 mx1.example.com", ""}},
          {{"mx-added", "mx1.example.com", "", "10 mx1.example.com"}}}},
    };

    for (const auto& c : cases) {
        SECTION(c.name)
        {
            std::optional<diff_base> base;
            std::vector<finding> findings;
            for (std::size_t i = 0; i < c.checks.size(); ++i) {
                check_result r = baseline();
                c.checks[i](r);
                if (base) {
                    const auto events = diff_snapshots(*base, r, findings);
                    const auto& expected = c.expected.at(i - 1);
                    INFO("check " << i << ", got:\n" << describe(events) << "expected:\n" << describe(expected));
                    REQUIRE(events.size() == expected.size());
                    for (std::size_t e = 0; e < events.size(); ++e) {
                        CHECK(events[e].kind == expected[e].kind);
                        CHECK(events[e].subject == expected[e].subject);
                        CHECK(events[e].before == expected[e].before);
                        CHECK(events[e].after == expected[e].after);
                    }
                }
                base = next_diff_base(base ? &*base : nullptr, {static_cast<long long>(i + 1), r});
            }
            REQUIRE(c.expected.size() == c.checks.size() - 1);
            if (c.without_id_finding) {
                REQUIRE(findings.size() == 1);
                CHECK(findings[0].code == "sts-policy-changed-without-id");
                CHECK(findings[0].level == severity::error);
                CHECK(findings[0].subject == "_mta-sts.example.com");
                CHECK(findings[0].message.find("20250101") != std::string::npos);
                CHECK(findings[0].message.find("86400 s") != std::string::npos);   // the old policy's max_age
            } else {
                CHECK(findings.empty());
            }
        }
    }
}

TEST_CASE("next_diff_base points at the last snapshot whose policy was known", "[monitor]")
{
    check_result good = baseline();
    check_result failed = baseline();
    connect_failed(failed);

    const diff_base first = next_diff_base(nullptr, {1, good});
    CHECK(first.previous.id == 1);
    CHECK_FALSE(first.policy_source);
    CHECK(first.certificates.empty());

    const diff_base second = next_diff_base(&first, {2, failed});
    CHECK(second.previous.id == 2);
    REQUIRE(second.policy_source);
    CHECK(second.policy_source->id == 1);

    const diff_base third = next_diff_base(&second, {3, failed});
    REQUIRE(third.policy_source);
    CHECK(third.policy_source->id == 1);   // one hop, however long the failure lasts

    CHECK_FALSE(next_diff_base(&third, {4, good}).policy_source);

    check_result unreachable = baseline();
    mx_unreachable(unreachable);
    const diff_base carried = next_diff_base(&first, {2, unreachable});
    REQUIRE(carried.certificates.count("mx1.example.com 192.0.2.25") == 1);
    CHECK(carried.certificates.at("mx1.example.com 192.0.2.25").sha256 == "aa11");
    CHECK(next_diff_base(&carried, {3, unreachable}).certificates.at("mx1.example.com 192.0.2.25").sha256 == "aa11");
    CHECK(next_diff_base(&carried, {3, good}).certificates.empty());
}

TEST_CASE("a policy host unreachable past max_age is one event and a finding at each check until it is back",
          "[monitor]")
{
    // baseline() fetched policy_v1 (max_age 86400) at 2025-07-08T12:00:00Z: cached copies
    // at the senders run out at 2025-07-09T12:00:00Z.
    struct step {
        const char* checked_at;
        edit change;
        std::vector<std::string> kinds;   // the events of this check
        bool finding;                     // sts-policy-expired-at-senders among its findings
    };
    const auto http_404 = [](check_result& r) { fetch_failed(r, policy_fetch_status::http_status); };
    const auto dns_down = [](check_result& r) { r.dns_unavailable = true; r.sts.record.reset(); r.mx.clear(); };
    struct scenario {
        const char* name;
        std::vector<step> steps;
    };
    const std::vector<scenario> scenarios = {
        {"failing from an hour after the fetch, back after 27 hours",
         {{"2025-07-08T12:00:00Z", no_edit, {}, false},
          {"2025-07-08T13:00:00Z", connect_failed, {}, false},
          {"2025-07-09T11:59:59Z", connect_failed, {}, false},
          {"2025-07-09T12:00:00Z", connect_failed, {"sts-policy-expired-at-senders"}, true},
          {"2025-07-09T13:00:00Z", connect_failed, {}, true},
          {"2025-07-09T14:00:00Z", dns_down, {}, false},
          {"2025-07-09T15:00:00Z", connect_failed, {}, true},
          {"2025-07-09T16:00:00Z", no_edit, {"sts-policy-recovered"}, false},
          {"2025-07-09T17:00:00Z", no_edit, {}, false}}},
        {"checked less often than max_age: expired at the first failing check",
         {{"2025-07-08T12:00:00Z", no_edit, {}, false},
          {"2025-07-10T12:00:00Z", connect_failed, {"sts-policy-expired-at-senders"}, true},
          {"2025-07-12T12:00:00Z", connect_failed, {}, true}}},
        {"back, but serving no policy: removed and recovered",
         {{"2025-07-08T12:00:00Z", no_edit, {}, false},
          {"2025-07-10T12:00:00Z", connect_failed, {"sts-policy-expired-at-senders"}, true},
          {"2025-07-10T13:00:00Z", http_404, {"sts-policy-removed", "sts-policy-recovered"}, false},
          {"2025-07-12T13:00:00Z", connect_failed, {}, false}}},
        {"a policy that is the domain's own answer (404) never expires at senders: it is removed",
         {{"2025-07-08T12:00:00Z", no_edit, {}, false},
          {"2025-07-10T12:00:00Z", http_404, {"sts-policy-removed"}, false},
          {"2025-07-12T12:00:00Z", http_404, {}, false}}},
    };
    for (const auto& s : scenarios) {
        SECTION(s.name)
        {
            std::optional<diff_base> base;
            for (std::size_t i = 0; i < s.steps.size(); ++i) {
                check_result r = baseline();
                r.checked_at = s.steps[i].checked_at;
                s.steps[i].change(r);
                std::vector<finding> findings;
                if (base) {
                    const auto events = diff_snapshots(*base, r, findings);
                    INFO("check at " << s.steps[i].checked_at << ", got:\n" << describe(events));
                    std::vector<std::string> kinds;
                    for (const auto& e : events)
                        kinds.push_back(e.kind);
                    CHECK(kinds == s.steps[i].kinds);
                    const bool expired = std::any_of(findings.begin(), findings.end(), [](const finding& f) {
                        return f.code == "sts-policy-expired-at-senders";
                    });
                    CHECK(expired == s.steps[i].finding);
                    for (const auto& e : events)
                        if (e.kind == "sts-policy-expired-at-senders") {
                            CHECK(e.subject == "mta-sts.example.com");
                            CHECK(e.before == "fetched 2025-07-08T12:00:00Z, max_age 86400 s");
                            CHECK(e.after == "unreachable, cached copies expired 2025-07-09T12:00:00Z");
                        }
                    for (const auto& f : findings)
                        if (f.code == "sts-policy-expired-at-senders") {
                            CHECK(f.level == severity::error);
                            CHECK(f.message.find("ran out at 2025-07-09T12:00:00Z") != std::string::npos);
                        }
                }
                base = next_diff_base(base ? &*base : nullptr, {static_cast<long long>(i + 1), r});
            }
        }
    }
}
