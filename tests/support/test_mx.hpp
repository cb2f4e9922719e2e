// A small SMTP server (RFC 5321, STARTTLS of RFC 3207) for the STARTTLS probes under test:
// greeting, EHLO, STARTTLS with a chosen certificate or a refusal, QUIT. No mail is kept.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace stswatch::test {

// test_mx.hpp: an SMTP server (a real, small RFC 5321 responder in C++ on Poco/OpenSSL) on address:port
struct test_mx_options {
    std::string address;                 // 127.x.y.z
    std::uint16_t port = 25;
    std::string greeting = "220 mx.example.test ESMTP";   // sent on connect ("" = close at once)
    bool offer_starttls = true;          // in the EHLO reply
    int starttls_reply = 220;            // answer to STARTTLS (e.g. 454 to refuse)
    std::string cert_file, key_file;     // the TLS certificate after STARTTLS
    // A broken TLS set-up: after "220" to STARTTLS, plain text instead of a TLS handshake.
    bool tls_garbage = false;
    // The newest TLS version offered (TLS1_1_VERSION for an outdated server: the security
    // level is then lowered so that OpenSSL 3 still speaks it); 0 = OpenSSL's default.
    int max_tls_version = 0;
};

class test_mx {
public:
    // Listening when constructed. Throws std::system_error (code EADDRINUSE when the address
    // is taken: callers may retry with another) when it cannot listen; FAILs the test when the
    // certificate cannot be loaded.
    explicit test_mx(test_mx_options options);
    ~test_mx();
    test_mx(const test_mx&) = delete;
    test_mx& operator=(const test_mx&) = delete;

    unsigned sessions() const;           // connections accepted so far

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace stswatch::test
