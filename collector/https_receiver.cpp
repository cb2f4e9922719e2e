// HTTPS report intake (RFC 8460 §5.4): Poco's TCPServer over TLS with Poco's HTTP session
// classes, one handler for every path, and a watchdog that bounds the time a client may take
// to send one request.
#include "collector/https_receiver.hpp"
#include "collector/rate_limit.hpp"
#include "net/tcp_service.hpp"

#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_parser.hpp"
#include "common/domain.hpp"
#include "common/log.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fcntl.h>
#include <zlib.h>
#include <sys/socket.h>
#include <unistd.h>

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

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s)
{
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

// Response bodies and log values are one line of bounded length, whatever the input echoed.
std::string one_line(std::string_view text, std::size_t max = 400)
{
    std::string out;
    out.reserve(std::min(text.size(), max));
    for (const char c : text) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? ' ' : c;
    }
    return out;
}

// "Application/TLSRPT+GZIP ; charset=binary" -> "application/tlsrpt+gzip"
std::string media_type_of(std::string_view content_type)
{
    return lower(trim(content_type.substr(0, content_type.find(';'))));
}

enum class media_label {
    report,        // says it is a report (or gzip/JSON): a body that is neither is malformed
    generic,       // says nothing useful: a body that is neither gzip nor JSON is of the wrong type
    not_a_report,  // a type that cannot carry a report
};

media_label classify_media_type(const std::string& media)
{
    // RFC 8460 §5.4 (and §6.4, §6.5 for the media types): the report is POSTed as
    // application/tlsrpt+gzip or application/tlsrpt+json.
    static constexpr std::array<std::string_view, 5> report_types{
        "application/tlsrpt+gzip", "application/tlsrpt+json",
        // Senders label reports with the generic types of their format (docs/senders.md); the body
        // is sniffed anyway.
        "application/json", "application/gzip", "application/x-gzip"};
    if (std::find(report_types.begin(), report_types.end(), media) != report_types.end())
        return media_label::report;

    // Types that are documents, forms or media, never a report body.
    static constexpr std::array<std::string_view, 8> refused_types{
        "text/html", "text/xml", "application/xml", "application/xhtml+xml", "application/pdf",
        "application/zip", "text/css", "text/javascript"};
    static constexpr std::array<std::string_view, 6> refused_families{
        "multipart/", "image/", "audio/", "video/", "font/", "model/"};
    if (std::find(refused_types.begin(), refused_types.end(), media) != refused_types.end())
        return media_label::not_a_report;
    for (const auto family : refused_families)
        if (media.rfind(family, 0) == 0) return media_label::not_a_report;

    // Everything else (application/octet-stream, text/plain, no type at all, and
    // application/x-www-form-urlencoded that `curl --data-binary` sends by default) may carry a
    // report: losing a report to a careless label is worse than sniffing a few bytes.
    return media_label::generic;
}

bool domain_accepted(const https_receiver_options& options, const std::string& policy_domain)
{
    if (options.accept_domains.empty()) return true;
    const auto wanted = normalize_domain(policy_domain);
    return !wanted.empty()
        && std::any_of(options.accept_domains.begin(), options.accept_domains.end(),
                       [&](const std::string& d) { return normalize_domain(d) == wanted; });
}

