// Sockets and the TLS client for the network checks. See tls.hpp.
#include "net/tls.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

namespace stswatch::net {

namespace {

// Waits until fd is ready for `events` or the deadline passes: 1 ready, 0 timed out, -1 error.
int wait_ready(int fd, short events, clock::time_point deadline)
{
    while (true) {
        // Rounded up: a wait that ends before the deadline is not a timeout, and callers
        // compare the clock with the deadline to tell which limit ended a step.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) return 0;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60000)));
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

std::string errno_text(int err) { return std::strerror(err); }

// What a wait that did not find the socket ready (wait_ready() <= 0) means for the caller.
[[noreturn]] void wait_failed(int ready)
{
    if (ready == 0) throw network_error(network_error_kind::timeout, "timed out");
    throw network_error(network_error_kind::io_error, errno_text(errno));
}

[[noreturn]] void fail(network_error_kind kind, const std::string& message) { throw network_error(kind, message); }

// OpenSSL on a non-blocking socket: SSL_ERROR_WANT_READ / _WANT_WRITE ask to call again once
// the socket is readable / writable (either may come from a read or a write, because of
// renegotiation and key updates). wait_ready()'s answer, or nullopt when err is no such request.
std::optional<int> wait_for_tls(int err, int fd, clock::time_point deadline)
{
    if (err == SSL_ERROR_WANT_READ) return wait_ready(fd, POLLIN, deadline);
    if (err == SSL_ERROR_WANT_WRITE) return wait_ready(fd, POLLOUT, deadline);
    return std::nullopt;
}

} // namespace

clock::time_point deadline_after(unsigned timeout_ms)
{
    return clock::now() + std::chrono::milliseconds(timeout_ms);
}

unique_fd connect_tcp(const std::string& address, std::uint16_t port, clock::time_point deadline)
{
    std::string literal = address;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') literal = literal.substr(1, literal.size() - 2);
    sockaddr_storage storage{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (::inet_pton(AF_INET, literal.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, literal.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof(sockaddr_in6);
    } else {
        fail(network_error_kind::connect_failed, "\"" + address + "\" is not an IP address");
    }
    unique_fd fd(::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) fail(network_error_kind::connect_failed, "cannot make a socket: " + errno_text(errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
        if (errno != EINPROGRESS) fail(network_error_kind::connect_failed, errno_text(errno));
        const int ready = wait_ready(fd.get(), POLLOUT, deadline);
        if (ready == 0) fail(network_error_kind::timeout, "connect timed out");
        int so_error = 0;
        socklen_t so_len = sizeof so_error;
        if (ready < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0) so_error = errno;
        if (so_error != 0) fail(network_error_kind::connect_failed, errno_text(so_error));
    }
    return fd;
}

bool read_some(int fd, std::string& into, std::size_t max, clock::time_point deadline)
{
    char buffer[16384];
    while (true) {
        const auto n = ::recv(fd, buffer, std::min(max, sizeof buffer), 0);
        if (n > 0) {
            into.append(buffer, static_cast<std::size_t>(n));
            return true;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) fail(network_error_kind::io_error, errno_text(errno));
        const int ready = wait_ready(fd, POLLIN, deadline);
        if (ready <= 0) wait_failed(ready);
    }
}

void write_all(int fd, std::string_view data, clock::time_point deadline)
{
    while (!data.empty()) {
        const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            const int err = errno;
            fail(err == EPIPE || err == ECONNRESET ? network_error_kind::closed : network_error_kind::io_error,
                 errno_text(err));
        }
        const int ready = wait_ready(fd, POLLOUT, deadline);
        if (ready <= 0) wait_failed(ready);
    }
}

std::string openssl_error(const std::string& fallback)
{
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        if (!out.empty()) out += "; ";
        // "error:0A000086:SSL routines::certificate verify failed": keep the reason part.
        std::string_view t(text);
        const auto colon = t.rfind("::");
        out += colon == std::string_view::npos ? t : t.substr(colon + 2);
    }
    return out.empty() ? fallback : out;
}

SSL_CTX* client_context()
{
    static SSL_CTX* const context = [] {
        // OpenSSL writes to the socket with write(2), which raises SIGPIPE when the peer has
        // gone: a probe must fail, not end the process. Only a default disposition is changed.
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) return ctx;
        // Trust is decided after the handshake, so that every certificate can be described.
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        // Outdated servers (TLS 1.0/1.1, small keys) are still described, with their version.
        SSL_CTX_set_security_level(ctx, 0);
        SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
        // Every probe sees a full handshake and the certificate as served now.
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
        return ctx;
    }();
    return context;
}

ssl_ptr tls_connect(int fd, const std::string& server_name, clock::time_point deadline)
{
    SSL_CTX* ctx = client_context();
    if (!ctx) fail(network_error_kind::tls_failed, openssl_error("cannot make a TLS context"));
    ssl_ptr ssl(SSL_new(ctx));
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1)
        fail(network_error_kind::tls_failed, openssl_error("cannot make a TLS connection"));
    in6_addr ignored{};
    const bool literal = ::inet_pton(AF_INET, server_name.c_str(), &ignored) == 1 ||
                         ::inet_pton(AF_INET6, server_name.c_str(), &ignored) == 1;
    // RFC 6066 §3: SNI carries host names only, never address literals.
    if (!server_name.empty() && !literal && SSL_set_tlsext_host_name(ssl.get(), server_name.c_str()) != 1)
        fail(network_error_kind::tls_failed, openssl_error("cannot set the server name"));
    while (true) {
        ERR_clear_error();
        errno = 0;
        const int rc = SSL_connect(ssl.get());
        if (rc == 1) return ssl;
        const int err = SSL_get_error(ssl.get(), rc);
        const auto ready = wait_for_tls(err, fd, deadline);
        if (!ready) {
            std::string error;
            if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                error = errno != 0 ? "TLS handshake: " + errno_text(errno) : "the peer closed the connection during the TLS handshake";
            else
                error = "TLS handshake: " + openssl_error("failed");
            ERR_clear_error();
            fail(network_error_kind::tls_failed, error);
        }
        if (*ready == 0) fail(network_error_kind::timeout, "TLS handshake timed out");
        if (*ready < 0) fail(network_error_kind::tls_failed, "TLS handshake: " + errno_text(errno));
    }
}

bool tls_read_some(SSL* ssl, int fd, std::string& into, std::size_t max, clock::time_point deadline)
{
    char buffer[16384];
    while (true) {
        ERR_clear_error();
        errno = 0;
        const int n = SSL_read(ssl, buffer, static_cast<int>(std::min(max, sizeof buffer)));
        if (n > 0) {
            into.append(buffer, static_cast<std::size_t>(n));
            return true;
        }
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN) return false;
        const auto ready = wait_for_tls(err, fd, deadline);
        if (!ready) {
            if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)
                return false;   // EOF without close_notify
            fail(network_error_kind::io_error,
                 openssl_error(err == SSL_ERROR_SYSCALL ? errno_text(errno) : "TLS read failed"));
        }
        if (*ready <= 0) wait_failed(*ready);
    }
}

void tls_write_all(SSL* ssl, int fd, std::string_view data, clock::time_point deadline)
{
    while (!data.empty()) {
        ERR_clear_error();
        const int n = SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        const int err = SSL_get_error(ssl, n);
        const auto ready = wait_for_tls(err, fd, deadline);
        if (!ready)
            fail(network_error_kind::io_error,
                 openssl_error(err == SSL_ERROR_SYSCALL ? errno_text(errno) : "TLS write failed"));
        if (*ready <= 0) wait_failed(*ready);
    }
}

} // namespace stswatch::net
