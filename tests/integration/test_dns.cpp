// The resolver against a real authoritative server (Knot): every record type, every status,
// DNSSEC state, special-use names, timeouts.
#include "net/dns.hpp"
#include "tests/support/dns_server.hpp"
#include "tests/support/loopback.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

using namespace stswatch;
using namespace stswatch::test;

namespace {

const std::string long_txt_a(255, 'a');
const std::string long_txt_b(45, 'b');
const std::string tlsa_hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const std::string main_zone = zone_file("stswatch.test", R"(
@           MX    10 mx1
@           MX    20 MX2.Stswatch.Test.
@           TXT   "v=STSv1; id=20250708"
_smtp._tls  TXT   "v=TLSRPTv1; " "rua=mailto:tlsrpt@stswatch.test"
long        TXT   ")" + long_txt_a + R"(" ")" + long_txt_b + R"("
mx1         A     192.0.2.1
mx1         A     192.0.2.2
mx1         AAAA  2001:db8:0:0:0:0:0:1
mx2         AAAA  2001:DB8::a:0:0:1
_25._tcp.mx1 TLSA 3 1 1 )" + tlsa_hex + R"(
alias       CNAME mx1
nullmx      MX    0 .
empty-txt   TXT   ""
)");

const std::string invalid_zone = zone_file("reports.invalid", "@ A 192.0.2.50\n");

std::string signed_zone(const std::string& name)
{
    return zone_file(name, "@ TXT \"signed\"\n@ MX 10 mx\nmx A 192.0.2.9\n");
}

dns_server& server()
{
    static dns_server s({{"stswatch.test", main_zone},
                         {"reports.invalid", invalid_zone},
                         {"signed.test", signed_zone("signed.test"), true},
                         {"bogus.test", signed_zone("bogus.test"), true}});
    return s;
}

dns_resolver resolver_for(const std::string& address, unsigned timeout_ms = 3000, std::string anchor = {})
{
    dns_options o;
    o.server = address;
    o.timeout_ms = timeout_ms;
    o.trust_anchor_file = std::move(anchor);
    return dns_resolver(o);
}

template <typename T>
std::vector<T> sorted(std::vector<T> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

std::string hex_to_bytes(const std::string& hex)
{
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

} // namespace

TEST_CASE("TXT records: character-strings joined, each record apart")
{
    auto r = resolver_for(server().address());
    auto txt = r.txt("stswatch.test");
    CHECK(txt.status == dns_status::ok);
    CHECK(txt.records == std::vector<std::string>{"v=STSv1; id=20250708"});
    CHECK_FALSE(txt.secure);
    CHECK_FALSE(txt.bogus);

    txt = r.txt("_smtp._tls.stswatch.test");
    REQUIRE(txt.status == dns_status::ok);
    CHECK(txt.records == std::vector<std::string>{"v=TLSRPTv1; rua=mailto:tlsrpt@stswatch.test"});

    txt = r.txt("long.stswatch.test.");
    REQUIRE(txt.status == dns_status::ok);
    CHECK(txt.records == std::vector<std::string>{long_txt_a + long_txt_b});

    txt = r.txt("empty-txt.stswatch.test");
    REQUIRE(txt.status == dns_status::ok);
    CHECK(txt.records == std::vector<std::string>{""});
}

TEST_CASE("MX records: preference and normalised host, null MX")
{
    auto r = resolver_for(server().address());
    auto mx = r.mx("STSWATCH.test");
    REQUIRE(mx.status == dns_status::ok);
    REQUIRE(mx.records.size() == 2);
    std::sort(mx.records.begin(), mx.records.end(), [](auto& a, auto& b) { return a.preference < b.preference; });
    CHECK(mx.records[0].preference == 10);
    CHECK(mx.records[0].host == "mx1.stswatch.test");
    CHECK(mx.records[1].preference == 20);
    CHECK(mx.records[1].host == "mx2.stswatch.test");

    mx = r.mx("nullmx.stswatch.test");
    REQUIRE(mx.status == dns_status::ok);
    REQUIRE(mx.records.size() == 1);
    CHECK(mx.records[0].preference == 0);
    CHECK(mx.records[0].host.empty());   // RFC 7505
}

TEST_CASE("A and AAAA records, CNAME followed")
{
    auto r = resolver_for(server().address());
    auto a = r.a("mx1.stswatch.test");
    REQUIRE(a.status == dns_status::ok);
    CHECK(sorted(a.records) == std::vector<std::string>{"192.0.2.1", "192.0.2.2"});

    a = r.a("alias.stswatch.test");
    REQUIRE(a.status == dns_status::ok);
    CHECK(sorted(a.records) == std::vector<std::string>{"192.0.2.1", "192.0.2.2"});

    auto aaaa = r.aaaa("mx1.stswatch.test");
    REQUIRE(aaaa.status == dns_status::ok);
    CHECK(aaaa.records == std::vector<std::string>{"2001:db8::1"});
    aaaa = r.aaaa("mx2.stswatch.test");
    REQUIRE(aaaa.status == dns_status::ok);
    CHECK(aaaa.records == std::vector<std::string>{"2001:db8::a:0:0:1"});   // RFC 5952 §4.2.3: first longest run
}

TEST_CASE("TLSA records: fields and association data bytes")
{
    auto r = resolver_for(server().address());
    const auto tlsa = r.tlsa("_25._tcp.mx1.stswatch.test");
    REQUIRE(tlsa.status == dns_status::ok);
    REQUIRE(tlsa.records.size() == 1);
    CHECK(tlsa.records[0].usage == 3);
    CHECK(tlsa.records[0].selector == 1);
    CHECK(tlsa.records[0].matching_type == 1);
    CHECK(tlsa.records[0].data == hex_to_bytes(tlsa_hex));
}

TEST_CASE("NXDOMAIN and NODATA are told apart")
{
    auto r = resolver_for(server().address());
    const auto missing = r.txt("nothing.stswatch.test");
    CHECK(missing.status == dns_status::nxdomain);
    CHECK(missing.records.empty());
    CHECK(r.a("deep.nothing.stswatch.test").status == dns_status::nxdomain);

    const auto nodata = r.txt("mx1.stswatch.test");
    CHECK(nodata.status == dns_status::nodata);
    CHECK(nodata.records.empty());
    CHECK(r.tlsa("mx1.stswatch.test").status == dns_status::nodata);
    CHECK(r.mx("mx1.stswatch.test").status == dns_status::nodata);
    CHECK(r.aaaa("ns.stswatch.test").status == dns_status::nodata);
}

TEST_CASE("Special-use names reach the configured server")
{
    // unbound's default local zones would answer NXDOMAIN for .invalid and .test itself.
    auto r = resolver_for(server().address());
    const auto a = r.a("reports.invalid");
    REQUIRE(a.status == dns_status::ok);
    CHECK(a.records == std::vector<std::string>{"192.0.2.50"});
}

TEST_CASE("A refusing server is a temporary failure")
{
    // Knot refuses names outside its zones: the resolver cannot know the answer now.
    auto r = resolver_for(server().address());
    const auto refused = r.txt("example.org");
    CHECK(refused.status == dns_status::temporary_failure);
    CHECK_FALSE(refused.error.empty());
}

TEST_CASE("A silent server times out within timeout_ms")
{
    // A UDP socket that never answers: queries vanish, as with a dropped packet.
    const test::silent_udp_server silent;
    const std::string address = silent.address();

    auto r = resolver_for(address, 300);
    const auto start = std::chrono::steady_clock::now();
    const auto txt = r.txt("stswatch.test");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(txt.status == dns_status::temporary_failure);
    CHECK_THAT(txt.error, Catch::Contains("300 ms"));
    CHECK(elapsed >= std::chrono::milliseconds(250));
    CHECK(elapsed < std::chrono::milliseconds(1500));
}

TEST_CASE("A closed port is a temporary failure, fast")
{
    const std::uint16_t port = free_port();   // nothing listens there
    auto r = resolver_for("127.0.0.1:" + std::to_string(port), 500);
    const auto start = std::chrono::steady_clock::now();
    const auto mx = r.mx("stswatch.test");
    CHECK(mx.status == dns_status::temporary_failure);
    CHECK_FALSE(mx.error.empty());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1500));
}

