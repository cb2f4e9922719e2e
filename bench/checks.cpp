// `run_check` (checks/checker.hpp) over many fixture domains, in-process from K threads, each
// thread with its own dns_resolver: domains/s, latency per domain, peak RSS, beside a floor
// measured in the same run: the same DNS queries, TLS handshakes and policy GETs done directly
// (one shared SSL_CTX, raw OpenSSL, no parsing). bench/checks.sh sets up the domains (Knot),
// the policy host (nginx) and the MX, then runs this.
//
//   checks --resolver IP:PORT --ca-file CA.pem [--zone bench.test] [--domains 1000]
//          [--threads 16,32] [--probe] [--smtp-port 25] [--timeout-ms 5000]
//          [--label TEXT] [--summary FILE] [--mx-listen IP:PORT --mx-cert PEM --mx-key PEM]
#include "bench/bench_support.hpp"
#include "checks/checker.hpp"
#include "common/handles.hpp"
#include "common/text.hpp"
#include "net/dns.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace stswatch;
using namespace stswatch::bench;

namespace {

struct bench_options {
    std::string resolver;
    std::string ca_file;
    std::string zone = "bench.test";
    std::size_t domains = 1000;
    std::vector<unsigned> threads{16, 32};
    bool probe = false;
    std::uint16_t smtp_port = 25;
    unsigned timeout_ms = 5000;
    std::string label = "checks";
    std::string summary_file;
    // The in-process MX (a STARTTLS responder) for --probe: address:port and its certificate.
    std::string mx_listen, mx_cert, mx_key;
};

std::vector<unsigned> parse_thread_list(const std::string& text)
{
    std::vector<unsigned> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        std::size_t used = 0;
        unsigned long n = 0;
        try {
            n = std::stoul(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || n == 0 || n > 1024)
            throw usage_error("--threads: not a list of thread counts (1..1024): \"" + text + "\"");
        out.push_back(static_cast<unsigned>(n));
    }
    if (out.empty()) throw usage_error("--threads: empty");
    return out;
}

bench_options read_options(int argc, char** argv)
{
    option_reader args(argc, argv,
                       {"--resolver", "--ca-file", "--zone", "--domains", "--threads", "--smtp-port", "--timeout-ms",
                        "--label", "--summary", "--mx-listen", "--mx-cert", "--mx-key"},
                       {"--probe"});
    bench_options o;
    o.resolver = args.required("--resolver");
    o.ca_file = args.required("--ca-file");
    o.zone = args.text("--zone", o.zone);
    o.domains = args.number("--domains", o.domains, 1);
    if (args.has("--threads")) o.threads = parse_thread_list(args.required("--threads"));
    o.probe = args.has("--probe");
    const auto port = args.number("--smtp-port", 25, 1);
    if (port > 65535) throw usage_error("--smtp-port: at most 65535");
    o.smtp_port = static_cast<std::uint16_t>(port);
    o.timeout_ms = static_cast<unsigned>(args.number("--timeout-ms", o.timeout_ms, 100));
    o.label = args.text("--label", o.label);
    o.summary_file = args.text("--summary", "");
    o.mx_listen = args.text("--mx-listen", "");
    if (!o.mx_listen.empty()) {
        o.mx_cert = args.required("--mx-cert");
        o.mx_key = args.required("--mx-key");
    }
    return o;
}

// The fixture domains bench/checks.sh publishes: d0000.<zone>, d0001.<zone>, …
std::string domain_name(std::size_t i, const std::string& zone)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "d%04zu.", i);
    return buf + zone;
}

// Runs work(thread_index, domain_index) for every domain from `threads` threads that take the
// next domain from a shared counter; returns the wall time. Each thread builds its own state
// through make_state before the clock starts.
template <typename State, typename MakeState, typename Work>
double run_threads(unsigned threads, std::size_t domains, MakeState make_state, Work work)
{
    std::atomic<std::size_t> next{0};
    std::atomic<unsigned> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            State state = make_state();
            ++ready;
            while (!go.load()) std::this_thread::yield();
            for (std::size_t i; (i = next.fetch_add(1)) < domains;) work(t, i, state);
        });
    }
    while (ready.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto begin = bench_clock::now();
    go = true;
    for (auto& th : pool) th.join();
    return seconds_between(begin, bench_clock::now());
}

