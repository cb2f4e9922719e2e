// analyzer/web.hpp: the request helpers, constant-time token comparison, dashboard sessions
// with their CSRF tokens, and who a request is from.
#include "analyzer/web.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;
using namespace std::chrono_literals;

namespace {

settings with_token(const std::string& token)
{
    settings s;
    s.api_token = token;
    s.db_url = "host=127.0.0.1 port=1 dbname=unused";   // never connected: no store is leased
    return s;
}

web::request get(std::vector<std::pair<std::string, std::string>> headers)
{
    web::request r;
    r.method = "GET";
    r.path = "/api/v1/domains";
    r.headers = std::move(headers);
    return r;
}

} // namespace

TEST_CASE("secret_equal: equal texts only and never an empty expected secret")
{
    CHECK(web::secret_equal("s3cret-token", "s3cret-token"));
    CHECK_FALSE(web::secret_equal("s3cret-tokem", "s3cret-token"));   // same length
    CHECK_FALSE(web::secret_equal("s3cret", "s3cret-token"));         // a prefix
    CHECK_FALSE(web::secret_equal("s3cret-token-and-more", "s3cret-token"));
    CHECK_FALSE(web::secret_equal("", ""));
}

TEST_CASE("sessions: issued cookies are valid until they expire and only under their key")
{
    const web::sessions s("token-one", 1h);
    const auto now = std::chrono::system_clock::now();
    const std::string cookie = s.issue(now);
    CHECK(s.valid(cookie, now));
    CHECK(s.valid(cookie, now + 59min));
    CHECK_FALSE(s.valid(cookie, now + 61min));
    CHECK(s.issue(now) != cookie);   // a random nonce each

    const web::sessions other("token-two", 1h);
    CHECK_FALSE(other.valid(cookie, now));   // a new token signs everyone out

    std::string forged = cookie;
    forged[0] = forged[0] == '9' ? '8' : '9';   // a later expiry, same signature
    CHECK_FALSE(s.valid(forged, now));
    CHECK_FALSE(s.valid("", now));
    CHECK_FALSE(s.valid("no-dots-at-all", now));
    CHECK_FALSE(s.valid(std::string(1000, 'a') + "." + "b", now));
}

TEST_CASE("sessions: the CSRF token belongs to its session")
{
    const web::sessions s("token", 1h);
    const auto now = std::chrono::system_clock::now();
    const auto a = s.issue(now), b = s.issue(now);
    CHECK(s.csrf_for(a) == s.csrf_for(a));
    CHECK(s.csrf_for(a) != s.csrf_for(b));
    CHECK(s.csrf_for(a).size() == 64);
}

TEST_CASE("sessions: the cookie is HttpOnly and SameSite=Strict and Secure under TLS")
{
    const web::sessions s("token", 12h);
    const auto plain = s.set_cookie("v", false);
    CHECK(plain.rfind("stswatch_session=v;", 0) == 0);
    CHECK(plain.find("HttpOnly") != std::string::npos);
    CHECK(plain.find("SameSite=Strict") != std::string::npos);
    CHECK(plain.find("Max-Age=43200") != std::string::npos);
    CHECK(plain.find("Secure") == std::string::npos);
    CHECK(s.set_cookie("v", true).find("; Secure") != std::string::npos);
    CHECK(web::sessions::clear_cookie(true).find("Max-Age=0") != std::string::npos);
}

TEST_CASE("authenticate: the bearer token")
{
    const web::services svc(with_token("the-token"));
    CHECK(web::authenticate(get({{"authorization", "Bearer the-token"}}), svc).authenticated);
    CHECK(web::authenticate(get({{"authorization", "bearer   the-token "}}), svc).authenticated);
    CHECK(web::authenticate(get({{"authorization", "Bearer the-token"}}), svc).csrf_ok);
    CHECK_FALSE(web::authenticate(get({{"authorization", "Bearer the-tokem"}}), svc).authenticated);
    CHECK_FALSE(web::authenticate(get({{"authorization", "Basic dGhlLXRva2Vu"}}), svc).authenticated);
    CHECK_FALSE(web::authenticate(get({{"authorization", "Bearer "}}), svc).authenticated);
    CHECK_FALSE(web::authenticate(get({}), svc).authenticated);

    const web::services none(with_token(""));
    CHECK_FALSE(web::authenticate(get({{"authorization", "Bearer "}}), none).authenticated);
}

