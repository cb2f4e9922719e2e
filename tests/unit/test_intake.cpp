// The decisions of the HTTPS intake for one body (RFC 8460 §5.4), without network or
// database: labels, sniffing, limits, parsing and accepted domains.
#include "tlsrpt/decode.hpp"
#include "collector/intake.hpp"
#include "tests/support/sample_reports.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace stswatch;
using namespace std::string_literals;

namespace {

// The Google sample with the report id these tests use.
std::string google_report(const std::string& domain = "example.com")
{
    return test::google_report("2025-07-08T00:00:00Z_example.com", domain);
}

// The Microsoft sample with the report id these tests use.
std::string microsoft_report(const std::string& domain = "example.org")
{
    return test::microsoft_fetch_error_report("133810389004212345+" + domain, domain);
}

// One report naming two policy domains.
std::string two_domain_report(const std::string& first, const std::string& second)
{
    auto policy = [](const std::string& d) {
        return R"({"policy":{"policy-type":"no-policy-found","policy-domain":")" + d + R"("},)"
               R"("summary":{"total-successful-session-count":1,"total-failure-session-count":0}})";
    };
    return R"({"organization-name":"mail.example.net","date-range":{"start-datetime":"2025-01-01T00:00:00Z",)"
           R"("end-datetime":"2025-01-01T23:59:59Z"},"contact-info":"tlsrpt@example.net",)"
           R"("report-id":"two-domains","policies":[)" + policy(first) + "," + policy(second) + "]}";
}

https_receiver_options test_options()
{
    https_receiver_options o;
    o.accept_domains = {"example.com", "example.org"};
    o.max_body_bytes = 64 * 1024;
    o.max_report_bytes = 256 * 1024;
    o.max_json_depth = 32;
    return o;
}

const std::string peer = "192.0.2.7:41234";

} // namespace

TEST_CASE("reports are accepted whatever their label says, by their first bytes")
{
    const auto json = google_report();
    const auto gz = gzip_compress(json);
    const auto ms = microsoft_report();

    struct good {
        const char* name;
        std::string content_type, content_encoding, body;
        std::string stored_raw;   // what is kept as the raw report
        bool raw_is_gzip;
    };
    const std::vector<good> table{
        {"RFC 8460 gzip type", "application/tlsrpt+gzip", "", gz, gz, true},
        {"RFC 8460 JSON type", "application/tlsrpt+json", "", ms, ms, false},
        {"gzip labelled octet-stream", "application/octet-stream", "", gz, gz, true},
        {"gzip labelled application/json", "application/json", "", gz, gz, true},
        {"gzip labelled application/gzip", "application/gzip", "", gz, gz, true},
        {"gzip labelled application/x-gzip", "application/x-gzip", "", gz, gz, true},
        {"case, parameters and spaces ignored", " Application/TLSRPT+GZIP ; charset=binary", "", gz, gz, true},
        {"no Content-Type at all", "", "", json, json, false},
        {"text/plain", "text/plain; charset=utf-8", "", json, json, false},
        {"curl's default form type", "application/x-www-form-urlencoded", "", json, json, false},
        {"JSON with Content-Encoding: gzip", "application/tlsrpt+json", "gzip", gz, gz, true},
        {"x-gzip coding", "application/tlsrpt+json", "x-gzip", gz, gz, true},
        {"gzip report with Content-Encoding: gzip on top", "application/tlsrpt+gzip", "gzip",
         gzip_compress(gz), gz, true},
        {"Content-Encoding: gzip over a body that is plain JSON", "application/tlsrpt+json", "GZIP", json,
         json, false},
        {"identity coding", "application/tlsrpt+json", "identity", json, json, false},
        {"UTF-8 byte order mark before the JSON", "application/json", "", "\xEF\xBB\xBF" + json,
         "\xEF\xBB\xBF" + json, false},
    };
    for (const auto& c : table) {
        INFO(c.name);
        auto d = examine_report_body(test_options(), c.content_type, c.content_encoding, c.body, peer,
                                     "test-agent/1.0");
        if (d.refusal) FAIL_CHECK(d.refusal->status << " " << d.refusal->body);
        REQUIRE_FALSE(d.refusal.has_value());
        CHECK(d.report.raw == c.stored_raw);
        CHECK(d.report.raw_is_gzip == c.raw_is_gzip);
        CHECK(d.report.via == transport::https);
        CHECK(d.report.source_address == "192.0.2.7");
        REQUIRE_FALSE(d.report.report.policies.empty());
        CHECK(d.report.metadata.fields["user-agent"] == "test-agent/1.0");
    }
}

