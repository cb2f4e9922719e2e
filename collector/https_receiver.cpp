// HTTPS report intake (RFC 8460 §5.4): Poco's TCPServer over TLS with Poco's HTTP session
// classes and one handler for every path. What a body is answered is decided in
// collector/intake.cpp; the watchdog that bounds the time a client may take to send one
// request is in collector/http_deadlines.cpp.
#include "collector/https_receiver.hpp"
#include "collector/http_deadlines.hpp"
#include "collector/rate_limit.hpp"
#include "collector/spool.hpp"
#include "net/tcp_service.hpp"
#include "tlsrpt/report_json.hpp"

#include "common/log.hpp"
#include "common/memory.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

#include <sys/socket.h>
#include <sys/time.h>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

namespace stswatch {

namespace {

using steady = std::chrono::steady_clock;
constexpr std::string_view component = "https";
// Response bodies are text/plain; charset=utf-8, and log values keep a peer's UTF-8 too.
constexpr auto keep = text::high_bytes::keep;

// Called by the acceptor for each new connection, before it waits for a thread.
class deadline_filter : public Poco::Net::TCPServerConnectionFilter {
public:
    deadline_filter(request_deadlines& deadlines, const https_receiver_options& options)
        : deadlines_(deadlines), options_(options)
    {
    }

