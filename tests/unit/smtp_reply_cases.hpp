// SMTP replies for the parser's table tests and the fuzz seeds: good ones with their code,
// lines and what the EHLO keywords say; bad ones with the reason.
#pragma once

#include "net/smtp_reply.hpp"

#include <string>
#include <vector>

namespace stswatch::test {

struct smtp_reply_case {
    std::string what;
    std::string bytes;
    smtp_reply_state state;
    int code = 0;
    std::vector<std::string> lines = {};
    bool starttls = false;        // parse_ehlo_reply(...).starttls
    std::string error = {};       // a part of the error
};

inline std::vector<smtp_reply_case> smtp_reply_cases()
{
    using s = smtp_reply_state;
    return {
        {"greeting", "220 mx.example.test ESMTP\r\n", s::complete, 220, {"mx.example.test ESMTP"}},
        {"multi-line greeting", "220-mx.example.test ESMTP\r\n220-no UCE\r\n220 ready\r\n", s::complete, 220,
         {"mx.example.test ESMTP", "no UCE", "ready"}},
        {"EHLO with STARTTLS", "250-mx.example.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
         s::complete, 250, {"mx.example.test Hello", "PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"}, true},
        {"EHLO with starttls in lower case", "250-mx.example.test\r\n250 starttls\r\n", s::complete, 250,
         {"mx.example.test", "starttls"}, true},
        {"EHLO without STARTTLS", "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE\r\n", s::complete, 250,
         {"mx.example.test", "PIPELINING", "SIZE"}},
        {"STARTTLS in the greeting line is not a keyword", "250 mx.example.test STARTTLS\r\n", s::complete, 250,
         {"mx.example.test STARTTLS"}},
        {"STARTTLSX is another keyword", "250-mx.example.test\r\n250 STARTTLSX\r\n", s::complete, 250,
         {"mx.example.test", "STARTTLSX"}},
        {"code alone", "250\r\n", s::complete, 250, {""}},
        {"code and hyphen alone", "250-\r\n250 ok\r\n", s::complete, 250, {"", "ok"}},
        {"bare LF", "220 mx ready\n", s::complete, 220, {"mx ready"}},
        {"refusal", "454 4.7.0 TLS not available due to temporary reason\r\n", s::complete, 454,
         {"4.7.0 TLS not available due to temporary reason"}},
        {"bytes after the reply are left", "220 ready\r\n250 next\r\n", s::complete, 220, {"ready"}},
        {"partial line", "220 mx.exa", s::incomplete},
        {"partial multi-line", "250-mx.example.test\r\n250-PIPE", s::incomplete},
        {"empty", "", s::incomplete},
        {"not SMTP", "HTTP/1.1 400 Bad Request\r\n", s::error, 0, {}, false, "not an SMTP reply line"},
        {"empty line", "\r\n", s::error, 0, {}, false, "not an SMTP reply line"},
        {"two-digit code", "22 ready\r\n", s::error, 0, {}, false, "not an SMTP reply line"},
        {"first digit 1", "199 odd\r\n", s::error, 0, {}, false, "not an SMTP reply line"},
        {"first digit 6", "650 odd\r\n", s::error, 0, {}, false, "not an SMTP reply line"},
        {"second digit 9", "290 odd\r\n", s::error, 0, {}, false, "not an SMTP reply line"},
        {"no separator", "220ready\r\n", s::error, 0, {}, false, "no space or hyphen"},
        {"codes disagree", "250-mx.example.test\r\n251 ok\r\n", s::error, 0, {}, false, "disagree: 250 then 251"},
        {"line over the limit", "220 " + std::string(3000, 'x') + "\r\n", s::error, 0, {}, false, "over 2048 bytes"},
        {"unterminated line over the limit", "220 " + std::string(3000, 'x'), s::error, 0, {}, false, "over 2048 bytes"},
        {"too many lines", [] { std::string r; for (int i = 0; i < 101; ++i) r += "250-x\r\n"; return r + "250 x\r\n"; }(),
         s::error, 0, {}, false, "more than 100 lines"},
    };
}

} // namespace stswatch::test
