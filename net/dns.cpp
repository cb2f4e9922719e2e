// DNS lookups on libunbound. The rdata of each answer is parsed here from the wire
// (RFC 1035 §3.3, RFC 3596, RFC 6698 §2.1), bounds-checked: the server is not trusted.
#include "net/dns.hpp"
#include "net/dns_rdata.hpp"
#include "common/handles.hpp"
#include "common/text.hpp"

#include <unbound.h>

#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>

namespace stswatch {

namespace {

constexpr int type_a = 1, type_mx = 15, type_txt = 16, type_aaaa = 28, type_tlsa = 52;
constexpr int class_in = 1;
constexpr int rcode_nxdomain = 3;

using ub_ctx_ptr = handle<ub_ctx, ub_ctx_delete>;
using ub_result_ptr = handle<ub_result, ub_resolve_free>;

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
        if (!text::is_digit(c) || (value = value * 10 + unsigned(c - '0')) > 65535)
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

// One asynchronous query. Its answer is delivered by whichever thread runs ub_process
// (see impl::query), so it lives on the heap and every field is guarded by impl::mutex.
struct query_state {
    std::mutex* mutex = nullptr;
    std::set<query_state*>* abandoned_set = nullptr;
    bool done = false;
    bool abandoned = false;   // the asker gave up: the callback frees the state
    int err = 0;
    ub_result* result = nullptr;
};

void on_answer(void* arg, int err, ub_result* result)
{
    auto* state = static_cast<query_state*>(arg);
    std::unique_lock lock(*state->mutex);
    if (state->abandoned) {
        state->abandoned_set->erase(state);
        lock.unlock();
        ub_resolve_free(result);
        delete state;
        return;
    }
    state->done = true;
    state->err = err;
    state->result = result;
}

} // namespace

// libunbound(3) (1.17.1, DESCRIPTION): "The functions are thread-safe, and a context can
// be used in a threaded (as well as in a non-threaded) environment." So queries from
// several threads share one ub_ctx (and its cache) without taking turns: each starts its
// query with ub_resolve_async, and one waiting thread at a time (the "poller") waits on
// ub_fd and runs ub_process, which calls back for whichever queries are answered; the
// others wait on a condition variable and take over polling when the poller leaves.
struct dns_resolver::impl {
    dns_options options;
    std::string server_text;
    std::mutex mutex;                      // guards every query_state, polling, abandoned
    std::condition_variable changed;       // an answer arrived, or the poller left
    bool polling = false;                  // a thread is in poll/ub_process
    std::set<query_state*> abandoned;      // given up, their callback not yet run
    ub_ctx_ptr ctx;                        // destroyed first: no callback after it

    ~impl()
    {
        ctx.reset();   // "Outstanding async queries are killed and callbacks are not called"
        for (auto* state : abandoned)
            delete state;
    }

    // Answers of one type; rcode, data and DNSSEC state mapped to dns_result.
    template <typename Record, typename Parse>
    dns_result<Record> query(const std::string& name, int type, Parse parse);

    // Waits for the answer of `state` until the deadline, polling when no other thread
    // does. Returns "" with state->done, or why not (the query is then cancelled and the
    // state handed to its callback when one may still come). Called with `lock` held.
    std::string wait(std::unique_lock<std::mutex>& lock, query_state* state, int async_id,
                     std::chrono::steady_clock::time_point deadline, const std::string& name);

    // Gives up on a query; frees its state unless a callback may still come.
    void abandon(query_state* state, int async_id);
};

void dns_resolver::impl::abandon(query_state* state, int async_id)
{
    // A cancelled query's answer is dropped without a callback. ub_cancel fails (UB_NOID)
    // once ub_process has taken the answer for delivery: the callback then comes (or came:
    // state->done), and frees an abandoned state.
    if (state->done) {
        ub_resolve_free(state->result);
        delete state;
    } else if (ub_cancel(ctx.get(), async_id) == 0) {
        delete state;
    } else {
        state->abandoned = true;
        abandoned.insert(state);
    }
}

std::string dns_resolver::impl::wait(std::unique_lock<std::mutex>& lock, query_state* state, int async_id,
                                     std::chrono::steady_clock::time_point deadline, const std::string& name)
{
    while (!state->done) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
            abandon(state, async_id);
            return name + ": no answer from " + server_text + " within " + std::to_string(options.timeout_ms) + " ms";
        }
        if (polling) {
            changed.wait_until(lock, deadline);
            continue;
        }
        polling = true;
        lock.unlock();
        pollfd pfd{ub_fd(ctx.get()), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left));
        const int poll_errno = errno;
        const int err = ready > 0 ? ub_process(ctx.get()) : 0;
        lock.lock();
        polling = false;
        changed.notify_all();
        if (err != 0) {
            abandon(state, async_id);
            return name + ": " + ub_strerror(err);
        }
        if (ready < 0 && poll_errno != EINTR) {
            abandon(state, async_id);
            return name + ": poll failed";
        }
    }
    return {};
}

template <typename Record, typename Parse>
dns_result<Record> dns_resolver::impl::query(const std::string& name, int type, Parse parse)
{
    dns_result<Record> out;
    if (name.empty() || name.size() > 254) {
        out.status = dns_status::nxdomain;
        out.error = "not a valid domain name";
        return out;
    }
    auto* state = new query_state;
    state->mutex = &mutex;
    state->abandoned_set = &abandoned;
    int async_id = 0;
    // Not under the mutex: the callback, run by the poller, takes it.
    if (int err = ub_resolve_async(ctx.get(), name.c_str(), type, class_in, state, on_answer, &async_id); err != 0) {
        delete state;
        out.error = std::string("query ") + name + ": " + ub_strerror(err);
        return out;
    }
    std::unique_lock lock(mutex);
    // libunbound has no per-query timeout of its own: its retries against a silent server
    // last tens of seconds. Wait on its descriptor up to the deadline, then cancel.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.timeout_ms);
    if (auto error = wait(lock, state, async_id, deadline, name); !error.empty()) {
        out.error = std::move(error);
        return out;
    }
    const int answer_err = state->err;
    const ub_result_ptr result(state->result);
    delete state;
    lock.unlock();
    if (answer_err != 0 || !result) {
        out.error = name + ": " + ub_strerror(answer_err);
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

bool dns_resolver::validating() const { return !impl_->options.trust_anchor_file.empty(); }

} // namespace stswatch