std::string join(const std::vector<std::string>& items, std::string_view separator)
{
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// Owns a z_stream that inflates gzip members (RFC 1952).
class gzip_stream {
public:
    gzip_stream()
    {
        if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("zlib inflateInit2 failed");
    }
    ~gzip_stream() { inflateEnd(&z_); }
    gzip_stream(const gzip_stream&) = delete;
    gzip_stream& operator=(const gzip_stream&) = delete;
    z_stream& get() noexcept { return z_; }
private:
    z_stream z_{};
};

// RFC 9110 §8.4.1.3: Content-Encoding: gzip belongs to HTTP and is undone here, whatever it
// wraps; decode_body then treats the content like any body, so that a gzip report sent with
// Content-Encoding: gzip (compressed twice) is found too. Stops at max_inflated.
std::string undo_gzip_coding(std::string_view body, std::uint64_t max_inflated)
{
    constexpr std::size_t chunk = 64 * 1024;
    constexpr std::size_t max_feed = std::size_t{1} << 30;   // z_stream counts in uInt
    gzip_stream stream;
    z_stream& z = stream.get();
    std::string out;
    std::size_t fed = 0;
    for (;;) {
        if (z.avail_in == 0 && fed < body.size()) {
            const auto slice = std::min(body.size() - fed, max_feed);
            // zlib's input pointer is not const but is only read.
            z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data() + fed));
            z.avail_in = static_cast<uInt>(slice);
            fed += slice;
        }
        const auto produced = out.size();
        out.resize(produced + chunk);
        z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        z.avail_out = static_cast<uInt>(chunk);
        const int rc = inflate(&z, Z_NO_FLUSH);
        out.resize(produced + chunk - z.avail_out);
        if (out.size() > max_inflated)
            throw decode_error(decode_failure::too_large, "Content-Encoding: gzip content inflates to more than "
                                                               + std::to_string(max_inflated) + " bytes");
        if (rc == Z_OK) continue;
        if (rc == Z_STREAM_END) {
            const auto rest = body.substr(fed - z.avail_in);
            // RFC 1952 §2.2: further members continue the content; anything else after a
            // complete member is ignored, as decode_body does.
            if (sniff_body(rest) != body_kind::gzip) return out;
            if (inflateReset(&z) != Z_OK) throw std::runtime_error("zlib inflateReset failed");
            z.next_in = nullptr;
            z.avail_in = 0;
            fed = body.size() - rest.size();
            continue;
        }
        if (rc == Z_BUF_ERROR)
            throw decode_error(decode_failure::truncated, "Content-Encoding: gzip stream ends before its end marker");
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        throw decode_error(decode_failure::corrupt, std::string("Content-Encoding: gzip data is corrupt: ")
                                                        + (z.msg ? z.msg : "invalid data"));
    }
}

std::string host_of(const std::string& peer_address)
{
    try {
        return Poco::Net::SocketAddress(peer_address).host().toString();
    } catch (const Poco::Exception&) {
        return peer_address;
    }
}

} // namespace

https_receiver_options https_receiver_options::from(const settings& s)
{
    https_receiver_options o;
    o.listen = s.https_listen;
    o.cert_file = s.https_cert;
    o.key_file = s.https_key;
    o.path = s.https_path;
    for (const auto& d : s.accept_domains) o.accept_domains.push_back(normalize_domain(d));
    o.max_body_bytes = s.max_body_bytes;
    o.max_report_bytes = s.max_report_bytes;
    o.max_json_depth = s.max_json_depth;
    o.threads = std::max(1u, s.https_threads);
    // collector.https.max_connections counts the connections being served and those waiting.
    o.max_queued = s.https_max_connections > o.threads ? s.https_max_connections - o.threads : 1;
    o.request_timeout = std::max(1u, s.https_request_timeout);
    o.idle_timeout = std::max(1u, s.https_idle_timeout);
    o.max_header_fields = s.https_max_header_fields;
    o.rate_limit_per_minute = s.https_rate_limit;
    o.rate_burst = s.https_rate_burst;
    return o;
}