    bool accept(const Poco::Net::StreamSocket& accepted) override
    {
        try {
            Poco::Net::StreamSocket socket(accepted);
            // Responses are small, but a client that never reads must not hold a thread either.
            socket.setSendTimeout(Poco::Timespan(static_cast<long>(options_.idle_timeout), 0));
            const auto peer = socket.peerAddress().host().toString();
            std::string why;
            // In the queue, the whole-request bound; once a thread takes it, the handshake's.
            if (deadlines_.watch(socket, peer, steady::now() + std::chrono::seconds(options_.request_timeout), why))
                return true;
            // A flood of these is the point of the limit: one line per interval, with a count.
            static log::summarised refused;
            refused.write(log::level::warning, component, "connection refused", {{"peer", peer}, {"reason", why}});
        } catch (const Poco::Exception& e) {
            log::warning(component, "connection refused", {{"error", e.displayText()}});
        }
        return false;
    }

private:
    request_deadlines& deadlines_;
    const https_receiver_options& options_;
};

struct receiver_context {
    const https_receiver_options& options;
    report_store& store;
    request_deadlines& deadlines;
    rate_limiter& limiter;
};

// How reading a request body ended.
enum class body_read { complete, too_large, timed_out, incomplete };

struct read_result {
    body_read outcome = body_read::complete;
    std::string body;
    std::string why;   // for the log, when not complete
};

read_result read_body(Poco::Net::HTTPServerRequestImpl& request, const receiver_context& ctx,
                      std::uint64_t max_bytes)
{
    read_result r;
    const auto connection = request.socket().impl();
    const bool fixed = !request.getChunkedTransferEncoding() && request.hasContentLength();
    const auto expected = fixed ? static_cast<std::uint64_t>(request.getContentLength64()) : 0;
    if (fixed) r.body.reserve(static_cast<std::size_t>(std::min(expected, max_bytes)));

    std::istream& in = request.stream();
    std::array<char, 65536> buffer;   // not zeroed: 64 KB per request, and only what is read is used
    auto cut_short = [&] {
        r.outcome = body_read::timed_out;
        r.why = ctx.deadlines.cut_reason(connection);
        if (r.why.empty() || r.why.starts_with("request not complete"))
            r.why = "request not complete within " + std::to_string(ctx.options.request_timeout) + " s";
    };
    for (;;) {
        if (ctx.deadlines.expired(connection)) {
            cut_short();
            return r;
        }
        in.read(buffer.data(), buffer.size());
        const auto got = static_cast<std::size_t>(in.gcount());
        if (r.body.size() + got > max_bytes) {
            r.outcome = body_read::too_large;
            r.why = "body over " + std::to_string(max_bytes) + " bytes";
            return r;
        }
        r.body.append(buffer.data(), got);
        if (!in) break;
    }

    // Poco's streams turn a failed read into a bad stream; the session keeps the cause.
    const Poco::Exception* failure = request.session().networkException();
    const bool short_body = fixed && r.body.size() < expected;
    if (!in.bad() && !short_body) return r;
    if (ctx.deadlines.expired(connection)) {
        cut_short();
    } else if (failure && dynamic_cast<const Poco::TimeoutException*>(failure)) {
        r.outcome = body_read::timed_out;
        r.why = "no data for " + std::to_string(ctx.options.idle_timeout) + " s";
    } else {
        r.outcome = body_read::incomplete;
        r.why = short_body ? "body ended after " + std::to_string(r.body.size()) + " of "
                                 + std::to_string(expected) + " bytes"
                           : "body unreadable";
        if (failure) r.why += ": " + failure->displayText();
    }
    return r;
}

// After refusing a body unread, read a little of it so that closing the connection does not
// reset it before the client has read the answer; a client sending more, or nothing, is cut.
void discard_some_body(Poco::Net::HTTPServerRequestImpl& request)
{
    constexpr std::size_t limit = 1 << 20;
    constexpr auto patience = std::chrono::seconds(2);
    const auto started = steady::now();
    std::array<char, 16384> buffer{};
    std::size_t discarded = 0;
    try {
        // The connection closes after this: waiting long for bytes nobody needs helps no one.
        request.socket().setReceiveTimeout(Poco::Timespan(0, 500000));
        auto& in = request.stream();
        while (in && discarded < limit && steady::now() - started < patience) {
            in.read(buffer.data(), buffer.size());
            discarded += static_cast<std::size_t>(in.gcount());
        }
    } catch (const Poco::Exception&) {
        // The answer is already sent; the connection closes either way.
    }
}

class request_handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit request_handler(const receiver_context& ctx) : ctx_(ctx) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override
    {
        const auto started = steady::now();
        exchange x;
        x.method = request.getMethod();
        x.peer = request.clientAddress().toString();
        const Poco::Net::SocketImpl* connection = nullptr;
        try {
            auto& impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(request);
            connection = impl.socket().impl();
            route(impl, response, x);
        } catch (const Poco::IOException& e) {
            lost(x, e);   // network and TLS errors: the peer went away, nothing to fix here
        } catch (const Poco::TimeoutException& e) {
            lost(x, e);
        } catch (const Poco::Exception& e) {
            fail(response, x, e.displayText());
        } catch (const std::exception& e) {
            fail(response, x, e.what());
        }
        if (x.path == ctx_.options.path && x.method == Poco::Net::HTTPRequest::HTTP_POST) {
            count_received(transport::https, x.answered ? outcome_of_status(x.status) : "aborted");
            observe_ingest(transport::https, started);
        }
        if (connection) {
            // The next request on this connection: the keep-alive wait, then the request.
            ctx_.deadlines.arm(connection, steady::now() + std::chrono::seconds(ctx_.options.idle_timeout)
                                               + std::chrono::seconds(ctx_.options.request_timeout));
        }
        write_log(x, started);
    }

private:
    // What the log line says about one request.
    struct exchange {
        std::string method, path, peer, report_id, organization, reason;
        int status = 0;
        std::size_t bytes = 0;
        bool answered = true;   // false when the connection was already cut
        bool body_consumed = false;   // the next request on the connection can be read
    };

