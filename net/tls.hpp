// Sockets and TLS for the network checks (policy fetch, STARTTLS probe): owned handles,
// connects and reads bounded in time, the client TLS context, and the certificate
// description behind certificate_info. The handshake never verifies (SSL_VERIFY_NONE), so
// that an untrusted, expired or misnamed certificate can still be described; the trust
// decision is taken afterwards by describe_peer.
#pragma once

#include "common/handles.hpp"
#include "net/certificate.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace stswatch::net {

using clock = std::chrono::steady_clock;

// When a step must be over: now + timeout.
clock::time_point deadline_after(unsigned timeout_ms);

// The failure of a connect, read, write or handshake: I/O in net/ throws it; the checks
// catch it where they make a peer's failure data (a status and a message in their result).
// what() is the reason alone ("connection refused", "connect timed out", "TLS handshake:
// wrong version number"); the caller says which peer and which step.
enum class network_error_kind {
    connect_failed,   // no connection (refused, unreachable, not an IP address)
    timeout,          // the deadline passed before the step was done
    closed,           // the peer closed or reset the connection during a write
    tls_failed,       // the TLS handshake (or setting it up) failed
    io_error,         // a read or write failed otherwise
};

class network_error : public std::runtime_error {
public:
    network_error(network_error_kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    network_error_kind kind() const noexcept { return kind_; }

private:
    network_error_kind kind_;
};

// A non-blocking TCP connection to an IPv4 or IPv6 literal, connected before `deadline`.
// Throws network_error: timeout ("connect timed out") or connect_failed.
unique_fd connect_tcp(const std::string& address, std::uint16_t port, clock::time_point deadline);

// Plain reads and writes on the non-blocking socket, bounded by the deadline. read_some
// appends at most `max` bytes and returns false at the end of the stream. Both throw
// network_error: timeout, io_error, or (write_all) closed when the peer has gone.
bool read_some(int fd, std::string& into, std::size_t max, clock::time_point deadline);
void write_all(int fd, std::string_view data, clock::time_point deadline);

// The process-wide client context: any protocol version OpenSSL can speak, no verification.
SSL_CTX* client_context();

// A TLS client on `fd` with SNI `server_name` ("" = none), handshake done before `deadline`.
// Throws network_error: timeout ("TLS handshake timed out") or tls_failed with OpenSSL's reason.
ssl_ptr tls_connect(int fd, const std::string& server_name, clock::time_point deadline);

// The same over TLS; tls_read_some returns false at the end of the stream (close_notify or
// EOF without it).
bool tls_read_some(SSL* ssl, int fd, std::string& into, std::size_t max, clock::time_point deadline);
void tls_write_all(SSL* ssl, int fd, std::string_view data, clock::time_point deadline);

// Describes and verifies the certificate the peer of `ssl` sent, for `host`.
certificate_info describe_peer(SSL* ssl, const std::string& host, const std::string& ca_file);

// Describes `leaf` with the untrusted `chain` the peer sent (may include the leaf), verified
// at the current time against the system's default trust paths plus ca_file (when set; the
// store is loaded once per ca_file and shared, X509_STORE being safe to use from several
// threads), and its names against `host`.
certificate_info describe_certificate(X509* leaf, STACK_OF(X509)* chain, const std::string& host,
                                      const std::string& ca_file);

// OpenSSL's queued errors as one line (and clears the queue), or `fallback` when none.
std::string openssl_error(const std::string& fallback);

} // namespace stswatch::net
