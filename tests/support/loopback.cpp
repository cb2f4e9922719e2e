#include "tests/support/loopback.hpp"

#include "tests/support/test_certs.hpp"

#include <catch2/catch.hpp>

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <system_error>
#include <thread>

namespace stswatch::test {

namespace {

struct ssl_free { void operator()(SSL* p) const { SSL_free(p); } };
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;

// Blocking calls on a peer's socket return this often, so that the server can stop.
constexpr int poll_interval_ms = 50;

// A listening TCP socket on address:port, or std::system_error.
int listen_on(const std::string& address, std::uint16_t port, int backlog, const std::string& what)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
        throw std::system_error(EINVAL, std::generic_category(), what + ": not an IPv4 address: " + address);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0) {
        const int err = errno;
        if (fd >= 0)
            ::close(fd);
        throw std::system_error(err, std::generic_category(),
                                what + " cannot listen on " + address + ":" + std::to_string(port));
    }
    return fd;
}

} // namespace

std::string unique_loopback_address()
{
    static std::mutex lock;
    static std::set<std::string> handed_out;
    // Seeded per process from several sources: parallel test processes started in the same
    // instant must not walk the same sequence.
    static std::mt19937_64 gen = [] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), static_cast<unsigned>(::getpid()),
                          static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
        return std::mt19937_64(seq);
    }();
    // 127.0.0.0/8 below 127.64 is left to fixed addresses (127.0.0.1 and the like).
    std::uniform_int_distribution<int> first(64, 254), rest(1, 254);

    const std::lock_guard<std::mutex> guard(lock);
    for (;;) {
        std::string address = "127." + std::to_string(first(gen)) + "." + std::to_string(rest(gen)) +
                              "." + std::to_string(rest(gen));
        if (handed_out.insert(address).second)
            return address;
    }
}

silent_udp_server::silent_udp_server() : fd_(::socket(AF_INET, SOCK_DGRAM, 0))
{
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
}

silent_udp_server::~silent_udp_server()
{
    if (fd_ >= 0)
        ::close(fd_);
}

std::string silent_udp_server::address() const
{
    return "127.0.0.1:" + std::to_string(port_);
}

struct scripted_peer::state {
    scripted_peer_options options;
    ssl_ctx_ptr tls;
    int listener = -1;
    std::atomic<bool> stopping{false};
    std::atomic<unsigned> connections{0};
    std::thread acceptor;

    void accept_loop()
    {
        while (!stopping) {
            pollfd p{listener, POLLIN, 0};
            if (::poll(&p, 1, poll_interval_ms) <= 0)
                continue;
            const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            ++connections;
            timeval tv{0, poll_interval_ms * 1000};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            connection(fd, *this).run();
            ::close(fd);
        }
    }

    // One client: the script, then silence until the client leaves or the server stops.
    class connection {
    public:
        connection(int fd, state& server) : fd_(fd), server_(server) {}

        void run()
        {
            for (const auto& step : server_.options.script) {
                if (step.read_line && !read_line())
                    return;
                if (!wait(step.delay_ms) || !send(step.send))
                    return;
                if (step.start_tls && !handshake())
                    return;
                if (step.repeat_ms != 0) {
                    while (wait(step.repeat_ms) && send(step.send)) {
                    }
                    return;
                }
                if (step.close) {
                    if (ssl_)
                        SSL_shutdown(ssl_.get());
                    return;
                }
            }
            while (read_some()) {
            }
        }

    private:
        bool wait(unsigned ms)
        {
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
            while (!server_.stopping && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min<unsigned>(ms, 10)));
            return !server_.stopping;
        }

        bool send(const std::string& data)
        {
            std::size_t sent = 0;
            while (sent < data.size() && !server_.stopping) {
                if (ssl_) {
                    const int n = SSL_write(ssl_.get(), data.data() + sent, static_cast<int>(data.size() - sent));
                    if (n > 0)
                        sent += static_cast<std::size_t>(n);
                    else if (SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_WRITE)
                        return false;
                } else {
                    const auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
                    if (n > 0)
                        sent += static_cast<std::size_t>(n);
                    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                        return false;
                }
            }
            return !server_.stopping;
        }

        // Some bytes into pending_; false when the client left or the server stops.
        bool read_some()
        {
            char buffer[4096];
            while (!server_.stopping) {
                if (ssl_) {
                    const int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
                    if (n > 0) {
                        pending_.append(buffer, static_cast<std::size_t>(n));
                        return true;
                    }
                    if (SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ)
                        return false;
                } else {
                    const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
                    if (n > 0) {
                        pending_.append(buffer, static_cast<std::size_t>(n));
                        return true;
                    }
                    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                        return false;
                }
            }
            return false;
        }

        bool read_line()
        {
            std::size_t end;
            while ((end = pending_.find('\n')) == std::string::npos)
                if (!read_some())
                    return false;
            pending_.erase(0, end + 1);
            return true;
        }

        bool handshake()
        {
            // Plain bytes sent before the handshake are not part of what follows it.
            pending_.clear();
            ssl_.reset(SSL_new(server_.tls.get()));
            if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1)
                return false;
            while (!server_.stopping) {
                const int r = SSL_accept(ssl_.get());
                if (r == 1)
                    return true;
                const int e = SSL_get_error(ssl_.get(), r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return false;
            }
            return false;
        }

        int fd_;
        state& server_;
        ssl_ptr ssl_;
        std::string pending_;
    };
};

scripted_peer::scripted_peer(scripted_peer_options options) : state_(std::make_unique<state>())
{
    // A client that hangs up mid-drip must not kill the test process (OpenSSL writes with write(2)).
    ::signal(SIGPIPE, SIG_IGN);
    state_->options = std::move(options);
    const auto& o = state_->options;
    if (!o.cert_file.empty()) {
        state_->tls = server_tls_context(o.cert_file, o.key_file, "scripted peer " + o.address);
    }
    state_->listener = listen_on(o.address, o.port, 16, "scripted peer");
    state_->acceptor = std::thread([s = state_.get()] { s->accept_loop(); });
}

scripted_peer::~scripted_peer()
{
    state_->stopping = true;
    state_->acceptor.join();
    ::close(state_->listener);
}

unsigned scripted_peer::connections() const
{
    return state_->connections;
}

unanswering_listener::unanswering_listener(const std::string& address, std::uint16_t port)
    // Linux accepts backlog + 1 connections into the queue: with 0, one fills it.
    : listener_(listen_on(address, port, 0, "unanswering listener"))
{
    filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    if (filler_ < 0 || ::connect(filler_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        const int err = errno;
        if (filler_ >= 0)
            ::close(filler_);
        ::close(listener_);
        throw std::system_error(err, std::generic_category(), "cannot fill the queue of " + address);
    }
}

unanswering_listener::~unanswering_listener()
{
    ::close(filler_);
    ::close(listener_);
}

} // namespace stswatch::test
