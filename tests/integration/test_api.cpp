// The JSON API over real HTTP (docs/api.md): the listener in-process (services, web_server
// and make_router on port 0) in front of a seeded timeline's database; every endpoint with
// and without the token, the CLI's JSON contracts, the documented errors, paging while
// reports arrive, the raw forms, the write side by token and by dashboard session (with and
// without its CSRF token), and one request over HTTPS.
#include "analyzer/api_contracts.hpp"
#include "analyzer/explain.hpp"
#include "analyzer/health.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/trends.hpp"
#include "analyzer/web.hpp"
#include "analyzer/web_server.hpp"
#include "store/analysis_store.hpp"
#include "store/monitor_store.hpp"
#include "store/report_store.hpp"
#include "tests/support/test_support.hpp"
#include "tests/support/timeline.hpp"
#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;

namespace {

const std::string token = "t0ken-of-the-api-listener-0123456789";

struct reply {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;   // names as sent
    std::string header(const std::string& name) const
    {
        for (const auto& [k, v] : headers)
            if (Poco::icompare(k, name) == 0)
                return v;
        return {};
    }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

reply exchange(Poco::Net::HTTPClientSession& session, const std::string& method, const std::string& path,
               const header_list& headers, const std::string& body, const std::string& content_type)
{
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers)
        request.set(k, v);
    if (!content_type.empty())
        request.setContentType(content_type);
    if (method != "GET" && method != "HEAD")
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    auto& out = session.sendRequest(request);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    auto& in = session.receiveResponse(response);
    reply r;
    r.status = response.getStatus();
    Poco::StreamCopier::copyToString(in, r.body);
    for (const auto& [k, v] : response)
        r.headers[k] = v;
    return r;
}

header_list bearer(const std::string& t = token) { return {{"Authorization", "Bearer " + t}}; }

Poco::JSON::Object::Ptr object_of(const std::string& json)
{
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

std::string reason_of(const reply& r)
{
    return object_of(r.body)->getObject("error")->getValue<std::string>("reason");
}

// An sts entry of the policy text, its mx patterns as mx-host.
policy_spec sts_entry(const std::string& policy, std::int64_t successful, std::vector<failure_spec> failures = {})
{
    policy_spec p;
    p.policy_string = policy_lines(policy);
    for (const auto& line : p.policy_string)
        if (line.rfind("mx: ", 0) == 0)
            p.mx_host.push_back(line.substr(4));
    p.successful = successful;
    p.failures = std::move(failures);
    return p;
}

const std::vector<std::string> senders = {"Google Inc.", "Microsoft Corporation", "Yahoo Inc.", "Comcast"};

// example.com over 30 days: mx2 added on day 17 and not covered by the policy, four
// senders failing validation there from then on; incidents refreshed.
struct api_fixture {
    api_fixture(bool tls = false) : t("example.com")
    {
        deployment_state before;
        before.policy_text = policy_text({t.mx("mx1")});
        before.mx = {{t.mx("mx1"), 10}};
        deployment_state after = before;
        after.mx.push_back({t.mx("mx2"), 10, "2027-06-01T00:00:00Z", true, true, "bb22"});
        after.findings = {make_finding("mx-not-covered", t.mx("mx2"),
                                       t.mx("mx2") + " is an MX of example.com but matches none of the policy's mx patterns")};
        t.check_daily(1, 17, before);
        t.check(t.at(17, 9, 12), after);
        t.check_daily(18, 30, after);
        for (const auto& org : senders) {
            t.daily(org, 1, 16, [&](int) { return std::vector{sts_entry(before.policy_text, 200)}; });
            t.daily(org, 17, 30, [&](int) {
                return std::vector{sts_entry(before.policy_text, 150, {{"validation-failure", t.mx("mx2"), "198.51.100.7", 4}})};
            });
        }
        REQUIRE(t.store() == senders.size() * 30);
        {
            analysis_store store(t.url());
            analysis::refresh_incidents(store, t.domain(), t.day(1), t.today());
        }
        stswatch::settings s;
        s.db_url = t.url();
        s.api_token = token;
        s.api_max_wrong_tokens = 0;   // the tests present wrong tokens on purpose, many times
        if (tls) {
            s.api_cert = tls_file("server.pem");
            s.api_key = tls_file("server.key");
        }
        svc = std::make_unique<web::services>(s);
        svc->pin_today(t.today());
        web::web_server_options o;
        o.listen = {"127.0.0.1", 0};
        o.cert = s.api_cert;
        o.key = s.api_key;
        o.threads = 4;
        server = std::make_unique<web::web_server>(o, web::make_router(*svc));
        server->start();
        session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", server->port());
        session->setKeepAlive(true);
        session->setTimeout(Poco::Timespan(30, 0));
    }

    reply get(const std::string& path, const header_list& h = bearer())
    {
        return exchange(*session, "GET", path, h, "", "");
    }
    reply send(const std::string& method, const std::string& path, const std::string& body = "",
               const header_list& h = bearer(), const std::string& type = "application/json")
    {
        return exchange(*session, method, path, h, body, body.empty() ? "" : type);
    }

    // Stores one more report of the domain (received now), gzip-compressed as sent when asked.
    std::int64_t add_report(const std::string& organization, const std::string& report_id, bool gzip = false)
    {
        if (!reports) {
            store_options so;
            so.db_url = t.url();
            reports = std::make_unique<report_store>(so);
        }
        incoming_report in;
        in.report = make_report(organization, t.day(30), t.domain(), {sts_entry(policy_text({t.mx("mx1")}), 10)}, report_id);
        const std::string json = to_canonical_json(in.report);
        in.raw = gzip ? gzip_compress(json) : json;
        in.raw_is_gzip = gzip;
        in.via = transport::https;
        in.source_address = "192.0.2.1";
        return reports->store(std::move(in)).report_key;
    }

    timeline t;
    std::unique_ptr<web::services> svc;
    std::unique_ptr<web::web_server> server;
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    std::unique_ptr<report_store> reports;
};

// Every endpoint, as (method, path, body).
struct endpoint {
    std::string method, path, body;
};
std::vector<endpoint> every_endpoint()
{
    return {{"GET", "/api/v1/domains", ""},
            {"GET", "/api/v1/domains/example.com/trends", ""},
            {"GET", "/api/v1/domains/example.com/incidents", ""},
            {"GET", "/api/v1/domains/example.com/explain", ""},
            {"GET", "/api/v1/domains/example.com/checks", ""},
            {"GET", "/api/v1/reports", ""},
            {"GET", "/api/v1/reports/1", ""},
            {"GET", "/api/v1/reports/1/raw", ""},
            {"GET", "/api/v1/no-such-thing", ""},
            {"POST", "/api/v1/domains", "{\"domain\":\"new.example\"}"},
            {"DELETE", "/api/v1/domains/example.com", ""},
            {"POST", "/api/v1/domains/example.com/check", ""},
            {"PUT", "/api/v1/domains/example.com/settings", "{\"interval\":600}"},
            {"POST", "/api/v1/domains/example.com/settings", "{\"interval\":600}"},
            {"POST", "/api/v1/incidents/1/acknowledge", ""}};
}

std::vector<std::int64_t> ids_of(const reply& r)
{
    std::vector<std::int64_t> out;
    const auto items = object_of(r.body)->getArray("reports");
    for (std::size_t i = 0; i < items->size(); ++i)
        out.push_back(items->getObject(static_cast<unsigned>(i))->getValue<std::int64_t>("id"));
    return out;
}

std::string next_cursor(const reply& r)
{
    const auto o = object_of(r.body);
    return o->isNull("next_cursor") ? std::string() : o->getValue<std::string>("next_cursor");
}

} // namespace

TEST_CASE("without a valid token every endpoint answers 401 with no data", "[api]")
{
    api_fixture f;
    const std::string same_length(token.size(), 'x');
    const std::vector<header_list> wrong = {{},
                                            bearer(same_length),
                                            bearer(token.substr(0, token.size() - 1)),
                                            bearer(token + "x"),
                                            {{"Authorization", "Basic " + token}},
                                            {{"Cookie", std::string(web::session_cookie_name) + "=1.2.3"}}};
    for (const auto& e : every_endpoint()) {
        for (const auto& h : wrong) {
            INFO(e.method << " " << e.path << " with " << (h.empty() ? std::string("nothing") : h.front().second));
            const auto r = f.send(e.method, e.path, e.body, h);
            CHECK(r.status == 401);
            CHECK(r.header("WWW-Authenticate").rfind("Bearer", 0) == 0);
            CHECK(r.body.find("example.com") == std::string::npos);
            CHECK(r.body.find("\"domains\"") == std::string::npos);
            CHECK(object_of(r.body)->getObject("error")->getValue<int>("status") == 401);
        }
    }
    // Nothing was written.
    CHECK(query_count(f.t.url(), "SELECT count(*) FROM monitored_domains") == 1);
    CHECK(query_count(f.t.url(), "SELECT count(*) FROM incidents WHERE acknowledged_at IS NOT NULL") == 0);
    // With the token, the read endpoints answer.
    for (const auto& e : every_endpoint())
        if (e.method == "GET" && e.path != "/api/v1/no-such-thing") {
            INFO(e.path);
            CHECK(f.get(e.path).status == 200);
        }
    CHECK(f.get("/api/v1/no-such-thing").status == 404);
}

TEST_CASE("the read endpoints give the CLI's JSON contracts", "[api]")
{
    api_fixture f;
    analysis_store store(f.t.url());
    const auto today = f.t.today();

    auto r = f.get("/api/v1/domains");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
    CHECK(r.header("Cache-Control") == "no-store");
    CHECK(r.body == analysis::domains_json(analysis::domains_health(store, today), today));

    // Trends: the defaults (the last 30 days up to today), and by week grouped by MX.
    analysis::trends_request q;
    q.domain = "example.com";
    q.until = today;
    q.since = today - std::chrono::days{29};
    r = f.get("/api/v1/domains/example.com/trends");
    REQUIRE(r.status == 200);
    CHECK(r.body == analysis::trends_json(analysis::query_trends(store, q)));
    q.since = f.t.day(3);
    q.until = f.t.day(28);
    q.by = analysis::bucket::week;
    q.group = trend_group::mx;
    r = f.get("/api/v1/domains/Example.COM/trends?since=" + format_day(f.t.day(3)) + "&until=" + format_day(f.t.day(28))
              + "&by=week&group=mx");
    REQUIRE(r.status == 200);
    CHECK(r.body == analysis::trends_json(analysis::query_trends(store, q)));
    CHECK(r.body.find(f.t.mx("mx2")) != std::string::npos);

    // Incidents: every stored one without a range, those overlapping a range with one.
    const auto all = store.incidents("example.com", std::nullopt, std::nullopt);
    REQUIRE(all.size() >= 2);
    r = f.get("/api/v1/domains/example.com/incidents");
    REQUIRE(r.status == 200);
    CHECK(r.body == analysis::incidents_list_json("example.com", all));
    r = f.get("/api/v1/domains/example.com/incidents?since=" + format_day(f.t.day(1)) + "&until=" + format_day(f.t.day(10)));
    REQUIRE(r.status == 200);
    CHECK(object_of(r.body)->getArray("incidents")->size() == 0);

    r = f.get("/api/v1/domains/example.com/explain");
    REQUIRE(r.status == 200);
    CHECK(r.body == analysis::explain_json(analysis::explain(store, "example.com", today - std::chrono::days{29}, today)));
    CHECK(r.body.find("mx-not-covered") != std::string::npos);

    // Checks: the latest check with its findings and their fix, the settings, the changes.
    r = f.get("/api/v1/domains/example.com/checks");
    REQUIRE(r.status == 200);
    const auto c = object_of(r.body);
    CHECK(c->getValue<std::string>("domain") == "example.com");
    CHECK(c->getValue<bool>("monitored"));
    const auto monitor = c->getObject("monitor");
    CHECK(monitor->isNull("next_check_at") == false);
    CHECK(monitor->getObject("settings")->isNull("interval"));
    CHECK(monitor->getObject("effective")->getValue<int>("interval") == 3600);
    const auto latest = c->getObject("latest_check");
    CHECK(latest->getValue<std::string>("checked_at") == f.t.at(30));
    const auto findings = latest->getArray("findings");
    bool found = false;
    for (std::size_t i = 0; i < findings->size(); ++i) {
        const auto x = findings->getObject(static_cast<unsigned>(i));
        if (x->getValue<std::string>("code") != "mx-not-covered")
            continue;
        found = true;
        CHECK(x->getValue<std::string>("severity") == "error");
        CHECK(x->getValue<std::string>("subject") == f.t.mx("mx2"));
        CHECK_FALSE(x->getValue<std::string>("message").empty());
        CHECK(x->getValue<std::string>("rfc").rfind("RFC 8461", 0) == 0);
        CHECK_FALSE(x->getValue<std::string>("fix").empty());
    }
    CHECK(found);
    const auto changes = c->getArray("changes");
    bool added = false;
    for (std::size_t i = 0; i < changes->size(); ++i) {
        const auto x = changes->getObject(static_cast<unsigned>(i));
        if (x->getValue<std::string>("kind") == "mx-added") {
            added = true;
            CHECK(x->getValue<std::string>("subject") == f.t.mx("mx2"));
            CHECK(x->getValue<std::string>("detected_at") == f.t.at(17, 9, 12));
        }
    }
    CHECK(added);

    // A HEAD has the headers only.
    const auto head = exchange(*f.session, "HEAD", "/api/v1/domains", bearer(), "", "");
    CHECK(head.status == 200);
    CHECK(head.body.empty());
}

TEST_CASE("bad parameters unknown ids and wrong methods give the documented errors", "[api]")
{
    api_fixture f;
    struct bad {
        std::string path;
        int status;
        std::string reason_has;
    };
    const std::vector<bad> cases = {
        {"/api/v1/domains/example.com/trends?since=yesterday", 400, "since: \"yesterday\""},
        {"/api/v1/domains/example.com/trends?until=2026-02-30", 400, "until: \"2026-02-30\""},
        {"/api/v1/domains/example.com/trends?since=2026-11-20&until=2026-11-10", 400, "since: 2026-11-20 is after until 2026-11-10"},
        {"/api/v1/domains/example.com/trends?by=year", 400, "by: \"year\""},
        {"/api/v1/domains/example.com/trends?group=colour", 400, "group: \"colour\""},
        {"/api/v1/domains/example.com/explain?since=1", 400, "since: \"1\""},
        {"/api/v1/domains/example.com/incidents?until=x", 400, "until: \"x\""},
        {"/api/v1/domains/exa_mple..com/checks", 400, "domain: \"exa_mple..com\""},
        {"/api/v1/domains/unknown.example/trends", 404, "unknown.example"},
        {"/api/v1/domains/unknown.example/checks", 404, "unknown.example"},
        {"/api/v1/reports?limit=0", 400, "limit: \"0\""},
        {"/api/v1/reports?limit=501", 400, "limit: \"501\""},
        {"/api/v1/reports?limit=ten", 400, "limit: \"ten\""},
        {"/api/v1/reports?cursor=abc", 400, "cursor: \"abc\""},
        {"/api/v1/reports?domain=bad%20name", 400, "domain: \"bad name\""},
        {"/api/v1/reports?since=later", 400, "since: \"later\""},
        {"/api/v1/reports?since=2026-11-20&until=2026-11-10", 400, "is after until"},
        {"/api/v1/reports/abc", 400, "report id: \"abc\""},
        {"/api/v1/reports/999999", 404, "no report 999999"},
        {"/api/v1/reports/999999/raw", 404, "no report 999999"},
        {"/api/v1/reports/1/cooked", 404, "no such endpoint"},
        {"/api/v1/domains/example.com/weather", 404, "no such endpoint"},
        {"/api/v1", 404, "no such endpoint"},
        {"/api/v2/domains", 404, "no such endpoint"},
    };
    for (const auto& c : cases) {
        INFO(c.path);
        const auto r = f.get(c.path);
        CHECK(r.status == c.status);
        const auto reason = reason_of(r);
        INFO(reason);
        CHECK(reason.find(c.reason_has) != std::string::npos);
    }
    struct wrong_method {
        std::string method, path, allow;
    };
    const std::vector<wrong_method> methods = {
        {"DELETE", "/api/v1/reports", "GET, HEAD"},
        {"POST", "/api/v1/reports/1", "GET, HEAD"},
        {"PUT", "/api/v1/domains", "GET, HEAD, POST"},
        {"POST", "/api/v1/domains/example.com/trends", "GET, HEAD"},
        {"GET", "/api/v1/domains/example.com", "DELETE"},
        {"GET", "/api/v1/domains/example.com/check", "POST"},
        {"DELETE", "/api/v1/domains/example.com/settings", "PUT, POST"},
        {"GET", "/api/v1/incidents/1/acknowledge", "POST"},
    };
    for (const auto& m : methods) {
        INFO(m.method << " " << m.path);
        const auto r = f.send(m.method, m.path);
        CHECK(r.status == 405);
        CHECK(r.header("Allow") == m.allow);
        CHECK(reason_of(r).find(m.method) != std::string::npos);
    }
    // Unknown ids and domains on the write side.
    CHECK(f.send("POST", "/api/v1/incidents/999999/acknowledge").status == 404);
    CHECK(reason_of(f.send("POST", "/api/v1/incidents/x1/acknowledge")).find("incident id: \"x1\"") != std::string::npos);
    CHECK(f.send("DELETE", "/api/v1/domains/unknown.example").status == 404);
    CHECK(f.send("POST", "/api/v1/domains/unknown.example/check").status == 404);
    CHECK(f.send("PUT", "/api/v1/domains/unknown.example/settings", "{\"interval\":600}").status == 404);
    // Bad bodies and values.
    auto r = f.send("POST", "/api/v1/domains", "{\"domain\":");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("not JSON") != std::string::npos);
    r = f.send("POST", "/api/v1/domains", "{\"domain\":\"no dots here\"}");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("domain: \"no dots here\"") != std::string::npos);
    r = f.send("POST", "/api/v1/domains", "{\"name\":\"a.example\"}");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("domain: missing") != std::string::npos);
    r = f.send("PUT", "/api/v1/domains/example.com/settings", "{\"interval\":5}");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("interval: 5 seconds") != std::string::npos);
    r = f.send("PUT", "/api/v1/domains/example.com/settings", "{\"alert_mode\":\"loud\"}");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("alert_mode: \"loud\"") != std::string::npos);
    r = f.send("PUT", "/api/v1/domains/example.com/settings", "{\"quiet_period\":\"soon\"}");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("quiet_period: \"soon\"") != std::string::npos);
    r = f.send("PUT", "/api/v1/domains/example.com/settings", "{\"colour\":1}");
    CHECK(r.status == 400);
    CHECK(reason_of(r).find("colour: not a setting") != std::string::npos);
}

