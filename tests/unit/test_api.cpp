// The JSON API's handler without a socket nor a database (analyzer/api.hpp): authentication
// first, then the routing, the methods and the parameters that are refused before any
// store is read; and a stored report's views (analyzer/report_view.hpp), pure.
#include "analyzer/api.hpp"
#include "analyzer/report_view.hpp"
#include "tlsrpt/decode.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <catch2/catch.hpp>

using namespace stswatch;
using namespace stswatch::web;

namespace {

const std::string token = "unit-test-token-0123456789";

stswatch::settings api_settings()
{
    stswatch::settings s;
    // Nothing listens here: a handler that reached the store would fail the test.
    s.db_url = "host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=1";
    s.api_token = token;
    return s;
}

request make(const std::string& method, const std::string& path, const std::string& query = "", bool auth = true)
{
    request r;
    r.method = method;
    r.path = path;
    r.query = parse_query(query);
    if (auth)
        r.headers.emplace_back("authorization", "Bearer " + token);
    return r;
}

std::string reason(const response& r)
{
    Poco::JSON::Parser parser;
    return parser.parse(r.body).extract<Poco::JSON::Object::Ptr>()->getObject("error")->getValue<std::string>("reason");
}

std::string header(const response& r, const std::string& name)
{
    for (const auto& [k, v] : r.headers)
        if (k == name)
            return v;
    return {};
}

stored_report sample_report(const std::string& encoding)
{
    const std::string json =
        R"({"organization-name":"Example Sender","date-range":{"start-datetime":"2026-11-01T00:00:00Z",)"
        R"("end-datetime":"2026-11-01T23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":"r/1",)"
        R"("policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce",)"
        R"("mx: mx.example.com","max_age: 86400"],"policy-domain":"Example.COM","mx-host":["mx.example.com"]},)"
        R"("summary":{"total-successful-session-count":10,"total-failure-session-count":0}}]})";
    stored_report r;
    r.row.key = 42;
    r.row.organization_name = "Example Sender";
    r.row.report_id = "r/1";
    r.row.start_datetime = *parse_date_or_datetime("2026-11-01T00:00:00Z");
    r.row.end_datetime = *parse_date_or_datetime("2026-11-01T23:59:59Z");
    r.row.policy_domains = {"example.com"};
    r.row.successful_sessions = 10;
    r.row.transports = {"smtp"};
    r.row.received_at = *parse_date_or_datetime("2026-11-02T01:00:00Z");
    r.row.dkim_state = "pass";
    r.row.dkim_domain = "sender.example";
    r.raw_gzip = gzip_compress(json);
    r.raw_encoding = encoding;
    r.raw_size = static_cast<std::int64_t>(encoding == "gzip" ? r.raw_gzip.size() : json.size());
    r.metadata_json = R"({"tls-report-submitter":"sender.example","dkim-domain":"sender.example"})";
    return r;
}

} // namespace

TEST_CASE("the API answers 401 before anything else without the token", "[api]")
{
    services s(api_settings());
    for (const auto* path : {"/api/v1/domains", "/api/v1/reports/1", "/api/v1/nothing", "/api/v2", "/api/v1"}) {
        for (const auto* method : {"GET", "POST", "DELETE"}) {
            auto r = make(method, path, "", false);
            const auto a = handle_api(r, s);
            CHECK(a.status == 401);
            CHECK(header(a, "WWW-Authenticate") == "Bearer realm=\"stswatch\"");
            r.headers.emplace_back("authorization", "Bearer " + token.substr(1));
            CHECK(handle_api(r, s).status == 401);
        }
    }
}