TEST_CASE("the accepted report is the one that was sent")
{
    auto d = examine_report_body(test_options(), "application/tlsrpt+json", "", microsoft_report(), peer);
    REQUIRE_FALSE(d.refusal.has_value());
    const auto& r = d.report.report;
    CHECK(r.organization_name == "Microsoft Corporation");
    CHECK(r.report_id == "133810389004212345+example.org");
    // Microsoft (2023): no zone, read as UTC; 2023-01-10T00:00:00Z is 1673308800.
    CHECK(r.start_datetime.seconds == 1673308800);
    REQUIRE(r.policies.size() == 1);
    CHECK(r.policies[0].policy_domain == "example.org");
    CHECK(r.policies[0].total_failure_session_count == 4);
    CHECK(d.report.metadata.fields["content-type"] == "application/tlsrpt+json");
    CHECK(d.report.metadata.fields.count("content-encoding") == 0);
}

TEST_CASE("bodies that are not acceptable reports are refused with the reason")
{
    const auto json = google_report();
    const auto gz = gzip_compress(json);
    std::string bomb = gzip_compress(std::string(8 * 1024 * 1024, ' '));   // ~8 KB inflating to 8 MB
    std::string deep(200, '[');
    deep += std::string(200, ']');

    struct bad {
        const char* name;
        std::string content_type, content_encoding, body;
        int status;
        std::string reason;   // a part of the one-line answer
    };
    const std::vector<bad> table{
        {"HTML page", "text/html; charset=utf-8", "", json, 415, "text/html"},
        {"form upload", "multipart/form-data; boundary=xyz", "", json, 415, "multipart/form-data"},
        {"image", "image/png", "", gz, 415, "image/png"},
        {"XML", "application/xml", "", json, 415, "application/xml"},
        {"unknown content coding", "application/tlsrpt+json", "br", json, 415, "Content-Encoding br"},
        {"empty body", "application/tlsrpt+json", "", "", 400, "empty"},
        {"report type, body neither gzip nor JSON", "application/tlsrpt+json", "", "hello", 400,
         "neither gzip nor JSON"},
        {"JSON type, body neither gzip nor JSON", "application/json", "", "hello", 400, "neither gzip nor JSON"},
        {"generic type, body neither gzip nor JSON", "application/octet-stream", "", "hello", 415,
         "neither gzip nor JSON"},
        {"no type, PNG bytes", "", "", "\x89PNG\r\n\x1a\n", 415, "neither gzip nor JSON"},
        {"garbage JSON", "application/tlsrpt+json", "", R"({"organization-name": )", 400, "not a valid TLS report"},
        {"JSON that is not a report", "application/json", "", R"({"hello":"world"})", 400,
         "not a valid TLS report"},
        {"draft-era report", "application/tlsrpt+json", "",
         R"({"organization-name":"Old","date-range":{"start-datetime":"2017-01-01T00:00:00Z",)"
         R"("end-datetime":"2017-01-01T23:59:59Z"},"contact-info":"a@b.example","report-id":"x",)"
         R"("policy":{"policy-type":"sts","policy-domain":"example.com"},"success-aggregate":1})",
         400, "not a valid TLS report"},
        {"JSON nested beyond the depth limit", "application/json", "", deep, 400, "not a valid TLS report"},
        {"truncated gzip", "application/tlsrpt+gzip", "", gz.substr(0, gz.size() / 2), 400, "cannot be inflated"},
        {"corrupt gzip", "application/tlsrpt+gzip", "", "\x1f\x8b\x08\x00garbage-garbage-garbage"s, 400,
         "cannot be inflated"},
        {"gzip bomb", "application/tlsrpt+gzip", "", bomb, 413, "inflates to more than 262144 bytes"},
        {"body over max_body_bytes", "application/tlsrpt+json", "", json + std::string(70 * 1024, ' '), 413,
         "larger than 65536 bytes"},
        {"policy domain not accepted", "application/tlsrpt+json", "", google_report("evil.example"), 403,
         "evil.example"},
    };
    for (const auto& c : table) {
        INFO(c.name);
        auto d = examine_report_body(test_options(), c.content_type, c.content_encoding, c.body, peer);
        REQUIRE(d.refusal.has_value());
        CHECK(d.refusal->status == c.status);
        CHECK_THAT(d.refusal->body, Catch::Contains(c.reason));
        CHECK(d.refusal->body.find('\n') == std::string::npos);
        CHECK(d.refusal->body.find('\r') == std::string::npos);
    }
}