TEST_CASE("paging through the reports is stable while reports arrive", "[api]")
{
    api_fixture f;
    // What is present at the start.
    std::set<std::int64_t> at_start;
    for (std::string cursor;;) {
        const auto r = f.get("/api/v1/reports?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        for (auto id : ids_of(r))
            at_start.insert(id);
        cursor = next_cursor(r);
        if (cursor.empty())
            break;
    }
    REQUIRE(at_start.size() == senders.size() * 30);

    std::vector<std::int64_t> seen;
    std::string cursor;
    int page = 0;
    for (;;) {
        const auto r = f.get("/api/v1/reports?limit=7&domain=example.com" + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        const auto ids = ids_of(r);
        CHECK(ids.size() <= 7);
        CHECK(std::is_sorted(ids.rbegin(), ids.rend()));
        seen.insert(seen.end(), ids.begin(), ids.end());
        // New reports arrive between pages.
        f.add_report("Arriving Ltd", "arriving-" + std::to_string(page++));
        cursor = next_cursor(r);
        if (cursor.empty()) {
            CHECK(object_of(r.body)->isNull("next"));
            break;
        }
        CHECK(object_of(r.body)->getValue<std::string>("next").find("cursor=" + cursor) != std::string::npos);
    }
    std::set<std::int64_t> unique(seen.begin(), seen.end());
    CHECK(unique.size() == seen.size());
    for (auto id : at_start)
        CHECK(unique.count(id) == 1);
    CHECK(page == 18);   // 120 reports at the start, 7 a page

    // An item's shape.
    const auto first = object_of(f.get("/api/v1/reports?limit=1").body)->getArray("reports")->getObject(0);
    CHECK(first->getValue<std::string>("organization-name") == "Arriving Ltd");
    CHECK(first->getArray("policy-domains")->getElement<std::string>(0) == "example.com");
    CHECK(first->getObject("sessions")->getValue<std::int64_t>("successful") == 10);
    CHECK(first->getArray("transports")->getElement<std::string>(0) == "https");
    CHECK(first->isNull("dkim"));
    const auto id = first->getValue<std::int64_t>("id");
    CHECK(first->getObject("links")->getValue<std::string>("self") == "/api/v1/reports/" + std::to_string(id));
    CHECK(first->getObject("links")->getValue<std::string>("raw") == "/api/v1/reports/" + std::to_string(id) + "/raw");
    CHECK(first->getObject("date-range")->getValue<std::string>("start-datetime") == format_day(f.t.day(30)) + "T00:00:00Z");

    // since/until on the date range.
    const auto r = f.get("/api/v1/reports?limit=500&since=" + format_day(f.t.day(5)) + "T12:00:00Z&until="
                         + format_day(f.t.day(5)) + "T13:00:00Z");
    REQUIRE(r.status == 200);
    CHECK(ids_of(r).size() == senders.size());
}

TEST_CASE("a report as parsed and its raw bytes as received", "[api]")
{
    api_fixture f;
    // Stored from a JSON body: the raw form is the JSON.
    const auto json_id = f.add_report("Json Sender", "json-1", false);
    auto r = f.get("/api/v1/reports/" + std::to_string(json_id));
    REQUIRE(r.status == 200);
    auto o = object_of(r.body);
    CHECK(o->getValue<std::int64_t>("id") == json_id);
    CHECK(o->getValue<std::string>("raw_encoding") == "json");
    CHECK(o->getArray("transports")->getElement<std::string>(0) == "https");
    CHECK(o->has("received_at"));
    CHECK(o->getValue<std::string>("source") == "/api/v1/reports/" + std::to_string(json_id) + "/raw");
    CHECK(o->getObject("report")->getValue<std::string>("organization-name") == "Json Sender");
    CHECK(o->getObject("report")->getValue<std::string>("report-id") == "json-1");
    CHECK(o->getArray("warnings")->size() == 0);
    CHECK(o->has("metadata"));
    r = f.get("/api/v1/reports/" + std::to_string(json_id) + "/raw");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/tlsrpt+json");
    analysis_store store(f.t.url());
    const auto kept = store.report(json_id);
    REQUIRE(kept);
    CHECK(r.body == to_canonical_json(make_report("Json Sender", f.t.day(30), "example.com",
                                                  {sts_entry(policy_text({f.t.mx("mx1")}), 10)}, "json-1")));
    const auto disposition = r.header("Content-Disposition");
    CHECK(disposition.rfind("attachment; filename=\"Json_Sender!example.com!", 0) == 0);
    CHECK(disposition.find("!json-1.json\"") != std::string::npos);

    // Stored from a gzip body: the raw form is that body, byte for byte.
    const auto gzip_id = f.add_report("Gzip Sender", "gzip-1", true);
    r = f.get("/api/v1/reports/" + std::to_string(gzip_id) + "/raw");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/tlsrpt+gzip");
    const auto gz = store.report(gzip_id);
    REQUIRE(gz);
    CHECK(gz->raw_encoding == "gzip");
    CHECK(r.body == gz->raw_gzip);
    CHECK(r.header("Content-Disposition").find("!gzip-1.json.gz\"") != std::string::npos);
    r = f.get("/api/v1/reports/" + std::to_string(gzip_id));
    REQUIRE(r.status == 200);
    o = object_of(r.body);
    CHECK(o->getValue<std::string>("raw_encoding") == "gzip");
    CHECK(o->getObject("report")->getValue<std::string>("organization-name") == "Gzip Sender");
}

TEST_CASE("writes by token and by dashboard session with and without the CSRF token", "[api]")
{
    api_fixture f;
    // Add: 201 the first time, 200 after; form-encoded too.
    auto r = f.send("POST", "/api/v1/domains", "{\"domain\":\"New.Example\"}");
    REQUIRE(r.status == 201);
    auto o = object_of(r.body);
    CHECK(o->getValue<std::string>("domain") == "new.example");
    CHECK(o->isNull("last_checked_at"));
    CHECK_FALSE(o->isNull("next_check_at"));
    CHECK(r.header("Location") == "/api/v1/domains/new.example/checks");
    CHECK(f.send("POST", "/api/v1/domains", "{\"domain\":\"new.example\"}").status == 200);
    r = f.send("POST", "/api/v1/domains", "domain=form.example", bearer(), "application/x-www-form-urlencoded");
    CHECK(r.status == 201);
    {
        monitor_store m(f.t.url());
        CHECK(m.get("form.example").has_value());
        CHECK(m.due(10).size() >= 2);   // due at once
    }
    // Reads know the new domain (monitored, nothing reported).
    r = f.get("/api/v1/domains/new.example/checks");
    REQUIRE(r.status == 200);
    CHECK(object_of(r.body)->isNull("latest_check"));

    // Check now, settings.
    CHECK(f.send("POST", "/api/v1/domains/new.example/check").status == 202);
    r = f.send("PUT", "/api/v1/domains/new.example/settings", "{\"interval\":7200,\"alert_mode\":\"digest\",\"quiet_period\":0}");
    REQUIRE(r.status == 200);
    o = object_of(r.body)->getObject("settings");
    CHECK(o->getValue<int>("interval") == 7200);
    CHECK(o->getValue<std::string>("alert_mode") == "digest");
    CHECK(o->getValue<int>("quiet_period") == 0);
    // A key left out keeps its value; null is the default again.
    r = f.send("POST", "/api/v1/domains/new.example/settings", "{\"interval\":null}");
    REQUIRE(r.status == 200);
    o = object_of(r.body)->getObject("settings");
    CHECK(o->isNull("interval"));
    CHECK(o->getValue<std::string>("alert_mode") == "digest");
    CHECK(object_of(r.body)->getObject("effective")->getValue<int>("interval") == 3600);

    // Remove.
    CHECK(f.send("DELETE", "/api/v1/domains/new.example").status == 204);
    CHECK(f.send("DELETE", "/api/v1/domains/new.example").status == 404);
    CHECK(f.send("POST", "/api/v1/domains/new.example/check").status == 404);

    // Acknowledge an incident: by the token.
    analysis_store store(f.t.url());
    const auto incidents = store.incidents("example.com", std::nullopt, std::nullopt);
    REQUIRE(incidents.size() >= 2);
    r = f.send("POST", "/api/v1/incidents/" + std::to_string(incidents[0].id) + "/acknowledge");
    REQUIRE(r.status == 200);
    o = object_of(r.body);
    CHECK(o->getValue<std::string>("id") == std::to_string(incidents[0].id));
    CHECK_FALSE(o->isNull("acknowledged_at"));
    CHECK(store.incident(incidents[0].id)->acknowledged_by == "token");

    // By the dashboard session: reads need no CSRF token, writes do.
    const std::string cookie = f.svc->sessions().issue(std::chrono::system_clock::now());
    const std::string csrf = f.svc->sessions().csrf_for(cookie);
    const header_list session = {{"Cookie", std::string(web::session_cookie_name) + "=" + cookie}};
    header_list with_csrf = session;
    with_csrf.emplace_back("X-CSRF-Token", csrf);
    header_list wrong_csrf = session;
    wrong_csrf.emplace_back("X-CSRF-Token", std::string(csrf.size(), '0'));
    CHECK(f.get("/api/v1/domains", session).status == 200);
    const std::string ack = "/api/v1/incidents/" + std::to_string(incidents[1].id) + "/acknowledge";
    for (const auto& h : {session, wrong_csrf}) {
        CHECK(f.send("POST", "/api/v1/domains", "{\"domain\":\"session.example\"}", h).status == 403);
        CHECK(f.send("POST", ack, "", h).status == 403);
        CHECK(f.send("DELETE", "/api/v1/domains/example.com", "", h).status == 403);
        CHECK(f.send("PUT", "/api/v1/domains/example.com/settings", "{\"interval\":600}", h).status == 403);
        CHECK(f.send("POST", "/api/v1/domains/example.com/check", "", h).status == 403);
    }
    CHECK_FALSE(monitor_store(f.t.url()).get("session.example").has_value());
    CHECK_FALSE(store.incident(incidents[1].id)->acknowledged_at.has_value());
    CHECK(f.send("POST", "/api/v1/domains", "{\"domain\":\"session.example\"}", with_csrf).status == 201);
    // The form's csrf field does for a form-encoded write.
    CHECK(f.send("POST", "/api/v1/domains", "domain=form2.example&csrf=" + csrf, session,
                 "application/x-www-form-urlencoded")
              .status == 201);
    r = f.send("POST", ack, "", with_csrf);
    REQUIRE(r.status == 200);
    CHECK(store.incident(incidents[1].id)->acknowledged_by == "session");
    // An expired session is no session.
    const std::string old = f.svc->sessions().issue(std::chrono::system_clock::now() - std::chrono::hours(24 * 30));
    CHECK(f.get("/api/v1/domains", {{"Cookie", std::string(web::session_cookie_name) + "=" + old}}).status == 401);
}

TEST_CASE("the API over HTTPS with api.cert and api.key", "[api]")
{
    api_fixture f(true);
    Poco::Net::Context::Params params;
    params.caLocation = tls_file("ca.pem");
    params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
    params.loadDefaultCAs = false;
    Poco::Net::Context::Ptr context(new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params));
    Poco::Net::SecureStreamSocket socket(context);
    socket.setPeerHostName("localhost");
    Poco::Net::HTTPSClientSession session(socket);
    session.setHost("127.0.0.1");
    session.setPort(f.server->port());
    session.setKeepAlive(true);
    session.setTimeout(Poco::Timespan(30, 0));
    auto r = exchange(session, "GET", "/api/v1/domains", bearer(), "", "");
    REQUIRE(r.status == 200);
    CHECK(object_of(r.body)->getArray("domains")->size() == 1);
    r = exchange(session, "GET", "/api/v1/domains", {}, "", "");
    CHECK(r.status == 401);
    CHECK(r.body.find("example.com") == std::string::npos);
}
