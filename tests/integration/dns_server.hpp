// A real authoritative DNS server (Knot, through tests/fixtures/dns.sh) serving the zones a
// test gives it on 127.0.0.1, stopped and removed when the test ends.
#pragma once

#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace stswatch::test {

struct test_zone {
    std::string name;    // "stswatch.test"
    std::string text;    // zone file contents ($ORIGIN and SOA included by the test)
    bool dnssec = false; // signed by knot
};

class dns_server {
public:
    explicit dns_server(const std::vector<test_zone>& zones)
    {
        char tmpl[] = "/tmp/stswatch-dns.XXXXXX";
        if (!::mkdtemp(tmpl))
            FAIL("cannot make a directory for the DNS server");
        dir_ = tmpl;
        std::vector<std::string> specs;
        for (const auto& z : zones) {
            const std::string file = dir_ + "/" + z.name + ".in";
            std::ofstream(file) << z.text;
            specs.push_back(z.name + "=" + file + (z.dnssec ? ":signed" : ""));
        }
        // A port free a moment ago may be taken by the time knot binds it: try a few.
        run_result r;
        for (int attempt = 0; attempt < 3; ++attempt) {
            port_ = free_port();
            std::vector<std::string> argv = {"/bin/bash", script(), "start", dir_ + "/server", std::to_string(port_)};
            argv.insert(argv.end(), specs.begin(), specs.end());
            r = run_program(argv);
            if (r.exit_code == 0)
                return;
        }
        FAIL("tests/fixtures/dns.sh could not start knotd: " << r.err);
    }
    ~dns_server()
    {
        run_program({"/bin/bash", script(), "destroy", dir_ + "/server"});
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    dns_server(const dns_server&) = delete;
    dns_server& operator=(const dns_server&) = delete;

    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

    // The DS record of a signed zone, as a trust anchor file for the resolver.
    std::string trust_anchor_file(const std::string& zone, const std::string& extra_lines = {}) const
    {
        const run_result r = run_program({"/bin/bash", script(), "ds", dir_ + "/server", zone});
        REQUIRE(r.exit_code == 0);
        REQUIRE(r.out.find(" DS ") != std::string::npos);
        const std::string file = dir_ + "/" + zone + ".anchor";
        std::ofstream(file) << r.out << extra_lines;
        return file;
    }

private:
    static std::string script() { return std::string(STSWATCH_SOURCE_DIR) + "/tests/fixtures/dns.sh"; }

    std::string dir_;
    std::uint16_t port_ = 0;
};

} // namespace stswatch::test
