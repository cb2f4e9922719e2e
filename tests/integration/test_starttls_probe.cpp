// The STARTTLS probe against a real SMTP server on loopback addresses: certificates from the
// test CA (valid, expired, misnamed, wildcard), STARTTLS missing or refused, nothing
// listening, a server that closes at once, servers that take their time.
#include "checks/starttls_probe.hpp"
#include "tests/support/loopback.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/test_mx.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <utility>
#include <system_error>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace stswatch;
using namespace stswatch::test;

namespace {

struct running_mx {
    std::unique_ptr<test_mx> server;
    std::string address;
    unsigned sessions() const { return server->sessions(); }
};

// A test_mx on an address of its own (another is tried when one is taken).
running_mx start_mx(test_mx_options options)
{
    return on_own_address([&](const std::string& address) {
        options.address = address;
        return running_mx{std::make_unique<test_mx>(options), address};
    });
}

// A scripted_peer on port 25 of an address of its own.
std::pair<std::unique_ptr<scripted_peer>, std::string> start_peer(scripted_peer_options options)
{
    options.port = 25;
    return on_own_address([&](const std::string& address) {
        options.address = address;
        return std::make_pair(std::make_unique<scripted_peer>(options), address);
    });
}

test_mx_options with_cert(const test_cert& cert)
{
    test_mx_options o;
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    return o;
}

starttls_probe_options probe_options(unsigned timeout_ms = 5000)
{
    starttls_probe_options o;
    o.ca_file = test_ca_file();
    o.timeout_ms = timeout_ms;
    o.ehlo_name = "checker.example.test";
    return o;
}

struct timed_probe {
    starttls_probe_result r;
    std::chrono::steady_clock::duration elapsed;
};

// Probes address with a timeout of timeout_ms; the result and how long the probe took.
timed_probe probe_timed(const std::string& address, unsigned timeout_ms)
{
    const auto started = std::chrono::steady_clock::now();
    auto r = probe_starttls("mx1.example.test", address, probe_options(timeout_ms));
    return {std::move(r), std::chrono::steady_clock::now() - started};
}

struct probed_mx {
    running_mx mx;
    starttls_probe_result r;
};

// A test MX for mx1.example.test serving cert, with its options changed by adjust, and the
// default probe of it.
template <typename Adjust>
probed_mx probe_mx1(const test_cert& cert, Adjust adjust)
{
    auto o = with_cert(cert);
    adjust(o);
    probed_mx p{start_mx(o), {}};
    p.r = probe_starttls("mx1.example.test", p.mx.address, probe_options());
    return p;
}

} // namespace

TEST_CASE("probe_starttls: an MX with a trusted certificate")
{
    const auto mx = start_mx(with_cert(make_test_cert({"mx1.example.test"})));
    // The name is normalised: lower-case, no trailing dot.
    const auto ok = probe_starttls("MX1.example.test.", mx.address, probe_options());
    INFO(ok.error);
    REQUIRE(ok.status == starttls_status::ok);
    CHECK(ok.error.empty());
    CHECK(ok.host == "mx1.example.test");
    CHECK(ok.banner == "220 mx.example.test ESMTP");
    CHECK(ok.starttls_offered);
    CHECK_THAT(ok.tls_version, Catch::StartsWith("TLSv1."));
    CHECK_FALSE(ok.cipher.empty());
    CHECK(ok.certificate.present);
    CHECK(ok.certificate.trusted);
    CHECK(ok.certificate.verify_error.empty());
    CHECK(ok.certificate.name_matches);
    CHECK_FALSE(ok.certificate.expired);
    CHECK(ok.certificate.subject_names == std::vector<std::string>{"mx1.example.test"});
    CHECK_THAT(ok.certificate.subject, Catch::Contains("CN=mx1.example.test"));
    CHECK_FALSE(ok.certificate.issuer.empty());
    CHECK(ok.certificate.days_to_expiry >= 89);
    CHECK(ok.certificate.days_to_expiry <= 90);
    CHECK(ok.certificate.not_after.size() == 20);   // "2027-02-24T16:59:00Z"
    CHECK(ok.certificate.not_after.back() == 'Z');
    CHECK(ok.certificate.sha256.size() == 64);
    CHECK(ok.elapsed_ms < 5000);
    CHECK(mx.sessions() >= 1);

    SECTION("without the test CA the chain is not trusted")
    {
        auto o = probe_options();
        o.ca_file.clear();
        const auto untrusted = probe_starttls("mx1.example.test", mx.address, o);
        CHECK(untrusted.status == starttls_status::ok);
        CHECK_FALSE(untrusted.certificate.trusted);
        CHECK_FALSE(untrusted.certificate.verify_error.empty());
        CHECK(untrusted.certificate.sha256 == ok.certificate.sha256);
    }
}

