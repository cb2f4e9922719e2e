// SMTP command lines (RFC 5321 §4.1) as the receiver reads them: the verb, the
// reverse-path or forward-path of MAIL and RCPT, and their ESMTP parameters (RFC 1870 SIZE,
// RFC 6152 BODY=8BITMIME).
//
// Pure: no I/O, fuzzed. A line is either a command, or refused with the reply code and the
// reason to send back (500 syntax, 501 parameters, 555 unknown MAIL/RCPT parameter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stswatch {

enum class smtp_verb { ehlo, helo, mail, rcpt, data, rset, noop, quit, vrfy, expn, help, starttls, unknown };
const char* to_string(smtp_verb v);

// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF.
constexpr std::size_t smtp_max_command_line = 512;
// RFC 5321 §4.5.3.1.1/2: local-part at most 64 octets, domain at most 255 octets.
constexpr std::size_t smtp_max_local_part = 64;
constexpr std::size_t smtp_max_domain = 255;

struct smtp_command {
    smtp_verb verb = smtp_verb::unknown;
    std::string verb_text;             // as sent, upper-cased (for unknown commands in replies)
    std::string argument;              // EHLO/HELO domain, VRFY/HELP/NOOP text
    // MAIL FROM:<path> / RCPT TO:<path>: the address without brackets and without a
    // source route (RFC 5321 §4.1.2: "@a,@b:user@c" is user@c); "" for the null path <>.
    std::string path;
    bool postmaster = false;           // RCPT TO:<Postmaster> without a domain (RFC 5321 §4.5.1)
    // ESMTP parameters keyword upper-cased, value as sent ("" when there is none).
    std::vector<std::pair<std::string, std::string>> parameters;
    std::optional<std::uint64_t> size;         // MAIL SIZE= (RFC 1870 §6)
    std::string body;                  // MAIL BODY= upper-cased: "7BIT", "8BITMIME" (RFC 6152)
};

struct smtp_parse_error {
    int code = 500;                    // 500, 501, 504 or 555
    std::string enhanced;              // RFC 3463 status, e.g. "5.5.2"
    std::string reason;
};

struct smtp_parse_result {
    std::optional<smtp_command> command;
    smtp_parse_error error;            // meaningful when command is empty
};

// line: one command line without its CRLF (a bare trailing CR is tolerated and dropped).
// Never throws for any input.
smtp_parse_result parse_smtp_command(std::string_view line);

// The domain part of an address, lower-cased ("" when there is no '@').
std::string smtp_address_domain(std::string_view address);

// True when address (as parsed from RCPT) is one of recipients: the local part compared
// exactly (RFC 5321 §2.4: it may be case-sensitive), the domain without case or trailing dot.
bool smtp_recipient_matches(std::string_view address, const std::vector<std::string>& recipients);

} // namespace stswatch