    void route(Poco::Net::HTTPServerRequestImpl& request, Poco::Net::HTTPServerResponse& response,
               exchange& x)
    {
        try {
            x.path = Poco::URI(request.getURI()).getPath();
        } catch (const Poco::SyntaxException&) {
            x.path = text::one_line(request.getURI(), 200, keep);
            return answer(request, response, x, 400, "malformed request target");
        }
        if (request.size() > ctx_.options.max_header_fields) {
            return answer(request, response, x, 431,
                          "more than " + std::to_string(ctx_.options.max_header_fields) + " header fields");
        }

        const bool report_path = x.path == ctx_.options.path;
        const bool health_path = x.path == "/healthz";
        if (!report_path && !health_path)
            return answer(request, response, x, 404,
                          "no such path; reports go to POST " + ctx_.options.path);
        if (report_path && x.method != Poco::Net::HTTPRequest::HTTP_POST) {
            response.set("Allow", "POST");
            return answer(request, response, x, 405, "reports are sent with POST (RFC 8460 §5.4)");
        }
        if (health_path && x.method != Poco::Net::HTTPRequest::HTTP_GET
            && x.method != Poco::Net::HTTPRequest::HTTP_HEAD) {
            response.set("Allow", "GET, HEAD");
            return answer(request, response, x, 405, "/healthz answers GET");
        }
        if (health_path) return health(request, response, x);
        receive_report(request, response, x);
    }

    void receive_report(Poco::Net::HTTPServerRequestImpl& request,
                        Poco::Net::HTTPServerResponse& response, exchange& x)
    {
        const auto& o = ctx_.options;
        const auto connection = request.socket().impl();
        // docs/senders.md: HTTPS reports are unauthenticated, so one address may not flood the store.
        unsigned retry_after = 0;
        if (!ctx_.limiter.allow(request.clientAddress().host().toString(), retry_after)) {
            response.set("Retry-After", std::to_string(retry_after));
            answer(request, response, x, 429, "too many reports from this address; retry later");
            discard_some_body(request);
            return;
        }
        if (!request.getChunkedTransferEncoding()) {
            if (!request.hasContentLength())
                return answer(request, response, x, 411, "Content-Length or chunked transfer coding required");
            if (request.getContentLength64() < 0
                || static_cast<std::uint64_t>(request.getContentLength64()) > o.max_body_bytes) {
                // Refused before reading a byte of it.
                answer(request, response, x, 413,
                       "the request body is larger than " + std::to_string(o.max_body_bytes) + " bytes");
                discard_some_body(request);
                return;
            }
        }

        auto body = read_body(request, ctx_, o.max_body_bytes);
        x.bytes = body.body.size();
        x.body_consumed = body.outcome == body_read::complete;
        switch (body.outcome) {
        case body_read::complete:
            break;
        case body_read::too_large:
            answer(request, response, x, 413,
                   "the request body is larger than " + std::to_string(o.max_body_bytes) + " bytes");
            discard_some_body(request);
            return;
        case body_read::timed_out:
            x.reason = body.why;
            return try_answer(request, response, x, 408, "request timeout: " + body.why);
        case body_read::incomplete:
            return try_answer(request, response, x, 400, body.why);
        }
        ctx_.deadlines.disarm(connection);

        const auto body_bytes = body.body.size();
        const auto result = handle_report_body(o, ctx_.store, request.getContentType(),
                                               request.get("Content-Encoding", ""), std::move(body.body),
                                               x.peer, request.get("User-Agent", ""));
        release_free_memory_after(body_bytes);
        x.report_id = result.report_id;
        x.organization = result.organization;
        if (result.status == 503) {
            // RFC 8460 §5.5: senders retry; tell them when.
            response.set("Retry-After", "60");
        }
        answer(request, response, x, result.status, result.body);
    }

    void health(Poco::Net::HTTPServerRequestImpl& request, Poco::Net::HTTPServerResponse& response,
                exchange& x)
    {
        const auto c = ctx_.store.counters();
        const auto db = ctx_.store.database();
        // docs/contracts.md: 200 while intake answers; "degraded" while the database is away
        // (reports go to the spool, or get 503 without one), with the store's reason.
        std::string json = std::string("{\"status\":\"") + (db.available ? "ok" : "degraded")
                         + "\",\"database\":\"" + (db.available ? "available" : "unavailable") + "\"";
        if (!db.available)
        {
            json += ",\"database_reason\":";
            append_json_string(json, text::one_line(db.reason, 300, keep));
        }
        if (ctx_.options.spool)
            json += ",\"spooled\":" + std::to_string(ctx_.options.spool->count());
        json += ",\"stored\":" + std::to_string(c.stored)
              + ",\"duplicates\":" + std::to_string(c.duplicates) + ",\"batches\":" + std::to_string(c.batches)
              + ",\"failures\":" + std::to_string(c.failures) + "}\n";
        x.status = 200;
        keep_alive_only_without_body(request, response);
        response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
        response.setContentType("application/json");
        response.set("Cache-Control", "no-store");
        send_body(request, response, json);
    }

