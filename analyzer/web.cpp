// Requests, responses, sessions and the services of the API listener (analyzer/web.hpp).
#include "analyzer/web.hpp"

#include "analyzer/json_out.hpp"
#include "common/text.hpp"
#include "store/analysis_store.hpp"
#include "store/monitor_store.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace stswatch::web {

namespace {

std::string lowered(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string hex(const unsigned char* data, std::size_t n)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

std::string hmac_hex(const std::string& key, std::string_view message)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len))
        throw std::runtime_error("HMAC-SHA256 failed");
    return hex(mac, len);
}

} // namespace

// --- request / response ---

const std::string* request::header(std::string_view name) const
{
    for (const auto& [k, v] : headers)
        if (k == name)
            return &v;
    return nullptr;
}

std::optional<std::string> request::param(std::string_view name) const
{
    for (const auto& [k, v] : query)
        if (k == name)
            return v;
    return std::nullopt;
}

std::optional<std::string> request::cookie(std::string_view name) const
{
    for (const auto& [k, v] : headers)
        if (k == "cookie")
            if (auto value = url::cookie_value(v, name))
                return value;
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> request::form() const
{
    return parse_query(body);
}

response response::json(int status, std::string body)
{
    response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

response response::error(int status, const std::string& reason)
{
    analysis::json_out w;
    w.begin_object().key("error").begin_object();
    w.field("status", status).field("reason", reason);
    w.end_object().end_object();
    return json(status, w.take());
}

response response::redirect(const std::string& location, int status)
{
    response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Location", location);
    return r;
}

bool secret_equal(std::string_view presented, std::string_view expected)
{
    // Compare fixed-length digests: the time does not depend on where the texts differ, nor
    // on the presented length.
    unsigned char a[32], b[32];
    unsigned int n = 0;
    EVP_Digest(presented.data(), presented.size(), a, &n, EVP_sha256(), nullptr);
    EVP_Digest(expected.data(), expected.size(), b, &n, EVP_sha256(), nullptr);
    return CRYPTO_memcmp(a, b, sizeof a) == 0 && !expected.empty();
}

// --- sessions ---

sessions::sessions(std::string token, std::chrono::seconds lifetime)
    : key_(hmac_hex(token, "stswatch dashboard session key v1")), lifetime_(lifetime)
{
}

std::string sessions::issue(std::chrono::system_clock::time_point now) const
{
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        throw std::runtime_error("no random bytes for a session");
    const auto expires = std::chrono::duration_cast<std::chrono::seconds>((now + lifetime_).time_since_epoch()).count();
    const std::string body = std::to_string(expires) + "." + hex(nonce, sizeof nonce);
    return body + "." + hmac_hex(key_, body);
}

bool sessions::valid(std::string_view cookie, std::chrono::system_clock::time_point now) const
{
    const auto last = cookie.rfind('.');
    if (last == std::string_view::npos || cookie.size() > 256)
        return false;
    const std::string_view body = cookie.substr(0, last);
    if (!secret_equal(cookie.substr(last + 1), hmac_hex(key_, body)))
        return false;
    const auto dot = body.find('.');
    const std::string_view digits = body.substr(0, dot);
    long long expires = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), expires);
    if (ec != std::errc() || end != digits.data() + digits.size())
        return false;
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return expires > now_s;
}

std::string sessions::csrf_for(std::string_view cookie) const
{
    return hmac_hex(key_, std::string("csrf:") + std::string(cookie));
}

