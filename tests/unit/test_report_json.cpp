// Canonical report JSON: RFC 8460 §4.4 key order and shape, string escaping, the
// `stswatch parse` output line, and the round trip parse(canonical(parse(x))) == parse(x).
#include "tlsrpt/report_json.hpp"
#include "common/utf8.hpp"
#include "tlsrpt/report_parser.hpp"
#include "tests/support/test_support.hpp"
#include "tests/unit/report_cases.hpp"

#include <catch2/catch.hpp>

#include <Poco/JSON/Parser.h>

#include <fstream>
#include <iterator>

using namespace stswatch;
namespace rc = stswatch::report_cases;

namespace {

std::string read_sample(const std::string& file) { return stswatch::test::data_file("reports/" + file); }

std::string json_string(std::string_view s)
{
    std::string out;
    append_json_string(out, s);
    return out;
}

// What Poco reads back from a JSON string literal.
std::string poco_read_string(const std::string& literal)
{
    Poco::JSON::Parser parser;
    const auto v = parser.parse("[" + literal + "]");
    return v.extract<Poco::JSON::Array::Ptr>()->getElement<std::string>(0);
}

tls_report small_report()
{
    tls_report r;
    r.organization_name = "Org \"Q\"";
    r.start_datetime = {1459468800, 0};       // 2016-04-01T00:00:00Z
    r.end_datetime = {1459555199, 250000};
    r.report_id = "id-1";
    report_policy p;
    p.type = policy_type::no_policy_found;
    p.policy_domain = "example.com";
    p.total_failure_session_count = 5;
    failure_detail d;
    d.result_type = "starttls-not-supported";
    d.receiving_ip = "192.0.2.1";
    d.failed_session_count = 5;
    p.failure_details.push_back(d);
    r.policies.push_back(p);
    return r;
}

const std::string small_report_json =
    R"({"organization-name":"Org \"Q\"","date-range":{"start-datetime":"2016-04-01T00:00:00Z",)"
    R"("end-datetime":"2016-04-01T23:59:59.25Z"},"report-id":"id-1","policies":[{"policy":)"
    R"({"policy-type":"no-policy-found","policy-string":[],"policy-domain":"example.com","mx-host":[]},)"
    R"("summary":{"total-successful-session-count":0,"total-failure-session-count":5},)"
    R"("failure-details":[{"result-type":"starttls-not-supported","receiving-ip":"192.0.2.1","failed-session-count":5}]}]})";

// Where a value came from is metadata (metadata.filled), not report data: the canonical
// JSON carries a filled policy domain as a plain one.
tls_report without_provenance(tls_report r)
{
    for (auto& p : r.policies)
        p.policy_domain_filled = false;
    return r;
}

void check_round_trip(const std::string& json, const rc::metadata_fields& fields)
{
    report_metadata metadata;
    metadata.fields = fields;
    const tls_report first = parse_report(json, metadata).report;
    const std::string canonical = to_canonical_json(first);
    INFO(canonical);
    report_metadata none;
    parsed_report second;
    REQUIRE_NOTHROW(second = parse_report(canonical, none));
    CHECK(second.report == without_provenance(first));
    CHECK(none.filled.empty());
    // Canonical output is a fixed point.
    CHECK(to_canonical_json(second.report) == canonical);
}

} // namespace

