// RFC 8460 §4.4 report parser: every good case asserts what was read, every bad case where
// and why it was refused (tables in report_cases.hpp, shared with the fuzz seeds).
#include "tlsrpt/report_json.hpp"
#include "tlsrpt/report_parser.hpp"
#include "common/domain.hpp"
#include "tests/support/test_support.hpp"
#include "tests/unit/report_cases.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <set>

using namespace stswatch;
namespace rc = stswatch::report_cases;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

struct outcome {
    parsed_report parsed;
    report_metadata metadata;

    const tls_report& report() const { return parsed.report; }
    const report_policy& policy(std::size_t i = 0) const { return parsed.report.policies.at(i); }
    const failure_detail& detail(std::size_t i = 0) const { return policy().failure_details.at(i); }
};

outcome parse_with(const std::string& json, const rc::metadata_fields& fields = {})
{
    outcome o;
    o.metadata.fields = fields;
    o.parsed = parse_report(json, o.metadata);
    return o;
}

std::string read_sample(const std::string& file) { return stswatch::test::data_file("reports/" + file); }

std::string text(const utc_time& t) { return format_rfc3339(t); }

using strings = std::vector<std::string>;

// The expectations for one good case: the warnings it must produce (each a substring of
// one warning, in order; none when empty) and the values it must read.
struct expectation {
    strings warnings;
    std::function<void(const outcome&)> check;
};

void check_minimal(const outcome& o)
{
    const auto& r = o.report();
    CHECK(r.organization_name == "Example Sender");
    CHECK(text(r.start_datetime) == "2024-03-01T00:00:00Z");
    CHECK(text(r.end_datetime) == "2024-03-01T23:59:59Z");
    CHECK(r.contact_info == "tlsrpt@sender.example");
    CHECK(r.report_id == "r-1");
    REQUIRE(r.policies.size() == 1);
    const auto& p = o.policy();
    CHECK(p.type == policy_type::sts);
    CHECK(p.policy_string == strings{"version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: 86400"});
    CHECK(p.policy_domain == "example.com");
    CHECK_FALSE(p.policy_domain_filled);
    CHECK(p.mx_host == strings{"mx.example.com"});
    CHECK(p.total_successful_session_count == 10);
    CHECK(p.total_failure_session_count == 1);
    REQUIRE(p.failure_details.size() == 1);
    const auto& d = o.detail();
    CHECK(d.result_type == "certificate-expired");
    CHECK(d.sending_mta_ip == "198.51.100.1");
    CHECK(d.receiving_mx_hostname == "mx.example.com");
    CHECK(d.receiving_mx_helo == "mx.example.com ESMTP");
    CHECK(d.receiving_ip == "192.0.2.1");
    CHECK(d.failed_session_count == 1);
    CHECK(d.additional_information == "https://sender.example/tlsrpt/r-1");
    CHECK(d.failure_reason_code == "X509_V_ERR_CERT_HAS_EXPIRED");
    CHECK(o.metadata.filled.empty());
}

// A failure detail of an sts-policy-fetch-error as Microsoft writes it: type and count, no
// addresses or MX host.
void check_fetch_error_detail(const failure_detail& d, std::int64_t failed_sessions)
{
    CHECK(d.result_type == "sts-policy-fetch-error");
    CHECK(d.failed_session_count == failed_sessions);
    CHECK_FALSE(d.sending_mta_ip);
    CHECK_FALSE(d.receiving_ip);
    CHECK_FALSE(d.receiving_mx_hostname);
}

// The missing policy domain was filled in as `domain` from the metadata field `source`.
std::function<void(const outcome&)> policy_domain_filled_from(std::string domain, std::string source)
{
    return [domain, source](const outcome& o) {
        CHECK(o.policy().policy_domain == domain);
        CHECK(o.policy().policy_domain_filled);
        CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain from " + source});
    };
}

tls_report minimal_report()
{
    report_metadata m;
    return parse_report(rc::minimal, m).report;
}

