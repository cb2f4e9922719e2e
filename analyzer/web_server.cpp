// The API listener (analyzer/web_server.hpp): Poco's HTTPServer, plain or over TLS.
#include "analyzer/web_server.hpp"

#include "analyzer/api.hpp"
#include "analyzer/dashboard.hpp"
#include "analyzer/metrics_view.hpp"
#include "common/log.hpp"
#include "net/tcp_service.hpp"
#include "store/errors.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <istream>
#include <ostream>

namespace stswatch::web {

web_server_options web_server_options::from(const stswatch::settings& s)
{
    web_server_options o;
    o.listen = s.api_listen;
    o.cert = s.api_cert;
    o.key = s.api_key;
    o.threads = s.api_threads;
    return o;
}

namespace {

std::string lowered(std::string s)
{
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return s;
}

class handler_adapter : public Poco::Net::HTTPRequestHandler {
public:
    handler_adapter(const handler& h, bool secure) : handler_(h), secure_(secure) {}

    void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override
    {
        request r;
        r.method = in.getMethod();
        r.secure = secure_;
        r.remote = in.clientAddress().host().toString();
        const std::string& uri = in.getURI();
        const auto q = uri.find('?');
        auto path = percent_decode(std::string_view(uri).substr(0, q), false);
        response answer;
        if (!path || path->empty() || path->front() != '/') {
            answer = response::error(400, "the request path is not a valid absolute path");
        } else {
            r.path = std::move(*path);
            if (q != std::string::npos)
                r.query = parse_query(std::string_view(uri).substr(q + 1));
            for (const auto& [name, value] : in)
                r.headers.emplace_back(lowered(name), value);
            answer = read_body(in, r) ? handler_(r) : response::error(413, "the request body is over "
                                                                             + std::to_string(max_body_bytes) + " bytes");
        }
        send(in, out, answer);
    }

private:
    static bool read_body(Poco::Net::HTTPServerRequest& in, request& r)
    {
        if (in.hasContentLength() && in.getContentLength64() > static_cast<std::int64_t>(max_body_bytes))
            return false;
        if (!in.hasContentLength() && !in.getChunkedTransferEncoding())
            return true;
        std::istream& body = in.stream();
        char buf[8192];
        while (body) {
            body.read(buf, sizeof buf);
            r.body.append(buf, static_cast<std::size_t>(body.gcount()));
            if (r.body.size() > max_body_bytes)
                return false;
        }
        return true;
    }

    static void send(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out, const response& a)
    {
        out.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status));
        out.setContentType(a.content_type);
        for (const auto& [k, v] : a.headers)
            out.add(k, v);
        // A body over the limit was not read: do not read the next request from its bytes.
        if (a.status == 413)
            out.setKeepAlive(false);
        out.setContentLength64(static_cast<std::int64_t>(a.body.size()));
        auto& stream = out.send();
        if (in.getMethod() != Poco::Net::HTTPRequest::HTTP_HEAD)
            stream.write(a.body.data(), static_cast<std::streamsize>(a.body.size()));
    }

    const handler& handler_;
    bool secure_;
};

class factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    factory(handler h, bool secure) : handler_(std::move(h)), secure_(secure) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override
    {
        return new handler_adapter(handler_, secure_);
    }

private:
    handler handler_;
    bool secure_;
};

void security_headers(response& r)
{
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    // A handler may allow caching (the dashboard's assets); everything else is not stored.
    bool cache_set = false;
    for (const auto& [k, v] : r.headers)
        cache_set = cache_set || k == "Cache-Control";
    if (!cache_set)
        r.headers.emplace_back("Cache-Control", "no-store");
    // Everything the dashboard uses comes from this listener; nothing from elsewhere.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
                           " frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
}

} // namespace

struct web_server::impl {
    web_server_options options;
    handler h;
    std::unique_ptr<Poco::ThreadPool> pool;
    std::unique_ptr<Poco::Net::HTTPServer> server;
    std::uint16_t port = 0;
};

web_server::web_server(web_server_options options, handler h) : impl_(std::make_unique<impl>())
{
    impl_->options = std::move(options);
    impl_->h = std::move(h);
}

web_server::~web_server() { stop(); }

void web_server::start()
{
    auto& o = impl_->options;
    const bool secure = !o.cert.empty();
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (secure)
        socket = std::make_unique<Poco::Net::SecureServerSocket>(server_tls_context(o.cert, o.key, "api"));
    else
        socket = std::make_unique<Poco::Net::ServerSocket>();
    listen_on(*socket, o.listen, 128, "api");
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(static_cast<int>(o.threads));
    params->setMaxQueued(static_cast<int>(o.max_queued));
    params->setTimeout(Poco::Timespan(static_cast<long>(o.timeout_s), 0));
    params->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(o.timeout_s), 0));
    params->setMaxKeepAliveRequests(1000);
    params->setServerName("stswatch");
    params->setSoftwareVersion("stswatch");
    impl_->pool = std::make_unique<Poco::ThreadPool>(1, static_cast<int>(o.threads));
    impl_->port = socket->address().port();
    impl_->server = std::make_unique<Poco::Net::HTTPServer>(new factory(impl_->h, secure), *impl_->pool, *socket, params);
    impl_->server->start();
}

void web_server::stop()
{
    if (impl_->server) {
        impl_->server->stopAll(true);
        impl_->server.reset();
    }
    if (impl_->pool) {
        impl_->pool->joinAll();
        impl_->pool.reset();
    }
}

std::uint16_t web_server::port() const { return impl_->port; }

handler make_router(services& s)
{
    return [&s](const request& r) {
        response out;
        try {
            if (r.path == "/api/v1" || r.path.rfind("/api/v1/", 0) == 0 || r.path.rfind("/api/", 0) == 0)
                out = handle_api(r, s);
            else if (r.path == "/metrics")
                out = handle_metrics(r, s);
            else if (r.path == "/healthz") {
                out.content_type = "text/plain; charset=utf-8";
                out.body = "ok\n";
            } else
                out = handle_dashboard(r, s);
        } catch (const store_unavailable& e) {
            log::warning("api", "database unavailable", {{"path", r.path}, {"error", e.what()}});
            out = response::error(503, "the database is unavailable");
            out.headers.emplace_back("Retry-After", "10");
        } catch (const std::exception& e) {
            log::error("api", "request failed", {{"path", r.path}, {"error", e.what()}});
            out = response::error(500, "internal error");
        }
        security_headers(out);
        return out;
    };
}

} // namespace stswatch::web