intake_decision examine_report_body(const https_receiver_options& options,
                                    std::string_view content_type, std::string_view content_encoding,
                                    std::string body, const std::string& peer_address,
                                    std::string_view user_agent)
{
    const auto refuse = [](int status, std::string_view why) {
        intake_decision refused;
        refused.refusal = intake_response{status, one_line(why), {}, {}};
        return refused;
    };

    const auto media = media_type_of(content_type);
    const auto label = classify_media_type(media);
    if (label == media_label::not_a_report)
        return refuse(415, "Content-Type " + media + " cannot carry a TLS report "
                           "(RFC 8460 §5.4: application/tlsrpt+gzip or application/tlsrpt+json)");

    const auto coding = lower(trim(content_encoding));
    if (!coding.empty() && coding != "identity" && coding != "gzip" && coding != "x-gzip")
        return refuse(415, "Content-Encoding " + coding + " is not supported (gzip or none)");

    if (body.empty()) return refuse(400, "the request body is empty");
    if (body.size() > options.max_body_bytes)
        return refuse(413, "the request body is larger than " + std::to_string(options.max_body_bytes)
                               + " bytes");

    // The first bytes decide, not the labels (docs/senders.md: gzip sent as application/octet-stream
    // or application/json; Content-Encoding: gzip on JSON). raw ends up as the report the way a
    // sender would write it to a file, gzip or JSON, without the HTTP content coding.
    std::string raw = std::move(body);
    const auto sent_kind = sniff_body(raw);
    bool raw_is_gzip = false;
    decoded_body decoded;
    try {
        if ((coding == "gzip" || coding == "x-gzip") && sent_kind == body_kind::gzip) {
            auto content = undo_gzip_coding(raw, options.max_report_bytes);
            // A coded JSON report is a gzip report already; a coded gzip report is the content.
            if (sniff_body(content) == body_kind::gzip) raw = std::move(content);
        }
        // A coding announced on a body that is not gzip is ignored: the bytes decide.
        const auto kind = sniff_body(raw);
        if (kind == body_kind::unknown) {
            if (label == media_label::report)
                return refuse(400, "the body of a " + media + " request is neither gzip nor JSON");
            return refuse(415, "the body is neither gzip nor JSON, so it cannot be a TLS report"
                               + (media.empty() ? std::string() : " (Content-Type " + media + ")"));
        }
        // RFC 8460 §5.2: reports may be gzip-compressed (application/tlsrpt+gzip).
        decoded = decode_body(raw, options.max_report_bytes);
        raw_is_gzip = kind == body_kind::gzip;
    } catch (const decode_error& e) {
        switch (e.kind()) {
        case decode_failure::too_large:
            return refuse(413, std::string(sent_kind == body_kind::gzip ? "the report inflates to more than "
                                                                        : "the report is larger than ")
                                   + std::to_string(options.max_report_bytes) + " bytes");
        case decode_failure::not_a_report:
            // Only what was inside gzip gets here: the body itself was sniffed above.
            return refuse(400, std::string("the gzip content is not a report: ") + e.what());
        case decode_failure::truncated:
        case decode_failure::corrupt:
            break;
        }
        return refuse(400, std::string("the gzip body cannot be inflated: ") + e.what());
    }
    std::vector<std::string> warnings;
    if (!decoded.warning.empty()) warnings.push_back(std::move(decoded.warning));

    report_metadata metadata;
    if (!content_type.empty()) metadata.fields["content-type"] = one_line(trim(content_type), 256);
    if (!coding.empty()) metadata.fields["content-encoding"] = coding;
    if (!user_agent.empty()) metadata.fields["user-agent"] = one_line(trim(user_agent), 256);

    parse_limits limits;
    limits.max_depth = options.max_json_depth;
    parsed_report parsed;
    try {
        parsed = parse_report(decoded.json, metadata, limits);
    } catch (const report_error& e) {
        return refuse(400, std::string("not a valid TLS report: ") + e.what());
    }

    if (!options.accept_domains.empty()) {
        std::vector<std::string> refused;
        for (const auto& policy : parsed.report.policies) {
            if (domain_accepted(options, policy.policy_domain)) continue;
            auto name = policy.policy_domain.empty() ? std::string("(no policy-domain)")
                                                     : one_line(policy.policy_domain, 255);
            if (std::find(refused.begin(), refused.end(), name) == refused.end())
                refused.push_back(std::move(name));
        }
        if (parsed.report.policies.empty()) refused.emplace_back("(no policy-domain)");
        if (!refused.empty()) {
            auto forbidden = refuse(403, "policy domain not accepted here: " + join(refused, ", "));
            forbidden.refusal->report_id = parsed.report.report_id;
            forbidden.refusal->organization = parsed.report.organization_name;
            return forbidden;
        }
    }

    intake_decision decision;
    warnings.insert(warnings.end(), std::make_move_iterator(parsed.warnings.begin()),
                    std::make_move_iterator(parsed.warnings.end()));
    decision.report.report = std::move(parsed.report);
    decision.report.warnings = std::move(warnings);
    decision.report.metadata = std::move(metadata);
    decision.report.raw = std::move(raw);
    decision.report.raw_is_gzip = raw_is_gzip;
    decision.report.via = transport::https;
    decision.report.source_address = host_of(peer_address);
    return decision;
}

