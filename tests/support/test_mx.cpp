#include "tests/support/test_mx.hpp"

#include "tests/support/test_certs.hpp"

#include <catch2/catch.hpp>

#include <openssl/err.h>
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
#include <cctype>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

namespace stswatch::test {

namespace {

struct ssl_free { void operator()(SSL* p) const { SSL_free(p); } };
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;

// A session never waits longer than this for the client: a test cannot hang on it.
constexpr int idle_timeout_seconds = 10;
constexpr std::size_t max_line = 4096;

// The host name the server calls itself: the greeting's second word.
std::string server_name(const std::string& greeting)
{
    const auto start = greeting.find(' ');
    if (start == std::string::npos)
        return "mx.example.test";
    const auto end = greeting.find(' ', start + 1);
    const std::string name = greeting.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
    return name.empty() ? "mx.example.test" : name;
}

// One client connection: plain first, TLS after a successful STARTTLS.
class smtp_session {
public:
    smtp_session(int fd, const test_mx_options& options, SSL_CTX* tls)
        : fd_(fd), options_(options), tls_ctx_(tls), name_(server_name(options.greeting)) {}

    void run()
    {
        if (options_.greeting.empty())
            return;   // close at once, before any greeting
        if (!send_line(options_.greeting))
            return;
        std::string line;
        while (read_line(line)) {
            std::string verb = line.substr(0, line.find(' '));
            std::transform(verb.begin(), verb.end(), verb.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            if (verb == "EHLO") {
                // RFC 5321 §4.1.1.1: a multi-line 250 reply, the last line with a space.
                std::string reply = "250-" + name_ + " greets " + line.substr(std::min(line.size(), std::size_t{5})) +
                                    "\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n";
                if (options_.offer_starttls && !ssl_)
                    reply += "250-STARTTLS\r\n";
                reply += "250 8BITMIME";
                if (!send_line(reply))
                    return;
            } else if (verb == "HELO") {
                if (!send_line("250 " + name_))
                    return;
            } else if (verb == "STARTTLS") {
                if (!starttls())
                    return;
            } else if (verb == "NOOP" || verb == "RSET" || verb == "MAIL" || verb == "RCPT") {
                if (!send_line("250 2.0.0 OK"))
                    return;
            } else if (verb == "QUIT") {
                send_line("221 2.0.0 Bye");
                if (ssl_)
                    SSL_shutdown(ssl_.get());   // close_notify: a clean end for TLS clients
                return;
            } else {
                if (!send_line("502 5.5.2 Command not implemented"))
                    return;
            }
        }
    }

private:
    bool starttls()
    {
        // RFC 3207 §4: STARTTLS only when offered, and only once.
        if (ssl_ || !options_.offer_starttls)
            return send_line("503 5.5.1 STARTTLS not offered");
        if (options_.starttls_reply != 220 || tls_ctx_ == nullptr)
            return send_line(std::to_string(options_.starttls_reply == 220 ? 454 : options_.starttls_reply) +
                             " 4.7.0 TLS not available");
        if (!send_line("220 2.0.0 Ready to start TLS"))
            return false;
        if (options_.tls_garbage) {
            send_line("this is not a TLS handshake");
            return false;
        }
        ssl_.reset(SSL_new(tls_ctx_));
        if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1)
            return false;
        if (SSL_accept(ssl_.get()) != 1) {
            ERR_clear_error();   // the client refused our certificate: a normal outcome
            return false;
        }
        pending_.clear();   // RFC 3207 §4.2: nothing from before the handshake carries over
        return true;
    }