TEST_CASE("authenticate: a session cookie, with the CSRF token for writes")
{
    const web::services svc(with_token("the-token"));
    const auto cookie = svc.sessions().issue(std::chrono::system_clock::now());
    const std::string header = std::string(web::session_cookie_name) + "=" + cookie;

    const auto reader = web::authenticate(get({{"cookie", "theme=dark; " + header}}), svc);
    CHECK(reader.authenticated);
    CHECK(reader.by_session);
    CHECK_FALSE(reader.csrf_ok);
    CHECK(reader.who == "session");

    auto by_header = get({{"cookie", header}, {web::csrf_header, svc.sessions().csrf_for(cookie)}});
    CHECK(web::authenticate(by_header, svc).csrf_ok);

    auto by_form = get({{"cookie", header}});
    by_form.method = "POST";
    by_form.body = "domain=example.com&csrf=" + svc.sessions().csrf_for(cookie);
    CHECK(web::authenticate(by_form, svc).csrf_ok);

    by_form.body = "domain=example.com&csrf=" + svc.sessions().csrf_for(cookie + "x");
    CHECK_FALSE(web::authenticate(by_form, svc).csrf_ok);

    // A session of another token is nobody.
    const web::sessions other("another-token", std::chrono::hours(1));
    const auto stale = other.issue(std::chrono::system_clock::now());
    CHECK_FALSE(web::authenticate(get({{"cookie", std::string(web::session_cookie_name) + "=" + stale}}), svc).authenticated);
}

TEST_CASE("request: headers, parameters, cookies and forms")
{
    web::request r;
    r.headers = {{"cookie", "a=1; b=2"}, {"x-one", "1"}, {"x-one", "2"}};
    r.query = web::parse_query("since=2026-11-01&group=mx&group=org");
    r.body = "domain=example.com&interval=3600";
    REQUIRE(r.header("x-one"));
    CHECK(*r.header("x-one") == "1");
    CHECK(r.header("x-two") == nullptr);
    CHECK(r.param("group") == "mx");
    CHECK_FALSE(r.param("until"));
    CHECK(r.cookie("b") == "2");
    CHECK_FALSE(r.cookie("c"));
    CHECK(r.form() == std::vector<std::pair<std::string, std::string>>{{"domain", "example.com"}, {"interval", "3600"}});
}

TEST_CASE("response: errors are JSON with the status and the reason")
{
    const auto e = web::response::error(400, "since: \"x\" is not a date");
    CHECK(e.status == 400);
    CHECK(e.content_type == "application/json");
    CHECK(e.body == R"({"error":{"status":400,"reason":"since: \"x\" is not a date"}})");
    const auto u = web::unauthorized();
    CHECK(u.status == 401);
    CHECK(u.body.find("Bearer") != std::string::npos);
    const auto r = web::response::redirect("/domains/example.com");
    CHECK(r.status == 303);
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0] == std::pair<std::string, std::string>{"Location", "/domains/example.com"});
}

TEST_CASE("guessing: an address that presents wrong tokens too often is locked out")
{
    web::services svc(with_token("the-token"));
    auto wrong = get({{"authorization", "Bearer not-the-token"}});
    wrong.remote = "192.0.2.7";
    for (unsigned i = 0; i < svc.settings().api_max_wrong_tokens; ++i) {
        const auto c = web::authenticate(wrong, svc);
        CHECK_FALSE(web::refuse_guessing(wrong, svc, c).has_value());
    }
    const auto locked = web::refuse_guessing(wrong, svc, web::authenticate(wrong, svc));
    REQUIRE(locked.has_value());
    CHECK(locked->status == 429);
    bool retry_after = false;
    for (const auto& [k, v] : locked->headers)
        retry_after = retry_after || (k == "Retry-After" && std::stoi(v) > 0 && std::stoi(v) <= 601);
    CHECK(retry_after);

    // The right token from that address waits too: the lockout is of the address.
    auto right = get({{"authorization", "Bearer the-token"}});
    right.remote = "192.0.2.7";
    CHECK(web::refuse_guessing(right, svc, web::authenticate(right, svc)).has_value());

    // Other addresses, and requests without a credential, are not counted.
    right.remote = "192.0.2.8";
    CHECK_FALSE(web::refuse_guessing(right, svc, web::authenticate(right, svc)).has_value());
    auto bare = get({});
    bare.remote = "192.0.2.9";
    for (unsigned i = 0; i < 2 * svc.settings().api_max_wrong_tokens; ++i)
        CHECK_FALSE(web::refuse_guessing(bare, svc, web::authenticate(bare, svc)).has_value());

    // api.max_wrong_tokens = 0: no lockout.
    auto open = with_token("the-token");
    open.api_max_wrong_tokens = 0;
    web::services unlimited(open);
    for (int i = 0; i < 100; ++i)
        CHECK_FALSE(web::refuse_guessing(wrong, unlimited, web::authenticate(wrong, unlimited)).has_value());
}