    // An unread body would be taken for the next request: close such connections instead.
    static void keep_alive_only_without_body(Poco::Net::HTTPServerRequest& request,
                                             Poco::Net::HTTPServerResponse& response)
    {
        if (request.getChunkedTransferEncoding()
            || (request.hasContentLength() && request.getContentLength64() > 0))
            response.setKeepAlive(false);
    }

    void answer(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                exchange& x, int status, const std::string& text)
    {
        x.status = status;
        if (status >= 400 && x.reason.empty()) x.reason = text;
        if (status == 408 || status == 411 || status == 413 || status == 429 || status == 431 || status >= 500)
            response.setKeepAlive(false);
        else if (!x.body_consumed)
            keep_alive_only_without_body(request, response);
        response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
        response.setContentType("text/plain; charset=utf-8");
        send_body(request, response, text::one_line(text, 400, keep) + "\n");
    }

    // Flushed now rather than when the handler returns, so that a refusal reaches the client
    // before its unread body is drained.
    static void send_body(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                          const std::string& body)
    {
        response.setContentLength(static_cast<std::streamsize>(body.size()));
        auto& out = response.send();
        if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_HEAD)
            out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.flush();
    }

    // For a connection that may already be cut: the status is logged either way.
    void try_answer(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                    exchange& x, int status, const std::string& text)
    {
        try {
            answer(request, response, x, status, text);
        } catch (const Poco::Exception&) {
            x.answered = false;
        }
    }

    static void lost(exchange& x, const Poco::Exception& e)
    {
        x.answered = false;
        const auto why = "connection lost: " + text::one_line(e.displayText(), 400, keep);
        x.reason = x.reason.empty() ? why : x.reason + "; " + why;
    }

    void fail(Poco::Net::HTTPServerResponse& response, exchange& x, const std::string& error)
    {
        x.status = 500;
        x.reason = text::one_line(error, 400, keep);
        log::error(component, "request failed",
                   {{"method", x.method}, {"path", x.path}, {"peer", x.peer}, {"error", x.reason}});
        if (response.sent()) return;
        try {
            response.setKeepAlive(false);
            response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
            response.setContentType("text/plain; charset=utf-8");
            static const std::string line = "internal error\n";
            response.setContentLength(static_cast<std::streamsize>(line.size()));
            response.sendBuffer(line.data(), line.size());
        } catch (const Poco::Exception&) {
            x.answered = false;
        }
    }

    void write_log(const exchange& x, steady::time_point started) const
    {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started).count();
        // Refusals are the sender's problem, or an attack; only a failure of ours is an error.
        const auto level = x.status == 500 ? log::level::error
                         : (x.status >= 400 && x.status != 404 && x.status != 405) || !x.answered
                             ? log::level::warning
                             : log::level::info;
        const auto path = text::one_line(x.path, 200, keep);
        const auto status = std::to_string(x.status);
        const auto bytes = std::to_string(x.bytes);
        const auto report_id = text::one_line(x.report_id, 200, keep);
        const auto organization = text::one_line(x.organization, 200, keep);
        const auto duration = std::to_string(ms);
        if (x.reason.empty() && x.answered) {
            log::write(level, component, "request",
                       {{"method", x.method}, {"path", path}, {"status", status}, {"bytes", bytes},
                        {"report_id", report_id}, {"org", organization}, {"peer", x.peer}, {"ms", duration}});
        } else {
            log::write(level, component, "request",
                       {{"method", x.method}, {"path", path}, {"status", status}, {"bytes", bytes},
                        {"report_id", report_id}, {"org", organization}, {"peer", x.peer}, {"ms", duration},
                        {"reason", x.answered ? x.reason : x.reason + " (answer not delivered)"}});
        }
    }

    const receiver_context& ctx_;
};

