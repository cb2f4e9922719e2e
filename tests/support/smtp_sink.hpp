// A local SMTP server that takes every message (RFC 5321), with STARTTLS (RFC 3207) on a
// certificate of tests/support/test_certs.hpp and AUTH PLAIN after it: the relay of the
// alert tests. One connection at a time; what it received is kept.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stswatch::test {

struct sink_message {
    std::string mail_from;
    std::vector<std::string> rcpt_to;
    std::string data;          // as received, dot-stuffing undone, CRLF kept
    bool tls = false;          // received after STARTTLS
    std::string auth;          // the AUTH PLAIN argument (base64), "" when none
};

struct smtp_sink_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;                // 0: a free one
    std::string cert_file, key_file;       // "": no STARTTLS offered
};

class smtp_sink {
public:
    explicit smtp_sink(smtp_sink_options options);   // listening when constructed; FAILs when it cannot
    ~smtp_sink();
    smtp_sink(const smtp_sink&) = delete;
    smtp_sink& operator=(const smtp_sink&) = delete;

    std::uint16_t port() const;
    std::vector<sink_message> messages() const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace stswatch::test
