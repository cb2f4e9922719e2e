// Sockets and TLS for the network checks (policy fetch, STARTTLS probe): owned handles,
// connects and reads bounded in time, the client TLS context, and the certificate
// description behind certificate_info. The handshake never verifies (SSL_VERIFY_NONE), so
// that an untrusted, expired or misnamed certificate can still be described; the trust
// decision is taken afterwards by verify_peer_certificate.
#pragma once

#include "net/certificate.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace stswatch::net {

using clock = std::chrono::steady_clock;

// When a step must be over: now + timeout.
clock::time_point deadline_after(unsigned timeout_ms);

// A socket descriptor, closed on destruction.
class socket_fd {
public:
    socket_fd() = default;
    explicit socket_fd(int fd) : fd_(fd) {}
    ~socket_fd();
    socket_fd(socket_fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    socket_fd& operator=(socket_fd&& other) noexcept;
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

struct ssl_free { void operator()(SSL* p) const { SSL_free(p); } };
struct x509_free { void operator()(X509* p) const { X509_free(p); } };
struct x509_store_free { void operator()(X509_STORE* p) const { X509_STORE_free(p); } };
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using x509_store_ptr = std::unique_ptr<X509_STORE, x509_store_free>;

// A non-blocking TCP connection to an IPv4 or IPv6 literal, connected before `deadline`.
// On failure: an empty socket_fd and `error` saying why ("connection refused", "timed out").
socket_fd connect_tcp(const std::string& address, std::uint16_t port, clock::time_point deadline,
                      std::string& error);

enum class io_result { ok, closed, timeout, error };

// Plain reads and writes on the non-blocking socket, bounded by the deadline.
io_result read_some(int fd, std::string& into, std::size_t max, clock::time_point deadline, std::string& error);
io_result write_all(int fd, std::string_view data, clock::time_point deadline, std::string& error);

// The process-wide client context: any protocol version OpenSSL can speak, no verification.
SSL_CTX* client_context();

// A TLS client on `fd` with SNI `server_name` ("" = none), handshake done before `deadline`.
// On failure: nullptr and `error` with OpenSSL's reason.
ssl_ptr tls_connect(int fd, const std::string& server_name, clock::time_point deadline, std::string& error);

io_result tls_read_some(SSL* ssl, int fd, std::string& into, std::size_t max, clock::time_point deadline,
                        std::string& error);
io_result tls_write_all(SSL* ssl, int fd, std::string_view data, clock::time_point deadline, std::string& error);

// The trust store: the system's default paths plus ca_file (when set), loaded once per
// ca_file and shared (X509_STORE is safe to use from several threads). `error` is set when
// ca_file cannot be read.
std::shared_ptr<X509_STORE> trust_store(const std::string& ca_file, std::string& error);

// Describes and verifies the certificate the peer of `ssl` sent, for `host`.
certificate_info describe_peer(SSL* ssl, const std::string& host, const std::string& ca_file);

// Describes `leaf` with the untrusted `chain` the peer sent (may include the leaf), verified
// against trust_store(ca_file) at the current time, and its names against `host`.
certificate_info describe_certificate(X509* leaf, STACK_OF(X509)* chain, const std::string& host,
                                      const std::string& ca_file);

// OpenSSL's queued errors as one line (and clears the queue), or `fallback` when none.
std::string openssl_error(const std::string& fallback);

} // namespace stswatch::net