intake_response handle_report_body(const https_receiver_options& options, report_store& store,
                                   std::string_view content_type, std::string_view content_encoding,
                                   std::string body, const std::string& peer_address,
                                   std::string_view user_agent)
{
    auto decision = examine_report_body(options, content_type, content_encoding, std::move(body),
                                        peer_address, user_agent);
    if (decision.refusal) return std::move(*decision.refusal);

    intake_response response;
    response.report_id = decision.report.report.report_id;
    response.organization = decision.report.report.organization_name;
    const auto what = "report " + one_line(response.report_id, 200) + " from "
                      + one_line(response.organization, 200);
    // Kept aside only when there is a spool to fall back on: the store takes the report.
    std::optional<spool_entry> fallback;
    if (options.spool) {
        fallback.emplace();
        fallback->raw = decision.report.raw;
        fallback->via = decision.report.via;
        fallback->source_address = decision.report.source_address;
        set_received_now(*fallback);
        fallback->metadata = decision.report.metadata.fields;
    }
    try {
        // A 2xx only once the report's transaction has committed (docs/contracts.md, acknowledgement).
        const auto result = store.store(std::move(decision.report));
        if (result.outcome == store_outcome::stored) {
            response.status = 201;
            response.body = "stored " + what;
        } else {
            // Idempotent on organization-name + report-id: a sender retrying after a lost
            // answer (RFC 8460 §5.5) gets a success, not an error.
            response.status = 200;
            response.body = "already stored: " + what;
        }
    } catch (const store_unavailable& e) {
        log::warning(component, "cannot store report",
                     {{"report_id", response.report_id}, {"org", response.organization},
                      {"peer", peer_address}, {"error", e.what()}});
        // The database detail stays in the log: the peer is anyone on the internet.
        response.status = 503;
        response.body = "cannot store " + what + " now; retry later";
        if (fallback) {
            try {
                if (options.spool->put(*fallback)) {
                    response.status = 202;
                    response.body = "accepted " + what + "; it will be stored when the database is back";
                } else {
                    log::error(component, "spool full", {{"spool", options.spool->directory()}});
                }
            } catch (const std::exception& spool_error) {
                log::error(component, "cannot spool report", {{"error", spool_error.what()}});
            }
        }
    } catch (const store_rejected& e) {
        // The database refuses a value of this report (a count past 2^63, a year past 9999):
        // retrying cannot help, so the sender is told what is wrong.
        response.status = 400;
        response.body = std::string("not storable: ") + e.what();
    }
    return response;
}

