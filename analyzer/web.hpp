// What the API, /metrics and the dashboard share on the api.listen listener
// (docs/api.md): the request and response as handlers see them, the services they read and
// write through, and authentication (bearer token, dashboard session, CSRF token).
//
// Handlers are plain functions of a request, so that they can be tested without a socket;
// analyzer/web_server.hpp puts them behind Poco's HTTP server.
#pragma once

#include "common/settings.hpp"
#include "common/url.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stswatch {
class analysis_store;
class monitor_store;
}

namespace stswatch::web {

// Bounds on what a client may send to the API listener.
constexpr std::size_t max_body_bytes = 64 * 1024;      // forms and JSON of the write side
constexpr std::size_t max_query_params = url::max_query_params;

struct request {
    std::string method;                                           // GET, HEAD, POST, DELETE, …
    std::string path;                                             // percent-decoded, without the query
    std::vector<std::pair<std::string, std::string>> query;       // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;     // names lower-case
    std::string body;                                             // at most max_body_bytes
    bool secure = false;                                          // over TLS
    std::string remote;                                           // peer address

    const std::string* header(std::string_view name) const;       // name lower-case; first one
    std::optional<std::string> param(std::string_view name) const;   // first query parameter
    std::optional<std::string> cookie(std::string_view name) const;
    // application/x-www-form-urlencoded body fields (the dashboard's forms), decoded.
    std::vector<std::pair<std::string, std::string>> form() const;
};

struct response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;     // e.g. Set-Cookie, Location

    static response json(int status, std::string body);
    // {"error":{"status":400,"reason":"since: \"x\" is not a date"}}
    static response error(int status, const std::string& reason);
    static response redirect(const std::string& location, int status = 303);
};

// Percent-decoding, queries and forms, HTML escaping (common/url.hpp).
using url::html_escape;
using url::parse_query;
using url::percent_decode;
using url::percent_encode;

// Constant-time comparison of a presented secret with the expected one (the time depends
// on the length of the expected secret only).
bool secret_equal(std::string_view presented, std::string_view expected);

// The dashboard's sign-in: a cookie holding an expiry and a random nonce, signed with
// HMAC-SHA256 under a key derived from api.token, so that every `serve` with the same token
// accepts it and a changed token signs everyone out. The CSRF token is an HMAC of the
// session under the same key: forms and fetches send it, a cross-site page cannot read it.
constexpr const char* session_cookie_name = "stswatch_session";
constexpr const char* csrf_field = "csrf";                 // form field
constexpr const char* csrf_header = "x-csrf-token";        // header of fetch() writes

class sessions {
public:
    sessions(std::string token, std::chrono::seconds lifetime);
    std::string issue(std::chrono::system_clock::time_point now) const;   // a new cookie value
    bool valid(std::string_view cookie, std::chrono::system_clock::time_point now) const;
    std::string csrf_for(std::string_view cookie) const;
    // The Set-Cookie header value: HttpOnly, SameSite=Strict, Path=/, Max-Age, Secure under TLS.
    std::string set_cookie(const std::string& value, bool secure) const;
    static std::string clear_cookie(bool secure);
    std::chrono::seconds lifetime() const { return lifetime_; }

private:
    std::string key_;
    std::chrono::seconds lifetime_;
};

// Shared by every handler; thread-safe. Stores are leased per request from small pools, a
// connection each: reads from analyzer.db.url (a replica) when set, writes to db.url.
class services {
public:
    services(const stswatch::settings& settings);
    ~services();
    services(const services&) = delete;
    services& operator=(const services&) = delete;

    const stswatch::settings& settings() const { return settings_; }
    const web::sessions& sessions() const { return sessions_; }
    bool tls() const { return !settings_.api_cert.empty(); }

    template <typename Store>
    class lease {
    public:
        lease(std::unique_ptr<Store> s, std::function<void(std::unique_ptr<Store>)> back)
            : store_(std::move(s)), back_(std::move(back)) {}
        lease(lease&&) = default;
        ~lease()
        {
            if (store_ && back_ && !broken_)
                back_(std::move(store_));
        }
        Store* operator->() { return store_.get(); }
        Store& operator*() { return *store_; }
        void broken() { broken_ = true; }   // after a store error: do not reuse the connection

    private:
        std::unique_ptr<Store> store_;
        std::function<void(std::unique_ptr<Store>)> back_;
        bool broken_ = false;
    };

    lease<analysis_store> reads();           // analyzer.db.url or db.url
    lease<analysis_store> writes();          // db.url (incident acknowledgement)
    lease<monitor_store> monitor();          // db.url

    // Guessing the token: after api.max_wrong_tokens wrong tokens from one address within
    // guess_window, requests from it are answered 429 until the window has passed.
    static constexpr std::chrono::seconds guess_window{600};
    std::optional<std::chrono::seconds> guessing(const std::string& remote) const;   // the wait, when locked out
    void wrong_token(const std::string& remote);

    // Today in UTC; tests may pin it (a seeded timeline).
    std::chrono::sys_days today() const;
    void pin_today(std::chrono::sys_days day);

private:
    struct impl;
    stswatch::settings settings_;
    web::sessions sessions_;
    std::unique_ptr<impl> impl_;
};

// Who a request is from.
struct caller {
    bool authenticated = false;
    bool by_session = false;       // the dashboard's cookie (else the bearer token)
    bool csrf_ok = false;          // a write with the session's CSRF token (always true by token)
    std::string who;               // "token" or "session", for acknowledged_by
};
caller authenticate(const request& r, const services& s);
// 401 with WWW-Authenticate: Bearer and a JSON reason, nothing else.
response unauthorized();
// 429 with Retry-After for an address that guessed wrong too often.
response too_many_guesses(std::chrono::seconds wait);
// authenticate() for the API and /metrics: 429 while the address is locked out, and a
// wrong token presented counts towards the lockout. nullopt: go on with the caller c.
std::optional<response> refuse_guessing(const request& r, services& s, const caller& c);

using handler = std::function<response(const request&)>;

} // namespace stswatch::web