struct run_figures {
    unsigned threads = 0;
    double wall_seconds = 0;
    double per_second = 0;
    latency_figures latency;
    std::uint64_t peak_rss_kb = 0;
    std::size_t with_policy = 0;        // sts.policy present (the fixture publishes one everywhere)
    std::size_t dns_unavailable = 0;
    std::size_t failures = 0;           // exceptions
    std::map<std::string, std::size_t> finding_codes;
    std::map<std::string, std::size_t> errors;
};

dns_options resolver_options(const bench_options& o)
{
    dns_options dopts;
    dopts.server = o.resolver;
    dopts.timeout_ms = o.timeout_ms;
    return dopts;
}

// Runs check(domain_index, resolver) for every domain from `threads` threads, each with its
// own resolver, and times each domain. record(figures, result) counts what a check found; a
// check that throws counts as a failure, with its message.
template <typename Check, typename Record>
run_figures time_domains(const bench_options& o, unsigned threads, Check check, Record record)
{
    const dns_options dopts = resolver_options(o);
    std::vector<double> latency_ms(o.domains, 0.0);
    std::mutex mutex;
    run_figures f;
    f.threads = threads;
    f.wall_seconds = run_threads<std::unique_ptr<dns_resolver>>(
        threads, o.domains, [&] { return std::make_unique<dns_resolver>(dopts); },
        [&](unsigned, std::size_t i, std::unique_ptr<dns_resolver>& resolver) {
            const auto begin = bench_clock::now();
            try {
                const auto result = check(i, *resolver);
                latency_ms[i] = seconds_between(begin, bench_clock::now()) * 1000.0;
                std::lock_guard lock(mutex);
                record(f, result);
            } catch (const std::exception& e) {
                latency_ms[i] = seconds_between(begin, bench_clock::now()) * 1000.0;
                std::lock_guard lock(mutex);
                ++f.failures;
                ++f.errors[e.what()];
            }
        });
    f.per_second = static_cast<double>(o.domains) / f.wall_seconds;
    f.latency = latency_percentiles(latency_ms);
    return f;
}

// stswatch: run_check per domain, as `stswatch check` and the monitor do.
run_figures run_stswatch(const bench_options& o, unsigned threads)
{
    check_options opts;
    opts.ca_file = o.ca_file;
    opts.allow_private = true;
    opts.timeout_ms = o.timeout_ms;
    opts.probe_mx = o.probe;
    opts.smtp_port = o.smtp_port;

    // Our own resident set: the checks run in this process.
    rss_sampler sampler(::getpid());
    run_figures f = time_domains(
        o, threads,
        [&](std::size_t i, dns_resolver& resolver) { return run_check(domain_name(i, o.zone), resolver, opts); },
        [](run_figures& figures, const check_result& r) {
            if (r.sts.policy) ++figures.with_policy;
            if (r.dns_unavailable) ++figures.dns_unavailable;
            for (const auto& finding : r.findings) ++figures.finding_codes[finding.code];
        });
    sampler.stop();
    f.peak_rss_kb = sampler.peak_kb();
    return f;
}

// ---- the floor: the same network work, done directly ----

std::string openssl_error()
{
    const unsigned long e = ERR_get_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

// A TCP connection to address:port whose reads and writes time out after timeout_ms.
unique_fd connect_ipv4(const std::string& address, std::uint16_t port, unsigned timeout_ms, bool no_delay)
{
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) throw std::runtime_error(address + ": not IPv4");
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) throw std::runtime_error("socket failed");
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout_ms % 1000) * 1000);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (no_delay) {
        const int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
        throw std::runtime_error(address + ":" + std::to_string(port) + ": connect failed");
    return fd;
}

// The client side of a TLS handshake on fd, SNI and certificate verified for host; `what`
// names the handshake in the error.
ssl_ptr tls_connect(SSL_CTX* ctx, int fd, const std::string& host, const std::string& what)
{
    ssl_ptr ssl(SSL_new(ctx));
    if (!ssl) throw std::runtime_error("SSL_new: " + openssl_error());
    SSL_set_fd(ssl.get(), fd);
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    SSL_set1_host(ssl.get(), host.c_str());
    if (SSL_connect(ssl.get()) != 1) throw std::runtime_error(host + ": " + what + " failed: " + openssl_error());
    return ssl;
}

ssl_ctx_ptr make_floor_context(const std::string& ca_file)
{
    ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw std::runtime_error("SSL_CTX_new: " + openssl_error());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
        throw std::runtime_error(ca_file + ": cannot load trust anchors: " + openssl_error());
    // No session resumption: every fetch of stswatch is a full handshake too.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    return ctx;
}

