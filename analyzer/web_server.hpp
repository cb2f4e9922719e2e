// The api.listen listener: Poco's HTTP server (HTTPS with api.cert/api.key) in front of the
// handlers of analyzer/web.hpp, with bounded bodies, headers and time per request.
#pragma once

#include "analyzer/web.hpp"
#include "common/settings.hpp"

#include <cstdint>
#include <memory>

namespace stswatch::web {

struct web_server_options {
    listen_address listen{"127.0.0.1", 8080};
    std::string cert, key;                    // both set: TLS
    unsigned threads = 16;
    unsigned max_queued = 64;
    unsigned timeout_s = 30;                  // per request, and idle keep-alive
    static web_server_options from(const stswatch::settings& s);
};

class web_server {
public:
    web_server(web_server_options options, handler h);
    ~web_server();   // stops
    web_server(const web_server&) = delete;
    web_server& operator=(const web_server&) = delete;
    void start();    // throws std::runtime_error naming the address
    void stop();
    std::uint16_t port() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// /api/v1/… → handle_api, /metrics → handle_metrics, /healthz → 200 "ok", the rest →
// handle_dashboard. Every answer gets the security headers (no sniffing, no framing, a
// strict Content-Security-Policy, no caching of API data). Exceptions become a 500 or,
// for an unreachable database, 503 with a JSON reason.
handler make_router(services& s);

} // namespace stswatch::web
