// The test servers themselves: loopback addresses, test certificates, nginx policy hosts and
// the test MX, checked with independent clients (curl, openssl s_client, a raw socket).
#include "tests/support/loopback.hpp"
#include "tests/support/policy_host.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/test_mx.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <system_error>

using namespace stswatch::test;

namespace {

// X509_V_OK, or the verification error of cert_file against the test CA.
int verify_against_test_ca(const std::string& cert_file)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(cert_file.c_str(), "r"), BIO_free);
    REQUIRE(bio);
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                     X509_free);
    REQUIRE(cert);
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
    REQUIRE(X509_STORE_load_file(store.get(), test_ca_file().c_str()) == 1);
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) == 1);
    X509_verify_cert(ctx.get());
    return X509_STORE_CTX_get_error(ctx.get());
}

bool cert_matches_host(const std::string& cert_file, const std::string& host)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(cert_file.c_str(), "r"), BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                     X509_free);
    REQUIRE(cert);
    return X509_check_host(cert.get(), host.data(), host.size(), 0, nullptr) == 1;
}

// Fetches the policy path of host at address with curl; -D - puts the headers first.
run_result fetch(const std::string& host, const std::string& address, const std::string& extra = {})
{
    std::vector<std::string> argv = {"curl", "-sS", "-D", "-", "--max-time", "10", "--cacert", test_ca_file(),
                                     "--resolve", host + ":443:" + address,
                                     "https://" + host + "/.well-known/mta-sts.txt" + extra};
    return run_program(argv);
}

// A plain SMTP client on a socket, for what s_client does not show.
class smtp_client {
public:
    smtp_client(const std::string& address, std::uint16_t port)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~smtp_client() { ::close(fd_); }
    smtp_client(const smtp_client&) = delete;
    smtp_client& operator=(const smtp_client&) = delete;

    void send(const std::string& line)
    {
        const std::string data = line + "\r\n";
        REQUIRE(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<long>(data.size()));
    }
    // One whole reply (all lines of a multi-line one); "" when the server closed.
    std::string reply()
    {
        std::string out;
        for (;;) {
            const auto eol = buffer_.find("\r\n");
            if (eol != std::string::npos) {
                const std::string line = buffer_.substr(0, eol);
                buffer_.erase(0, eol + 2);
                out += line + "\n";
                if (line.size() < 4 || line[3] != '-')
                    return out;
                continue;
            }
            char buf[1024];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0)
                return out;
            buffer_.append(buf, static_cast<std::size_t>(n));
        }
    }
private:
    int fd_ = -1;
    std::string buffer_;
};

} // namespace

TEST_CASE("loopback addresses are unique and in 127.64-254.1-254.1-254")
{
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {
        const std::string a = unique_loopback_address();
        REQUIRE(seen.insert(a).second);
        in_addr parsed{};
        REQUIRE(::inet_pton(AF_INET, a.c_str(), &parsed) == 1);
        const std::uint32_t v = ntohl(parsed.s_addr);
        CHECK((v >> 24) == 127);
        CHECK(((v >> 16) & 0xff) >= 64);
        CHECK(((v >> 16) & 0xff) <= 254);
        CHECK(((v >> 8) & 0xff) >= 1);
        CHECK(((v >> 8) & 0xff) <= 254);
        CHECK((v & 0xff) >= 1);
        CHECK((v & 0xff) <= 254);
    }
}

