// DNS lookups on libunbound. The rdata of each answer is parsed here from the wire
// (RFC 1035 §3.3, RFC 3596, RFC 6698 §2.1), bounds-checked: the server is not trusted.
#include "net/dns.hpp"
#include "net/dns_rdata.hpp"

#include <unbound.h>

#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace stswatch {

namespace {

constexpr int type_a = 1, type_mx = 15, type_txt = 16, type_aaaa = 28, type_tlsa = 52;
constexpr int class_in = 1;
constexpr int rcode_nxdomain = 3;

struct ub_ctx_deleter {
    void operator()(ub_ctx* ctx) const { ub_ctx_delete(ctx); }
};
using ub_ctx_ptr = std::unique_ptr<ub_ctx, ub_ctx_deleter>;

struct ub_result_deleter {
    void operator()(ub_result* r) const { ub_resolve_free(r); }
};
using ub_result_ptr = std::unique_ptr<ub_result, ub_result_deleter>;

// "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address → unbound's "IP@PORT".
std::string unbound_forwarder(const std::string& server)
{
    const auto bad = [&](const std::string& why) {
        return std::invalid_argument("DNS server \"" + server + "\": " + why);
    };
    std::string host = server, port;
    bool has_port = false;
    if (!server.empty() && server.front() == '[') {
        const auto close = server.find(']');
        if (close == std::string::npos)
            throw bad("missing ']'");
        host = server.substr(1, close - 1);
        const std::string rest = server.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                throw bad("expected ':' after ']'");
            has_port = true;
            port = rest.substr(1);
        }
    } else if (std::count(server.begin(), server.end(), ':') == 1) {
        const auto colon = server.find(':');
        host = server.substr(0, colon);
        has_port = true;
        port = server.substr(colon + 1);
    }
    std::array<unsigned char, 16> buf{};
    if (inet_pton(AF_INET, host.c_str(), buf.data()) != 1 && inet_pton(AF_INET6, host.c_str(), buf.data()) != 1)
        throw bad("not an IP address");
    if (!has_port)
        return host;
    unsigned long value = 0;
    for (char c : port) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || (value = value * 10 + unsigned(c - '0')) > 65535)
            throw bad("bad port \"" + port + "\"");
    }
    if (port.empty() || value == 0)
        throw bad("bad port \"" + port + "\"");
    return host + "@" + port;
}

void set_option(ub_ctx* ctx, const char* option, const std::string& value)
{
    if (int err = ub_ctx_set_option(ctx, option, value.c_str()); err != 0)
        throw std::runtime_error(std::string("unbound option ") + option + " " + value + ": " + ub_strerror(err));
}

struct query_state {
    bool done = false;
    int err = 0;
    ub_result* result = nullptr;
};

void on_answer(void* arg, int err, ub_result* result)
{
    auto* state = static_cast<query_state*>(arg);
    state->done = true;
    state->err = err;
    state->result = result;
}

} // namespace

struct dns_resolver::impl {
    dns_options options;
    std::string server_text;
    std::mutex mutex;   // one ub_ctx, used by one query at a time
    ub_ctx_ptr ctx;

    // Answers of one type; rcode, data and DNSSEC state mapped to dns_result.
    template <typename Record, typename Parse>
    dns_result<Record> query(const std::string& name, int type, Parse parse);
};

template <typename Record, typename Parse>
dns_result<Record> dns_resolver::impl::query(const std::string& name, int type, Parse parse)
{
    dns_result<Record> out;
    if (name.empty() || name.size() > 254) {
        out.status = dns_status::nxdomain;
        out.error = "not a valid domain name";
        return out;
    }
    std::lock_guard lock(mutex);
    query_state state;
    int async_id = 0;
    if (int err = ub_resolve_async(ctx.get(), name.c_str(), type, class_in, &state, on_answer, &async_id); err != 0) {
        out.error = std::string("query ") + name + ": " + ub_strerror(err);
        return out;
    }
    // libunbound has no per-query timeout of its own: its retries against a silent server
    // last tens of seconds. Wait on its descriptor up to the deadline, then cancel.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.timeout_ms);
    while (!state.done) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
            ub_cancel(ctx.get(), async_id);
            out.error = name + ": no answer from " + server_text + " within " +
                        std::to_string(options.timeout_ms) + " ms";
            return out;
        }
        pollfd pfd{ub_fd(ctx.get()), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left));
        if (ready > 0) {
            if (int err = ub_process(ctx.get()); err != 0) {
                ub_cancel(ctx.get(), async_id);
                out.error = name + ": " + ub_strerror(err);
                return out;
            }
        } else if (ready < 0 && errno != EINTR) {
            ub_cancel(ctx.get(), async_id);
            out.error = name + ": poll failed";
            return out;
        }
    }
    const ub_result_ptr result(state.result);
    if (state.err != 0 || !result) {
        out.error = name + ": " + ub_strerror(state.err);
        return out;
    }
    out.secure = result->secure != 0;
    out.bogus = result->bogus != 0;
    if (out.bogus) {
        // RFC 4035 §5.5: a bogus answer is not used; a validating resolver reports SERVFAIL.
        out.error = name + ": DNSSEC validation failed" +
                    (result->why_bogus ? std::string(": ") + result->why_bogus : std::string());
        return out;
    }
    if (result->rcode == rcode_nxdomain || result->nxdomain) {
        out.status = dns_status::nxdomain;
        return out;
    }
    if (result->rcode != 0) {
        static const char* const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
        out.error = name + ": " + (result->rcode < 6 ? names[result->rcode] : "rcode " + std::to_string(result->rcode)) +
                    " from " + server_text;
        return out;
    }
    if (!result->havedata) {
        out.status = dns_status::nodata;
        return out;
    }
    for (int i = 0; result->data[i] != nullptr; ++i) {
        const auto* rdata = reinterpret_cast<const unsigned char*>(result->data[i]);
        const auto len = static_cast<std::size_t>(result->len[i]);
        Record record;
        if (!parse(rdata, len, record)) {
            out.records.clear();
            out.error = name + ": malformed record data (type " + std::to_string(type) + ")";
            return out;
        }
        out.records.push_back(std::move(record));
    }
    out.status = dns_status::ok;
    return out;
}