// GET https://<host>/.well-known/mta-sts.txt from address:443, certificate verified for host;
// returns the HTTP status, throws on a network or TLS failure.
int floor_fetch(SSL_CTX* ctx, const std::string& host, const std::string& address, unsigned timeout_ms)
{
    const unique_fd fd = connect_ipv4(address, 443, timeout_ms, true);
    const ssl_ptr ssl = tls_connect(ctx, fd.get(), host, "handshake");
    const std::string request = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " + host +
                                "\r\nUser-Agent: stswatch-bench-floor\r\nConnection: close\r\n\r\n";
    if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0)
        throw std::runtime_error(host + ": write failed");
    std::string response;
    char buf[8192];
    for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;) response.append(buf, static_cast<std::size_t>(n));
    SSL_shutdown(ssl.get());
    if (response.compare(0, 9, "HTTP/1.1 ") != 0 || response.size() < 12)
        throw std::runtime_error(host + ": not an HTTP answer");
    return std::stoi(response.substr(9, 3));
}

// Lines of an SMTP session, over the plain socket or over TLS once STARTTLS is done.
class smtp_line_io {
public:
    explicit smtp_line_io(int fd) : fd_(fd) {}
    void start_tls(SSL* ssl) { ssl_ = ssl; buffer_.clear(); }
    bool read_line(std::string& out)
    {
        for (;;) {
            if (const auto eol = buffer_.find('\n'); eol != std::string::npos) {
                out = buffer_.substr(0, eol);
                if (!out.empty() && out.back() == '\r') out.pop_back();
                buffer_.erase(0, eol + 1);
                return true;
            }
            if (buffer_.size() > 4096) return false;
            char buf[1024];
            const long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return false;
            buffer_.append(buf, static_cast<std::size_t>(n));
        }
    }
    bool write(const std::string& text)
    {
        if (ssl_) return SSL_write(ssl_, text.data(), static_cast<int>(text.size())) > 0;
        return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
    }

private:
    int fd_;
    SSL* ssl_ = nullptr;
    std::string buffer_;
};

// Connect, greeting, EHLO, STARTTLS, TLS handshake (certificate verified for host), QUIT: the
// network part of one STARTTLS probe.
void floor_starttls(SSL_CTX* ctx, const std::string& host, const std::string& address, std::uint16_t port,
                    unsigned timeout_ms)
{
    const unique_fd fd = connect_ipv4(address, port, timeout_ms, false);
    smtp_line_io io(fd.get());
    // A reply is complete at its last line: "NNN " rather than "NNN-".
    auto reply = [&io, &address](const char* expect) {
        for (std::string l; io.read_line(l);) {
            if (l.size() < 4 || l.compare(0, 3, expect) != 0)
                throw std::runtime_error(address + ": unexpected SMTP reply \"" + l + "\"");
            if (l[3] == ' ') return;
        }
        throw std::runtime_error(address + ": SMTP connection closed");
    };
    reply("220");
    if (!io.write("EHLO bench.test\r\n")) throw std::runtime_error(address + ": write failed");
    reply("250");
    if (!io.write("STARTTLS\r\n")) throw std::runtime_error(address + ": write failed");
    reply("220");
    const ssl_ptr ssl = tls_connect(ctx, fd.get(), host, "STARTTLS handshake");
    io.start_tls(ssl.get());
    if (!io.write("QUIT\r\n")) throw std::runtime_error(address + ": write failed");
    reply("221");
    SSL_shutdown(ssl.get());
}

// dns_only: the DNS queries alone (the part of the floor no HTTPS server affects).
run_figures run_floor(const bench_options& o, unsigned threads, SSL_CTX* ctx, bool dns_only)
{
    return time_domains(
        o, threads,
        [&](std::size_t i, dns_resolver& resolver) {
            const std::string domain = domain_name(i, o.zone);
            const std::string policy_host = "mta-sts." + domain;
            // The queries a check makes: both TXT records, MX, the policy host and the MX host
            // (A and AAAA each).
            auto sts = resolver.txt("_mta-sts." + domain);
            auto rpt = resolver.txt("_smtp._tls." + domain);
            auto mx = resolver.mx(domain);
            auto a = resolver.a(policy_host);
            resolver.aaaa(policy_host);
            std::vector<std::pair<std::string, std::string>> mx_addresses;
            for (const auto& m : mx.records) {
                auto mx_a = resolver.a(m.host);
                resolver.aaaa(m.host);
                if (!mx_a.records.empty()) mx_addresses.emplace_back(m.host, mx_a.records.front());
            }
            if (sts.status != dns_status::ok || rpt.status != dns_status::ok || a.records.empty())
                throw std::runtime_error("fixture DNS incomplete for " + domain);
            int status = 200;
            if (!dns_only) {
                status = floor_fetch(ctx, policy_host, a.records.front(), o.timeout_ms);
                if (o.probe)
                    for (const auto& [host, address] : mx_addresses)
                        floor_starttls(ctx, host, address, o.smtp_port, o.timeout_ms);
            }
            return status;
        },
        [](run_figures& figures, int status) {
            if (status == 200) ++figures.with_policy;
            else ++figures.errors["HTTP " + std::to_string(status)];
        });
}