TEST_CASE("test certificates chain to the test CA, or are expired or self-signed as asked")
{
    const auto good = make_test_cert({"mta-sts.example.test", "other.example.test"});
    CHECK(verify_against_test_ca(good.cert_file) == X509_V_OK);
    CHECK(cert_matches_host(good.cert_file, "mta-sts.example.test"));
    CHECK(cert_matches_host(good.cert_file, "other.example.test"));
    CHECK_FALSE(cert_matches_host(good.cert_file, "mx.example.test"));

    const auto expired = make_test_cert({"mx.example.test"}, -30, -1);
    CHECK(verify_against_test_ca(expired.cert_file) == X509_V_ERR_CERT_HAS_EXPIRED);

    const auto future = make_test_cert({"mx.example.test"}, 2, 30);
    CHECK(verify_against_test_ca(future.cert_file) == X509_V_ERR_CERT_NOT_YET_VALID);

    const auto self = make_test_cert({"mx.example.test"}, -1, 90, true);
    CHECK(verify_against_test_ca(self.cert_file) == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    CHECK(cert_matches_host(self.cert_file, "mx.example.test"));

    const auto wildcard = make_test_cert({"*.example.test"});
    CHECK(cert_matches_host(wildcard.cert_file, "mx1.example.test"));
    CHECK_FALSE(cert_matches_host(wildcard.cert_file, "a.mx1.example.test"));
}

TEST_CASE("nginx policy hosts answer with the status, type and body given")
{
    const std::string policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.a.test\r\nmax_age: 86400\r\n";
    const std::string big(70000, 'x');
    std::vector<policy_vhost> v(7);
    const char* names[] = {"mta-sts.a.test", "mta-sts.b.test", "mta-sts.c.test", "mta-sts.d.test",
                           "mta-sts.e.test", "mta-sts.f.test", "mta-sts.g.test"};
    for (std::size_t i = 0; i < v.size(); ++i) {
        v[i].address = unique_loopback_address();
        v[i].server_name = names[i];
        v[i].cert = make_test_cert({names[i]});
        v[i].body = policy;
    }
    v[1].status = 404;
    v[2].status = 301;
    v[2].location = "https://elsewhere.test/policy";
    v[3].content_type = "";
    v[4].content_type = "text/html; charset=utf-8";
    v[5].body = big;
    v[6].delay_ms = 1500;
    policy_hosts hosts(v);

    SECTION("200 text/plain with the policy") {
        const auto r = fetch(names[0], v[0].address);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.out.find("\r\nContent-Type: text/plain\r\n") != std::string::npos);
        CHECK(r.out.substr(r.out.find("\r\n\r\n") + 4) == policy);
    }
    SECTION("other paths are 404") {
        const auto r = fetch(names[0], v[0].address, "x");
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 404", 0) == 0);
    }
    SECTION("an error status") {
        const auto r = fetch(names[1], v[1].address);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 404", 0) == 0);
    }
    SECTION("a redirect, not followed") {
        const auto r = fetch(names[2], v[2].address);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 301", 0) == 0);
        CHECK(r.out.find("\r\nLocation: https://elsewhere.test/policy\r\n") != std::string::npos);
    }
    SECTION("no Content-Type at all") {
        const auto r = fetch(names[3], v[3].address);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.out.find("Content-Type") == std::string::npos);
    }
    SECTION("another Content-Type, exactly") {
        const auto r = fetch(names[4], v[4].address);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.find("\r\nContent-Type: text/html; charset=utf-8\r\n") != std::string::npos);
    }
    SECTION("a body over 64 KiB") {
        const auto r = fetch(names[5], v[5].address);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.substr(r.out.find("\r\n\r\n") + 4) == big);
    }
    SECTION("a delayed answer") {
        const auto start = std::chrono::steady_clock::now();
        const auto r = fetch(names[6], v[6].address);
        const auto took = std::chrono::steady_clock::now() - start;
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(r.out.substr(r.out.find("\r\n\r\n") + 4) == policy);
        CHECK(took >= std::chrono::milliseconds(1400));
    }
    SECTION("the certificate names the policy host") {
        const auto r = fetch(names[0], v[0].address);
        REQUIRE(r.exit_code == 0);
        // The same address under another name: curl must refuse the certificate.
        const auto wrong = run_program({"curl", "-sS", "--max-time", "10", "--cacert", test_ca_file(), "--resolve",
                                        std::string("mta-sts.zzz.test:443:") + v[0].address,
                                        "https://mta-sts.zzz.test/.well-known/mta-sts.txt"});
        CHECK(wrong.exit_code != 0);
    }
}

TEST_CASE("the test MX speaks SMTP and STARTTLS with the given certificate")
{
    const std::string address = unique_loopback_address();
    const auto cert = make_test_cert({"mx.example.test"});
    test_mx_options o;
    o.address = address;
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    test_mx mx(o);

    SECTION("greeting, EHLO with STARTTLS, unknown command, QUIT") {
        smtp_client c(address, 25);
        CHECK(c.reply() == "220 mx.example.test ESMTP\n");
        c.send("EHLO probe.test");
        const std::string ehlo = c.reply();
        CHECK(ehlo.rfind("250-mx.example.test", 0) == 0);
        CHECK(ehlo.find("250-PIPELINING\n") != std::string::npos);
        CHECK(ehlo.find("250-SIZE 10240000\n") != std::string::npos);
        CHECK(ehlo.find("STARTTLS") != std::string::npos);
        c.send("XYZZY");
        CHECK(c.reply().rfind("502 ", 0) == 0);
        c.send("QUIT");
        CHECK(c.reply().rfind("221 ", 0) == 0);
        CHECK(c.reply().empty());
        CHECK(mx.sessions() == 1);
    }
    SECTION("TLS after STARTTLS verifies against the test CA") {
        const auto r = run_program({"openssl", "s_client", "-starttls", "smtp", "-connect", address + ":25",
                                    "-CAfile", test_ca_file(), "-verify_hostname", "mx.example.test",
                                    "-verify_return_error", "-brief", "-ign_eof"},
                                   "EHLO again.test\r\nQUIT\r\n");
        INFO(r.err << r.out);
        CHECK(r.exit_code == 0);
        CHECK(r.err.find("Verification: OK") != std::string::npos);
        // Over TLS: EHLO without STARTTLS, then QUIT.
        CHECK(r.out.find("250-mx.example.test") != std::string::npos);
        CHECK(r.out.find("STARTTLS") == std::string::npos);
        CHECK(r.out.find("221 ") != std::string::npos);
    }
}