dns_resolver::dns_resolver(dns_options options) : impl_(std::make_unique<impl>())
{
    impl_->options = std::move(options);
    if (impl_->options.timeout_ms == 0)
        impl_->options.timeout_ms = 1;
    impl_->ctx.reset(ub_ctx_create());
    if (!impl_->ctx)
        throw std::runtime_error("libunbound: cannot create a resolver context");
    ub_ctx* ctx = impl_->ctx.get();
    const auto& server = impl_->options.server;
    // unbound refuses to send queries to 127.0.0.0/8 and ::1 by default; a local resolver
    // (systemd-resolved's 127.0.0.53, a test server) listens exactly there.
    set_option(ctx, "do-not-query-localhost:", "no");
    if (server.empty()) {
        impl_->server_text = "the system resolver";
        if (int err = ub_ctx_resolvconf(ctx, nullptr); err != 0)
            throw std::runtime_error(std::string("reading /etc/resolv.conf: ") + ub_strerror(err));
    } else {
        impl_->server_text = server;
        const std::string forwarder = unbound_forwarder(server);
        if (int err = ub_ctx_set_fwd(ctx, forwarder.c_str()); err != 0)
            throw std::invalid_argument("DNS server \"" + server + "\": " + ub_strerror(err));
    }
    // unbound answers NXDOMAIN itself for special-use names (RFC 6761: .test, .invalid,
    // .localhost …) through its default local zones; every name must reach the server.
    // "nodefault" set through ub_ctx_set_option does not lift them (libunbound 1.17, seen
    // here); a "transparent" zone with no local data does: queries go on to the server.
    for (const char* zone : {"localhost.", "test.", "invalid.", "onion.", "home.arpa.", "127.in-addr.arpa.",
                             "10.in-addr.arpa.",
                             "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."})
        set_option(ctx, "local-zone:", std::string(zone) + " transparent");
    set_option(ctx, "unblock-lan-zones:", "yes");
    set_option(ctx, "insecure-lan-zones:", "yes");
    if (!impl_->options.trust_anchor_file.empty()) {
        // unbound reads the file only at the first query; say now that it is missing.
        if (!std::ifstream(impl_->options.trust_anchor_file))
            throw std::invalid_argument("DNSSEC trust anchor " + impl_->options.trust_anchor_file + ": cannot be read");
        if (int err = ub_ctx_add_ta_file(ctx, impl_->options.trust_anchor_file.c_str()); err != 0)
            throw std::invalid_argument("DNSSEC trust anchor " + impl_->options.trust_anchor_file + ": " +
                                        ub_strerror(err));
    }
    // Answers are delivered through a pipe read by query(); a thread, not a forked process.
    if (int err = ub_ctx_async(ctx, 1); err != 0)
        throw std::runtime_error(std::string("libunbound: ") + ub_strerror(err));
}

dns_resolver::~dns_resolver() = default;

dns_result<std::string> dns_resolver::txt(const std::string& name)
{
    return impl_->query<std::string>(name, type_txt, parse_txt_rdata);
}

dns_result<mx_record> dns_resolver::mx(const std::string& name)
{
    return impl_->query<mx_record>(name, type_mx, parse_mx_rdata);
}

dns_result<std::string> dns_resolver::a(const std::string& name)
{
    return impl_->query<std::string>(name, type_a, parse_a_rdata);
}

dns_result<std::string> dns_resolver::aaaa(const std::string& name)
{
    return impl_->query<std::string>(name, type_aaaa, parse_aaaa_rdata);
}

dns_result<tlsa_record> dns_resolver::tlsa(const std::string& name)
{
    return impl_->query<tlsa_record>(name, type_tlsa, parse_tlsa_rdata);
}

} // namespace stswatch