// One keep-alive connection: what Poco's HTTPServerConnection does, but waiting for the next
// request on the connection in the read itself (the session's receive timeout bounds it, as
// Poco's poll did) rather than in a poll first, which cost an epoll instance created and
// closed, four system calls, for every request.
class report_connection : public Poco::Net::TCPServerConnection {
public:
    report_connection(const Poco::Net::StreamSocket& socket, const receiver_context& ctx,
                      Poco::Net::HTTPServerParams::Ptr params, open_connections& connections)
        : Poco::Net::TCPServerConnection(socket), ctx_(ctx), params_(std::move(params)),
          connections_(connections)
    {
    }

    void run() override
    {
        const auto& socket = this->socket();
        if (!connections_.enter(socket)) return;
        struct registered {
            open_connections& connections;
            const Poco::Net::StreamSocket& socket;
            ~registered() { connections.leave(socket); }
        } registration{connections_, socket};
        try {
            serve();
        } catch (const Poco::Exception&) {
            // The peer went away or the session broke: the connection ends, as it would in Poco.
        }
    }

private:
    void serve()
    {
        const auto& socket = this->socket();
        Poco::Net::HTTPServerSession session(socket, params_);
        request_handler handler(ctx_);
        const std::string server = params_->getSoftwareVersion();
        int requests_left = std::max(1, params_->getMaxKeepAliveRequests());
        // The TLS handshake first, bounded by collector.https.handshake_timeout from the
        // accept (the watchdog cuts a client that stalls in it); then the first request is
        // awaited as Poco does, in a poll, and every pause is bounded by the idle timeout.
        ctx_.deadlines.started(socket.impl(), steady::now() + std::chrono::seconds(ctx_.options.handshake_timeout));
        Poco::Net::SecureStreamSocket secure(socket);
        secure.completeHandshake();
        ctx_.deadlines.arm(socket.impl(), steady::now() + std::chrono::seconds(ctx_.options.idle_timeout)
                                              + std::chrono::seconds(ctx_.options.request_timeout));
        bound_each_wait(socket);
        if (!connections_.await_request(socket)
            || !socket.poll(params_->getTimeout(), Poco::Net::Socket::SELECT_READ))
            return;
        do {
            Poco::Net::HTTPServerResponseImpl response(session);
            try {
                // Blocks until a request, the end of the connection (NoMessageException) or
                // the idle timeout (the same).
                Poco::Net::HTTPServerRequestImpl request(response, session, params_);
                connections_.request_arrived(socket);
                ctx_.deadlines.request_started(socket.impl());
                --requests_left;
                response.setDate(Poco::Timestamp());
                response.setVersion(request.getVersion());
                response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() && requests_left > 0);
                if (!server.empty()) response.set("Server", server);
                if (request.getExpectContinue() && response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
                    response.sendContinue();
                handler.handleRequest(request, response);
                if (!(params_->getKeepAlive() && response.getKeepAlive() && requests_left > 0)) return;
            } catch (const Poco::Net::NoMessageException&) {
                return;
            } catch (const Poco::Net::MessageException&) {
                // Not HTTP: answered once, then closed.
                connections_.request_arrived(socket);
                Poco::Net::HTTPServerResponseImpl refusal(session);
                refusal.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
                refusal.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
                refusal.setKeepAlive(false);
                refusal.send();
                return;
            }
        } while (connections_.await_request(socket));
    }

