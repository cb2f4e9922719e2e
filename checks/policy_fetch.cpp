// The MTA-STS policy fetch (RFC 8461 §3.3). See policy_fetch.hpp.
#include "checks/policy_fetch.hpp"
#include "net/http_response.hpp"
#include "net/tls.hpp"
#include "common/domain.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <initializer_list>
#include <vector>

#include <arpa/inet.h>

namespace stswatch {

const char* to_string(policy_fetch_status s)
{
    switch (s) {
    case policy_fetch_status::ok: return "ok";
    case policy_fetch_status::no_address: return "no_address";
    case policy_fetch_status::private_address: return "private_address";
    case policy_fetch_status::connect_failed: return "connect_failed";
    case policy_fetch_status::tls_failed: return "tls_failed";
    case policy_fetch_status::cert_invalid: return "cert_invalid";
    case policy_fetch_status::redirect: return "redirect";
    case policy_fetch_status::http_status: return "http_status";
    case policy_fetch_status::content_type: return "content_type";
    case policy_fetch_status::too_large: return "too_large";
    case policy_fetch_status::bad_response: return "bad_response";
    case policy_fetch_status::invalid_response: return "invalid_response";
    }
    return "unknown";
}

namespace {

struct v4_range {
    std::uint32_t network;
    int prefix;
};

bool private_v4(std::uint32_t a)
{
    // RFC 6890 special-purpose registry, and multicast and reserved space: never a policy host.
    static constexpr std::array<v4_range, 16> ranges{{
        {0x00000000, 8},    // 0/8 "this network"
        {0x0a000000, 8},    // 10/8 RFC 1918
        {0x64400000, 10},   // 100.64/10 CGNAT (RFC 6598)
        {0x7f000000, 8},    // 127/8 loopback
        {0xa9fe0000, 16},   // 169.254/16 link-local
        {0xac100000, 12},   // 172.16/12 RFC 1918
        {0xc0000000, 24},   // 192.0.0/24 IETF protocol assignments
        {0xc0000200, 24},   // 192.0.2/24 TEST-NET-1
        {0xc0a80000, 16},   // 192.168/16 RFC 1918
        {0xc6120000, 15},   // 198.18/15 benchmarking
        {0xc6336400, 24},   // 198.51.100/24 TEST-NET-2
        {0xcb007100, 24},   // 203.0.113/24 TEST-NET-3
        {0xe0000000, 4},    // 224/4 multicast
        {0xf0000000, 4},    // 240/4 reserved, with 255.255.255.255
        {0xffffffff, 32},   // limited broadcast (inside 240/4; named for the reader)
        {0xc0586300, 24},   // 192.88.99/24 deprecated 6to4 relay anycast
    }};
    for (const auto& r : ranges) {
        const std::uint32_t mask = r.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - r.prefix);
        if ((a & mask) == r.network) return true;
    }
    return false;
}

bool has_prefix(const unsigned char* a, std::initializer_list<unsigned char> bytes, int bits)
{
    int i = 0;
    for (const unsigned char b : bytes) {
        const int take = std::min(8, bits - i * 8);
        if (take <= 0) break;
        const unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
        if ((a[i] & mask) != (b & mask)) return false;
        ++i;
    }
    return true;
}

// The IPv4 address carried in bytes offset..offset+3 of an IPv6 address.
std::uint32_t embedded_v4(const unsigned char* a, int offset)
{
    return (std::uint32_t{a[offset]} << 24) | (std::uint32_t{a[offset + 1]} << 16) | (std::uint32_t{a[offset + 2]} << 8) |
           a[offset + 3];
}

} // namespace