TEST_CASE("probe_starttls: the certificate as found, expired or misnamed")
{
    const auto expired_mx = start_mx(with_cert(make_test_cert({"mx1.example.test"}, -30, -1)));
    const auto expired = probe_starttls("mx1.example.test", expired_mx.address, probe_options());
    INFO(expired.error);
    CHECK(expired.status == starttls_status::ok);   // the handshake completes: the findings judge
    CHECK(expired.certificate.expired);
    CHECK(expired.certificate.days_to_expiry < 0);
    CHECK_FALSE(expired.certificate.trusted);
    CHECK_THAT(expired.certificate.verify_error, Catch::Contains("expired"));
    CHECK(expired.certificate.name_matches);
    CHECK_THAT(certificate_problems(expired.certificate, "mx1.example.test"), Catch::StartsWith("expired on"));

    const auto misnamed_mx = start_mx(with_cert(make_test_cert({"other.example.test"})));
    const auto misnamed = probe_starttls("mx1.example.test", misnamed_mx.address, probe_options());
    CHECK(misnamed.status == starttls_status::ok);
    CHECK(misnamed.certificate.trusted);
    CHECK_FALSE(misnamed.certificate.name_matches);
    CHECK(certificate_problems(misnamed.certificate, "mx1.example.test") ==
          "not valid for mx1.example.test (names: other.example.test)");

    const auto self_signed_mx = start_mx(with_cert(make_test_cert({"mx1.example.test"}, -1, 90, true)));
    const auto self_signed = probe_starttls("mx1.example.test", self_signed_mx.address, probe_options());
    CHECK(self_signed.status == starttls_status::ok);
    CHECK_FALSE(self_signed.certificate.trusted);
    CHECK(self_signed.certificate.name_matches);
}

TEST_CASE("probe_starttls: a wildcard covers exactly one label")
{
    const auto mx = start_mx(with_cert(make_test_cert({"*.example.test"})));
    struct row {
        const char* host;
        bool matches;
    };
    const row rows[] = {
        {"mx1.example.test", true},
        {"MX2.Example.Test", true},
        {"a.b.example.test", false},   // RFC 8461 §4.1: the wildcard is one label only
        {"example.test", false},
        {"mx1.example.org", false},
    };
    for (const auto& r : rows) {
        INFO(r.host);
        const auto p = probe_starttls(r.host, mx.address, probe_options());
        REQUIRE(p.status == starttls_status::ok);
        CHECK(p.certificate.trusted);
        CHECK(p.certificate.name_matches == r.matches);
        CHECK(p.certificate.subject_names == std::vector<std::string>{"*.example.test"});
    }
}

TEST_CASE("probe_starttls: STARTTLS missing, refused or broken")
{
    const auto cert = make_test_cert({"mx1.example.test"});

    const auto missing = probe_mx1(cert, [](test_mx_options& o) { o.offer_starttls = false; }).r;
    INFO(missing.error);
    CHECK(missing.status == starttls_status::starttls_missing);
    CHECK_FALSE(missing.starttls_offered);
    CHECK_FALSE(missing.certificate.present);
    CHECK_THAT(missing.error, Catch::Contains("does not offer STARTTLS"));

    const auto refused = probe_mx1(cert, [](test_mx_options& o) { o.starttls_reply = 454; }).r;
    INFO(refused.error);
    CHECK(refused.status == starttls_status::starttls_refused);
    CHECK(refused.starttls_offered);
    CHECK_THAT(refused.error, Catch::Contains("454"));

    const auto broken = probe_mx1(cert, [](test_mx_options& o) { o.tls_garbage = true; }).r;
    INFO(broken.error);
    CHECK(broken.status == starttls_status::tls_failed);
    CHECK_FALSE(broken.error.empty());
}

TEST_CASE("probe_starttls: an outdated TLS version is still described")
{
    const auto [mx, r] =
        probe_mx1(make_test_cert({"mx1.example.test"}), [](test_mx_options& o) { o.max_tls_version = TLS1_1_VERSION; });
    INFO(r.error);
    CHECK(r.status == starttls_status::ok);
    CHECK(r.tls_version == "TLSv1.1");
    CHECK(r.certificate.trusted);
}

