// The benchmark report generator: deterministic, unique identities, the senders' shapes, and
// reports the collector's parser accepts with exactly the content the generator meant.
#include "bench/report_gen.hpp"

#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_parser.hpp"

#include <catch2/catch.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <set>
#include <stdexcept>

using namespace stswatch;
using namespace stswatch::bench;

TEST_CASE("the same seed gives the same reports, another seed other ones")
{
    const auto a = generate_reports(300, {.seed = 7});
    const auto b = generate_reports(300, {.seed = 7});
    const auto c = generate_reports(300, {.seed = 8});
    for (std::size_t i = 0; i < a.size(); ++i) {
        REQUIRE(a[i].json == b[i].json);
        REQUIRE(a[i].file_name == b[i].file_name);
        REQUIRE(a[i].json != c[i].json);
    }
}

TEST_CASE("every report has its own organization and report-id, also across seeds")
{
    std::set<std::pair<std::string, std::string>> identities;
    std::size_t total = 0;
    for (const std::uint64_t seed : {1u, 2u}) {
        // A small domain set forces each style through many days.
        for (const auto& g : generate_reports(20000, {.seed = seed, .policy_domains = 50})) {
            identities.emplace(g.report.organization_name, g.report.report_id);
            ++total;
        }
    }
    CHECK(identities.size() == total);
}

TEST_CASE("failure details per report stay within the bounds asked for")
{
    struct bounds { unsigned min, max; };
    for (const auto b : {bounds{1, 20}, bounds{1, 1}, bounds{5, 9}}) {
        std::size_t at_min = 0, at_max = 0;
        for (const auto& g : generate_reports(2000, {.seed = 3, .min_failure_details = b.min, .max_failure_details = b.max})) {
            const auto n = g.failure_detail_count();
            // Microsoft's sts-policy-fetch-error reports carry a single bare detail.
            const bool single_fetch_error = n == 1 && g.report.policies.size() == 1 &&
                                            g.report.policies[0].failure_details[0].result_type == "sts-policy-fetch-error" &&
                                            g.style == sender_style::microsoft;
            if (!single_fetch_error) {
                REQUIRE(n >= b.min);
                REQUIRE(n <= b.max);
            }
            at_min += n == b.min;
            at_max += n == b.max;
            REQUIRE(g.row_count() == 1 + g.report.policies.size() + n);
        }
        CHECK(at_min > 0);
        CHECK(at_max > 0);
    }
}

TEST_CASE("bad generator options are refused with their reason")
{
    struct bad_case { generator_options options; const char* reason; };
    const bad_case cases[] = {
        {{.policy_domains = 0}, "policy_domains must be at least 1"},
        {{.min_failure_details = 0}, "failure details must be 1 <= min <= max"},
        {{.min_failure_details = 5, .max_failure_details = 4}, "failure details must be 1 <= min <= max"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.reason);
        CHECK_THROWS_WITH(report_generator(c.options), Catch::Contains(c.reason));
    }
}

TEST_CASE("each sender style has its habits")
{
    std::set<sender_style> seen;
    for (const auto& g : generate_reports(2000, {.seed = 11})) {
        seen.insert(g.style);
        CAPTURE(to_string(g.style), g.json);
        REQUIRE(g.file_name.find('!') != std::string::npos);
        switch (g.style) {
        case sender_style::google:
            CHECK(g.json.find('\n') == std::string::npos);   // compact, one line
            CHECK(g.json.find("T00:00:00Z\"") != std::string::npos);
            CHECK(g.report.organization_name == "Google Inc.");
            break;
        case sender_style::microsoft:
            CHECK(g.json.find("T00:00:00\"") != std::string::npos);   // no zone
            CHECK(g.json.find("T00:00:00Z") == std::string::npos);
            CHECK(g.json.find("\"mx-host\"") == std::string::npos);
            break;
        case sender_style::mail_ru:
            CHECK(g.json.find("sending-mta-ip") == std::string::npos);
            CHECK(g.report.end_datetime.seconds - g.report.start_datetime.seconds == 86400);
            break;
        case sender_style::stalwart:
            CHECK(g.json.find("\"contact-info\": null") != std::string::npos);
            CHECK(g.report.organization_name.find('.') != std::string::npos);   // a host name
            break;
        case sender_style::postfix_sys4:
            CHECK(g.json.find("\"summary\"") < g.json.find("\"policy\""));
            CHECK(g.report.report_id.find("_idx1_") != std::string::npos);
            break;
        }
    }
    CHECK(seen.size() == sender_style_count);
}