const std::map<std::string, expectation>& expectations()
{
    static const std::map<std::string, expectation> table = {
        {"minimal", {{}, check_minimal}},
        {"pretty-printed", {{}, [](const outcome& o) {
             CHECK(o.report().organization_name == "Example Sender");
             CHECK_FALSE(o.report().contact_info);
             CHECK(o.policy().policy_string.empty());
             CHECK(o.policy().mx_host.empty());
             CHECK(o.policy().failure_details.empty());
             CHECK(o.policy().total_successful_session_count == 10);
         }}},
        {"failure-details-absent", {{}, [](const outcome& o) {
             CHECK(o.policy().failure_details.empty());
             CHECK(o.policy().total_failure_session_count == 1);
         }}},
        {"mx-host-absent", {{}, [](const outcome& o) { CHECK(o.policy().mx_host.empty()); }}},
        {"mx-host-bare-string", {{}, [](const outcome& o) { CHECK(o.policy().mx_host == strings{"*.mail.example.com"}); }}},
        {"policy-string-trailing-space", {{}, [](const outcome& o) {
             REQUIRE(o.policy().policy_string.size() == 4);
             CHECK(o.policy().policy_string[2] == "mx: mx.example.com  ");
         }}},
        {"policy-type-and-domain-only", {{}, [](const outcome& o) {
             const auto& p = o.policy();
             CHECK(p.policy_string.empty());
             CHECK(p.mx_host.empty());
             CHECK(p.policy_domain == "example.com");
             REQUIRE(p.failure_details.size() == 1);
             const auto& d = o.detail();
             check_fetch_error_detail(d, 1);
             CHECK_FALSE(d.receiving_mx_helo);
             CHECK_FALSE(d.additional_information);
             CHECK_FALSE(d.failure_reason_code);
         }}},
        {"policy-string-bare-string", {{}, [](const outcome& o) { CHECK(o.policy().policy_string == strings{"version: STSv1"}); }}},
        {"policy-string-json-text", {{}, [](const outcome& o) {
             CHECK(o.policy().type == policy_type::tlsa);
             CHECK(o.policy().policy_string
                   == strings{R"([{"Usage":3,"Selector":1,"MatchingType":1,"CertificateAssociationData":"8CB0FC6C"}])"});
         }}},
        {"stalwart-nulls", {{}, [](const outcome& o) {
             CHECK_FALSE(o.report().contact_info);
             CHECK(o.policy().policy_string.empty());
             CHECK(o.policy().mx_host.empty());
             CHECK_FALSE(o.detail().receiving_mx_helo);
             CHECK_FALSE(o.detail().additional_information);
             CHECK_FALSE(o.detail().failure_reason_code);
             CHECK(o.detail().sending_mta_ip == "198.51.100.1");
             CHECK(o.detail().failed_session_count == 1);
         }}},
        {"failure-details-empty-array", {{}, [](const outcome& o) { CHECK(o.policy().failure_details.empty()); }}},
        {"failure-details-null", {{}, [](const outcome& o) { CHECK(o.policy().failure_details.empty()); }}},
        {"contact-info-absent", {{}, [](const outcome& o) { CHECK_FALSE(o.report().contact_info); }}},
        {"organization-name-host-name", {{}, [](const outcome& o) {
             CHECK(o.report().organization_name == "mx1.Mail.Example.NET");
         }}},
        {"summary-before-policy", {{}, [](const outcome& o) { CHECK(o.report() == minimal_report()); }}},
        {"report-id-first", {{}, [](const outcome& o) {
             CHECK(o.report().report_id == "r-1");
             CHECK(text(o.report().start_datetime) == "2024-03-01T00:00:00Z");
             CHECK(o.policy().total_successful_session_count == 3);
             CHECK(o.policy().total_failure_session_count == 0);
         }}},
        {"datetime-without-zone", {{}, [](const outcome& o) {
             CHECK(text(o.report().start_datetime) == "2024-03-01T00:00:00Z");
             CHECK(text(o.report().end_datetime) == "2024-03-01T23:59:59Z");
         }}},
        {"datetime-numeric-offsets", {{}, [](const outcome& o) {
             CHECK(text(o.report().start_datetime) == "2024-03-01T00:00:00Z");
             CHECK(text(o.report().end_datetime) == "2024-03-01T23:59:59.5Z");
             CHECK(o.report().end_datetime.micros == 500000);
         }}},
        {"datetime-lower-case-t-z", {{}, [](const outcome& o) {
             CHECK(text(o.report().start_datetime) == "2024-03-01T00:00:00Z");
         }}},
        {"datetime-seven-digit-fraction", {{}, [](const outcome& o) {
             CHECK(o.report().start_datetime.micros == 123456);
             CHECK(text(o.report().start_datetime) == "2024-03-01T00:00:00.123456Z");
         }}},
        {"datetime-leap-second", {{}, [](const outcome& o) {
             CHECK(text(o.report().end_datetime) == "2024-03-01T23:59:59Z");
         }}},
        {"range-ends-next-midnight", {{}, [](const outcome& o) {
             CHECK(text(o.report().end_datetime) == "2024-03-02T00:00:00Z");
             CHECK(o.report().end_datetime.seconds - o.report().start_datetime.seconds == 86400);
         }}},
        {"range-end-before-start", {{"date-range: end-datetime 2024-02-29T00:00:00Z is before start-datetime 2024-03-01T00:00:00Z"},
         [](const outcome& o) {
             CHECK(text(o.report().start_datetime) == "2024-03-01T00:00:00Z");
             CHECK(text(o.report().end_datetime) == "2024-02-29T00:00:00Z");
         }}},
        {"failure-details-above-total",
         {{"policies[0]: failure-details add up to 7 failed sessions, more than summary.total-failure-session-count 1 (policy sts example.com)"},
          [](const outcome& o) {
              CHECK(o.policy().total_failure_session_count == 1);
              CHECK(o.detail().failed_session_count == 7);
          }}},
        {"unregistered-result-type", {{"policies[0].failure-details[0].result-type: unregistered result-type \"tls-version-too-old\""},
         [](const outcome& o) { CHECK(o.detail().result_type == "tls-version-too-old"); }}},
        {"domains-upper-case-trailing-dot", {{}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "example.com");
             CHECK(o.policy().mx_host == strings{"mx.example.com", "*.backup.example.com"});
             CHECK(o.detail().receiving_mx_hostname == "mx.example.com");
         }}},
        {"domains-extra-trailing-dots", {{}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "example.com");
             CHECK(o.policy().mx_host == strings{"mx.example.com"});
             CHECK(o.detail().receiving_mx_hostname == "mx.example.com");
         }}},
        {"receiving-mx-hostname-root", {{}, [](const outcome& o) { CHECK_FALSE(o.detail().receiving_mx_hostname); }}},
        {"policy-type-upper-case", {{}, [](const outcome& o) { CHECK(o.policy().type == policy_type::sts); }}},
        {"socketlabs-receiving-mx-host-name", {{}, [](const outcome& o) {
             CHECK(o.detail().receiving_mx_hostname == "mx.example.com");
             CHECK(o.report().report_id == "5F2766C4A3E94B1A8D0C7E6F9B2A1D3C");
         }}},
        {"additional-information-with-spaces", {{}, [](const outcome& o) {
             CHECK(o.detail().additional_information == "https://reports.example/report_info ? id = 5065427c#StarttlsNotSupported ");
         }}},
        {"mx-host-pattern-and-additional-info-uri-not-read", {{}, [](const outcome& o) {
             CHECK(o.policy().mx_host == strings{"mx.example.com"});
             CHECK(o.detail().additional_information == "https://sender.example/tlsrpt/r-1");
         }}},
        {"counts-integral-float", {{}, [](const outcome& o) {
             CHECK(o.policy().total_successful_session_count == 10);
             CHECK(o.policy().total_failure_session_count == 1);
         }}},
        {"count-as-digit-string",
         {{"policies[0].summary.total-successful-session-count: count written as a string \"10\""},
          [](const outcome& o) { CHECK(o.policy().total_successful_session_count == 10); }}},
        {"count-above-2-to-53", {{}, [](const outcome& o) {
             CHECK(o.policy().total_successful_session_count == 9007199254740993);
         }}},
        {"count-int64-max", {{}, [](const outcome& o) {
             CHECK(o.policy().total_successful_session_count == std::numeric_limits<std::int64_t>::max());
         }}},
        {"policy-domain-from-tls-report-domain", {{}, policy_domain_filled_from("example.com", "tls-report-domain")}},
        {"policy-domain-from-file-name", {{}, policy_domain_filled_from("example.org", "file-name")}},
        {"policy-domain-from-attachment-file-name", {{}, policy_domain_filled_from("example.net", "attachment-file-name")}},
        {"policy-domain-tls-report-domain-first", {{}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "example.com");
             CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain from tls-report-domain"});
         }}},
        {"policy-domain-bad-header-then-file-name", {{}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "example.org");
             CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain from file-name"});
         }}},
        {"contact-info-number-dropped",
         {{"contact-info: expected a string, found a number; dropped (an informational field: the sessions are kept)"},
          [](const outcome& o) {
              CHECK_FALSE(o.report().contact_info);
              CHECK(o.policy().total_successful_session_count == 10);
          }}},
        {"failure-detail-strings-of-wrong-type-dropped",
         {{"policies[0].failure-details[0].sending-mta-ip: expected a string, found an array; dropped",
           "policies[0].failure-details[0].receiving-mx-hostname: expected a string, found a number; dropped",
           "policies[0].failure-details[0].additional-information: expected a string, found an object; dropped",
           "policies[0].failure-details[0].failure-reason-code: expected a string, found a boolean; dropped"},
          [](const outcome& o) {
              const auto& d = o.detail();
              CHECK(d.failed_session_count == 1);
              CHECK(d.result_type == "certificate-expired");
              CHECK_FALSE(d.sending_mta_ip);
              CHECK_FALSE(d.receiving_mx_hostname);
              CHECK_FALSE(d.additional_information);
              CHECK_FALSE(d.failure_reason_code);
              CHECK(d.receiving_ip == "192.0.2.1");   // the fields of the right type stay
          }}},
        {"policy-domain-from-other-policies",
         {{"policies[0].policy.policy-domain: missing; taken from the report's other policies (example.com)"},
          [](const outcome& o) {
              CHECK(o.policy(0).policy_domain == "example.com");
              CHECK(o.policy(0).policy_domain_filled);
              CHECK_FALSE(o.policy(1).policy_domain_filled);
              CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain from the report's other policies"});
          }}},
        {"policy-domain-from-sys4-report-id",
         {{"policies[0].policy.policy-domain: missing; taken from the end of report-id \"2025-09-20T00:00:00Z_idx1_Example.org\""},
          [](const outcome& o) {
              CHECK(o.policy().policy_domain == "example.org");
              CHECK(o.policy().policy_domain_filled);
              CHECK(o.report().report_id == "2025-09-20T00:00:00Z_idx1_Example.org");   // kept as sent
              CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain from report-id"});
          }}},
        {"policy-domain-from-microsoft-report-id", {{"taken from the end of report-id"}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "example.com");
         }}},
        {"policy-domain-other-policies-disagree-then-report-id", {{"policies[1].policy.policy-domain: missing; taken from the end of report-id"}, [](const outcome& o) {
             CHECK(o.policy(0).policy_domain == "example.org");
             CHECK(o.policy(1).policy_domain == "example.net");
             CHECK(o.policy(2).policy_domain == "example.com");
         }}},
        {"policy-domain-unknown",
         {{"policies[0].policy.policy-domain: missing, and neither the email, the file name, the other policies (none names a domain) nor the report-id name it: kept under unknown.invalid"},
          [](const outcome& o) {
              CHECK(o.policy().policy_domain == std::string(unknown_policy_domain));
              CHECK(o.policy().policy_domain_filled);
              CHECK(o.policy().total_successful_session_count == 10);   // the sessions are kept
              CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain as unknown.invalid"});
          }}},
        {"policy-domain-unknown-unusable-metadata", {{"kept under unknown.invalid"}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "unknown.invalid");
         }}},
        {"policy-domain-given-metadata-ignored", {{}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "example.com");
             CHECK_FALSE(o.policy().policy_domain_filled);
             CHECK(o.metadata.filled.empty());
         }}},
        {"report-id-body-wins", {{}, [](const outcome& o) {
             CHECK(o.report().report_id == "r-1");
             CHECK(o.metadata.filled.empty());
         }}},
        {"report-id-from-subject", {{}, [](const outcome& o) {
             CHECK(o.report().report_id == "2024.03.01T00.00.00Z+example.com@sender.example");
             CHECK(o.metadata.filled == strings{"report-id from subject-report-id"});
         }}},
        {"byte-order-mark", {{}, check_minimal}},
        {"unknown-members-ignored", {{}, [](const outcome& o) { CHECK(o.report() == minimal_report()); }}},
        {"escapes-and-unicode", {{}, [](const outcome& o) {
             CHECK(o.report().organization_name
                   == "Beispiel GmbH \xE2\x80\x93 Z\xC3\xBCrich \"Mail\" \\ / \xF0\x9F\x93\xA7");
             CHECK(o.policy().policy_string.at(3) == "max_age:\t86400\r");
         }}},
        {"three-policies-same-domain", {{}, [](const outcome& o) {
             REQUIRE(o.report().policies.size() == 3);
             CHECK(o.policy(0).type == policy_type::no_policy_found);
             CHECK(o.policy(1).type == policy_type::sts);
             CHECK(o.policy(2).type == policy_type::sts);
             for (const auto& p : o.report().policies)
                 CHECK(p.policy_domain == "example.com");
             CHECK(o.policy(1).policy_string.at(1) == "mode: testing");
             CHECK(o.policy(2).policy_string.at(1) == "mode: enforce");
             CHECK(o.policy(0).total_successful_session_count == 4);
             CHECK(o.policy(1).total_successful_session_count == 7);
         }}},
        {"policy-domain-with-underscore", {{"policies[0].policy.policy-domain: not a host name"}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "_25._tcp.mx.example.com");
         }}},
        {"policy-domain-u-label", {{"policies[0].policy.policy-domain: not a host name"}, [](const outcome& o) {
             CHECK(o.policy().policy_domain == "b\xC3\xBC" "cher.example");
         }}},
        {"both-policy-and-policies", {{}, [](const outcome& o) { CHECK(o.report() == minimal_report()); }}},
        {"all-result-types", {{}, [](const outcome& o) {
             REQUIRE(o.policy().failure_details.size() == 11);
             std::set<std::string> seen;
             for (const auto& d : o.policy().failure_details) {
                 CHECK(result_type_known(d.result_type));
                 seen.insert(d.result_type);
             }
             CHECK(seen.size() == 11);
         }}},
    };
    return table;
}

