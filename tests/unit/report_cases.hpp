// Report JSON tables: the good and bad inputs of tests/unit/test_report_parser.cpp and
// test_report_json.cpp, and the seeds of the report_json fuzz target.
//
// Most cases change one thing in a minimal valid report, so that each shows exactly what
// it is about. Sender-shaped whole reports live in tests/data/reports (sample_files()).
#pragma once

#include "tlsrpt/report_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::report_cases {

using metadata_fields = std::map<std::string, std::string>;

struct good_case {
    std::string name;
    std::string json;
    metadata_fields metadata = {};
};

struct bad_case {
    std::string name;
    std::string json;
    std::string field;    // report_error::field(): the JSON path, "" for the document
    std::string reason;   // a substring of report_error::reason()
    metadata_fields metadata = {};
    parse_limits limits = {};
};

// What one policy of a sample report holds (RFC 8460 §4.4): its type and domain, the
// summary's session counts and how many failure-details it lists.
struct sample_policy {
    policy_type type;
    std::string domain;
    std::int64_t successful, failed;
    std::size_t failure_details;
};

// A report under tests/data/reports, the metadata it would arrive with, and what the parser
// must read from it (or, for an invalid one, a substring of the reason it is refused).
struct sample_file {
    std::string file;
    metadata_fields metadata = {};
    bool valid = true;
    std::string organization = {};
    std::string report_id = {};
    std::vector<sample_policy> policies = {};
    std::string refusal = {};
};

// One policy, one failure detail, every optional field given.
inline const std::string minimal =
    R"({"organization-name":"Example Sender","date-range":{"start-datetime":"2024-03-01T00:00:00Z",)"
    R"("end-datetime":"2024-03-01T23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":"r-1",)"
    R"("policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce",)"
    R"("mx: mx.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx.example.com"]},)"
    R"("summary":{"total-successful-session-count":10,"total-failure-session-count":1},)"
    R"("failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"198.51.100.1",)"
    R"("receiving-mx-hostname":"mx.example.com","receiving-mx-helo":"mx.example.com ESMTP",)"
    R"("receiving-ip":"192.0.2.1","failed-session-count":1,)"
    R"("additional-information":"https://sender.example/tlsrpt/r-1",)"
    R"("failure-reason-code":"X509_V_ERR_CERT_HAS_EXPIRED"}]}]})";

// minimal with each `from` replaced by its `to`; every `from` must occur exactly once.
inline std::string with(std::initializer_list<std::pair<std::string_view, std::string_view>> edits,
                        std::string base = minimal)
{
    for (const auto& [from, to] : edits) {
        const std::size_t at = base.find(from);
        if (at == std::string::npos || base.find(from, at + 1) != std::string::npos)
            throw std::logic_error("report_cases: \"" + std::string(from) + "\" is not in the base report exactly once");
        base.replace(at, from.size(), to);
    }
    return base;
}

inline std::string with(std::string_view from, std::string_view to, std::string base = minimal)
{
    return with({{from, to}}, std::move(base));
}

// Pieces of minimal that cases replace.
inline constexpr std::string_view policy_domain_member = R"("policy-domain":"example.com",)";
inline constexpr std::string_view mx_host_member = R"(,"mx-host":["mx.example.com"])";
inline constexpr std::string_view policy_string_member =
    R"("policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],)";
inline constexpr std::string_view failure_details_member =
    R"(,"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"198.51.100.1",)"
    R"("receiving-mx-hostname":"mx.example.com","receiving-mx-helo":"mx.example.com ESMTP",)"
    R"("receiving-ip":"192.0.2.1","failed-session-count":1,)"
    R"("additional-information":"https://sender.example/tlsrpt/r-1",)"
    R"("failure-reason-code":"X509_V_ERR_CERT_HAS_EXPIRED"}])";
inline constexpr std::string_view summary_member =
    R"("summary":{"total-successful-session-count":10,"total-failure-session-count":1})";
inline constexpr std::string_view start_value = R"("2024-03-01T00:00:00Z")";
inline constexpr std::string_view end_value = R"("2024-03-01T23:59:59Z")";
inline constexpr std::string_view failed_count = R"("failed-session-count":1)";
inline constexpr std::string_view failure_count = R"("total-failure-session-count":1)";
inline constexpr std::string_view success_count = R"("total-successful-session-count":10)";