    bool send_line(const std::string& text)
    {
        const std::string data = text + "\r\n";
        std::size_t sent = 0;
        while (sent < data.size()) {
            long n;
            if (ssl_) {
                n = SSL_write(ssl_.get(), data.data() + sent, static_cast<int>(data.size() - sent));
                if (n <= 0) {
                    ERR_clear_error();
                    return false;
                }
            } else {
                n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    return false;
            }
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    // A command line without its CRLF (a bare LF is taken too); false at end of input,
    // timeout, error or an overlong line.
    bool read_line(std::string& line)
    {
        for (;;) {
            const auto eol = pending_.find('\n');
            if (eol != std::string::npos) {
                line = pending_.substr(0, eol);
                pending_.erase(0, eol + 1);
                if (!line.empty() && line.back() == '\r')
                    line.pop_back();
                return true;
            }
            if (pending_.size() > max_line)
                return false;
            char buf[4096];
            long n;
            if (ssl_) {
                n = SSL_read(ssl_.get(), buf, sizeof buf);
                if (n <= 0) {
                    ERR_clear_error();
                    return false;
                }
            } else {
                n = ::recv(fd_, buf, sizeof buf, 0);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    return false;
            }
            pending_.append(buf, static_cast<std::size_t>(n));
        }
    }

    int fd_;
    const test_mx_options& options_;
    SSL_CTX* tls_ctx_;
    std::string name_;
    ssl_ptr ssl_;
    std::string pending_;
};

} // namespace

struct test_mx::state {
    test_mx_options options;
    ssl_ctx_ptr tls;
    int listener = -1;
    std::atomic<bool> stopping{false};
    std::atomic<unsigned> sessions{0};
    std::thread acceptor;

    std::mutex lock;                 // guards open and workers
    std::set<int> open;              // sockets of sessions still running
    std::list<std::thread> workers;

    void accept_loop()
    {
        while (!stopping) {
            pollfd p{listener, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0)
                continue;
            const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            ++sessions;
            timeval tv{idle_timeout_seconds, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            const std::lock_guard<std::mutex> guard(lock);
            open.insert(fd);
            workers.emplace_back([this, fd] {
                smtp_session(fd, options, tls.get()).run();
                const std::lock_guard<std::mutex> g(lock);
                open.erase(fd);
                ::close(fd);
            });
        }
    }
};

test_mx::test_mx(test_mx_options options) : state_(std::make_unique<state>())
{
    // A client that hangs up mid-reply must not kill the test process.
    ::signal(SIGPIPE, SIG_IGN);
    state_->options = std::move(options);
    const auto& o = state_->options;

    if (!o.cert_file.empty()) {
        state_->tls = server_tls_context(o.cert_file, o.key_file, "test MX " + o.address);
        if (o.max_tls_version != 0) {
            // TLS 1.0 and 1.1 need security level 0 in OpenSSL 3 (SHA-1 in their handshake).
            SSL_CTX_set_security_level(state_->tls.get(), 0);
            SSL_CTX_set_cipher_list(state_->tls.get(), "DEFAULT:@SECLEVEL=0");
            SSL_CTX_set_min_proto_version(state_->tls.get(), 0);
            if (SSL_CTX_set_max_proto_version(state_->tls.get(), o.max_tls_version) != 1)
                FAIL("test MX " << o.address << ": TLS version " << o.max_tls_version << " is not available");
        }
    }

    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(o.port);
    if (::inet_pton(AF_INET, o.address.c_str(), &a.sin_addr) != 1)
        FAIL("test MX: not an IPv4 address: " << o.address);
    state_->listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (state_->listener < 0 ||
        ::setsockopt(state_->listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(state_->listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(state_->listener, 64) != 0) {
        const int err = errno;
        if (state_->listener >= 0)
            ::close(state_->listener);
        throw std::system_error(err, std::generic_category(),
                                "test MX cannot listen on " + o.address + ":" + std::to_string(o.port));
    }
    state_->acceptor = std::thread([s = state_.get()] { s->accept_loop(); });
}

test_mx::~test_mx()
{
    state_->stopping = true;
    state_->acceptor.join();
    ::close(state_->listener);
    std::list<std::thread> workers;
    {
        const std::lock_guard<std::mutex> guard(state_->lock);
        // Wakes sessions blocked reading from a client that stays connected.
        for (const int fd : state_->open)
            ::shutdown(fd, SHUT_RDWR);
        workers.swap(state_->workers);
    }
    for (auto& w : workers)
        w.join();
}

unsigned test_mx::sessions() const
{
    return state_->sessions;
}

} // namespace stswatch::test
