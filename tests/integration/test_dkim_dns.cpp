// DKIM verification with the keys served by a real DNS server (Knot) through dns_resolver,
// as stswatch does for report mail (RFC 8460 §3).
#include "collector/dkim_keys.hpp"
#include "net/dns.hpp"
#include "mail/dkim.hpp"
#include "tests/support/dns_server.hpp"
#include "tests/support/loopback.hpp"
#include "tests/unit/dkim_cases.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace stswatch;
using namespace stswatch::test;

namespace {

// A TXT value as a zone file writes it: character-strings of at most 255 octets.
std::string zone_txt(const std::string& value)
{
    std::string out;
    for (std::size_t i = 0; i < value.size(); i += 255)
        out += " \"" + value.substr(i, 255) + "\"";
    return out.empty() ? " \"\"" : out;
}

// The key lookup stswatch uses (collector/dkim_keys.hpp): a temporary DNS failure is
// temperror, nothing found is "no key" (RFC 6376 §6.1.2).
dkim_key_lookup lookup_via(dns_options o)
{
    return caching_dkim_lookup(std::make_shared<dns_resolver>(std::move(o)), 64, std::chrono::minutes(10));
}

struct keys {
    test_key rsa = test_key::rsa(2048);
    test_key ed = test_key::ed25519();
};

keys& test_keys()
{
    static keys k;
    return k;
}

dns_server& server()
{
    auto& k = test_keys();
    const std::string zone = zone_file("reporter.test",
                                       "rsa._domainkey TXT" + zone_txt(k.rsa.record()) + "\n"
                                       "ed._domainkey TXT" + zone_txt(k.ed.record()) + "\n"
                                       "revoked._domainkey TXT" + zone_txt("v=DKIM1; k=ed25519; p=") + "\n"
                                       "broken._domainkey TXT" + zone_txt("v=DKIM1; k=ed25519") + "\n"
                                       "nokey._domainkey A 192.0.2.1\n");
    static dns_server s({{"reporter.test", zone}});
    return s;
}

const auto now = std::chrono::system_clock::now();

std::string signed_by(const test_key& key, const std::string& selector, const std::string& algorithm)
{
    signing_options o;
    o.domain = "reporter.test";
    o.selector = selector;
    o.algorithm = algorithm;
    return sign_message(sample_message(), key, o);
}

} // namespace

TEST_CASE("Keys from DNS: RSA (split TXT strings) and Ed25519 signatures pass")
{
    dns_options o;
    o.server = server().address();
    const auto lookup = lookup_via(o);
    REQUIRE(test_keys().rsa.record().size() > 255);   // the key spans several character-strings

    for (const auto& [selector, algorithm] : std::vector<std::pair<std::string, std::string>>{
             {"rsa", "rsa-sha256"}, {"ed", "ed25519-sha256"}}) {
        INFO(algorithm);
        const test_key& key = selector == "rsa" ? test_keys().rsa : test_keys().ed;
        const std::string message = signed_by(key, selector, algorithm);
        auto v = verify_dkim(message, {"reporter.test"}, lookup, now);
        REQUIRE(v.signatures.size() == 1);
        INFO(v.signatures[0].reason);
        CHECK(v.status == dkim_status::pass);
        CHECK(v.signing_domain == "reporter.test");

        // The body tampered after signing must fail against the same DNS key.
        std::string tampered = message;
        tampered.replace(tampered.find("second line"), 11, "secund line");
        v = verify_dkim(tampered, {"reporter.test"}, lookup, now);
        CHECK(v.status == dkim_status::fail);
        CHECK_THAT(v.signatures[0].reason, Catch::Contains("body hash mismatch"));
    }
}

TEST_CASE("Keys from DNS: revoked, malformed, missing")
{
    dns_options o;
    o.server = server().address();
    const auto lookup = lookup_via(o);
    const auto& ed = test_keys().ed;
    struct key_case {
        std::string selector;
        dkim_status expected;
        std::string words;
    };
    for (const auto& c : std::vector<key_case>{
             {"revoked", dkim_status::fail, "revoked"},
             {"broken", dkim_status::permerror, "lacks p="},
             {"nokey", dkim_status::permerror, "no key"},       // the name exists, no TXT (NODATA)
             {"absent", dkim_status::permerror, "no key"},      // NXDOMAIN
         }) {
        INFO(c.selector);
        const auto v = verify_dkim(signed_by(ed, c.selector, "ed25519-sha256"), {"reporter.test"},
                                   lookup, now);
        REQUIRE(v.signatures.size() == 1);
        CHECK(v.status == c.expected);
        CHECK_THAT(v.signatures[0].reason, Catch::Contains(c.words));
    }
}

TEST_CASE("Keys from DNS: a server that does not answer is a temporary error")
{
    const test::silent_udp_server silent;

    dns_options o;
    o.server = silent.address();
    o.timeout_ms = 300;
    const auto lookup = lookup_via(o);
    const auto v = verify_dkim(signed_by(test_keys().ed, "ed", "ed25519-sha256"), {"reporter.test"},
                               lookup, now);
    REQUIRE(v.signatures.size() == 1);
    CHECK(v.status == dkim_status::temperror);
    CHECK_THAT(v.signatures[0].reason, Catch::Contains("not available now"));
}

TEST_CASE("Keys from DNS: a valid signature of another domain is not the reporter's")
{
    dns_options o;
    o.server = server().address();
    const auto lookup = lookup_via(o);
    const auto v = verify_dkim(signed_by(test_keys().ed, "ed", "ed25519-sha256"), {"other-reporter.test"},
                               lookup, now);
    REQUIRE(v.signatures.size() == 1);
    CHECK(v.signatures[0].status == dkim_status::pass);
    CHECK(v.status == dkim_status::fail);
    CHECK(v.signing_domain.empty());
}