std::string sessions::set_cookie(const std::string& value, bool secure) const
{
    return std::string(session_cookie_name) + "=" + value + "; Path=/; Max-Age=" + std::to_string(lifetime_.count())
           + "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string sessions::clear_cookie(bool secure)
{
    return std::string(session_cookie_name) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
           + (secure ? "; Secure" : "");
}

// --- services ---

struct services::impl {
    template <typename Store>
    struct pool {
        std::mutex mutex;
        std::vector<std::unique_ptr<Store>> idle;
        std::string url;

        lease<Store> take()
        {
            std::unique_ptr<Store> s;
            {
                std::lock_guard lock(mutex);
                if (!idle.empty()) {
                    s = std::move(idle.back());
                    idle.pop_back();
                }
            }
            if (!s)
                s = std::make_unique<Store>(url);
            return lease<Store>(std::move(s), [this](std::unique_ptr<Store> back) {
                std::lock_guard lock(mutex);
                if (idle.size() < 8)
                    idle.push_back(std::move(back));
            });
        }
    };
    pool<analysis_store> reads, writes;
    pool<monitor_store> monitor;
    struct guesses {
        std::chrono::steady_clock::time_point first;
        unsigned count = 0;
    };
    mutable std::mutex guess_mutex;
    mutable std::unordered_map<std::string, guesses> guessed;
    std::atomic<long long> pinned_today{0};
    std::atomic<bool> pinned{false};
};

services::services(const stswatch::settings& s)
    : settings_(s), sessions_(s.api_token, std::chrono::hours(s.api_session_hours)), impl_(std::make_unique<impl>())
{
    impl_->reads.url = s.analyzer_db_url.empty() ? s.db_url : s.analyzer_db_url;
    impl_->writes.url = s.db_url;
    impl_->monitor.url = s.db_url;
}

services::~services() = default;

services::lease<analysis_store> services::reads() { return impl_->reads.take(); }
services::lease<analysis_store> services::writes() { return impl_->writes.take(); }
services::lease<monitor_store> services::monitor() { return impl_->monitor.take(); }

std::optional<std::chrono::seconds> services::guessing(const std::string& remote) const
{
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(impl_->guess_mutex);
    const auto it = impl_->guessed.find(remote);
    if (it == impl_->guessed.end())
        return std::nullopt;
    if (now - it->second.first >= guess_window) {
        impl_->guessed.erase(it);
        return std::nullopt;
    }
    if (settings_.api_max_wrong_tokens == 0 || it->second.count < settings_.api_max_wrong_tokens)
        return std::nullopt;
    return std::chrono::duration_cast<std::chrono::seconds>(guess_window - (now - it->second.first))
           + std::chrono::seconds(1);
}

void services::wrong_token(const std::string& remote)
{
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(impl_->guess_mutex);
    // Bounded: many addresses guessing at once drop the expired entries, then the oldest.
    if (impl_->guessed.size() >= 10000) {
        for (auto it = impl_->guessed.begin(); it != impl_->guessed.end();)
            it = now - it->second.first >= guess_window ? impl_->guessed.erase(it) : std::next(it);
        if (impl_->guessed.size() >= 10000)
            impl_->guessed.erase(impl_->guessed.begin());
    }
    auto& g = impl_->guessed[remote];
    if (g.count == 0 || now - g.first >= guess_window) {
        g.first = now;
        g.count = 0;
    }
    ++g.count;
}

std::chrono::sys_days services::today() const
{
    if (impl_->pinned.load())
        return std::chrono::sys_days(std::chrono::days(impl_->pinned_today.load()));
    return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
}

void services::pin_today(std::chrono::sys_days day)
{
    impl_->pinned_today = day.time_since_epoch().count();
    impl_->pinned = true;
}

// --- authentication ---

caller authenticate(const request& r, const services& s)
{
    caller c;
    const std::string& token = s.settings().api_token;
    if (token.empty())
        return c;   // no token configured: nobody gets in (serve refuses to start the API then)
    if (const auto* auth = r.header("authorization")) {
        const std::string_view value = *auth;
        if (value.size() > 7 && lowered(value.substr(0, 7)) == "bearer ") {
            if (secret_equal(text::trim(value.substr(7)), token)) {
                c.authenticated = true;
                c.csrf_ok = true;
                c.who = "token";
            }
            return c;
        }
    }
    if (auto cookie = r.cookie(session_cookie_name); cookie && s.sessions().valid(*cookie, std::chrono::system_clock::now())) {
        c.authenticated = true;
        c.by_session = true;
        c.who = "session";
        const std::string expected = s.sessions().csrf_for(*cookie);
        std::optional<std::string> presented;
        if (const auto* h = r.header(csrf_header))
            presented = *h;
        else
            for (const auto& [k, v] : r.form())
                if (k == csrf_field) {
                    presented = v;
                    break;
                }
        c.csrf_ok = presented && secret_equal(*presented, expected);
    }
    return c;
}

response too_many_guesses(std::chrono::seconds wait)
{
    auto r = response::error(429, "too many wrong tokens from this address: try again in "
                                      + std::to_string(wait.count()) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait.count()));
    return r;
}

std::optional<response> refuse_guessing(const request& r, services& s, const caller& c)
{
    if (auto wait = s.guessing(r.remote))
        return too_many_guesses(*wait);
    if (!c.authenticated && r.header("authorization"))
        s.wrong_token(r.remote);
    return std::nullopt;
}

response unauthorized()
{
    auto r = response::error(401, "a valid Authorization: Bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"stswatch\"");
    return r;
}

} // namespace stswatch::web