namespace {

// A file descriptor owned alone (closed once).
class unique_fd {
public:
    explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
    ~unique_fd() { if (fd_ >= 0) ::close(fd_); }
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept
    {
        if (this != &other) {
            if (fd_ >= 0) ::close(fd_);
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    int get() const noexcept { return fd_; }
private:
    int fd_;
};

// The whole-request deadline. Poco's socket timeouts bound the wait for each byte only, so a
// client sending one byte every few seconds (slowloris) would keep a thread forever, in the
// TLS handshake, the headers or the body. Each connection is watched from its accept; when its
// deadline passes, its receive side is shut down, which ends any blocking read at once.
//
// The watchdog owns a duplicate of the connection's descriptor: Poco closes its own
// descriptor when the connection ends, and a shutdown through a number that may already be
// reused would hit an unrelated socket. The entry is dropped once the watchdog holds the
// last reference to the socket, i.e. the connection is over; until then (a tick at most) the
// TCP connection stays open behind the TLS close_notify Poco has already sent.
class request_deadlines {
public:
    request_deadlines() : thread_([this] { run(); }) {}
    ~request_deadlines()
    {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    request_deadlines(const request_deadlines&) = delete;
    request_deadlines& operator=(const request_deadlines&) = delete;

    // False when the descriptor cannot be duplicated (out of descriptors): refuse the client.
    bool watch(const Poco::Net::StreamSocket& socket, steady::time_point deadline)
    {
        unique_fd fd(::fcntl(socket.impl()->sockfd(), F_DUPFD_CLOEXEC, 0));
        if (fd.get() < 0) return false;
        std::lock_guard lock(mutex_);
        watched_.insert_or_assign(socket.impl(), entry{socket, std::move(fd), deadline, true, false});
        return true;
    }

    void arm(const Poco::Net::SocketImpl* connection, steady::time_point deadline)
    {
        std::lock_guard lock(mutex_);
        if (auto it = watched_.find(connection); it != watched_.end() && !it->second.cut) {
            it->second.deadline = deadline;
            it->second.armed = true;
        }
    }

    // While the report is decoded and stored the client waits for us, not we for it.
    void disarm(const Poco::Net::SocketImpl* connection)
    {
        std::lock_guard lock(mutex_);
        if (auto it = watched_.find(connection); it != watched_.end()) it->second.armed = false;
    }

    bool expired(const Poco::Net::SocketImpl* connection) const
    {
        std::lock_guard lock(mutex_);
        const auto it = watched_.find(connection);
        return it != watched_.end()
            && (it->second.cut || (it->second.armed && steady::now() >= it->second.deadline));
    }

private:
    struct entry {
        Poco::Net::StreamSocket socket;   // keeps the SocketImpl (the key) alive
        unique_fd fd;
        steady::time_point deadline;
        bool armed;
        bool cut;
    };

    void run()
    {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            wake_.wait_for(lock, std::chrono::milliseconds(100));
            const auto now = steady::now();
            for (auto it = watched_.begin(); it != watched_.end();) {
                auto& e = it->second;
                if (e.socket.impl()->referenceCount() <= 1) {
                    it = watched_.erase(it);
                    continue;
                }
                if (e.armed && now >= e.deadline) {
                    ::shutdown(e.fd.get(), SHUT_RD);
                    e.armed = false;
                    e.cut = true;
                }
                ++it;
            }
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::unordered_map<const Poco::Net::SocketImpl*, entry> watched_;
    bool stopping_ = false;
    std::thread thread_;   // last: starts once the members above exist
};

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
            if (deadlines_.watch(socket, steady::now() + std::chrono::seconds(options_.request_timeout)))
                return true;
            log::warning(component, "connection refused: cannot watch it (out of descriptors?)");
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
    for (;;) {
        if (ctx.deadlines.expired(connection)) {
            r.outcome = body_read::timed_out;
            r.why = "request not complete within " + std::to_string(ctx.options.request_timeout) + " s";
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
        r.outcome = body_read::timed_out;
        r.why = "request not complete within " + std::to_string(ctx.options.request_timeout) + " s";
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
            x.path = one_line(request.getURI(), 200);
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

        const auto result = handle_report_body(o, ctx_.store, request.getContentType(),
                                               request.get("Content-Encoding", ""), std::move(body.body),
                                               x.peer, request.get("User-Agent", ""));
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
        const std::string json = "{\"status\":\"ok\",\"stored\":" + std::to_string(c.stored)
                                 + ",\"duplicates\":" + std::to_string(c.duplicates)
                                 + ",\"batches\":" + std::to_string(c.batches)
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
        send_body(request, response, one_line(text) + "\n");
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
        const auto why = "connection lost: " + one_line(e.displayText());
        x.reason = x.reason.empty() ? why : x.reason + "; " + why;
    }

    void fail(Poco::Net::HTTPServerResponse& response, exchange& x, const std::string& error)
    {
        x.status = 500;
        x.reason = one_line(error);
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
        const auto path = one_line(x.path, 200);
        const auto status = std::to_string(x.status);
        const auto bytes = std::to_string(x.bytes);
        const auto report_id = one_line(x.report_id, 200);
        const auto organization = one_line(x.organization, 200);
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

// The connections being served, so that stop() can end those waiting for a request.
class open_connections {
public:
    // False once stopping: the connection is closed without a request.
    bool enter(const Poco::Net::StreamSocket& socket)
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return false;
        waiting_.emplace(socket.impl(), false);
        return true;
    }
    void leave(const Poco::Net::StreamSocket& socket)
    {
        std::lock_guard lock(mutex_);
        waiting_.erase(socket.impl());
    }
    // Before reading the next request; false once stopping.
    bool await_request(const Poco::Net::StreamSocket& socket)
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return false;
        waiting_[socket.impl()] = true;
        return true;
    }
    void request_arrived(const Poco::Net::StreamSocket& socket)
    {
        std::lock_guard lock(mutex_);
        waiting_[socket.impl()] = false;
    }
    // Requests being handled finish; connections waiting for one see the end of their
    // input at once. Only the descriptor is shut down: the thread reading through the TLS
    // session must be the only one to touch it.
    void stop()
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        for (const auto& [connection, waiting] : waiting_)
            if (waiting) ::shutdown(connection->sockfd(), SHUT_RD);
    }

private:
    std::mutex mutex_;
    // Registered from enter() to leave(), while run() holds the socket: the descriptor is open.
    std::unordered_map<const Poco::Net::SocketImpl*, bool> waiting_;   // true: between requests
    bool stopping_ = false;
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
        // The first request is awaited as Poco does, in a poll: a client that never even
        // starts its TLS handshake is closed after the idle timeout without a byte from us.
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
    m.service.start(socket, new connection_factory(m.context, params, m.connections), params, o.threads,
                    o.max_queued, new deadline_filter(m.deadlines, m.options));
    log::info(component, "listening",
              {{"address", socket.address().toString()}, {"path", o.path},
               {"accept_domains", o.accept_domains.empty() ? std::string("(any)") : join(o.accept_domains, ",")}});
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