TEST_CASE("JSON string literals")
{
    const std::vector<std::pair<std::string, std::string>> table = {
        {"", R"("")"},
        {"plain text", R"("plain text")"},
        {"quote \" backslash \\ slash /", R"("quote \" backslash \\ slash /")"},
        {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
        {std::string("nul \0 end", 9), R"("nul \u0000 end")"},
        {"\x01\x1F\x7F", "\"\\u0001\\u001f\x7F\""},
        {"Z\xC3\xBCrich \xE2\x80\x93 \xF0\x9F\x93\xA7", "\"Z\xC3\xBCrich \xE2\x80\x93 \xF0\x9F\x93\xA7\""},
        // Invalid UTF-8: each byte that starts no valid sequence becomes U+FFFD.
        {"a\xFFz", "\"a\xEF\xBF\xBDz\""},
        {"\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},                       // overlong "/"
        {"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},       // UTF-16 surrogate
        {"\xF4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},   // above U+10FFFF
        {"end \xE2\x82", "\"end \xEF\xBF\xBD\xEF\xBF\xBD\""},               // truncated sequence
    };
    for (const auto& [in, out] : table) {
        INFO(Catch::Detail::stringify(in));
        const std::string literal = json_string(in);
        CHECK(literal == out);
        // Always valid JSON, and valid UTF-8 reads back unchanged.
        std::string back;
        REQUIRE_NOTHROW(back = poco_read_string(literal));
        if (is_valid_utf8(in))
            CHECK(back == in);
    }
}

TEST_CASE("UTF-8 validity (RFC 3629)")
{
    const std::vector<std::pair<std::string, bool>> table = {
        {"", true},
        {"ascii", true},
        {"\xC3\xA9", true},
        {"\xE2\x82\xAC", true},
        {"\xF0\x9F\x98\x80", true},
        {"\xF4\x8F\xBF\xBF", true},    // U+10FFFF
        {"\xEF\xBF\xBD", true},
        {"\x80", false},
        {"\xC3", false},
        {"\xC1\xBF", false},           // overlong
        {"\xE0\x9F\xBF", false},       // overlong
        {"\xED\xBF\xBF", false},       // surrogate
        {"\xF0\x8F\xBF\xBF", false},   // overlong
        {"\xF4\x90\x80\x80", false},   // above U+10FFFF
        {"\xF5\x80\x80\x80", false},
        {"\xFE", false},
    };
    for (const auto& [s, valid] : table) {
        INFO(Catch::Detail::stringify(s));
        CHECK(is_valid_utf8(s) == valid);
    }
}

TEST_CASE("canonical JSON: RFC 8460 §4.4 order, arrays always present, absent fields left out")
{
    CHECK(to_canonical_json(small_report()) == small_report_json);

    // minimal is written in canonical form already.
    report_metadata m;
    CHECK(to_canonical_json(parse_report(rc::minimal, m).report) == rc::minimal);

    SECTION("nulls and empty strings are left out, never written as null or \"\"")
    {
        report_metadata stalwart;
        const auto r = parse_report(read_sample("stalwart.json"), stalwart).report;
        const std::string json = to_canonical_json(r);
        CHECK(json.find("null") == std::string::npos);
        CHECK(json.find("\"\"") == std::string::npos);
        CHECK(json.find("contact-info") == std::string::npos);
        CHECK(json.find("receiving-mx-helo") == std::string::npos);
        CHECK(json.find(R"("policy-string":[],"policy-domain":"example.com","mx-host":[])") != std::string::npos);
        CHECK(json.find(R"("failure-details":[])") != std::string::npos);
    }
    SECTION("date-times in UTC with Z, counts as integers")
    {
        report_metadata microsoft;
        const auto r = parse_report(read_sample("microsoft-sts.json"), microsoft).report;
        const std::string json = to_canonical_json(r);
        CHECK(json.find(R"("start-datetime":"2023-01-10T00:00:00Z","end-datetime":"2023-01-10T23:59:59Z")") != std::string::npos);
        CHECK(json.find(R"("total-successful-session-count":87,"total-failure-session-count":3)") != std::string::npos);
    }
    SECTION("bare-string mx-host becomes an array; verbatim strings keep their spaces")
    {
        report_metadata rfc;
        const auto r = parse_report(read_sample("rfc8460-example.json"), rfc).report;
        const std::string json = to_canonical_json(r);
        CHECK(json.find(R"("mx-host":["*.mail.company-y.example"])") != std::string::npos);
        CHECK(json.find(R"("additional-information":"https://reports.company-x.example/report_info ? id = 5065427c-23d3#StarttlsNotSupported ")")
              != std::string::npos);
    }
    SECTION("invalid UTF-8 in a report built in code still gives valid JSON")
    {
        tls_report r = small_report();
        r.organization_name = "bad \xFF byte";
        const std::string json = to_canonical_json(r);
        report_metadata none;
        CHECK(parse_report(json, none).report.organization_name == "bad \xEF\xBF\xBD byte");
    }
}

TEST_CASE("stswatch parse output line")
{
    report_metadata metadata;
    metadata.fields = {{"tls-report-domain", "example.com"}, {"file-name", "a.json"}};
    metadata.filled = {"policies[0].policy.policy-domain from tls-report-domain"};
    CHECK(parse_output_line("dir/a.json", small_report(), {"policies[0]: a warning"}, metadata)
          == R"({"source":"dir/a.json","report":)" + small_report_json
                 + R"(,"warnings":["policies[0]: a warning"],"metadata":{"file-name":"a.json",)"
                   R"("tls-report-domain":"example.com","filled":["policies[0].policy.policy-domain from tls-report-domain"]}})");

    const report_metadata empty;
    CHECK(parse_output_line("-", small_report(), {}, empty)
          == R"({"source":"-","report":)" + small_report_json + R"(,"warnings":[],"metadata":{}})");

    const std::string line = parse_output_line("x\ny.json", small_report(), {}, empty);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find(R"("source":"x\ny.json")") != std::string::npos);
}

TEST_CASE("round trip: parse(canonical(parse(x))) == parse(x)")
{
    // The tables as they stand: emptied ones must not pass.
    const auto cases = rc::good_cases();
    REQUIRE(cases.size() >= 52);
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.name) { check_round_trip(c.json, c.metadata); }
    }
    std::size_t valid_samples = 0;
    for (const auto& sample : rc::sample_files()) {
        if (!sample.valid)
            continue;
        ++valid_samples;
        DYNAMIC_SECTION(sample.file) { check_round_trip(read_sample(sample.file), sample.metadata); }
    }
    CHECK(valid_samples >= 9);
}

TEST_CASE("to_valid_utf8: peer text made fit for JSON and jsonb")
{
    const std::vector<std::pair<std::string, std::string>> table = {
        {"", ""},
        {"mx1.example.com", "mx1.example.com"},
        {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {std::string("a\0b", 3), "a\xEF\xBF\xBD" "b"},                 // NUL: jsonb refuses \u0000
        {"\x80", "\xEF\xBF\xBD"},                                      // stray continuation byte
        {"\xC3", "\xEF\xBF\xBD"},                                      // truncated at the end
        {"\xC1\xBF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                      // overlong
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},      // surrogate
        {"mode: enforce\r\n\xFF\xFE", "mode: enforce\r\n\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\x1b[31mred\x1b[0m", "\x1b[31mred\x1b[0m"},                  // control bytes stay: JSON escapes them
    };
    for (const auto& [in, out] : table) {
        INFO(Catch::Detail::stringify(in));
        const std::string cleaned = to_valid_utf8(in);
        CHECK(cleaned == out);
        CHECK(is_valid_utf8(cleaned));
        CHECK(cleaned.find('\0') == std::string::npos);
        CHECK(to_valid_utf8(cleaned) == cleaned);   // idempotent
    }
}

TEST_CASE("terminal_safe and utf8_prefix: peer text for a terminal line")
{
    CHECK(terminal_safe("plain text, caf\xC3\xA9") == "plain text, caf\xC3\xA9");
    CHECK(terminal_safe("\x1b]0;owned\x07 \x1b[2J") == "\\x1b]0;owned\\x07 \\x1b[2J");
    CHECK(terminal_safe("a\x7f" "b") == "a\\x7fb");
    CHECK(terminal_safe("C1 \xC2\x9B" "31m") == "C1 \\x9b31m");   // U+009B, the 8-bit CSI
    CHECK(terminal_safe("line 1\nline 2") == "line 1\\x0aline 2");
    CHECK(terminal_safe("line 1\nline 2", true) == "line 1\nline 2");
    CHECK(terminal_safe("\xC2\xA0nbsp") == "\xC2\xA0nbsp");   // U+00A0 is printable

    CHECK(utf8_prefix("abc", 5) == "abc");
    CHECK(utf8_prefix("abcdef", 3) == "abc");
    CHECK(utf8_prefix("ab\xE2\x82\xAC", 3) == "ab");     // never half a euro sign
    CHECK(utf8_prefix("ab\xE2\x82\xAC", 4) == "ab");
    CHECK(utf8_prefix("ab\xE2\x82\xAC" "d", 5) == "ab\xE2\x82\xAC");
    CHECK(utf8_prefix("\xF0\x9F\x98\x80", 2).empty());
}