TEST_CASE("DNSSEC: secure with the zone's trust anchor, insecure without, bogus with a wrong one")
{
    const std::string anchor = server().trust_anchor_file("signed.test");
    auto validating = resolver_for(server().address(), 3000, anchor);
    const auto secure = validating.txt("signed.test");
    INFO(secure.error);
    REQUIRE(secure.status == dns_status::ok);
    CHECK(secure.records == std::vector<std::string>{"signed"});
    CHECK(secure.secure);
    CHECK_FALSE(secure.bogus);
    const auto secure_nx = validating.a("nothing.signed.test");
    CHECK(secure_nx.status == dns_status::nxdomain);
    CHECK(secure_nx.secure);

    // Outside any anchored zone: insecure, but answered.
    const auto insecure = validating.txt("stswatch.test");
    CHECK(insecure.status == dns_status::ok);
    CHECK_FALSE(insecure.secure);

    auto plain = resolver_for(server().address());
    const auto unvalidated = plain.txt("signed.test");
    CHECK(unvalidated.status == dns_status::ok);
    CHECK_FALSE(unvalidated.secure);

    // bogus.test anchored with a DS that matches none of its keys.
    const std::string wrong = server().trust_anchor_file(
        "signed.test", "bogus.test. DS 12345 13 2 " + std::string(64, '0') + "\n");
    auto strict = resolver_for(server().address(), 3000, wrong);
    const auto bogus = strict.txt("bogus.test");
    CHECK(bogus.status == dns_status::temporary_failure);
    CHECK(bogus.bogus);
    CHECK(bogus.records.empty());
    CHECK_THAT(bogus.error, Catch::Contains("DNSSEC"));
}