TEST_CASE("the API refuses wrong methods and bad parameters without reading the store", "[api]")
{
    services s(api_settings());
    auto a = handle_api(make("DELETE", "/api/v1/reports"), s);
    CHECK(a.status == 405);
    CHECK(header(a, "Allow") == "GET, HEAD");
    a = handle_api(make("GET", "/api/v1/domains/example.com/settings"), s);
    CHECK(a.status == 405);
    CHECK(header(a, "Allow") == "PUT, POST");
    a = handle_api(make("GET", "/api/v1/domains/example.com/trends", "since=2026-11-30&until=2026-11-01"), s);
    CHECK(a.status == 400);
    CHECK(reason(a) == "since: 2026-11-30 is after until 2026-11-01");
    a = handle_api(make("GET", "/api/v1/domains/example.com/trends", "by=hour"), s);
    CHECK(a.status == 400);
    CHECK(reason(a) == "by: \"hour\" is not day, week or month");
    a = handle_api(make("GET", "/api/v1/domains/-bad-/explain"), s);
    CHECK(a.status == 400);
    CHECK(reason(a).rfind("domain: \"-bad-\"", 0) == 0);
    a = handle_api(make("GET", "/api/v1/reports", "limit=1000"), s);
    CHECK(a.status == 400);
    CHECK(reason(a).rfind("limit: \"1000\"", 0) == 0);
    a = handle_api(make("GET", "/api/v1/reports", "cursor=r1.-5"), s);
    CHECK(a.status == 400);
    CHECK(reason(a).rfind("cursor: \"r1.-5\"", 0) == 0);
    a = handle_api(make("GET", "/api/v1/reports/0"), s);
    CHECK(a.status == 400);
    a = handle_api(make("GET", "/api/v1/domains/example.com/nothing"), s);
    CHECK(a.status == 404);
    // A write by session without the CSRF token is refused before its body is read.
    request w = make("POST", "/api/v1/domains", "", false);
    const auto cookie = s.sessions().issue(std::chrono::system_clock::now());
    w.headers.emplace_back("cookie", std::string(session_cookie_name) + "=" + cookie);
    w.body = "{\"domain\":\"example.com\"}";
    a = handle_api(w, s);
    CHECK(a.status == 403);
}

TEST_CASE("a stored report as parsed: the parse contract with the stored facts in front", "[api]")
{
    const auto r = sample_report("json");
    const std::string json = report_view_json(r, 1 << 20, 32);
    REQUIRE_FALSE(json.empty());
    CHECK(json.back() == '\n');
    Poco::JSON::Parser parser;
    const auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    CHECK(o->getValue<int>("id") == 42);
    CHECK(o->getValue<std::string>("received_at") == "2026-11-02T01:00:00Z");
    CHECK(o->getArray("transports")->getElement<std::string>(0) == "smtp");
    CHECK(o->getValue<std::string>("source") == "/api/v1/reports/42/raw");
    const auto report = o->getObject("report");
    CHECK(report->getValue<std::string>("organization-name") == "Example Sender");
    // Canonical: domain names lower-case.
    CHECK(report->getArray("policies")->getObject(0)->getObject("policy")->getValue<std::string>("policy-domain")
          == "example.com");
    CHECK(o->getObject("metadata")->getValue<std::string>("tls-report-submitter") == "sender.example");
    CHECK(json.find("\"id\":42,\"received_at\"") == 1);
}

TEST_CASE("a stored report's raw form: the body as received with an RFC 8460 file name", "[api]")
{
    auto r = sample_report("gzip");
    auto d = report_raw_download(r, 1 << 20);
    CHECK(d.content_type == "application/tlsrpt+gzip");
    CHECK(d.body == r.raw_gzip);
    CHECK(d.file_name == "sender.example!example.com!1793491200!1793577599!r_1.json.gz");
    r = sample_report("json");
    d = report_raw_download(r, 1 << 20);
    CHECK(d.content_type == "application/tlsrpt+json");
    CHECK(d.body.front() == '{');
    CHECK(static_cast<std::int64_t>(d.body.size()) == r.raw_size);
    CHECK(d.file_name == "sender.example!example.com!1793491200!1793577599!r_1.json");

    const std::string item = report_item_json(r.row);
    CHECK(item.find("\"dkim\":{\"state\":\"pass\",\"domain\":\"sender.example\"}") != std::string::npos);
    CHECK(item.find("\"links\":{\"self\":\"/api/v1/reports/42\",\"raw\":\"/api/v1/reports/42/raw\"}") != std::string::npos);
}
