#include "checks/policy_fetch.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

TEST_CASE("is_private_address: the SSRF guard")
{
    struct row {
        const char* address;
        bool is_private;
    };
    const row rows[] = {
        // IPv4 special-purpose ranges
        {"0.0.0.0", true},
        {"0.1.2.3", true},
        {"10.0.0.1", true},
        {"10.255.255.255", true},
        {"100.64.0.1", true},
        {"100.127.255.255", true},
        {"100.128.0.1", false},        // just past CGNAT
        {"100.63.255.255", false},     // just before CGNAT
        {"127.0.0.1", true},
        {"127.64.3.9", true},
        {"169.254.169.254", true},     // cloud metadata
        {"172.16.0.1", true},
        {"172.31.255.255", true},
        {"172.32.0.1", false},
        {"172.15.255.255", false},
        {"192.0.0.8", true},
        {"192.0.2.1", true},
        {"192.168.1.1", true},
        {"198.18.0.1", true},
        {"198.19.255.255", true},
        {"198.20.0.1", false},
        {"198.51.100.7", true},
        {"203.0.113.9", true},
        {"224.0.0.1", true},
        {"239.255.255.250", true},
        {"240.0.0.1", true},
        {"255.255.255.255", true},
        // IPv4 global
        {"8.8.8.8", false},
        {"1.1.1.1", false},
        {"93.184.216.34", false},
        {"192.0.3.1", false},
        {"223.255.255.255", false},
        // IPv6
        {"::", true},
        {"::1", true},
        {"[::1]", true},
        {"fc00::1", true},
        {"fdff:ffff::1", true},
        {"fe80::1", true},
        {"febf::1", true},
        {"ff02::1", true},
        {"2001:db8::1", true},
        {"2001:db8:ffff::1", true},
        {"::ffff:127.0.0.1", true},    // v4-mapped: the IPv4 address decides
        {"::ffff:10.1.2.3", true},
        {"::ffff:8.8.8.8", false},
        // IPv6 forms that carry an IPv4 address: the IPv4 address decides
        {"::ffff:0:10.0.0.1", true},           // SIIT, IPv4-translated (RFC 2765)
        {"::ffff:0:8.8.8.8", false},
        {"::ffff:0:169.254.169.254", true},
        {"::10.0.0.1", true},                  // IPv4-compatible (RFC 4291 §2.5.5.1)
        {"::127.0.0.1", true},
        {"::0.0.0.2", true},                   // 0/8
        {"::8.8.8.8", false},
        {"::0808:0808", false},
        {"64:ff9b::10.0.0.1", true},           // NAT64 well-known prefix (RFC 6052)
        {"64:ff9b::7f00:1", true},
        {"64:ff9b::169.254.169.254", true},
        {"64:ff9b::100.64.0.1", true},
        {"64:ff9b::8.8.8.8", false},
        {"64:ff9b::0808:0808", false},
        {"64:ff9b:1::8.8.8.8", true},          // local-use NAT64 (RFC 8215): never global
        {"64:ff9b:1:ffff::1", true},
        {"64:ff9b:2::8.8.8.8", false},         // just past the local-use /48
        {"2002:0a00:0001::", true},            // 6to4 of 10.0.0.1 (RFC 3056)
        {"2002:7f00:0001::1", true},
        {"2002:c0a8:0101:1::1", true},         // 192.168.1.1
        {"2002:a9fe:a9fe::", true},            // 169.254.169.254
        {"2002:0808:0808::", false},
        {"2002:0808:0808:1::1", false},
        {"2001::1", true},                     // Teredo (RFC 4380)
        {"2001:0:4136:e378:8000:63bf:3fff:fdd2", true},
        {"2001:1::1", false},                  // past Teredo's /32
        {"2001:2::1", true},                   // benchmarking (RFC 5180)
        {"2001:20::1", true},                  // ORCHIDv2 (RFC 7343)
        {"2001:2f:ffff::1", true},
        {"2001:30::1", false},
        {"3fff::1", true},                     // documentation (RFC 9637)
        {"3fff:0fff::1", true},
        {"3fff:1000::1", false},
        // IPv6 global
        {"2001:4860:4860::8888", false},
        {"2a00:1450:4001:80b::200e", false},
        {"2001:db9::1", false},
        {"fb00::1", false},
        // not an address at all: never connected to
        {"", true},
        {"localhost", true},
        {"300.1.1.1", true},
        {"1.2.3", true},
    };
    for (const auto& r : rows) {
        INFO(r.address);
        CHECK(is_private_address(r.address) == r.is_private);
    }
}

TEST_CASE("policy_fetch_status: every status has a name")
{
    CHECK(std::string(to_string(policy_fetch_status::ok)) == "ok");
    CHECK(std::string(to_string(policy_fetch_status::private_address)) == "private_address");
    CHECK(std::string(to_string(policy_fetch_status::too_large)) == "too_large");
    CHECK(std::string(to_string(policy_fetch_status::bad_response)) == "bad_response");
}