TEST_CASE("One resolver shared by threads")
{
    auto r = resolver_for(server().address());
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                if (r.mx("stswatch.test").records.size() == 2 && r.txt("nothing.stswatch.test").status == dns_status::nxdomain)
                    ++good;
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(good == 100);
}

TEST_CASE("Server addresses: each good form reaches the server it names, bad ones are refused")
{
    // Knot listens on 127.0.0.1 only, at a port of its own: relays on ::1 and on the default
    // port 53 stand in for it there, so that a resolver asking the wrong address or port
    // gets no answer.
    const udp_relay v6("::1", 0, server().port());
    const udp_relay v4_default("127.0.0.1", 53, server().port());
    const udp_relay v6_default("::1", 53, server().port());
    const std::string knot_port = std::to_string(server().port());
    struct good_case {
        std::string server;
        const udp_relay* via;   // nullptr: Knot itself
    };
    for (const auto& c : std::vector<good_case>{{"127.0.0.1:" + knot_port, nullptr},
                                                {"[::1]:" + std::to_string(v6.port()), &v6},
                                                {"127.0.0.1", &v4_default},
                                                {"127.0.0.1:53", &v4_default},
                                                {"::1", &v6_default},
                                                {"[::1]", &v6_default},
                                                {"[::1]:53", &v6_default}}) {
        INFO(c.server);
        const unsigned before = c.via ? c.via->relayed() : 0;
        auto r = resolver_for(c.server, 2000);
        const auto txt = r.txt("stswatch.test");
        INFO(txt.error);
        CHECK(txt.status == dns_status::ok);
        CHECK(txt.records == std::vector<std::string>{"v=STSv1; id=20250708"});
        if (c.via)
            CHECK(c.via->relayed() > before);
    }

    // A well-formed address where nothing answers is accepted, and asked.
    {
        auto r = resolver_for("[2001:db8::1]", 300);
        const auto txt = r.txt("stswatch.test");
        CHECK(txt.status == dns_status::temporary_failure);
        CHECK_THAT(txt.error, Catch::Contains("2001:db8::1"));
    }

    struct bad_case {
        std::string server, words;
    };
    for (const auto& c : std::vector<bad_case>{{"resolver.example", "not an IP address"},
                                               {"127.0.0.1:", "bad port"},
                                               {"127.0.0.1:99999", "bad port"},
                                               {"127.0.0.1:0", "bad port"},
                                               {"127.0.0.1:5x", "bad port"},
                                               {"[::1", "missing ']'"},
                                               {"[::1]53", "expected ':'"}}) {
        INFO(c.server);
        try {
            resolver_for(c.server);
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Catch::Contains(c.words) && Catch::Contains(c.server));
        }
    }
}

TEST_CASE("A trust anchor file that cannot be read is refused at once")
{
    try {
        resolver_for("127.0.0.1:53", 1000, "/nonexistent/root.key");
        FAIL("accepted");
    } catch (const std::invalid_argument& e) {
        CHECK_THAT(e.what(), Catch::Contains("/nonexistent/root.key"));
    }
}

TEST_CASE("Names that cannot be asked are refused before asking")
{
    auto r = resolver_for(server().address());
    CHECK(r.txt("").status == dns_status::nxdomain);
    CHECK(r.txt(std::string(300, 'a')).status == dns_status::nxdomain);
}
