// The MTA-STS policy fetch (RFC 8461 §3.3): GET https://mta-sts.<domain>/.well-known/mta-sts.txt
// with a certificate valid for mta-sts.<domain> that chains to the trust store (plus
// checks.ca_file), HTTP 200 only, no redirect followed, text/plain, at most 64 KiB, bounded
// in time whatever the host does; the address comes from our resolver and is refused when
// private or loopback unless allow_private (SSRF guard).
#pragma once

#include "net/certificate.hpp"
#include "net/dns.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace stswatch {

struct policy_fetch_options {
    std::string ca_file;              // extra trust anchors (PEM), added to the system's
    bool allow_private = false;       // permit private, loopback, link-local addresses
    // Each of: one connect, the TLS handshake, sending the request and reading the whole
    // response. Together (every connect tried included) they end within 2 × timeout_ms of the
    // first connect. The DNS lookups before are bounded by the resolver's own timeout.
    unsigned timeout_ms = 10000;
    std::uint16_t port = 443;         // fixed by RFC 8461; settable for benchmarks only
    std::size_t max_bytes = 65536;    // body cap (RFC 8461 §3.3: 64 KiB)
};

enum class policy_fetch_status {
    ok,                // 200, text/plain, body within the cap, certificate valid
    no_address,        // mta-sts.<domain> has no A/AAAA (or DNS failed: see dns_status)
    private_address,   // refused by the SSRF guard
    connect_failed,    // refused, unreachable or timed out at every address tried
    tls_failed,        // handshake failed or timed out
    cert_invalid,      // untrusted, expired or not valid for mta-sts.<domain>
    redirect,          // 3xx (not followed)
    http_status,       // another status than 200
    content_type,      // not text/plain
    too_large,         // body over max_bytes
    bad_response,      // cut short (closed early), timed out, or a read error: on the way
    invalid_response,  // a complete answer that is not valid HTTP: the host's own answer
};
const char* to_string(policy_fetch_status s);

struct policy_fetch_result {
    policy_fetch_status status = policy_fetch_status::connect_failed;
    std::string url;             // https://mta-sts.<domain>/.well-known/mta-sts.txt
    std::string host;            // mta-sts.<domain>
    std::string address;         // the address connected to (last one tried)
    dns_status dns = dns_status::ok;   // of the A/AAAA lookups (temporary_failure: DNS down)
    int http_status = 0;
    std::string content_type;    // as sent
    std::string location;        // of a redirect
    std::string body;            // when ok (and for http_status/content_type: the first bytes)
    certificate_info certificate;
    std::string error;           // what went wrong, for the finding's message
};

// At most this many addresses of mta-sts.<domain> are tried: a name listing dozens of
// addresses that never answer must not hold the check for dozens of timeouts.
inline constexpr std::size_t policy_fetch_max_addresses = 4;

// Tries the addresses of mta-sts.<domain> (A then AAAA) that pass the SSRF guard, at most
// policy_fetch_max_addresses of them, until one connects; the error says how many were
// left untried.
policy_fetch_result fetch_policy(const std::string& domain, dns_resolver& resolver,
                                 const policy_fetch_options& options);

// The SSRF guard: true for loopback, RFC 1918, CGNAT, link-local, unique-local,
// unspecified, multicast, documentation and other non-global addresses (v4 and v6 text).
// IPv6 forms that carry an IPv4 address (v4-mapped, v4-compatible, SIIT, NAT64 64:ff9b::/96,
// 6to4) are judged by that address; Teredo and local-use NAT64 are always refused.
bool is_private_address(const std::string& address);

} // namespace stswatch