    // A TLS read waits for bytes twice: in recv(), for the socket's receive timeout, and
    // then in Poco's poll for the same time again, so a client that stops mid-request was
    // answered after twice collector.https.idle_timeout, past the request deadline. The
    // kernel's timeout alone bounds the wait now: Poco's is a millisecond, the kernel's the
    // idle timeout, so a pause of idle_timeout between two bytes ends the read with a
    // TimeoutException and the TLS session intact, which lets the 408 go out.
    void bound_each_wait(const Poco::Net::StreamSocket& socket) const
    {
        const_cast<Poco::Net::StreamSocket&>(socket).setReceiveTimeout(Poco::Timespan(0, 1000));
        timeval idle{static_cast<time_t>(ctx_.options.idle_timeout), 0};
        ::setsockopt(socket.impl()->sockfd(), SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    }

    const receiver_context& ctx_;
    Poco::Net::HTTPServerParams::Ptr params_;
    open_connections& connections_;
};

class connection_factory : public Poco::Net::TCPServerConnectionFactory {
public:
    connection_factory(const receiver_context& ctx, Poco::Net::HTTPServerParams::Ptr params,
                       open_connections& connections)
        : ctx_(ctx), params_(std::move(params)), connections_(connections)
    {
    }
    Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override
    {
        return new report_connection(socket, ctx_, params_, connections_);
    }

private:
    const receiver_context& ctx_;
    Poco::Net::HTTPServerParams::Ptr params_;
    open_connections& connections_;
};

} // namespace

struct https_receiver::impl {
    impl(https_receiver_options o, report_store& s)
        : options(std::move(o)), store(s),
          deadlines(request_deadlines::limits{.max_connections = options.max_connections,
                                              .threads = options.threads,
                                              .max_per_address = options.max_per_address,
                                              .idle = std::chrono::seconds(options.idle_timeout)}),
          limiter(options.rate_limit_per_minute / 60.0, static_cast<double>(options.rate_burst)),
          context{options, store, deadlines, limiter},
          // Requests being handled finish (their reports are stored and answered); idle
          // keep-alive connections are closed. Slow clients are cut by their deadlines meanwhile.
          service(component, [this] { connections.stop(); })
    {
    }

    ssl_library ssl;
    https_receiver_options options;
    report_store& store;
    request_deadlines deadlines;
    rate_limiter limiter;
    receiver_context context;
    // Declared before the service: destroyed after it, as the service's threads run in it.
    open_connections connections;
    tcp_service service;
};

https_receiver::https_receiver(https_receiver_options options, report_store& store)
    : impl_(std::make_unique<impl>(std::move(options), store))
{
}

https_receiver::~https_receiver() = default;

void https_receiver::start()
{
    auto& m = *impl_;
    if (m.service.running()) return;
    const auto& o = m.options;

    auto tls = server_tls_context(o.cert_file, o.key_file, "HTTPS receiver",
                                  // Senders that reconnect for each report resume their TLS session.
                                  "stswatch-tlsrpt");
    Poco::Net::SecureServerSocket socket(tls);
    listen_on(socket, o.listen, o.max_queued, "HTTPS receiver");

    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setSoftwareVersion("stswatch");
    params->setKeepAlive(true);   // senders post many reports on one connection
    params->setKeepAliveTimeout(Poco::Timespan(static_cast<long>(o.idle_timeout), 0));
    params->setTimeout(Poco::Timespan(static_cast<long>(o.idle_timeout), 0));
    params->setMaxKeepAliveRequests(1000);
    // Poco's queue is larger than what the watchdog admits: a connection it has cut keeps
    // its place in Poco's queue until a thread ends it, which must not refuse a new one.
    m.service.start(socket, new connection_factory(m.context, params, m.connections), params, o.threads,
                    o.max_queued + o.max_connections, new deadline_filter(m.deadlines, m.options));
    log::info(component, "listening",
              {{"address", socket.address().toString()}, {"path", o.path},
               {"accept_domains", o.accept_domains.empty() ? std::string("(any)") : text::join(o.accept_domains, ",")}});
    if (o.accept_domains.empty())
        log::warning(component, "collector.accept_domains is empty: reports for any policy domain are accepted");
}

void https_receiver::stop()
{
    impl_->service.stop();
}

std::uint16_t https_receiver::port() const
{
    return impl_->service.port();
}

} // namespace stswatch