TEST_CASE("probe_starttls: unreachable servers")
{
    SECTION("nothing listening")
    {
        const auto r = probe_starttls("mx1.example.test", unique_loopback_address(), probe_options());
        INFO(r.error);
        CHECK(r.status == starttls_status::unreachable);
        CHECK_THAT(r.error, Catch::Contains("refused"));
        CHECK(r.banner.empty());
    }
    SECTION("closed before a greeting")
    {
        // The server accepts and closes at once (an orderly FIN; the probe has sent nothing
        // that could turn it into a reset): end of input while waiting for the greeting.
        const auto [mx, r] = probe_mx1(make_test_cert({"mx1.example.test"}), [](test_mx_options& o) { o.greeting = ""; });
        INFO(r.error);
        CHECK(r.status == starttls_status::unreachable);
        CHECK(r.error == "mx1.example.test (" + mx.address + " port 25) closed the connection before a greeting");
        CHECK(r.banner.empty());
        CHECK_FALSE(r.starttls_offered);
        CHECK_FALSE(r.timed_out);
        CHECK_FALSE(r.certificate.present);
        CHECK(mx.sessions() == 1);
    }
    SECTION("a refusing greeting")
    {
        const auto [mx, r] = probe_mx1(make_test_cert({"mx1.example.test"}),
                                       [](test_mx_options& o) { o.greeting = "554 mx.example.test no service"; });
        INFO(r.error);
        CHECK(r.status == starttls_status::smtp_error);
        CHECK(r.banner == "554 mx.example.test no service");
        CHECK_THAT(r.error, Catch::Contains("instead of 220"));
    }
    SECTION("nothing listening on an IPv6 address")
    {
        auto o = probe_options();
        o.port = free_port();
        const auto r = probe_starttls("mx1.example.test", "::1", o);
        INFO(r.error);
        CHECK(r.status == starttls_status::unreachable);
        CHECK_THAT(r.error, Catch::Contains("::1"));
    }
    SECTION("a server that never greets")
    {
        // Listening but never accepting: the kernel completes the TCP handshake, then silence.
        const std::string address = unique_loopback_address();
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listener >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(25);
        ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(listener, 4) == 0);
        const auto [r, elapsed] = probe_timed(address, 300);
        ::close(listener);
        INFO(r.error);
        CHECK(r.status == starttls_status::unreachable);
        CHECK_THAT(r.error, Catch::Contains("no greeting") && Catch::Contains("within 300 ms"));
        CHECK(elapsed < std::chrono::seconds(2));
    }
    SECTION("an address that is not one")
    {
        const auto r = probe_starttls("mx1.example.test", "mx1.example.test", probe_options());
        CHECK(r.status == starttls_status::unreachable);
        CHECK_THAT(r.error, Catch::Contains("is not an IP address"));
    }
}

TEST_CASE("probe_starttls: a peer that takes its time is cut off")
{
    SECTION("an EHLO reply that never ends")
    {
        // One "250-" line every 300 ms: every read succeeds, the reply is never complete.
        scripted_peer_options o;
        o.script = {{false, 0, "220 drip.example.test ESMTP\r\n"}, {true, 0, "250-x\r\n", false, 300}};
        const auto [peer, address] = start_peer(o);
        const auto [r, elapsed] = probe_timed(address, 1000);
        INFO(r.error);
        CHECK(r.timed_out);
        CHECK(r.status == starttls_status::smtp_error);
        CHECK_THAT(r.error, Catch::Contains("no reply to EHLO"));
        CHECK(r.banner == "220 drip.example.test ESMTP");
        CHECK(elapsed < std::chrono::milliseconds(3 * 1000 + 2000));
    }
    SECTION("every step answered just before its timeout")
    {
        // 1700 ms before each of greeting, EHLO reply, STARTTLS reply and handshake: no step
        // times out, but together they exceed 3 × 2000 ms.
        const auto cert = make_test_cert({"mx1.example.test"});
        scripted_peer_options o;
        o.cert_file = cert.cert_file;
        o.key_file = cert.key_file;
        o.script = {{false, 1700, "220 slow.example.test ESMTP\r\n"},
                    {true, 1700, "250-slow.example.test\r\n250 STARTTLS\r\n"},
                    {true, 1700, "220 go ahead\r\n"},
                    {false, 1700, "", true}};
        const auto [peer, address] = start_peer(o);
        const auto [r, elapsed] = probe_timed(address, 2000);
        INFO(r.error);
        CHECK(r.timed_out);
        CHECK(r.status == starttls_status::tls_failed);
        CHECK(r.starttls_offered);
        CHECK_THAT(r.error, Catch::Contains("the whole exchange exceeded 6000 ms"));
        CHECK(elapsed >= std::chrono::milliseconds(5900));
        CHECK(elapsed < std::chrono::milliseconds(3 * 2000 + 2000));
        CHECK(r.elapsed_ms < 3 * 2000 + 2000);
    }
}
