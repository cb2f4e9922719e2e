// SMTP replies as the STARTTLS probe reads them (RFC 5321 §4.2): one or more lines
// "250-…" ending with "250 …", the same code on every line, bounded line length and count;
// and the EHLO keywords (RFC 5321 §4.1.1.1) that say whether STARTTLS (RFC 3207) is offered.
// Pure: the probe feeds it what it has read so far.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

// RFC 5321 §4.5.3.1.5 sets 512 octets per reply line; real servers send longer banners, so
// the bound is looser, but still a bound.
inline constexpr std::size_t smtp_max_reply_line = 2048;
inline constexpr std::size_t smtp_max_reply_lines = 100;

struct smtp_reply {
    int code = 0;                      // 200..599
    std::vector<std::string> lines;    // the text after "250-" / "250 " of each line
    // The text of all lines joined by a space, for messages.
    std::string text() const;
};

enum class smtp_reply_state { incomplete, complete, error };

struct smtp_reply_parse {
    smtp_reply_state state = smtp_reply_state::incomplete;
    smtp_reply reply;                  // when complete
    std::size_t consumed = 0;          // bytes of the buffer the reply took (when complete)
    std::string error;                 // when error: what is wrong, quoting the line
};

// The first reply at the start of `buffer`. Lines end in CRLF (a bare LF is accepted).
smtp_reply_parse parse_smtp_reply(std::string_view buffer, std::size_t max_line = smtp_max_reply_line,
                                  std::size_t max_lines = smtp_max_reply_lines);

struct ehlo_info {
    std::string domain;                    // the server's name in the first line
    std::vector<std::string> keywords;     // upper-case: "PIPELINING", "SIZE", "STARTTLS"
    bool starttls = false;
    bool has(std::string_view keyword) const;   // case-insensitive
};

// The keywords of a 250 reply to EHLO: each line after the first is "keyword [params]".
ehlo_info parse_ehlo_reply(const smtp_reply& reply);

} // namespace stswatch
