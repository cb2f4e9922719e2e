// HTTP responses for the parser's table tests and the fuzz seeds: good ones with what they
// parse to, bad ones with the reason, over-limit ones.
#pragma once

#include "net/http_response.hpp"

#include <string>
#include <vector>

namespace stswatch::test {

struct http_case {
    std::string what;
    std::string bytes;
    bool closed;                  // the connection ended after the bytes
    http_parse_state state;
    int status = 0;               // when the head parsed
    std::string body = {};        // complete / too_large
    std::string error = {};       // a part of the error (error)
};

inline const std::string policy_text = "version: STSv1\r\nmode: testing\r\nmx: *.a.test\r\nmax_age: 1\r\n";   // within the 64-byte cap

// Limits used by the table: a 64-byte body cap so that over-limit cases stay small.
inline http_limits http_case_limits()
{
    http_limits l;
    l.max_body_bytes = 64;
    l.max_head_bytes = 512;
    l.max_headers = 10;
    l.max_chunk_line = 64;
    return l;
}

inline std::vector<http_case> http_cases()
{
    using s = http_parse_state;
    const std::string ok_head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n";
    return {
        // good
        {"Content-Length", ok_head + "Content-Length: 5\r\n\r\nhello", false, s::complete, 200, "hello"},
        {"Content-Length, bytes after it ignored", ok_head + "Content-Length: 2\r\n\r\nhello", false, s::complete, 200, "he"},
        {"chunked", ok_head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", false, s::complete, 200, "hello world"},
        {"chunked with extensions and trailers", ok_head + "Transfer-Encoding: gzip, chunked\r\n\r\n3;name=v\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n", false, s::complete, 200, "abc"},
        {"chunked overrides Content-Length", ok_head + "Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, s::complete, 200, "ok"},
        {"upper-case hex chunk size", ok_head + "Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false, s::complete, 200, "0123456789"},
        {"close-delimited", ok_head + "\r\nversion: STSv1\r\n", true, s::complete, 200, "version: STSv1\r\n"},
        {"close-delimited, still open", ok_head + "\r\nversion: STSv1\r\n", false, s::incomplete, 200},
        {"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold", true, s::complete, 200, "old"},
        {"missing reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false, s::complete, 200, "ok"},
        {"empty reason phrase", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, s::complete, 404, ""},
        {"bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, s::complete, 200, "ok"},
        {"obs-fold", "HTTP/1.1 200 OK\r\nContent-Type: text/plain;\r\n charset=utf-8\r\nContent-Length: 0\r\n\r\n", false, s::complete, 200, ""},
        {"interim 100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, s::complete, 200, "x"},
        {"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", false, s::complete, 204, ""},
        {"redirect", "HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.test/\r\nContent-Length: 0\r\n\r\n", false, s::complete, 301, ""},
        {"identical Content-Length list", ok_head + "Content-Length: 2, 2\r\n\r\nok", false, s::complete, 200, "ok"},
        {"a policy", ok_head + "Content-Length: " + std::to_string(policy_text.size()) + "\r\n\r\n" + policy_text, false, s::complete, 200, policy_text},
        {"body exactly at the cap", ok_head + "Content-Length: 64\r\n\r\n" + std::string(64, 'a'), false, s::complete, 200, std::string(64, 'a')},
        {"head only so far", "HTTP/1.1 200 OK\r\nContent-Le", false, s::incomplete, 0},
        // over the limits
        {"Content-Length over the cap", ok_head + "Content-Length: 65\r\n\r\n", false, s::too_large, 200, ""},
        {"huge Content-Length", ok_head + "Content-Length: 99999999999999999999999\r\n\r\n", false, s::too_large, 200, ""},
        {"close-delimited over the cap", ok_head + "\r\n" + std::string(65, 'b'), false, s::too_large, 200, std::string(64, 'b')},
        {"chunks adding up over the cap", ok_head + "Transfer-Encoding: chunked\r\n\r\n20\r\n" + std::string(32, 'c') + "\r\n21\r\n" + std::string(33, 'd'), false, s::too_large, 200, std::string(32, 'c')},
        {"one huge chunk", ok_head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nxy", false, s::too_large, 200, ""},
        // bad
        {"empty, closed", "", true, s::error, 0, "", "closed without a response"},
        {"truncated head", "HTTP/1.1 200 OK\r\nContent-Type: text/pl", true, s::error, 0, "", "closed inside the response head"},
        {"truncated body", ok_head + "Content-Length: 10\r\n\r\nhello", true, s::error, 200, "", "after 5 of 10 bytes"},
        {"truncated chunked body", ok_head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true, s::error, 200, "", "before its last chunk"},
        {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", false, s::error, 0, "", "not an HTTP response"},
        {"HTTP/2 status line", "HTTP/2 200\r\n\r\n", false, s::error, 0, "", "not HTTP/1.x"},
        {"status code of two digits", "HTTP/1.1 20 OK\r\n\r\n", false, s::error, 0, "", "not three digits"},
        {"status code with letters", "HTTP/1.1 2x0 OK\r\n\r\n", false, s::error, 0, "", "not three digits"},
        {"no space after the code", "HTTP/1.1 200OK\r\n\r\n", false, s::error, 0, "", "no space after the status code"},
        {"bad chunk size", ok_head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", false, s::error, 200, "", "does not start with a hex number"},
        {"junk after the chunk size", ok_head + "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n", false, s::error, 200, "", "junk after the size"},
        {"chunk size over 64 bits", ok_head + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", false, s::error, 200, "", "does not fit in 64 bits"},
        {"chunk without CRLF after its data", ok_head + "Transfer-Encoding: chunked\r\n\r\n2\r\nokxx\r\n", false, s::error, 200, "", "not followed by CRLF"},
        {"endless chunk-size line", ok_head + "Transfer-Encoding: chunked\r\n\r\n" + std::string(80, '0'), false, s::error, 200, "", "chunk-size line is over"},
        {"Content-Length not a number", ok_head + "Content-Length: 12a\r\n\r\n", false, s::error, 200, "", "Content-Length is not a number"},
        {"negative Content-Length", ok_head + "Content-Length: -1\r\n\r\n", false, s::error, 200, "", "Content-Length is not a number"},
        {"conflicting Content-Length", ok_head + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nok", false, s::error, 200, "", "different values"},
        {"conflicting Content-Length list", ok_head + "Content-Length: 2, 3\r\n\r\nok", false, s::error, 200, "", "different values"},
        {"header without a colon", "HTTP/1.1 200 OK\r\nContent-Type text/plain\r\n\r\n", false, s::error, 0, "", "not \"name: value\""},
        {"space before the colon", "HTTP/1.1 200 OK\r\nContent-Type : text/plain\r\n\r\n", false, s::error, 0, "", "not a token"},
        {"fold before any field", "HTTP/1.1 200 OK\r\n folded\r\n\r\n", false, s::error, 0, "", "starts with whitespace"},
        {"head over the limit", "HTTP/1.1 200 OK\r\nX-Big: " + std::string(600, 'h'), false, s::error, 0, "", "head is over 512 bytes"},
        {"too many header fields", [] { std::string h = "HTTP/1.1 200 OK\r\n"; for (int i = 0; i < 11; ++i) h += "X-" + std::to_string(i) + ": v\r\n"; return h + "\r\n"; }(), false, s::error, 0, "", "more than 10 header fields"},
    };
}

} // namespace stswatch::test
