// A real authoritative DNS server (Knot, through tests/fixtures/dns.sh) serving the zones a
// test gives it on 127.0.0.1, stopped and removed when the test ends; and a UDP relay to it
// for the server address forms Knot itself does not listen on.
#pragma once

#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace stswatch::test {

struct test_zone {
    std::string name;    // "stswatch.test"
    std::string text;    // zone file contents ($ORIGIN and SOA included, e.g. by zone_file)
    bool dnssec = false; // signed by knot
};

// A zone file for origin: $ORIGIN, $TTL 60, SOA, NS ns with ns at 127.0.0.1, then records
// (zone file lines, each ending in "\n"), relative to the origin.
std::string zone_file(const std::string& origin, const std::string& records = {});

class dns_server {
public:
    explicit dns_server(const std::vector<test_zone>& zones);   // FAILs when knotd does not start
    ~dns_server();
    dns_server(const dns_server&) = delete;
    dns_server& operator=(const dns_server&) = delete;

    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::uint16_t port() const { return port_; }

    // The DS record of a signed zone, as a trust anchor file for the resolver.
    std::string trust_anchor_file(const std::string& zone, const std::string& extra_lines = {}) const;
    // The DS records of several signed zones, and extra_lines, in one trust anchor file.
    std::string trust_anchor_file(const std::vector<std::string>& zones, const std::string& extra_lines = {}) const;

private:
    std::string server_dir() const { return (dir_.path / "server").string(); }

    temp_dir dir_{"stswatch-dns"};   // zone files, and knot's own folder under server/
    std::uint16_t port_ = 0;
};

// Answers each UDP query that reaches ip:port with what the server at 127.0.0.1:upstream_port
// answers, one query at a time. ip is an IPv4 or IPv6 address ("::1"); port 0 picks a free
// one. A port that is in use is tried again for a few seconds (a test elsewhere may hold it
// a moment); FAILs the test when it cannot be bound. Stops with the object.
class udp_relay {
public:
    udp_relay(const std::string& ip, std::uint16_t port, std::uint16_t upstream_port);
    ~udp_relay();
    udp_relay(const udp_relay&) = delete;
    udp_relay& operator=(const udp_relay&) = delete;

    std::uint16_t port() const;
    unsigned relayed() const;   // answers passed back so far (counted as they are sent)

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace stswatch::test