TEST_CASE("every policy domain of a report must be accepted")
{
    SECTION("one foreign domain refuses the whole report, naming only that domain")
    {
        auto d = examine_report_body(test_options(), "application/tlsrpt+json", "",
                                     two_domain_report("example.com", "other.example"), peer);
        REQUIRE(d.refusal.has_value());
        CHECK(d.refusal->status == 403);
        CHECK_THAT(d.refusal->body, Catch::Contains("other.example"));
        CHECK_THAT(d.refusal->body, !Catch::Contains("example.com"));
        // The log line names the report even when it is refused.
        CHECK(d.refusal->report_id == "two-domains");
        CHECK(d.refusal->organization == "mail.example.net");
    }
    SECTION("all accepted")
    {
        auto d = examine_report_body(test_options(), "application/tlsrpt+json", "",
                                     two_domain_report("example.com", "example.org"), peer);
        CHECK_FALSE(d.refusal.has_value());
    }
    SECTION("accepted domains compare without case and trailing dot")
    {
        auto o = test_options();
        o.accept_domains = {"Example.COM."};
        auto d = examine_report_body(o, "application/tlsrpt+gzip", "", gzip_compress(google_report()), peer);
        CHECK_FALSE(d.refusal.has_value());
    }
    SECTION("an empty list accepts any domain")
    {
        auto o = test_options();
        o.accept_domains.clear();
        auto d = examine_report_body(o, "application/tlsrpt+json", "", google_report("anything.example"), peer);
        CHECK_FALSE(d.refusal.has_value());
    }
    SECTION("a subdomain of an accepted domain is another policy domain")
    {
        auto d = examine_report_body(test_options(), "application/tlsrpt+json", "",
                                     google_report("sub.example.com"), peer);
        REQUIRE(d.refusal.has_value());
        CHECK(d.refusal->status == 403);
    }
}

TEST_CASE("a complete gzip member followed by stray bytes is accepted with a warning")
{
    // Seen on the DMARC side (docs/senders.md): a CRLF after the gzip member.
    auto d = examine_report_body(test_options(), "application/tlsrpt+gzip", "",
                                 gzip_compress(google_report()) + "\r\n", peer);
    REQUIRE_FALSE(d.refusal.has_value());
    CHECK_FALSE(d.report.warnings.empty());
}

TEST_CASE("the limits come from the options")
{
    auto o = test_options();
    const auto gz = gzip_compress(google_report());
    SECTION("inflated size")
    {
        o.max_report_bytes = 100;   // the report itself is larger
        auto d = examine_report_body(o, "application/tlsrpt+gzip", "", gz, peer);
        REQUIRE(d.refusal.has_value());
        CHECK(d.refusal->status == 413);
    }
    SECTION("JSON depth")
    {
        o.max_json_depth = 2;   // the report nests deeper than that
        auto d = examine_report_body(o, "application/tlsrpt+gzip", "", gz, peer);
        REQUIRE(d.refusal.has_value());
        CHECK(d.refusal->status == 400);
    }
}

TEST_CASE("options are read from the settings")
{
    settings s;
    s.https_path = "/tlsrpt";
    s.accept_domains = {"Example.COM.", "example.org"};
    s.https_threads = 8;
    s.https_max_connections = 20;
    s.https_request_timeout = 5;
    s.https_idle_timeout = 2;
    const auto o = https_receiver_options::from(s);
    CHECK(o.path == "/tlsrpt");
    CHECK(o.accept_domains == std::vector<std::string>{"example.com", "example.org"});
    CHECK(o.threads == 8);
    CHECK(o.max_queued == 12);
    CHECK(o.request_timeout == 5);
    CHECK(o.idle_timeout == 2);
    CHECK(o.max_body_bytes == s.max_body_bytes);
    CHECK(o.max_report_bytes == s.max_report_bytes);
}