bool is_private_address(const std::string& address)
{
    std::string literal = address;
    if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') literal = literal.substr(1, literal.size() - 2);
    in_addr v4{};
    if (::inet_pton(AF_INET, literal.c_str(), &v4) == 1) return private_v4(ntohl(v4.s_addr));
    in6_addr v6{};
    if (::inet_pton(AF_INET6, literal.c_str(), &v6) != 1) return true;   // not an address: never connect
    const unsigned char* a = v6.s6_addr;
    // ::a.b.c.d, the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1), still reaches the
    // IPv4 address on stacks that honour it, so that address decides; :: and ::1 fall in 0/8.
    if (has_prefix(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) return private_v4(embedded_v4(a, 12));
    // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2): the IPv4 address decides.
    if (has_prefix(a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96)) return private_v4(embedded_v4(a, 12));
    // ::ffff:0:a.b.c.d, IPv4-translated (SIIT, RFC 2765 §2.1): the IPv4 address decides.
    if (has_prefix(a, {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}, 96)) return private_v4(embedded_v4(a, 12));
    // 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052 §2.1): a translator forwards to the
    // IPv4 address in the last 32 bits, so that address decides.
    if (has_prefix(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) return private_v4(embedded_v4(a, 12));
    // 64:ff9b:1::/48, the local-use NAT64 prefix (RFC 8215 §4): never global.
    if (has_prefix(a, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48)) return true;
    // 2002::/16, 6to4 (RFC 3056 §2): the relay reaches the IPv4 address in bits 16..47.
    if (has_prefix(a, {0x20, 0x02}, 16)) return private_v4(embedded_v4(a, 2));
    return has_prefix(a, {0xfc}, 7)                // fc00::/7 unique local
           || has_prefix(a, {0xfe, 0x80}, 10)      // fe80::/10 link-local
           || has_prefix(a, {0xfe, 0xc0}, 10)      // fec0::/10 deprecated site-local
           || has_prefix(a, {0xff}, 8)             // ff00::/8 multicast
           || has_prefix(a, {0x20, 0x01, 0x00, 0x00}, 32)   // 2001::/32 Teredo (RFC 4380 §2.6): a tunnel to anywhere
           || has_prefix(a, {0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48)   // 2001:2::/48 benchmarking (RFC 5180)
           || has_prefix(a, {0x20, 0x01, 0x00, 0x20}, 28)   // 2001:20::/28 ORCHIDv2 (RFC 7343), not routable
           || has_prefix(a, {0x20, 0x01, 0x0d, 0xb8}, 32)   // 2001:db8::/32 documentation
           || has_prefix(a, {0x3f, 0xff, 0x00}, 20)      // 3fff::/20 documentation (RFC 9637)
           || has_prefix(a, {0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64);   // 100::/64 discard-only
}

namespace {

// The limit for one whole fetch: every step keeps its own timeout_ms, but together they end
// within twice that, however many addresses there are and however slowly the host answers.
unsigned overall_limit_ms(const policy_fetch_options& options)
{
    return options.timeout_ms > ~0u / 2 ? ~0u : 2 * options.timeout_ms;
}

std::string describe_dns(dns_status s)
{
    switch (s) {
    case dns_status::nxdomain: return "the name does not exist (NXDOMAIN)";
    case dns_status::nodata: return "it has no A or AAAA record";
    case dns_status::temporary_failure: return "the DNS lookup failed";
    case dns_status::ok: break;
    }
    return "no address";
}

} // namespace

policy_fetch_result fetch_policy(const std::string& domain, dns_resolver& resolver, const policy_fetch_options& options)
{
    policy_fetch_result result;
    // RFC 8461 §3.3: the policy host is "mta-sts" prepended to the Policy Domain.
    result.host = "mta-sts." + normalize_domain(domain);
    result.url = "https://" + result.host + "/.well-known/mta-sts.txt";

    const auto a = resolver.a(result.host);
    const auto aaaa = resolver.aaaa(result.host);
    std::vector<std::string> addresses;
    if (a.status == dns_status::ok) addresses.insert(addresses.end(), a.records.begin(), a.records.end());
    if (aaaa.status == dns_status::ok) addresses.insert(addresses.end(), aaaa.records.begin(), aaaa.records.end());
    if (addresses.empty()) {
        result.status = policy_fetch_status::no_address;
        if (a.status == dns_status::temporary_failure || aaaa.status == dns_status::temporary_failure) {
            result.dns = dns_status::temporary_failure;
            const auto& failed = a.status == dns_status::temporary_failure ? a : aaaa;
            result.error = "cannot resolve " + result.host + ": " + describe_dns(result.dns) +
                           (failed.error.empty() ? "" : " (" + failed.error + ")");
        } else {
            result.dns = a.status == dns_status::nxdomain ? dns_status::nxdomain : dns_status::nodata;
            result.error = result.host + " has no address: " + describe_dns(result.dns);
        }
        return result;
    }
    result.dns = dns_status::ok;

    // The SSRF guard: the names are the domain owner's, the addresses could point anywhere.
    std::vector<std::string> allowed;
    for (const auto& address : addresses)
        if (options.allow_private || !is_private_address(address)) allowed.push_back(address);
    if (allowed.empty()) {
        result.status = policy_fetch_status::private_address;
        result.address = addresses.front();
        result.error = result.host + " resolves to " + addresses.front() +
                       ", a private or non-global address: not fetched (checks.allow_private permits it)";
        return result;
    }

    // A hostile name may list many addresses that all let connects hang: only the first few
    // are tried, and the connects, the handshake and the response share one overall deadline.
    const auto started = net::clock::now();
    const auto overall = started + std::chrono::milliseconds(overall_limit_ms(options));
    const auto step_deadline = [&] { return std::min(net::deadline_after(options.timeout_ms), overall); };
    // Less than a millisecond left is none: the waits count in whole milliseconds.
    const auto out_of_time = [&] { return overall - net::clock::now() < std::chrono::milliseconds(1); };
    const std::string over_limit = "the whole fetch exceeded " + std::to_string(overall_limit_ms(options)) + " ms";

    unique_fd fd;
    std::string connect_errors;
    std::size_t tried = 0;
    for (const auto& address : allowed) {
        if (tried == policy_fetch_max_addresses || out_of_time()) break;
        ++tried;
        result.address = address;
        try {
            fd = net::connect_tcp(address, options.port, step_deadline());
            break;
        } catch (const net::network_error& e) {
            if (!connect_errors.empty()) connect_errors += "; ";
            connect_errors += address + ": " + e.what();
        }
    }
    if (!fd) {
        result.status = policy_fetch_status::connect_failed;
        if (tried < allowed.size()) {
            connect_errors += "; " + std::to_string(allowed.size() - tried) + " more address" +
                              (allowed.size() - tried == 1 ? "" : "es") + " not tried: " +
                              (tried == policy_fetch_max_addresses
                                   ? "at most " + std::to_string(policy_fetch_max_addresses) + " are tried"
                                   : over_limit);
        }
        result.error = "cannot connect to " + result.host + " port " + std::to_string(options.port) + " (" + connect_errors + ")";
        return result;
    }

    // RFC 8461 §3.3: HTTPS with SNI, the certificate valid for the policy host (RFC 6125).
    ssl_ptr ssl;
    try {
        ssl = net::tls_connect(fd.get(), result.host, step_deadline());
    } catch (const net::network_error& e) {
        result.status = policy_fetch_status::tls_failed;
        result.error = "TLS with " + result.host + " (" + result.address + ") failed: " + e.what() +
                       (out_of_time() ? " (" + over_limit + ")" : "");
        return result;
    }
    result.certificate = net::describe_peer(ssl.get(), result.host, options.ca_file);
    if (const auto problems = certificate_problems(result.certificate, result.host); !problems.empty()) {
        result.status = policy_fetch_status::cert_invalid;
        result.error = "the certificate of " + result.host + " is " + problems;
        return result;
    }

    // One deadline for sending the request and reading the whole response.
    const auto deadline = step_deadline();
    const std::string request = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " + result.host +
                                "\r\nUser-Agent: stswatch\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
    const auto timed_out = [](const net::network_error& e) { return e.kind() == net::network_error_kind::timeout; };
    try {
        net::tls_write_all(ssl.get(), fd.get(), request, deadline);
    } catch (const net::network_error& e) {
        result.status = policy_fetch_status::bad_response;
        result.error = "cannot send the request to " + result.host + ": " +
                       (!timed_out(e) ? std::string(e.what()) : out_of_time() ? "timed out: " + over_limit : std::string("timed out"));
        return result;
    }
    http_limits limits;
    limits.max_body_bytes = options.max_bytes;
    http_response_parser parser(limits);
    std::string chunk;
    bool closed_early = false;   // the host closed before the response was complete
    while (parser.state() == http_parse_state::incomplete) {
        chunk.clear();
        try {
            if (net::tls_read_some(ssl.get(), fd.get(), chunk, 16384, deadline)) {
                parser.feed(chunk);
            } else {
                closed_early = parser.state() == http_parse_state::incomplete;
                parser.finish();
            }
        } catch (const net::network_error& e) {
            result.status = policy_fetch_status::bad_response;
            if (!timed_out(e))
                result.error = "reading the response from " + result.url + " failed: " + e.what();
            else if (out_of_time())
                result.error = "no complete response from " + result.url + ": " + over_limit;
            else
                result.error = "no complete response from " + result.url + " within " + std::to_string(options.timeout_ms) + " ms";
            if (parser.head_complete()) result.http_status = parser.response().status;
            return result;
        }
    }
    // Best effort: the connection is ours to end either way.
    SSL_shutdown(ssl.get());

    const auto& response = parser.response();
    if (parser.state() == http_parse_state::error) {
        // Bytes that are not HTTP are what this host answers; a response cut short may be
        // a connection that broke (the monitor tells the two apart).
        result.status = closed_early ? policy_fetch_status::bad_response : policy_fetch_status::invalid_response;
        result.error = "the response from " + result.url + " is not valid HTTP: " + parser.error();
        if (parser.head_complete()) result.http_status = response.status;
        return result;
    }
    result.http_status = response.status;
    if (const auto* type = response.header("Content-Type")) result.content_type = *type;
    if (const auto* location = response.header("Location")) result.location = *location;
    result.body = response.body;

    if (response.status >= 300 && response.status < 400) {
        // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed".
        result.status = policy_fetch_status::redirect;
        result.error = result.url + " answers " + std::to_string(response.status) + " redirecting to " +
                       (result.location.empty() ? "nowhere (no Location)" : result.location) +
                       "; senders do not follow redirects: serve the policy at this URL";
        return result;
    }
    if (response.status != 200) {
        // RFC 8461 §3.3: only a 200 response carries a policy.
        result.status = policy_fetch_status::http_status;
        result.error = result.url + " answers " + std::to_string(response.status) +
                       (response.reason.empty() ? "" : " " + response.reason) + " instead of 200";
        return result;
    }
    // RFC 8461 §3.2: the policy is served as "text/plain" (parameters such as charset allowed).
    if (http_media_type(result.content_type) != "text/plain") {
        result.status = policy_fetch_status::content_type;
        result.error = result.url + (result.content_type.empty() ? std::string(" is served without a Content-Type")
                                                                 : " is served as \"" + result.content_type + "\"") +
                       " instead of text/plain";
        return result;
    }
    if (parser.state() == http_parse_state::too_large) {
        // RFC 8461 §3.3: senders may limit the policy body (64 KiB suggested).
        result.status = policy_fetch_status::too_large;
        result.error = result.url + " has a body over " + std::to_string(options.max_bytes) + " bytes" +
                       (response.content_length >= 0 ? " (Content-Length " + std::to_string(response.content_length) + ")" : "");
        return result;
    }
    result.status = policy_fetch_status::ok;
    return result;
}

} // namespace stswatch