TEST_CASE("the JSON is well-formed, says what the model says, and gzip round-trips")
{
    Poco::JSON::Parser parser;
    for (const auto& g : generate_reports(500, {.seed = 5})) {
        CAPTURE(g.json);
        parser.reset();
        const auto doc = parser.parse(g.json).extract<Poco::JSON::Object::Ptr>();
        CHECK(doc->getValue<std::string>("organization-name") == g.report.organization_name);
        CHECK(doc->getValue<std::string>("report-id") == g.report.report_id);
        const auto policies = doc->getArray("policies");
        REQUIRE(policies->size() == g.report.policies.size());
        for (std::size_t i = 0; i < policies->size(); ++i) {
            const auto entry = policies->getObject(static_cast<unsigned>(i));
            const auto details = entry->getArray("failure-details");
            CHECK((details ? details->size() : 0) == g.report.policies[i].failure_details.size());
        }
        const decoded_body unpacked = decode_body(gzip_report(g), std::uint64_t{1} << 26);
        CHECK(unpacked.was_gzip);
        CHECK(unpacked.json == g.json);
    }
}

TEST_CASE("the collector's parser accepts every generated report and reads the same content")
{
    for (const auto& g : generate_reports(3000, {.seed = 9})) {
        CAPTURE(to_string(g.style), g.json);
        report_metadata metadata;
        const parsed_report parsed = parse_report(g.json, metadata);
        const tls_report& want = g.report;
        const tls_report& got = parsed.report;
        REQUIRE(got.organization_name == want.organization_name);
        REQUIRE(got.report_id == want.report_id);
        REQUIRE(got.start_datetime == want.start_datetime);
        REQUIRE(got.end_datetime == want.end_datetime);
        REQUIRE(got.contact_info == want.contact_info);
        REQUIRE(got.policies.size() == want.policies.size());
        for (std::size_t p = 0; p < want.policies.size(); ++p) {
            const auto& wp = want.policies[p];
            const auto& gp = got.policies[p];
            REQUIRE(gp.type == wp.type);
            REQUIRE(gp.policy_domain == wp.policy_domain);
            REQUIRE(gp.policy_string == wp.policy_string);
            REQUIRE(gp.mx_host == wp.mx_host);
            REQUIRE(gp.total_successful_session_count == wp.total_successful_session_count);
            REQUIRE(gp.total_failure_session_count == wp.total_failure_session_count);
            REQUIRE(gp.failure_details.size() == wp.failure_details.size());
            for (std::size_t d = 0; d < wp.failure_details.size(); ++d) {
                const auto& wf = wp.failure_details[d];
                const auto& gf = gp.failure_details[d];
                REQUIRE(gf.result_type == wf.result_type);
                REQUIRE(gf.sending_mta_ip == wf.sending_mta_ip);
                REQUIRE(gf.receiving_mx_hostname == wf.receiving_mx_hostname);
                REQUIRE(gf.receiving_mx_helo == wf.receiving_mx_helo);
                REQUIRE(gf.receiving_ip == wf.receiving_ip);
                REQUIRE(gf.failed_session_count == wf.failed_session_count);
                REQUIRE(gf.additional_information == wf.additional_information);
                REQUIRE(gf.failure_reason_code == wf.failure_reason_code);
            }
        }
    }
}
