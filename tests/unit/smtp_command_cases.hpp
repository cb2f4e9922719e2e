// SMTP command lines for the parser's table tests and the fuzz seeds: good lines with what
// they parse to, bad ones with the reply code and the reason.
#pragma once

#include "mail/smtp_command.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stswatch::test {

struct smtp_good_line {
    std::string line;
    smtp_verb verb;
    std::string path;        // MAIL/RCPT path, or the EHLO/HELO/VRFY argument
    std::optional<std::uint64_t> size = std::nullopt;
    std::string body = {};
};

struct smtp_bad_line {
    std::string line;
    int code;
    std::string reason;      // a part of the reason
};

inline std::vector<smtp_good_line> smtp_good_lines()
{
    return {
        {"EHLO mail.example.com", smtp_verb::ehlo, "mail.example.com"},
        {"ehlo [192.0.2.1]", smtp_verb::ehlo, "[192.0.2.1]"},
        {"HELO relay.example.org\r", smtp_verb::helo, "relay.example.org"},   // a CR left over
        {"EHLO mail.example.com extra words", smtp_verb::ehlo, "mail.example.com"},
        {"MAIL FROM:<noreply-smtp-tls-reporting@google.com>", smtp_verb::mail, "noreply-smtp-tls-reporting@google.com"},
        {"mail from:<>", smtp_verb::mail, ""},   // the null reverse-path (bounces)
        {"MAIL FROM: <tlsrpt@example.net>", smtp_verb::mail, "tlsrpt@example.net"},   // space after the colon
        {"MAIL FROM:tlsrpt@example.net", smtp_verb::mail, "tlsrpt@example.net"},       // no brackets
        {"MAIL FROM:<a@example.com> SIZE=12345", smtp_verb::mail, "a@example.com", 12345},
        {"MAIL FROM:<a@example.com> SIZE=0 BODY=8BITMIME", smtp_verb::mail, "a@example.com", 0, "8BITMIME"},
        {"MAIL FROM:<a@example.com> body=7bit", smtp_verb::mail, "a@example.com", std::nullopt, "7BIT"},
        {"MAIL FROM:<a@example.com> SIZE=99999999999999999999", smtp_verb::mail, "a@example.com",
         UINT64_MAX},   // 20 digits: saturates, and is over any limit
        {"MAIL FROM:<@relay.example,@hop.example:a@example.com>", smtp_verb::mail, "a@example.com"},   // source route
        {"MAIL FROM:<\"odd >local\"@example.com>", smtp_verb::mail, "\"odd >local\"@example.com"},
        {"RCPT TO:<tlsrpt@example.com>", smtp_verb::rcpt, "tlsrpt@example.com"},
        {"RCPT TO:<TLSRPT@Example.COM>", smtp_verb::rcpt, "TLSRPT@Example.COM"},
        {"rcpt to:<postmaster>", smtp_verb::rcpt, "postmaster"},
        {"RCPT TO:<tlsrpt@[192.0.2.1]>", smtp_verb::rcpt, "tlsrpt@[192.0.2.1]"},
        {"DATA", smtp_verb::data, ""},
        {"data", smtp_verb::data, ""},
        {"RSET", smtp_verb::rset, ""},
        {"NOOP", smtp_verb::noop, ""},
        {"NOOP anything goes", smtp_verb::noop, ""},
        {"QUIT", smtp_verb::quit, ""},
        {"STARTTLS", smtp_verb::starttls, ""},
        {"VRFY postmaster", smtp_verb::vrfy, "postmaster"},
        {"HELP", smtp_verb::help, ""},
        {"GET / HTTP/1.1", smtp_verb::unknown, ""},   // a verb is recognised or not; the reply says so
        {"XCLIENT ADDR=192.0.2.1", smtp_verb::unknown, ""},
    };
}

inline std::vector<smtp_bad_line> smtp_bad_lines()
{
    return {
        {"", 500, "empty command"},
        {"EHLO", 501, "EHLO requires a domain"},
        {"HELO   ", 501, "requires a domain"},
        {"MAIL", 501, "syntax: MAIL FROM:<address>"},
        {"MAIL TO:<a@example.com>", 501, "syntax: MAIL FROM"},
        {"MAIL FROM:<a@example.com", 501, "no '>' closing the path"},
        {"MAIL FROM:<a@example.com> SIZE=12k", 501, "SIZE=12k is not a number"},
        {"MAIL FROM:<a@example.com> SIZE=", 501, "malformed parameter"},
        {"MAIL FROM:<a@example.com> SIZE=123456789012345678901", 501, "is not a number of octets"},   // 21 digits
        {"MAIL FROM:<a@example.com> BODY=BINARYMIME", 501, "BODY=BINARYMIME is not 7BIT or 8BITMIME"},
        {"MAIL FROM:<a@example.com> SMTPUTF8", 555, "SMTPUTF8 parameter not recognized"},
        {"MAIL FROM:<a@example.com> =x", 501, "malformed parameter"},
        {"MAIL FROM:<nobody>", 501, "has no domain"},
        {"MAIL FROM:<a@exa_mple.com>", 501, "is not a domain"},
        {"MAIL FROM:<a..b@example.com>", 501, "is not a valid local part"},
        {"MAIL FROM:<" + std::string(65, 'a') + "@example.com>", 501, "local part longer than 64 octets"},
        {"MAIL FROM:<a@" + std::string(260, 'b') + ".com>", 501, "domain longer than 255 octets"},
        {"MAIL FROM:<@relay.example a@example.com>", 501, "source route without ':'"},
        {"RCPT TO:<>", 501, "the null path <> is not a recipient"},
        {"RCPT TO:<tlsrpt>", 501, "has no domain"},
        {"RCPT TO:<tlsrpt@example.com> NOTIFY=NEVER", 555, "NOTIFY parameter not recognized"},
        {"RCPT TO:<tlsrpt@example.com> SIZE=10", 555, "SIZE parameter not recognized"},   // SIZE belongs to MAIL
        {"RCPT FROM:<tlsrpt@example.com>", 501, "syntax: RCPT TO"},
        {"RCPT TO:<t\xC3\xA9@example.com>", 501, "non-ASCII"},
        {"DATA now", 501, "DATA takes no argument"},
        {"STARTTLS please", 501, "STARTTLS takes no argument"},
        {"QUIT x", 501, "QUIT takes no argument"},
        {"VRFY", 501, "VRFY requires an argument"},
        {std::string("NOOP\0RSET", 9), 500, "control character"},
        {"RSET\rMAIL FROM:<a@example.com>", 500, "control character"},
    };
}

} // namespace stswatch::test
