// The dashboard's handlers (analyzer/dashboard.hpp) as functions of a request: sign-in and
// the session, CSRF, the assets and their caching, and the pages on a scratch database
// holding a timeline (an MX added and not covered by the policy).
#include "analyzer/dashboard.hpp"
#include "analyzer/incidents.hpp"
#include "store/analysis_store.hpp"
#include "store/monitor_store.hpp"
#include "tests/support/timeline.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace stswatch;
using namespace stswatch::test;
using namespace stswatch::web;

namespace {

const std::string token = "dashboard-test-token-0123456789";

stswatch::settings settings_with(const std::string& db_url)
{
    stswatch::settings s;
    s.api_token = token;
    s.db_url = db_url;
    return s;
}

request get(const std::string& path, const std::string& cookie = {})
{
    request r;
    r.method = "GET";
    const auto q = path.find('?');
    r.path = path.substr(0, q);
    if (q != std::string::npos)
        r.query = parse_query(path.substr(q + 1));
    if (!cookie.empty())
        r.headers.emplace_back("cookie", std::string(session_cookie_name) + "=" + cookie);
    return r;
}

request post(const std::string& path, const std::string& body, const std::string& cookie = {})
{
    request r = get(path, cookie);
    r.method = "POST";
    r.body = body;
    r.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
    return r;
}

const std::string* header(const response& r, const std::string& name)
{
    for (const auto& [k, v] : r.headers)
        if (k == name)
            return &v;
    return nullptr;
}

std::string location(const response& r)
{
    const auto* l = header(r, "Location");
    return l ? *l : "";
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

std::size_t count(const std::string& text, const std::string& what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
        ++n;
    return n;
}

// What the CSP of the router forbids: inline styles and scripts.
void check_no_inline_code(const std::string& html)
{
    CHECK_FALSE(has(html, "<style"));
    CHECK_FALSE(has(html, " style="));
    CHECK_FALSE(has(html, "<script>"));
    CHECK_FALSE(has(html, " onclick="));
    CHECK(count(html, "<h1") == 1);
    CHECK(has(html, "<html lang=\"en\">"));
    CHECK(has(html, "class=\"skip\" href=\"#main\""));
}

std::string signed_in(services& s) { return s.sessions().issue(std::chrono::system_clock::now()); }

} // namespace

TEST_CASE("pages without a session redirect to the sign-in and the sign-in form is labelled", "[dashboard]")
{
    services s(settings_with("host=/nonexistent dbname=none"));
    for (const std::string path : {"/", "/domains/example.com", "/nowhere"}) {
        const auto r = handle_dashboard(get(path), s);
        CHECK(r.status == 303);
        CHECK(location(r) == "/signin");
    }
    const auto bad = handle_dashboard(get("/", "1.2.3"), s);
    CHECK(location(bad) == "/signin");

    const auto page = handle_dashboard(get("/signin"), s);
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(has(page.body, "<label for=\"token\">"));
    CHECK(has(page.body, "id=\"token\" name=\"token\" type=\"password\""));
    CHECK(has(page.body, "action=\"/signin\""));
    check_no_inline_code(page.body);
}

TEST_CASE("signing in checks the token and sets a strict HttpOnly session cookie", "[dashboard]")
{
    services s(settings_with("host=/nonexistent dbname=none"));
    const auto wrong = handle_dashboard(post("/signin", "token=nope"), s);
    CHECK(wrong.status == 401);
    CHECK(header(wrong, "Set-Cookie") == nullptr);
    CHECK(has(wrong.body, "role=\"alert\""));

    const auto right = handle_dashboard(post("/signin", "token=" + percent_encode(token)), s);
    CHECK(right.status == 303);
    CHECK(location(right) == "/");
    const auto* cookie = header(right, "Set-Cookie");
    REQUIRE(cookie);
    CHECK(has(*cookie, std::string(session_cookie_name) + "="));
    CHECK(has(*cookie, "HttpOnly"));
    CHECK(has(*cookie, "SameSite=Strict"));
    CHECK_FALSE(has(*cookie, "Secure"));
    const std::string value = cookie->substr(cookie->find('=') + 1, cookie->find(';') - cookie->find('=') - 1);
    CHECK(s.sessions().valid(value, std::chrono::system_clock::now()));

    request tls = post("/signin", "token=" + percent_encode(token));
    tls.secure = true;
    const auto secure = handle_dashboard(tls, s);
    REQUIRE(header(secure, "Set-Cookie"));
    CHECK(has(*header(secure, "Set-Cookie"), "; Secure"));

    // Signed in, the sign-in page sends to the domains.
    CHECK(location(handle_dashboard(get("/signin", value), s)) == "/");
}

TEST_CASE("a POST without the session's CSRF token is refused with 403", "[dashboard]")
{
    services s(settings_with("host=/nonexistent dbname=none"));
    const std::string cookie = signed_in(s);
    CHECK(handle_dashboard(post("/signout", "", cookie), s).status == 403);
    CHECK(handle_dashboard(post("/domains", "domain=example.com", cookie), s).status == 403);
    CHECK(handle_dashboard(post("/domains", "domain=example.com&csrf=00", cookie), s).status == 403);
    CHECK(handle_dashboard(post("/domains/example.com/remove", "csrf=" + s.sessions().csrf_for("x"), cookie), s).status == 403);
    // Without a session at all: to the sign-in.
    CHECK(location(handle_dashboard(post("/domains", "domain=example.com"), s)) == "/signin");

    const auto out = handle_dashboard(post("/signout", "csrf=" + s.sessions().csrf_for(cookie), cookie), s);
    CHECK(out.status == 303);
    CHECK(location(out) == "/signin");
    REQUIRE(header(out, "Set-Cookie"));
    CHECK(has(*header(out, "Set-Cookie"), "Max-Age=0"));
}

TEST_CASE("the assets are served with an ETag and a long cache and answer 304 to a matching If-None-Match", "[dashboard]")
{
    services s(settings_with("host=/nonexistent dbname=none"));
    const auto css = handle_dashboard(get("/assets/app.css"), s);
    CHECK(css.status == 200);
    CHECK(css.content_type == "text/css; charset=utf-8");
    CHECK(has(css.body, "font-family: system-ui"));
    CHECK_FALSE(has(css.body, "url("));   // no font nor image from anywhere
    const auto* etag = header(css, "ETag");
    REQUIRE(etag);
    REQUIRE(header(css, "Cache-Control"));
    CHECK(has(*header(css, "Cache-Control"), "max-age=31536000"));

    request again = get("/assets/app.css");
    again.headers.emplace_back("if-none-match", *etag);
    const auto cached = handle_dashboard(again, s);
    CHECK(cached.status == 304);
    CHECK(cached.body.empty());

    const auto js = handle_dashboard(get("/assets/app.js"), s);
    CHECK(js.status == 200);
    CHECK(js.content_type == "text/javascript; charset=utf-8");
    CHECK(handle_dashboard(get("/assets/nothing.css"), s).status == 404);
}

TEST_CASE("the domain pages on a timeline show the chart with its change marker and the incident and take the forms", "[dashboard][db]")
{
    if (!std::getenv("STSWATCH_TEST_DB")) {
        WARN("STSWATCH_TEST_DB is not set: the pages on a database are not tested");
        SUCCEED();
        return;
    }
    // mx2 is added on day 17, not covered by the policy; four senders fail validation there.
    timeline t("shop.example.net");
    const std::string mx1 = t.mx("mx1"), mx2 = t.mx("mx2");
    deployment_state before;
    before.policy_text = policy_text({mx1});
    before.mx = {{mx1, 10}};
    deployment_state after = before;
    after.mx.push_back({mx2, 10, "2027-06-01T00:00:00Z", true, true, "bb22"});
    after.findings = {make_finding("mx-not-covered", mx2, mx2 + " is an MX but matches none of the policy's mx patterns")};
    t.check_daily(1, 16, before);
    REQUIRE(t.check(t.at(17, 9, 12), after).size() == 1);
    t.check_daily(18, 30, after);
    for (const std::string org : {"Google Inc.", "Microsoft Corporation", "Yahoo Inc.", "<script>alert(1)</script>"}) {
        policy_spec ok;
        ok.policy_string = policy_lines(before.policy_text);
        ok.mx_host = {mx1};
        ok.successful = 200;
        t.daily(org, 1, 16, [&](int) { return std::vector{ok}; });
        policy_spec failing = ok;
        failing.successful = 150;
        failing.failures = {{"validation-failure", mx2, "198.51.100.7", 4}};
        t.daily(org, 17, 30, [&](int) { return std::vector{failing}; });
    }
    REQUIRE(t.store() == 4 * 30);
    {
        analysis_store store(t.url());
        REQUIRE_FALSE(analysis::refresh_incidents(store, t.domain(), t.day(1), t.today()).incidents.empty());
    }

    services s(settings_with(t.url()));
    s.pin_today(t.today());
    const std::string cookie = signed_in(s), csrf = s.sessions().csrf_for(cookie);

    const auto list = handle_dashboard(get("/", cookie), s);
    REQUIRE(list.status == 200);
    CHECK(has(list.body, "href=\"/domains/shop.example.net\""));
    CHECK(has(list.body, "state-incident"));
    CHECK(has(list.body, "name=\"csrf\" value=\"" + csrf + "\""));
    CHECK(has(list.body, "<label for=\"new-domain\">"));
    check_no_inline_code(list.body);

    const auto page = handle_dashboard(get("/domains/shop.example.net?range=30&group=mx", cookie), s);
    REQUIRE(page.status == 200);
    const std::string& html = page.body;
    check_no_inline_code(html);
    CHECK(has(html, "<h1>shop.example.net</h1>"));
    CHECK(has(html, "data-layer=\"validation-failure\""));
    CHECK(has(html, "data-layer=\"successful\""));
    CHECK(count(html, "data-layer=\"validation-failure\"") == 14);   // days 17..30 in the failures chart
    CHECK(has(html, "<g class=\"marker\"><title>mx-added " + mx2));
    CHECK(has(html, "<details><summary>The numbers as a table</summary>"));
    CHECK(has(html, "data-code=\"mx-not-covered\""));       // the incident's cause and the finding
    CHECK(has(html, "Acknowledge</button>"));
    CHECK(has(html, "<span class=\"mono\">" + mx2 + "</span>"));   // the MX group
    CHECK(has(html, "aria-current=\"page\">30 days"));
    CHECK(has(html, "aria-current=\"page\">MX"));
    CHECK(has(html, "/api/v1/reports/"));
    CHECK_FALSE(has(html, "<script>alert"));
    // An organization name from a report, grouped by sender: escaped.
    const auto by_org = handle_dashboard(get("/domains/shop.example.net?group=org", cookie), s);
    REQUIRE(by_org.status == 200);
    CHECK(has(by_org.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK_FALSE(has(by_org.body, "<script>alert"));
    CHECK_FALSE(has(html, "http-equiv=\"refresh\""));

    // A year: one bar a month.
    const auto year = handle_dashboard(get("/domains/shop.example.net?range=365", cookie), s);
    REQUIRE(year.status == 200);
    CHECK(has(year.body, "Sessions per month"));

    // Acknowledge the first incident of the page.
    const auto at = html.find("name=\"incident\" value=\"");
    REQUIRE(at != std::string::npos);
    const std::string id = html.substr(at + 23, html.find('"', at + 23) - at - 23);
    const auto ack = handle_dashboard(post("/domains/shop.example.net/acknowledge", "csrf=" + csrf + "&incident=" + id, cookie), s);
    CHECK(ack.status == 303);
    {
        analysis_store store(t.url());
        const auto i = store.incident(std::stoll(id));
        REQUIRE(i);
        CHECK(i->acknowledged_at);
    }
    CHECK(handle_dashboard(post("/domains/other.example.net/acknowledge", "csrf=" + csrf + "&incident=" + id, cookie), s)
              .status == 404);

    // Settings: saved, and refused out of range.
    CHECK(handle_dashboard(post("/domains/shop.example.net/settings",
                                "csrf=" + csrf + "&interval_s=600&alert_mode=digest&quiet_period_s=", cookie), s)
              .status == 303);
    {
        monitor_store m(t.url());
        const auto d = m.get(t.domain());
        REQUIRE(d);
        CHECK(d->settings.interval_s == 600u);
        CHECK(d->settings.alert_mode == std::optional<std::string>("digest"));
        CHECK_FALSE(d->settings.quiet_period_s);
    }
    CHECK(handle_dashboard(post("/domains/shop.example.net/settings", "csrf=" + csrf + "&interval_s=5", cookie), s).status == 400);
    CHECK(handle_dashboard(post("/domains/shop.example.net/check", "csrf=" + csrf, cookie), s).status == 303);

    // A new domain: its page says the first check is running and refreshes itself.
    const auto added = handle_dashboard(post("/domains", "csrf=" + csrf + "&domain=New.Example.ORG.", cookie), s);
    CHECK(added.status == 303);
    CHECK(location(added) == "/domains/new.example.org");
    const auto fresh = handle_dashboard(get("/domains/new.example.org", cookie), s);
    CHECK(fresh.status == 200);
    CHECK(has(fresh.body, "First check running"));
    CHECK(has(fresh.body, "<meta http-equiv=\"refresh\" content=\"2\">"));
    CHECK(handle_dashboard(post("/domains", "csrf=" + csrf + "&domain=not%20a%20domain", cookie), s).status == 400);

    const auto removed = handle_dashboard(post("/domains/new.example.org/remove", "csrf=" + csrf, cookie), s);
    CHECK(location(removed) == "/");
    {
        monitor_store m(t.url());
        CHECK_FALSE(m.get("new.example.org"));
    }
}