inline std::string two_policies()
{
    const std::string policy =
        R"({"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},)"
        R"("summary":{"total-successful-session-count":2,"total-failure-session-count":0}})";
    return with(R"("policies":[)", R"("policies":[)" + policy + ",");
}

inline std::vector<good_case> good_cases()
{
    return {
        {"minimal", minimal},
        {"pretty-printed",
         "{\n  \"organization-name\": \"Example Sender\",\n  \"date-range\": {\n    \"start-datetime\": \"2024-03-01T00:00:00Z\",\n"
         "    \"end-datetime\": \"2024-03-01T23:59:59Z\"\n  },\r\n  \"report-id\": \"r-1\",\n  \"policies\": [\n    {\n"
         "      \"policy\": {\"policy-type\": \"sts\", \"policy-domain\": \"example.com\"},\n"
         "      \"summary\": {\"total-successful-session-count\": 10, \"total-failure-session-count\": 0}\n    }\n  ]\n}\n"},
        // Google: no failure-details key without failures; mx-host absent in older reports.
        {"failure-details-absent", with(failure_details_member, "")},
        {"mx-host-absent", with(mx_host_member, "")},
        // RFC 8460 Appendix B (before erratum 6241): mx-host as a bare string.
        {"mx-host-bare-string", with(mx_host_member, R"(,"mx-host":"*.mail.example.com")")},
        // Google: policy lines verbatim, trailing spaces included.
        {"policy-string-trailing-space", with(R"("mx: mx.example.com",)", R"("mx: mx.example.com  ",)")},
        // Microsoft fetch error, mail.ru: the policy is only a type and a domain.
        {"policy-type-and-domain-only",
         with({{policy_string_member, ""}, {mx_host_member, ""}, {failure_details_member,
            R"(,"failure-details":[{"result-type":"sts-policy-fetch-error","failed-session-count":1}])"}})},
        {"policy-string-bare-string", with(policy_string_member, R"("policy-string":"version: STSv1",)")},
        // Microsoft TLSA: one string that is itself a JSON array text.
        {"policy-string-json-text",
         with({{R"("policy-type":"sts")", R"("policy-type":"tlsa")"},
               {policy_string_member,
                R"("policy-string":["[{\"Usage\":3,\"Selector\":1,\"MatchingType\":1,\"CertificateAssociationData\":\"8CB0FC6C\"}]"],)"}})},
        // Stalwart-built senders: nulls and empty arrays for absent values.
        {"stalwart-nulls",
         with({{R"("contact-info":"tlsrpt@sender.example")", R"("contact-info":null)"},
               {policy_string_member, R"("policy-string":[],)"},
               {mx_host_member, R"(,"mx-host":[])"},
               {R"("receiving-mx-helo":"mx.example.com ESMTP")", R"("receiving-mx-helo":null)"},
               {R"("additional-information":"https://sender.example/tlsrpt/r-1")", R"("additional-information":null)"},
               {R"("failure-reason-code":"X509_V_ERR_CERT_HAS_EXPIRED")", R"("failure-reason-code":"")"}})},
        {"failure-details-empty-array", with(failure_details_member, R"(,"failure-details":[])")},
        {"failure-details-null", with(failure_details_member, R"(,"failure-details":null)")},
        {"contact-info-absent", with(R"("contact-info":"tlsrpt@sender.example",)", "")},
        {"organization-name-host-name", with(R"("Example Sender")", R"("mx1.Mail.Example.NET")")},
        // Postfix with the sys4 reporter: summary before policy; key order is free.
        {"summary-before-policy",
         with({{std::string("]},") + std::string(summary_member), "]}"},
               {R"({"policy":{)", "{" + std::string(summary_member) + R"(,"policy":{)"}})},
        {"report-id-first",
         R"({"report-id":"r-1","policies":[{"summary":{"total-failure-session-count":0,"total-successful-session-count":3},)"
         R"("policy":{"policy-domain":"example.com","policy-type":"sts"}}],"date-range":{"end-datetime":"2024-03-01T23:59:59Z",)"
         R"("start-datetime":"2024-03-01T00:00:00Z"},"organization-name":"Example Sender"})"},
        // Microsoft (2023): no zone; read as UTC.
        {"datetime-without-zone",
         with({{start_value, R"("2024-03-01T00:00:00")"}, {end_value, R"("2024-03-01T23:59:59")"}})},
        {"datetime-numeric-offsets",
         with({{start_value, R"("2024-03-01T02:00:00+02:00")"}, {end_value, R"("2024-03-01T18:59:59.5-05:00")"}})},
        {"datetime-lower-case-t-z", with(start_value, R"("2024-03-01t00:00:00z")")},
        {"datetime-seven-digit-fraction", with(start_value, R"("2024-03-01T00:00:00.1234567Z")")},
        {"datetime-leap-second", with(end_value, R"("2024-03-01T23:59:60Z")")},
        // mail.ru: the range ends at the next midnight.
        {"range-ends-next-midnight", with(end_value, R"("2024-03-02T00:00:00Z")")},
        {"range-end-before-start", with(end_value, R"("2024-02-29T00:00:00Z")")},
        // mail.ru: failure details adding up to more than the total.
        {"failure-details-above-total", with(failed_count, R"("failed-session-count":7)")},
        {"unregistered-result-type", with(R"("certificate-expired")", R"("tls-version-too-old")")},
        {"domains-upper-case-trailing-dot",
         with({{policy_domain_member, R"("policy-domain":"Example.COM.",)"},
               {mx_host_member, R"(,"mx-host":["MX.Example.com.","*.Backup.EXAMPLE.com"])"},
               {R"("receiving-mx-hostname":"mx.example.com")", R"("receiving-mx-hostname":"MX.EXAMPLE.COM.")"}})},
        {"domains-extra-trailing-dots",
         with({{policy_domain_member, R"("policy-domain":"example.com..",)"},
               {mx_host_member, R"(,"mx-host":["mx.example.com.."])"},
               {R"("receiving-mx-hostname":"mx.example.com")", R"("receiving-mx-hostname":"mx.example.com..")"}})},
        {"receiving-mx-hostname-root", with(R"("receiving-mx-hostname":"mx.example.com")", R"("receiving-mx-hostname":".")")},
        {"policy-type-upper-case", with(R"("policy-type":"sts")", R"("policy-type":"STS")")},
        // SocketLabs (2020): extra hyphen in receiving-mx-host-name; upper-case hex ids.
        {"socketlabs-receiving-mx-host-name",
         with({{R"("receiving-mx-hostname":"mx.example.com")", R"("receiving-mx-host-name":"mx.example.com")"},
               {R"("report-id":"r-1")", R"("report-id":"5F2766C4A3E94B1A8D0C7E6F9B2A1D3C")"}})},
        // RFC 8460 Appendix B: additional-information holding a "URI" with spaces.
        {"additional-information-with-spaces",
         with(R"("https://sender.example/tlsrpt/r-1")", R"("https://reports.example/report_info ? id = 5065427c#StarttlsNotSupported ")")},
        // Other parsers read these names; senders use mx-host and additional-information.
        {"mx-host-pattern-and-additional-info-uri-not-read",
         with({{mx_host_member, R"(,"mx-host":["mx.example.com"],"mx-host-pattern":"*.other.example")"},
               {R"("additional-information":"https://sender.example/tlsrpt/r-1")",
                R"("additional-info-uri":"https://wrong.example/","additional-information":"https://sender.example/tlsrpt/r-1")"}})},
        {"counts-integral-float",
         with({{success_count, R"("total-successful-session-count":10.0)"}, {failure_count, R"("total-failure-session-count":1e0)"}})},
        {"count-as-digit-string", with(success_count, R"("total-successful-session-count":"10")")},
        {"count-above-2-to-53", with(success_count, R"("total-successful-session-count":9007199254740993)")},
        {"count-int64-max", with(success_count, R"("total-successful-session-count":9223372036854775807)")},
        // Postfix with the sys4 reporter: no policy-domain; filled from metadata.
        {"policy-domain-from-tls-report-domain", with(policy_domain_member, ""),
         {{"tls-report-domain", " Example.COM "}}},
        {"policy-domain-from-file-name", with(policy_domain_member, ""),
         {{"file-name", "/var/spool/tlsrpt/mail.sender.example!Example.org!1709251200!1709337599!a1.json.gz"}}},
        {"policy-domain-from-attachment-file-name", with(policy_domain_member, R"("policy-domain":null,)"),
         {{"attachment-file-name", "mail.sender.example!example.net!1709251200!1709337599.json"}}},
        {"policy-domain-tls-report-domain-first", with(policy_domain_member, ""),
         {{"tls-report-domain", "example.com"},
          {"file-name", "mail.sender.example!example.org!1709251200!1709337599.json"}}},
        {"policy-domain-bad-header-then-file-name", with(policy_domain_member, ""),
         {{"tls-report-domain", "not a domain"},
          {"file-name", "mail.sender.example!example.org!1709251200!1709337599.JSON.GZ"}}},
        {"policy-domain-given-metadata-ignored", minimal, {{"tls-report-domain", "example.org"}}},
        // Informational fields of the wrong type: dropped with a warning, sessions kept.
        {"contact-info-number-dropped", with(R"("tlsrpt@sender.example")", "1")},
        {"failure-detail-strings-of-wrong-type-dropped",
         with({{R"("receiving-mx-hostname":"mx.example.com")", R"("receiving-mx-hostname":25)"},
               {R"("198.51.100.1")", R"(["198.51.100.1"])"},
               {R"("https://sender.example/tlsrpt/r-1")", R"({"uri":"x"})"},
               {R"("X509_V_ERR_CERT_HAS_EXPIRED")", "false"}})},
        // Neither header nor file name (HTTPS, or a file of another name): the report itself.
        {"policy-domain-from-other-policies",
         with(R"("policy-type":"no-policy-found","policy-domain":"example.com")", R"("policy-type":"no-policy-found")", two_policies())},
        {"policy-domain-from-sys4-report-id",
         with({{policy_domain_member, ""}, {R"("report-id":"r-1")", R"("report-id":"2025-09-20T00:00:00Z_idx1_Example.org")"}})},
        {"policy-domain-from-microsoft-report-id",
         with({{policy_domain_member, ""}, {R"("report-id":"r-1")", R"("report-id":"133810389004212345+example.com")"}})},
        {"policy-domain-other-policies-disagree-then-report-id",
         with({{R"("policies":[)",
                R"("policies":[{"policy":{"policy-type":"sts","policy-domain":"example.org"},)"
                R"("summary":{"total-successful-session-count":1,"total-failure-session-count":0}},)"
                R"({"policy":{"policy-type":"no-policy-found"},)"
                R"("summary":{"total-successful-session-count":2,"total-failure-session-count":0}},)"},
               {R"("report-id":"r-1")", R"("report-id":"2025-09-20T00:00:00Z_example.net")"}})},
        {"policy-domain-unknown", with(policy_domain_member, "")},
        {"policy-domain-unknown-unusable-metadata", with({{policy_domain_member, ""}, {R"("report-id":"r-1")", R"("report-id":"x_not-a-domain")"}}),
         {{"tls-report-domain", "not a domain!"}, {"file-name", "report.json"}, {"attachment-file-name", "a!example.org!x!y.json"}}},
        // RFC 8460 §5.6: the body's report-id wins; the Subject's stands in when it is absent.
        {"report-id-body-wins", minimal,
         {{"subject-report-id", "<2024.03.01T00.00.00Z+example.com@sender.example>"}}},
        {"report-id-from-subject", with(R"("report-id":"r-1",)", ""),
         {{"subject-report-id", "<2024.03.01T00.00.00Z+example.com@sender.example>"}}},
        {"byte-order-mark", "\xEF\xBB\xBF" + minimal},
        {"unknown-members-ignored",
         with({{R"("report-id":"r-1",)", R"("report-id":"r-1","x-sender-extension":{"a":[1,2,{"b":null}]},)"},
               {failed_count, R"("failed-session-count":1,"x-detail":true)"}})},
        {"escapes-and-unicode",
         with({{R"("Example Sender")", R"("Beispiel GmbH \u2013 Z\u00fcrich \"Mail\" \\ \/ \ud83d\udce7")"},
               {R"("max_age: 86400")", R"("max_age:\t86400\r")"}})},
        {"three-policies-same-domain",
         with(R"("policies":[)",
              R"("policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},)"
              R"("summary":{"total-successful-session-count":4,"total-failure-session-count":0}},)"
              R"({"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.com","max_age: 86400"],)"
              R"("policy-domain":"example.com","mx-host":["mx.example.com"]},)"
              R"("summary":{"total-successful-session-count":7,"total-failure-session-count":0}},)")},
        {"policy-domain-with-underscore", with(policy_domain_member, R"("policy-domain":"_25._tcp.mx.example.com",)")},
        {"policy-domain-u-label", with(policy_domain_member, R"("policy-domain":"b\u00fccher.example",)")},
        {"both-policy-and-policies", with(R"("report-id":"r-1",)", R"("report-id":"r-1","policy":{"policy-type":"sts"},)")},
        {"all-result-types",
         with({{failure_count, R"("total-failure-session-count":11)"},
               {failure_details_member,
              R"(,"failure-details":[{"result-type":"starttls-not-supported","failed-session-count":1},)"
              R"({"result-type":"certificate-host-mismatch","failed-session-count":1},)"
              R"({"result-type":"certificate-expired","failed-session-count":1},)"
              R"({"result-type":"certificate-not-trusted","failed-session-count":1},)"
              R"({"result-type":"validation-failure","failed-session-count":1},)"
              R"({"result-type":"tlsa-invalid","failed-session-count":1},)"
              R"({"result-type":"dnssec-invalid","failed-session-count":1},)"
              R"({"result-type":"dane-required","failed-session-count":1},)"
              R"({"result-type":"sts-policy-fetch-error","failed-session-count":1},)"
              R"({"result-type":"sts-policy-invalid","failed-session-count":1},)"
              R"({"result-type":"sts-webpki-invalid","failed-session-count":1}])"}})},
    };
}

inline std::vector<bad_case> bad_cases()
{
    parse_limits one_policy;
    one_policy.max_policies = 1;
    parse_limits one_detail;
    one_detail.max_failure_details = 1;
    parse_limits shallow;
    shallow.max_depth = 4;
    const std::string two_details = with(failure_details_member,
        R"(,"failure-details":[{"result-type":"validation-failure","failed-session-count":1},)"
        R"({"result-type":"validation-failure","failed-session-count":1}])");

    return {
        // Not JSON at all.
        {"empty-document", "", "", "not JSON: empty"},
        {"blank-document", " \r\n\t", "", "not JSON: empty"},
        {"truncated", minimal.substr(0, minimal.size() / 2), "", "not JSON"},
        {"trailing-garbage", minimal + "}", "", "not JSON"},
        {"two-documents", minimal + minimal, "", "not JSON"},
        {"raw-nul-in-string", with(R"("r-1")", std::string_view("\"r\0-1\"", 6)), "", "not JSON"},
        {"escaped-nul-in-string", with(R"("r-1")", R"("r\u0000-1")"), "", "not JSON: a string holds a NUL character"},
        {"escaped-nul-in-key", with(R"("report-id":"r-1",)", R"("report-id":"r-1","x\u0000":1,)"), "", "NUL character"},
        {"invalid-utf8", with(R"("Example Sender")", "\"Example \xFF Sender\""), "", "not JSON: invalid UTF-8 at byte offset"},
        {"overlong-utf8", with(R"("Example Sender")", "\"Example \xC0\xAF Sender\""), "", "invalid UTF-8 at byte offset"},
        {"utf8-surrogate", with(R"("Example Sender")", "\"Example \xED\xA0\x80 Sender\""), "", "invalid UTF-8 at byte offset"},
        {"raw-tab-in-string", with(R"("r-1")", "\"r\t1\""), "", "not JSON"},
        {"number-out-of-range", with(success_count, R"("total-successful-session-count":1e400)"), "", "not JSON"},
        {"lone-surrogate-escape", with(R"("Example Sender")", R"("Example \ud800 Sender")"), "", "not JSON"},
        {"comment", with(R"("report-id":"r-1",)", R"("report-id":"r-1", /* c */)"), "", "not JSON"},
        {"single-quotes", "{'organization-name':'x'}", "", "not JSON"},
        {"number-too-long", with(success_count, R"("total-successful-session-count":123456789012345678901234567890)"), "", "not JSON"},
        {"too-deep-for-limit", minimal, "", "deeper than the limit of 4", {}, shallow},
        {"deeply-nested-extension",
         with(R"("report-id":"r-1",)", "\"report-id\":\"r-1\",\"x\":" + std::string(200, '[') + std::string(200, ']') + ","),
         "", "deeper than the limit"},
        // JSON, but not a TLS report.
        {"xml-document", R"(<?xml version="1.0"?><feedback/>)", "", "not a TLS report"},
        {"top-level-string", R"("organization-name")", "", "not a TLS report"},
        {"top-level-number", "42", "", "not a TLS report"},
        {"top-level-array", "[" + minimal + "]", "", "not a TLS report: the JSON document is an array"},
        {"empty-object", "{}", "", "not a TLS report"},
        {"dmarc-like-object", R"({"feedback":{"report_metadata":{"org_name":"x"}}})", "", "not a TLS report"},
        // Draft-era schema (draft-ietf-uta-smtp-tlsrpt before RFC 8460).
        {"draft-singular-policy",
         R"({"organization-name":"Company-X","date-range":{"start-datetime":"2017-11-02T00:00:00Z","end-datetime":"2017-11-02T23:59:59Z"},)"
         R"("report-id":"d1","policy":{"policy-type":"sts","policy-domain":"example.com"},)"
         R"("summary":{"success-aggregate":120,"failure-aggregate":0}})",
         "", "pre-RFC draft schema"},
        {"draft-aggregates-in-policies", with(summary_member, R"("summary":{"success-aggregate":10,"failure-aggregate":1})"),
         "policies[0].summary", "pre-RFC draft schema"},
        {"draft-session-count", with(failed_count, R"("session-count":1)"),
         "policies[0].failure-details[0].session-count", "pre-RFC draft schema"},
        // Report metadata.
        {"organization-name-missing", with(R"("organization-name":"Example Sender",)", ""), "organization-name", "missing"},
        {"organization-name-null", with(R"("Example Sender")", "null"), "organization-name", "missing (null)"},
        {"organization-name-number", with(R"("Example Sender")", "7"), "organization-name", "expected a string, found a number"},
        {"organization-name-empty", with(R"("Example Sender")", R"("")"), "organization-name", "empty"},
        {"date-range-missing",
         with(R"("date-range":{"start-datetime":"2024-03-01T00:00:00Z","end-datetime":"2024-03-01T23:59:59Z"},)", ""),
         "date-range", "missing"},
        {"date-range-string",
         with(R"({"start-datetime":"2024-03-01T00:00:00Z","end-datetime":"2024-03-01T23:59:59Z"})", R"("2024-03-01")"),
         "date-range", "expected an object, found a string"},
        {"start-datetime-missing", with(R"("start-datetime":"2024-03-01T00:00:00Z",)", ""), "date-range.start-datetime", "missing"},
        {"start-datetime-words", with(start_value, R"("yesterday")"), "date-range.start-datetime", "not an RFC 3339 date-time"},
        {"start-datetime-epoch-number", with(start_value, "1709251200"), "date-range.start-datetime", "expected a string, found a number"},
        {"start-datetime-date-only", with(start_value, R"("2024-03-01")"), "date-range.start-datetime", "expected \"T\""},
        {"end-datetime-missing", with(R"(,"end-datetime":"2024-03-01T23:59:59Z")", ""), "date-range.end-datetime", "missing"},
        {"end-datetime-month-13", with(end_value, R"("2024-13-01T23:59:59Z")"), "date-range.end-datetime", "month 13 out of range"},
        {"end-datetime-february-30", with(end_value, R"("2024-02-30T23:59:59Z")"), "date-range.end-datetime", "day 30 out of range"},
        {"end-datetime-february-29-2023", with(end_value, R"("2023-02-29T23:59:59Z")"), "date-range.end-datetime", "day 29 out of range"},
        {"end-datetime-hour-24", with(end_value, R"("2024-03-01T24:00:00Z")"), "date-range.end-datetime", "hour 24 out of range"},
        {"end-datetime-offset-out-of-range", with(end_value, R"("2024-03-01T23:59:59+24:00")"), "date-range.end-datetime", "zone offset out of range"},
        {"start-datetime-offset-before-year-0", with(start_value, R"("0000-01-01T00:00:00+01:00")"), "date-range.start-datetime", "before 0000-01-01T00:00:00Z"},
        {"end-datetime-offset-after-year-9999", with(end_value, R"("9999-12-31T23:59:59-01:00")"), "date-range.end-datetime", "after 9999-12-31T23:59:59Z"},
        {"end-datetime-trailing-text", with(end_value, R"("2024-03-01T23:59:59Z UTC")"), "date-range.end-datetime", "unexpected text"},
        {"report-id-missing", with(R"("report-id":"r-1",)", ""), "report-id", "missing"},
        {"report-id-null", with(R"("report-id":"r-1")", R"("report-id":null)"), "report-id", "missing (null)"},
        {"report-id-empty", with(R"("report-id":"r-1")", R"("report-id":"")"), "report-id", "empty"},
        {"report-id-number", with(R"("report-id":"r-1")", R"("report-id":12)"), "report-id", "expected a string, found a number"},
        // Policies.
        {"policies-missing", with(R"("policies":[)", R"("x":[)"), "policies", "missing"},
        {"policies-object", with({{R"("policies":[)", R"("policies":)"}, {"}]}]}", "}]}}"}}), "policies", "expected an array, found an object"},
        {"policies-empty",
         R"({"organization-name":"x","date-range":{"start-datetime":"2024-03-01T00:00:00Z","end-datetime":"2024-03-01T23:59:59Z"},)"
         R"("report-id":"r-1","policies":[]})",
         "policies", "empty"},
        {"policies-over-limit", two_policies(), "policies", "more than the limit of 1", {}, one_policy},
        {"policy-entry-string", with(R"("policies":[)", R"("policies":["sts",)"), "policies[0]", "expected an object, found a string"},
        {"policy-missing", with(R"("policy":{"policy-type":"sts",)", R"("x":{"policy-type":"sts",)"), "policies[0].policy", "missing"},
        {"policy-array",
         with({{R"("policy":{"policy-type":"sts",)", R"("policy":[{"policy-type":"sts",)"},
               {R"(,"mx-host":["mx.example.com"]},)", R"(,"mx-host":["mx.example.com"]}],)"}}),
         "policies[0].policy", "expected an object, found an array"},
        {"policy-type-missing", with(R"("policy-type":"sts",)", ""), "policies[0].policy.policy-type", "missing"},
        {"policy-type-unknown", with(R"("policy-type":"sts")", R"("policy-type":"dane")"), "policies[0].policy.policy-type", "unknown policy-type \"dane\""},
        {"policy-type-number", with(R"("policy-type":"sts")", R"("policy-type":1)"), "policies[0].policy.policy-type", "expected a string, found a number"},
        {"policy-domain-with-space", with(policy_domain_member, R"("policy-domain":"exa mple.com",)"), "policies[0].policy.policy-domain", "not a domain name"},
        {"policy-domain-wildcard", with(policy_domain_member, R"("policy-domain":"*.example.com",)"), "policies[0].policy.policy-domain", "not a domain name"},
        {"policy-domain-empty-label", with(policy_domain_member, R"("policy-domain":"example..com",)"), "policies[0].policy.policy-domain", "not a domain name"},
        {"policy-domain-email", with(policy_domain_member, R"("policy-domain":"postmaster@example.com",)"), "policies[0].policy.policy-domain", "not a domain name"},
        {"policy-domain-number", with(policy_domain_member, R"("policy-domain":5,)"), "policies[0].policy.policy-domain", "expected a string, found a number"},
        {"policy-string-number", with(policy_string_member, R"("policy-string":5,)"), "policies[0].policy.policy-string", "expected an array of strings, found a number"},
        {"policy-string-line-number", with(R"("mode: enforce")", "5"), "policies[0].policy.policy-string[1]", "expected a string, found a number"},
        {"mx-host-object", with(mx_host_member, R"(,"mx-host":{"a":"b"})"), "policies[0].policy.mx-host", "expected an array of strings, found an object"},
        {"mx-host-item-null", with(mx_host_member, R"(,"mx-host":["mx.example.com",null])"), "policies[0].policy.mx-host[1]", "expected a string, found null"},
        // Summary and counts.
        {"summary-missing", with(summary_member, R"("x":{})"), "policies[0].summary", "missing"},
        {"summary-array", with(summary_member, R"("summary":[10,1])"), "policies[0].summary", "expected an object, found an array"},
        {"total-successful-missing", with(R"("total-successful-session-count":10,)", ""),
         "policies[0].summary.total-successful-session-count", "missing"},
        {"total-failure-missing", with(R"(,"total-failure-session-count":1)", ""),
         "policies[0].summary.total-failure-session-count", "missing"},
        {"count-negative", with(failure_count, R"("total-failure-session-count":-1)"),
         "policies[0].summary.total-failure-session-count", "negative count -1"},
        {"count-negative-float", with(failure_count, R"("total-failure-session-count":-2.0)"),
         "policies[0].summary.total-failure-session-count", "negative count"},
        {"count-fraction", with(failure_count, R"("total-failure-session-count":1.5)"),
         "policies[0].summary.total-failure-session-count", "not an integer"},
        {"count-word", with(failure_count, R"("total-failure-session-count":"many")"),
         "policies[0].summary.total-failure-session-count", "found the string \"many\""},
        {"count-negative-string", with(failure_count, R"("total-failure-session-count":"-1")"),
         "policies[0].summary.total-failure-session-count", "found the string \"-1\""},
        {"count-boolean", with(failure_count, R"("total-failure-session-count":true)"),
         "policies[0].summary.total-failure-session-count", "found a boolean"},
        {"count-null", with(failure_count, R"("total-failure-session-count":null)"),
         "policies[0].summary.total-failure-session-count", "missing (null)"},
        {"count-above-int64", with(success_count, R"("total-successful-session-count":9223372036854775808)"),
         "policies[0].summary.total-successful-session-count", "too large"},
        {"count-huge-float", with(success_count, R"("total-successful-session-count":1e19)"),
         "policies[0].summary.total-successful-session-count", "too large"},
        {"count-in-first-of-two-policies", with(R"("total-failure-session-count":0})", R"("total-failure-session-count":-3})", two_policies()),
         "policies[0].summary.total-failure-session-count", "negative count -3"},
        {"count-in-second-policy-index", with(failure_count, R"("total-failure-session-count":-3)", two_policies()),
         "policies[1].summary.total-failure-session-count", "negative count -3"},
        // Failure details.
        {"failure-details-object", with(failure_details_member, R"(,"failure-details":{"result-type":"x"})"),
         "policies[0].failure-details", "expected an array, found an object"},
        {"failure-details-over-limit", two_details, "policies[0].failure-details", "more than the limit of 1", {}, one_detail},
        {"failure-detail-string", with(failure_details_member, R"(,"failure-details":["validation-failure"])"),
         "policies[0].failure-details[0]", "expected an object, found a string"},
        {"result-type-missing", with(R"("result-type":"certificate-expired",)", ""),
         "policies[0].failure-details[0].result-type", "missing"},
        {"result-type-empty", with(R"("certificate-expired")", R"("")"),
         "policies[0].failure-details[0].result-type", "empty"},
        {"result-type-number", with(R"("certificate-expired")", "3"),
         "policies[0].failure-details[0].result-type", "expected a string, found a number"},
        {"failed-session-count-missing", with(R"("failed-session-count":1,)", ""),
         "policies[0].failure-details[0].failed-session-count", "missing"},
        {"failed-session-count-null", with(failed_count, R"("failed-session-count":null)"),
         "policies[0].failure-details[0].failed-session-count", "missing (null)"},
        {"failed-session-count-in-second-detail",
         with(R"({"result-type":"validation-failure","failed-session-count":1}])", R"({"result-type":"validation-failure","failed-session-count":-1}])", two_details),
         "policies[0].failure-details[1].failed-session-count", "negative count -1"},
    };
}

inline std::vector<sample_file> sample_files()
{
    const auto sts = policy_type::sts;
    const auto tlsa = policy_type::tlsa;
    const auto none = policy_type::no_policy_found;
    return {
        {"google.json", {}, true, "Google Inc.", "2025-07-08T00:00:00Z_example.com",
         {{none, "example.com", 4, 0, 0}, {sts, "example.com", 120, 0, 0}, {sts, "example.com", 45, 2, 1}}},
        {"microsoft-sts.json", {}, true, "Microsoft Corporation", "133810389004212345+example.com",
         {{sts, "example.com", 87, 3, 1}}},
        {"microsoft-tlsa.json", {}, true, "Microsoft Corporation", "133751040005551234+example.net",
         {{tlsa, "mx.example.net", 310, 0, 0}, {sts, "example.net", 310, 0, 0}}},
        {"microsoft-fetch-error.json", {}, true, "Microsoft Corporation", "133318944001234567+example.org",
         {{sts, "example.org", 0, 12, 1}}},
        {"mailru.json", {}, true, "Mail.Ru", "1714608000.example.org", {{sts, "example.org", 0, 2, 2}}},
        {"stalwart.json", {}, true, "mail.example.net", "17079.mail.example.net.4f2a",
         {{sts, "example.com", 9, 0, 0}, {none, "example.org", 0, 1, 1}}},
        // No policy-domain in the report: filled from the TLS-Report-Domain header.
        {"postfix-sys4.json", {{"tls-report-domain", "example.org"}}, true, "mail.sender.example",
         "2025-09-20T00:00:00Z_idx1_example.org", {{none, "example.org", 17, 0, 0}}},
        {"socketlabs.json", {}, true, "SocketLabs, Inc.", "5F2766C4A3E94B1A8D0C7E6F9B2A1D3C",
         {{sts, "example.com", 1520, 6, 1}}},
        {"rfc8460-example.json", {}, true, "Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
         {{sts, "company-y.example", 5326, 303, 3}}},
        {"draft-era.json", {}, false, {}, {}, {}, "pre-RFC draft schema"},
    };
}

} // namespace stswatch::report_cases