// ---- the MX: a minimal SMTP server that offers STARTTLS (RFC 3207), for the probes ----

class bench_mx {
public:
    bench_mx(const std::string& listen, const std::string& cert, const std::string& key, unsigned workers)
        : ctx_(SSL_CTX_new(TLS_server_method()))
    {
        if (!ctx_) throw std::runtime_error("SSL_CTX_new: " + openssl_error());
        if (SSL_CTX_use_certificate_chain_file(ctx_.get(), cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx_.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error(cert + ", " + key + ": cannot load the MX certificate: " + openssl_error());
        const auto colon = listen.rfind(':');
        if (colon == std::string::npos) throw usage_error("--mx-listen: IP:PORT expected, got \"" + listen + "\"");
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1))));
        if (::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &sa.sin_addr) != 1)
            throw usage_error("--mx-listen: not an IPv4 address: \"" + listen + "\"");
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
            ::listen(listener_, 1024) != 0) {
            if (listener_ >= 0) ::close(listener_);
            throw std::runtime_error(listen + ": cannot listen for the MX");
        }
        for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { serve(); });
    }
    ~bench_mx()
    {
        stopping_ = true;
        ::shutdown(listener_, SHUT_RDWR);   // wakes the threads blocked in accept()
        for (auto& w : workers_) w.join();
        ::close(listener_);
    }
    bench_mx(const bench_mx&) = delete;
    bench_mx& operator=(const bench_mx&) = delete;

private:
    void serve()
    {
        while (!stopping_.load()) {
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (stopping_.load()) return;
                continue;
            }
            unique_fd conn(fd);
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            session(fd);
        }
    }

    void session(int fd)
    {
        smtp_line_io io(fd);
        ssl_ptr ssl;
        if (!io.write("220 mx.bench.test ESMTP stswatch-bench\r\n")) return;
        for (std::string cmd; io.read_line(cmd);) {
            std::string verb = cmd.substr(0, cmd.find(' '));
            for (auto& c : verb) c = text::upper(c);
            if (verb == "EHLO") {
                if (!io.write(ssl ? "250-mx.bench.test\r\n250 PIPELINING\r\n"
                                  : "250-mx.bench.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")) return;
            } else if (verb == "STARTTLS" && !ssl) {
                if (!io.write("220 2.0.0 Ready to start TLS\r\n")) return;
                ssl.reset(SSL_new(ctx_.get()));
                if (!ssl) return;
                SSL_set_fd(ssl.get(), fd);
                if (SSL_accept(ssl.get()) != 1) return;
                io.start_tls(ssl.get());
            } else if (verb == "QUIT") {
                io.write("221 2.0.0 Bye\r\n");
                if (ssl) SSL_shutdown(ssl.get());
                return;
            } else if (verb == "HELO" || verb == "NOOP" || verb == "RSET") {
                if (!io.write("250 2.0.0 OK\r\n")) return;
            } else {
                if (!io.write("502 5.5.1 Not implemented\r\n")) return;
            }
        }
    }

    ssl_ctx_ptr ctx_;
    int listener_ = -1;
    std::atomic<bool> stopping_{false};
    std::vector<std::thread> workers_;
};

void print_run(const std::string& what, const run_figures& f, std::size_t domains)
{
    std::cout << "  " << what << ", " << f.threads << " threads\n";
    line("wall time", fixed(f.wall_seconds, 2) + " s");
    line("domains/s", grouped(f.per_second));
    line("latency p50 / p99 / max", fixed(f.latency.p50, 1) + " / " + fixed(f.latency.p99, 1) + " / " +
                                        fixed(f.latency.max, 1) + " ms per domain");
    line("domains with a policy", grouped(static_cast<double>(f.with_policy)) + " of " +
                                      grouped(static_cast<double>(domains)));
    if (f.peak_rss_kb > 0) line("peak RSS (sampled)", fixed(static_cast<double>(f.peak_rss_kb) / 1024.0, 1) + " MB");
    if (f.dns_unavailable > 0) line("DNS unavailable", grouped(static_cast<double>(f.dns_unavailable)));
    if (!f.finding_codes.empty()) line("findings", counts_text(f.finding_codes, 8));
    if (f.failures > 0 || !f.errors.empty()) line("failures", counts_text(f.errors, 5));
    std::cout << std::flush;
}