void check_warnings(const std::vector<std::string>& actual, const strings& expected)
{
    INFO("warnings: " << Catch::Detail::stringify(actual));
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        CHECK_THAT(actual[i], Contains(expected[i]));
}

} // namespace

TEST_CASE("good reports: each is read as the sender meant it")
{
    const auto cases = rc::good_cases();
    REQUIRE(cases.size() >= 60);   // the table as it stands: an emptied one must not pass
    std::set<std::string> names;
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.name)
        {
            INFO(c.json);
            const auto it = expectations().find(c.name);
            INFO("every good case needs its expectations in test_report_parser.cpp");
            REQUIRE(it != expectations().end());
            outcome o;
            try {
                o = parse_with(c.json, c.metadata);
            } catch (const report_error& e) {
                FAIL("refused: " << e.what());
            }
            check_warnings(o.parsed.warnings, it->second.warnings);
            it->second.check(o);
        }
        CHECK(names.insert(c.name).second);
    }
    CHECK(names.size() == expectations().size());
}

TEST_CASE("bad reports: refused, naming the field and the reason")
{
    const auto cases = rc::bad_cases();
    REQUIRE(cases.size() >= 91);
    std::set<std::string> names;
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.name)
        {
            INFO(c.json);
            report_metadata metadata;
            metadata.fields = c.metadata;
            try {
                const auto parsed = parse_report(c.json, metadata, c.limits);
                FAIL("accepted, with " << parsed.report.policies.size() << " policies");
            } catch (const report_error& e) {
                CHECK(e.field() == c.field);
                CHECK_THAT(e.reason(), Contains(c.reason));
                CHECK(std::string(e.what()) == (c.field.empty() ? e.reason() : c.field + ": " + e.reason()));
            }
            CHECK(metadata.filled.empty());
        }
        CHECK(names.insert(c.name).second);
    }
}

