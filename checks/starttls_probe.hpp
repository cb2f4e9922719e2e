// The STARTTLS probe of one MX (RFC 3207, RFC 8461 §4.1-4.2): connect to port 25, read the
// greeting, EHLO, see whether STARTTLS is offered, STARTTLS, TLS handshake, then describe
// the certificate (chain to the trust store plus checks.ca_file, name match to the MX
// host with the §4.1 wildcard rule, days to expiry) and the protocol version. QUIT, always.
// Bounded in time whatever the peer does (see starttls_probe_options::timeout_ms).
#pragma once

#include "net/certificate.hpp"

#include <cstdint>
#include <string>

namespace stswatch {

struct starttls_probe_options {
    std::string ca_file;              // extra trust anchors (PEM), added to the system's
    // Each step: connect, greeting, EHLO (sending it and reading the whole reply), STARTTLS,
    // handshake. The whole exchange, QUIT included, ends within 3 × timeout_ms of the start of
    // the connect, however slowly the peer answers each step.
    unsigned timeout_ms = 10000;
    std::uint16_t port = 25;          // fixed by RFC 5321; settable for benchmarks only
    std::string ehlo_name;            // "" = this machine's host name
};

enum class starttls_status {
    ok,                 // STARTTLS offered and the handshake completed (certificate may still be bad)
    unreachable,        // connect refused / timed out, or closed before a greeting
    smtp_error,         // greeting or EHLO not 2xx, or garbage
    starttls_missing,   // EHLO does not offer STARTTLS
    starttls_refused,   // STARTTLS answered other than 220
    tls_failed,         // handshake failed
};
const char* to_string(starttls_status s);

struct starttls_probe_result {
    starttls_status status = starttls_status::unreachable;
    std::string host;             // the MX host name (what the certificate must match)
    std::string address;          // IP probed
    std::string banner;           // the greeting line (first line, trimmed)
    bool starttls_offered = false;
    std::string tls_version;      // "TLSv1.3"
    std::string cipher;
    certificate_info certificate;
    std::string error;            // what went wrong, for the finding's message
    // A step or the whole exchange ran out of time (the status says at which step: unreachable
    // for connect and greeting, smtp_error for EHLO and STARTTLS, tls_failed for the handshake).
    bool timed_out = false;
    unsigned elapsed_ms = 0;
};

starttls_probe_result probe_starttls(const std::string& host, const std::string& address,
                                     const starttls_probe_options& options);

} // namespace stswatch