int run(const bench_options& o)
{
    std::string thread_list;
    for (auto t : o.threads) thread_list += (thread_list.empty() ? "" : ",") + std::to_string(t);
    std::cout << "checks, " << o.label << ": " << grouped(static_cast<double>(o.domains)) << " domains (d0000."
              << o.zone << " …), threads " << thread_list << ", resolver " << o.resolver << ", MX probes "
              << (o.probe ? "on (port " + std::to_string(o.smtp_port) + ")" : "off") << '\n';

    const ssl_ctx_ptr ctx = make_floor_context(o.ca_file);
    std::unique_ptr<bench_mx> mx;
    if (!o.mx_listen.empty()) mx = std::make_unique<bench_mx>(o.mx_listen, o.mx_cert, o.mx_key, 32);
    const auto hwm_start = proc_status_kb(::getpid(), "VmHWM").value_or(0);

    // Warm-up (not measured): the servers' first answers, the page cache, the allocator.
    run_floor(o, o.threads.front(), ctx.get(), false);

    struct row { run_figures ours, floor, dns_floor; };
    std::vector<row> rows;
    for (const unsigned threads : o.threads) {
        row r;
        r.dns_floor = run_floor(o, threads, ctx.get(), true);
        r.floor = run_floor(o, threads, ctx.get(), false);
        r.ours = run_stswatch(o, threads);
        print_run("stswatch run_check" + std::string(o.probe ? " (with MX probes)" : " (no MX probes)"), r.ours,
                  o.domains);
        print_run(o.probe ? "floor: DNS queries + TLS handshake + GET + STARTTLS handshake, raw OpenSSL"
                          : "floor: DNS queries + TLS handshake + GET, raw OpenSSL",
                  r.floor, o.domains);
        line("floor: DNS queries only", grouped(r.dns_floor.per_second) + " domains/s (p50 " + fixed(r.dns_floor.latency.p50, 1) +
                                            " ms)");
        line("ratio stswatch / floor", fixed(r.ours.per_second / r.floor.per_second, 2) +
                                           " (DNS-only floor: " + fixed(r.ours.per_second / r.dns_floor.per_second, 2) +
                                           ")");
        std::cout << '\n' << std::flush;
        rows.push_back(std::move(r));
    }
    const auto hwm_end = proc_status_kb(::getpid(), "VmHWM").value_or(0);
    line("VmHWM before / after the runs", fixed(static_cast<double>(hwm_start) / 1024.0, 1) + " / " +
                                              fixed(static_cast<double>(hwm_end) / 1024.0, 1) + " MB");
    line("target", ">= 100 domains/s");

    if (!o.summary_file.empty()) {
        std::ofstream summary(o.summary_file, std::ios::app);
        for (const auto& r : rows) {
            summary << "checks\t" << o.label << '\t' << r.ours.threads << '\t' << o.domains << '\t'
                    << fixed(r.ours.per_second, 0) << '\t' << fixed(r.ours.latency.p50, 1) << '\t' << fixed(r.ours.latency.p99, 1)
                    << '\t' << mb_column(r.ours.peak_rss_kb) << '\t'
                    << fixed(r.floor.per_second, 0) << '\t' << fixed(r.ours.per_second / r.floor.per_second, 2) << '\t'
                    << fixed(r.dns_floor.per_second, 0) << '\t' << r.ours.with_policy << '\t'
                    << (r.ours.failures + r.ours.dns_unavailable) << '\n';
        }
        if (!summary) throw std::runtime_error(o.summary_file + ": could not append the summary");
    }
    bool complete = true;
    for (const auto& r : rows) complete = complete && r.ours.failures == 0 && r.floor.failures == 0;
    return complete ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    return bench_main("checks",
                      "usage: checks --resolver IP:PORT --ca-file CA.pem [--zone bench.test] [--domains 1000]\n"
                      "              [--threads 16,32] [--probe] [--smtp-port 25] [--timeout-ms 5000]\n"
                      "              [--label TEXT] [--summary FILE] [--mx-listen IP:PORT --mx-cert PEM --mx-key PEM]\n",
                      [&] { return run(read_options(argc, argv)); });
}