TEST_CASE("sample reports from each sender style")
{
    SECTION("Google: compact, several policies for one domain, trailing spaces, no failure-details")
    {
        const auto o = parse_with(read_sample("google.json"));
        CHECK(o.parsed.warnings.empty());
        CHECK(o.report().organization_name == "Google Inc.");
        CHECK(o.report().report_id == "2025-07-08T00:00:00Z_example.com");
        CHECK(text(o.report().start_datetime) == "2025-07-08T00:00:00Z");
        REQUIRE(o.report().policies.size() == 3);
        CHECK(o.policy(0).type == policy_type::no_policy_found);
        CHECK(o.policy(0).policy_string.empty());
        CHECK(o.policy(1).policy_string.at(2) == "mx: mx1.example.com ");
        CHECK(o.policy(1).mx_host == strings{"mx1.example.com", "mx2.example.com"});
        CHECK(o.policy(1).failure_details.empty());
        CHECK(o.policy(2).policy_string.at(1) == "mode: enforce");
        REQUIRE(o.policy(2).failure_details.size() == 1);
        CHECK(o.policy(2).failure_details[0].receiving_ip == "192.0.2.25");
        for (const auto& p : o.report().policies)
            CHECK(p.policy_domain == "example.com");
    }
    SECTION("Microsoft: no zone, no mx-host, numeric+domain report id")
    {
        const auto o = parse_with(read_sample("microsoft-sts.json"));
        CHECK(o.parsed.warnings.empty());
        CHECK(text(o.report().start_datetime) == "2023-01-10T00:00:00Z");
        CHECK(text(o.report().end_datetime) == "2023-01-10T23:59:59Z");
        CHECK(o.report().report_id == "133810389004212345+example.com");
        CHECK(o.policy().mx_host.empty());
        CHECK(o.detail().sending_mta_ip == "2a01:111:f400:7e8a::200");
        CHECK(o.detail().result_type == "certificate-expired");
    }
    SECTION("Microsoft: TLSA policy-string holding JSON text; tlsa and sts count the same sessions")
    {
        const auto o = parse_with(read_sample("microsoft-tlsa.json"));
        CHECK(o.parsed.warnings.empty());
        REQUIRE(o.report().policies.size() == 2);
        CHECK(o.policy(0).type == policy_type::tlsa);
        REQUIRE(o.policy(0).policy_string.size() == 1);
        CHECK_THAT(o.policy(0).policy_string[0], StartsWith(R"([{"Usage":3,"Selector":1,)"));
        CHECK(o.policy(0).policy_domain == "mx.example.net");
        CHECK(o.policy(1).type == policy_type::sts);
        // Kept per policy, not added up: both say 310.
        CHECK(o.policy(0).total_successful_session_count == 310);
        CHECK(o.policy(1).total_successful_session_count == 310);
    }
    SECTION("Microsoft: sts-policy-fetch-error without policy-string, detail with type and count only")
    {
        const auto o = parse_with(read_sample("microsoft-fetch-error.json"));
        CHECK(o.parsed.warnings.empty());
        CHECK(o.policy().policy_string.empty());
        CHECK(o.policy().total_failure_session_count == 12);
        check_fetch_error_detail(o.detail(), 12);
    }
    SECTION("mail.ru: type and domain only, no IPs, free-text reason, details above total, next-midnight end")
    {
        const auto o = parse_with(read_sample("mailru.json"));
        check_warnings(o.parsed.warnings, {"policies[0]: failure-details add up to 4 failed sessions, more than "
                                           "summary.total-failure-session-count 2 (policy sts example.org)"});
        CHECK(text(o.report().end_datetime) == "2024-05-02T00:00:00Z");
        CHECK(o.policy().policy_string.empty());
        CHECK(o.policy().total_failure_session_count == 2);
        REQUIRE(o.policy().failure_details.size() == 2);
        CHECK(o.detail(0).failure_reason_code == "bad https response code: 404");
        CHECK_FALSE(o.detail(0).sending_mta_ip);
        CHECK_FALSE(o.detail(0).receiving_ip);
        CHECK(o.detail(1).receiving_mx_hostname == "mx.example.org");
    }
    SECTION("Stalwart: nulls and empty arrays, host-name organization")
    {
        const auto o = parse_with(read_sample("stalwart.json"));
        CHECK(o.parsed.warnings.empty());
        CHECK(o.report().organization_name == "mail.example.net");
        CHECK_FALSE(o.report().contact_info);
        REQUIRE(o.report().policies.size() == 2);
        CHECK(o.policy(0).policy_string.empty());
        CHECK(o.policy(0).mx_host.empty());
        CHECK(o.policy(0).failure_details.empty());
        const auto& d = o.policy(1).failure_details.at(0);
        CHECK_FALSE(d.receiving_mx_helo);
        CHECK_FALSE(d.additional_information);
        CHECK_FALSE(d.failure_reason_code);
        CHECK(d.receiving_ip == "192.0.2.1");
    }
    SECTION("Postfix sys4: no policy-domain, filled from TLS-Report-Domain or the file name")
    {
        const std::string json = read_sample("postfix-sys4.json");
        const auto o = parse_with(json, {{"tls-report-domain", "example.org"}});
        CHECK(o.report().report_id == "2025-09-20T00:00:00Z_idx1_example.org");
        CHECK(o.policy().type == policy_type::no_policy_found);
        CHECK(o.policy().policy_domain == "example.org");
        CHECK(o.policy().policy_domain_filled);
        CHECK(o.policy().total_successful_session_count == 17);
        CHECK(o.metadata.filled == strings{"policies[0].policy.policy-domain from tls-report-domain"});

        const auto by_name = parse_with(json, {{"file-name", "mail.sender.example!example.org!1758326400!1758412799.json.gz"}});
        CHECK(by_name.policy().policy_domain == "example.org");
        CHECK(by_name.metadata.filled == strings{"policies[0].policy.policy-domain from file-name"});

        // Over HTTPS (no header, no file name): the report-id names the domain.
        report_metadata none;
        const parsed_report over_https = parse_report(json, none);
        CHECK(over_https.report.policies.at(0).policy_domain == "example.org");
        CHECK(over_https.report.policies.at(0).total_successful_session_count == 17);
        REQUIRE(over_https.warnings.size() == 1);
        CHECK_THAT(over_https.warnings[0], Contains("taken from the end of report-id"));
        CHECK(none.filled == strings{"policies[0].policy.policy-domain from report-id"});
    }
    SECTION("SocketLabs: receiving-mx-host-name, upper-case report id")
    {
        const auto o = parse_with(read_sample("socketlabs.json"));
        CHECK(o.parsed.warnings.empty());
        CHECK(o.report().report_id == "5F2766C4A3E94B1A8D0C7E6F9B2A1D3C");
        CHECK(o.detail().receiving_mx_hostname == "mx2.example.com");
        CHECK(o.detail().result_type == "certificate-host-mismatch");
    }
    SECTION("RFC 8460 Appendix B: bare-string mx-host, additional-information with spaces")
    {
        const auto o = parse_with(read_sample("rfc8460-example.json"));
        CHECK(o.parsed.warnings.empty());
        CHECK(o.policy().mx_host == strings{"*.mail.company-y.example"});
        REQUIRE(o.policy().failure_details.size() == 3);
        CHECK(o.detail(1).additional_information
              == "https://reports.company-x.example/report_info ? id = 5065427c-23d3#StarttlsNotSupported ");
        CHECK(o.detail(2).failure_reason_code == "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
        CHECK(o.policy().total_failure_session_count == 303);
    }
    SECTION("draft-era report: refused as a pre-RFC schema")
    {
        report_metadata m;
        try {
            parse_report(read_sample("draft-era.json"), m);
            FAIL("accepted a draft-era report");
        } catch (const report_error& e) {
            CHECK(e.field().empty());
            CHECK_THAT(e.reason(), Contains("pre-RFC draft schema"));
        }
    }
}

namespace {

// One valid sample against its row of rc::sample_files().
void check_sample(const rc::sample_file& sample, const std::string& json)
{
    outcome o;
    try {
        o = parse_with(json, sample.metadata);
    } catch (const report_error& e) {
        FAIL("refused: " << e.what());
    }
    CHECK(o.report().organization_name == sample.organization);
    CHECK(o.report().report_id == sample.report_id);
    REQUIRE(o.report().policies.size() == sample.policies.size());
    for (std::size_t i = 0; i < sample.policies.size(); ++i) {
        INFO("policies[" << i << "]");
        const auto& want = sample.policies[i];
        const auto& got = o.policy(i);
        CHECK(got.type == want.type);
        CHECK(got.policy_domain == want.domain);
        CHECK(got.total_successful_session_count == want.successful);
        CHECK(got.total_failure_session_count == want.failed);
        CHECK(got.failure_details.size() == want.failure_details);
    }
}

} // namespace

TEST_CASE("sample reports: each is read as its table row says, or refused for its reason")
{
    const auto samples = rc::sample_files();
    REQUIRE(samples.size() >= 10);
    for (const auto& sample : samples) {
        DYNAMIC_SECTION(sample.file)
        {
            const std::string json = read_sample(sample.file);
            if (sample.valid) {
                check_sample(sample, json);
            } else {
                REQUIRE_FALSE(sample.refusal.empty());
                report_metadata m;
                m.fields = sample.metadata;
                CHECK_THROWS_WITH(parse_report(json, m), Contains(sample.refusal));
                CHECK(sample.policies.empty());
            }
        }
    }
}

TEST_CASE("sample reports: every file in tests/data/reports is in the table")
{
    std::set<std::string> listed, present;
    for (const auto& sample : rc::sample_files())
        CHECK(listed.insert(sample.file).second);
    for (const auto& entry : std::filesystem::directory_iterator(std::string(STSWATCH_SOURCE_DIR) + "/tests/data/reports"))
        present.insert(entry.path().filename().string());
    REQUIRE_FALSE(present.empty());
    CHECK(listed == present);
}

TEST_CASE("damaged input is refused with report_error, never anything else")
{
    // Every truncation and many single-byte corruptions of a real-shaped report.
    const std::string json = read_sample("rfc8460-example.json");
    std::size_t accepted = 0, refused = 0;
    const auto attempt = [&](const std::string& input) {
        report_metadata m;
        try {
            parse_report(input, m);
            ++accepted;
        } catch (const report_error& e) {
            CHECK_FALSE(std::string(e.what()).empty());
            ++refused;
        }
    };
    for (std::size_t n = 0; n < json.size(); ++n)
        attempt(json.substr(0, n));
    CHECK(refused >= json.size() - 2);   // a prefix is never a whole report but for trailing blanks
    const char replacements[] = {'\0', '"', '{', ']', '\xFF', '-', '9', ','};
    for (std::size_t i = 0; i < json.size(); i += 3) {
        for (char r : replacements) {
            std::string damaged = json;
            damaged[i] = r;
            attempt(damaged);
        }
    }
    CHECK(accepted > 0);
}

TEST_CASE("report_error says where and why")
{
    const report_error with_field("policies[1].summary.total-failure-session-count", "missing");
    CHECK(std::string(with_field.what()) == "policies[1].summary.total-failure-session-count: missing");
    CHECK(with_field.field() == "policies[1].summary.total-failure-session-count");
    CHECK(with_field.reason() == "missing");
    const report_error whole("", "not JSON: unexpected end of text");
    CHECK(std::string(whole.what()) == "not JSON: unexpected end of text");
}

TEST_CASE("policy types and result types (RFC 8460 §4.3, §4.4)")
{
    for (auto t : {policy_type::sts, policy_type::tlsa, policy_type::no_policy_found})
        CHECK(policy_type_from_string(to_string(t)) == t);
    CHECK(std::string(to_string(policy_type::no_policy_found)) == "no-policy-found");
    CHECK_FALSE(policy_type_from_string("STS"));
    CHECK_FALSE(policy_type_from_string("no_policy_found"));
    CHECK_FALSE(policy_type_from_string(""));

    for (const char* known : {"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                              "certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
                              "dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"})
        CHECK(result_type_known(known));
    for (const char* unknown : {"", "Certificate-Expired", "certificate-expired ", "sts-policy-fetch", "other"})
        CHECK_FALSE(result_type_known(unknown));
}

TEST_CASE("domain names: normalised and validated")
{
    const std::vector<std::pair<std::string, std::string>> normalised = {
        {"Example.COM.", "example.com"},
        {"example.com", "example.com"},
        {"*.MX.Example.org", "*.mx.example.org"},
        {"B\xC3\x9C" "CHER.example", "b\xC3\x9C" "cher.example"},   // non-ASCII bytes untouched
        {".", ""},
        {"", ""},
        {"example.com..", "example.com"},    // idempotent: normalising twice changes nothing
        {"..", ""},
    };
    for (const auto& [in, out] : normalised) {
        INFO(in);
        CHECK(normalize_domain(in) == out);
    }

    const std::string label63(63, 'a');
    const std::string label64(64, 'a');
    std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
    std::string name254 = name253 + "c";
    REQUIRE(name253.size() == 253);
    const std::vector<std::pair<std::string, bool>> validity = {
        {"example.com", true},
        {"example.com.", true},
        {"localhost", true},
        {"mx-1.Example.ORG", true},
        {"123.example", true},
        {label63 + ".example", true},
        {label64 + ".example", false},
        {name253, true},
        {name254, false},
        {"", false},
        {".", false},
        {"example..com", false},
        {".example.com", false},
        {"-mx.example.com", false},
        {"mx-.example.com", false},
        {"_25._tcp.example.com", false},
        {"*.example.com", false},
        {"exa mple.com", false},
        {"b\xC3\xBC" "cher.example", false},
        {"user@example.com", false},
    };
    for (const auto& [name, valid] : validity) {
        INFO(name);
        CHECK(is_valid_domain(name) == valid);
    }
}

TEST_CASE("JSON reading: invalid UTF-8 is named with its byte offset")
{
    const std::string json = rc::with(R"("Example Sender")", "\"Example \xFF Sender\"");
    const std::size_t offset = json.find('\xFF');
    REQUIRE(offset != std::string::npos);
    report_metadata m;
    try {
        parse_report(json, m);
        FAIL("accepted");
    } catch (const report_error& e) {
        CHECK(e.field().empty());
        CHECK(e.reason() == "not JSON: invalid UTF-8 at byte offset " + std::to_string(offset));
    }
}

TEST_CASE("JSON reading: a key given twice counts with its last value")
{
    // RFC 8259 §4 leaves duplicate names open; the last one wins, as it did when members were
    // assigned in order.
    const auto o = parse_with(rc::with(R"("report-id":"r-1",)", R"("report-id":"r-0","report-id":"r-1",)"));
    CHECK(o.report().report_id == "r-1");
    const auto nulled = parse_with(rc::with(R"("contact-info":"tlsrpt@sender.example",)",
                                            R"("contact-info":"tlsrpt@sender.example","contact-info":null,)"));
    CHECK_FALSE(nulled.report().contact_info.has_value());
}

TEST_CASE("JSON reading: large documents, then small ones on the same thread, read the same")
{
    // Over the size that a thread's reused parser keeps (16 KiB), a document gets a parser
    // of its own; a small one after it must still be read by the reused one, and each
    // element is read from its own document.
    std::string details;
    const std::size_t count = 400;
    for (std::size_t i = 0; i < count; ++i) {
        details += i ? "," : "";
        details += R"({"result-type":"validation-failure","sending-mta-ip":"198.51.100.)" + std::to_string(i % 250) +
                   R"(","receiving-mx-hostname":"mx)" + std::to_string(i) + R"(.example.com","failed-session-count":)" +
                   std::to_string(i + 1) + "}";
    }
    const std::string large = rc::with(rc::failure_details_member, R"(,"failure-details":[)" + details + "]",
                                       rc::with(R"("total-failure-session-count":1)", R"("total-failure-session-count":80200)"));
    REQUIRE(large.size() > 16 * 1024);
    for (int round = 0; round < 2; ++round) {
        const auto big = parse_with(large);
        REQUIRE(big.policy().failure_details.size() == count);
        CHECK(big.policy().failure_details[399].failed_session_count == 400);
        CHECK(big.policy().failure_details[399].receiving_mx_hostname == "mx399.example.com");
        CHECK(big.policy().total_failure_session_count == 80200);
        const auto small = parse_with(rc::minimal);
        check_minimal(small);
    }
    // The depth limit holds for both parsers.
    parse_limits shallow;
    shallow.max_depth = 4;
    for (const std::string* json : {&large, &rc::minimal}) {
        report_metadata m;
        try {
            parse_report(*json, m, shallow);
            FAIL("accepted at depth 4");
        } catch (const report_error& e) {
            CHECK_THAT(e.reason(), Contains("deeper than the limit of 4"));
        }
        report_metadata again;
        CHECK(parse_report(*json, again).report.policies.size() == 1);
    }
}