TEST_CASE("the test MX can refuse STARTTLS, not offer it, or close at once")
{
    SECTION("STARTTLS refused with 454") {
        test_mx_options o;
        o.address = unique_loopback_address();
        o.starttls_reply = 454;
        test_mx mx(o);
        smtp_client c(o.address, 25);
        c.reply();
        c.send("EHLO probe.test");
        CHECK(c.reply().find("STARTTLS") != std::string::npos);
        c.send("STARTTLS");
        CHECK(c.reply().rfind("454 ", 0) == 0);
    }
    SECTION("STARTTLS not offered") {
        test_mx_options o;
        o.address = unique_loopback_address();
        o.offer_starttls = false;
        o.greeting = "220 plain.example.test ESMTP";
        test_mx mx(o);
        smtp_client c(o.address, 25);
        CHECK(c.reply() == "220 plain.example.test ESMTP\n");
        c.send("EHLO probe.test");
        const std::string ehlo = c.reply();
        CHECK(ehlo.find("250 ") != std::string::npos);
        CHECK(ehlo.find("STARTTLS") == std::string::npos);
    }
    SECTION("no greeting: closed at once") {
        test_mx_options o;
        o.address = unique_loopback_address();
        o.greeting = "";
        test_mx mx(o);
        smtp_client c(o.address, 25);
        CHECK(c.reply().empty());
        CHECK(mx.sessions() == 1);
    }
    SECTION("an address in use is reported as EADDRINUSE") {
        test_mx_options o;
        o.address = unique_loopback_address();
        test_mx first(o);
        try {
            test_mx second(o);
            FAIL("a second server bound the same address:port");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::address_in_use);
        }
    }
    SECTION("a client that never speaks does not block the destructor") {
        const auto start = std::chrono::steady_clock::now();
        {
            test_mx_options o;
            o.address = unique_loopback_address();
            test_mx mx(o);
            smtp_client c(o.address, 25);
            CHECK(c.reply().rfind("220", 0) == 0);
        }
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
    }
}

TEST_CASE("the test MX can break TLS or speak only an old TLS version")
{
    const auto cert = make_test_cert({"mx.example.test"});
    test_mx_options o;
    o.cert_file = cert.cert_file;
    o.key_file = cert.key_file;
    SECTION("plain text instead of a handshake") {
        o.address = unique_loopback_address();
        o.tls_garbage = true;
        test_mx mx(o);
        const auto r = run_program({"openssl", "s_client", "-starttls", "smtp", "-connect", o.address + ":25",
                                    "-CAfile", test_ca_file(), "-brief"},
                                   "QUIT\r\n");
        INFO(r.err);
        CHECK(r.exit_code != 0);
        CHECK(r.err.find("CONNECTION ESTABLISHED") == std::string::npos);
    }
    SECTION("TLS 1.1 at most") {
        o.address = unique_loopback_address();
        o.max_tls_version = TLS1_1_VERSION;
        test_mx mx(o);
        const auto old = run_program({"openssl", "s_client", "-starttls", "smtp", "-connect", o.address + ":25",
                                      "-CAfile", test_ca_file(), "-brief", "-ign_eof", "-tls1_1", "-cipher",
                                      "DEFAULT@SECLEVEL=0"},
                                     "QUIT\r\n");
        INFO(old.err);
        CHECK(old.err.find("Protocol version: TLSv1.1") != std::string::npos);
        const auto modern = run_program({"openssl", "s_client", "-starttls", "smtp", "-connect", o.address + ":25",
                                         "-CAfile", test_ca_file(), "-brief", "-tls1_2"},
                                        "QUIT\r\n");
        CHECK(modern.err.find("CONNECTION ESTABLISHED") == std::string::npos);
    }
}
