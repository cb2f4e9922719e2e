// An HTTP/1.x response (RFC 9112) as the MTA-STS policy fetch reads it: status line, header
// fields, and the body framed by Content-Length, chunked transfer coding, or the end of the
// connection. Pure and incremental (bytes in, state out), bounded everywhere, so a policy
// host cannot make us buffer more than the limits whatever it sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

struct http_limits {
    std::size_t max_head_bytes = 16384;   // status line + header fields + the empty line
    std::size_t max_headers = 100;
    std::size_t max_body_bytes = 65536;   // RFC 8461 §3.3: a policy is at most 64 KiB
    std::size_t max_chunk_line = 1024;    // a chunk-size line, extensions included
};

struct http_header {
    std::string name;    // as sent
    std::string value;   // without surrounding whitespace, obs-folds replaced by a space
};

enum class http_framing { none, content_length, chunked, until_close };

struct http_response {
    int version_minor = 1;            // HTTP/1.<minor>
    int status = 0;
    std::string reason;               // may be empty (RFC 9112 §4: the reason is optional)
    std::vector<http_header> headers;
    http_framing framing = http_framing::none;
    std::int64_t content_length = -1; // -1 when not sent
    std::string body;                 // at most max_body_bytes

    // The first field with this name (case-insensitive), or nullptr.
    const std::string* header(std::string_view name) const;
};

enum class http_parse_state {
    incomplete,   // feed more bytes, or finish() when the peer closed
    complete,     // the whole response is in response()
    too_large,    // the body passed max_body_bytes (body holds the first max_body_bytes)
    error,        // not a valid HTTP/1.x response: error() says why
};

class http_response_parser {
public:
    explicit http_response_parser(http_limits limits = {});

    // Adds bytes received; returns the state after consuming them. Bytes after a complete
    // response are ignored.
    http_parse_state feed(std::string_view data);
    // The peer closed the connection: ends a close-delimited body, or is an error when the
    // response was not complete.
    http_parse_state finish();

    http_parse_state state() const { return state_; }
    bool head_complete() const { return head_done_; }
    const http_response& response() const { return response_; }
    const std::string& error() const { return error_; }

private:
    http_parse_state fail(std::string why);
    http_parse_state advance();
    bool parse_head(std::string_view head);
    bool append_body(std::string_view data);

    http_limits limits_;
    http_parse_state state_ = http_parse_state::incomplete;
    bool head_done_ = false;
    std::string buffer_;              // bytes not yet consumed
    http_response response_;
    std::string error_;
    int interim_responses_ = 0;
    // chunked decoding
    enum class chunk_step { size_line, data, data_end, trailers } chunk_step_ = chunk_step::size_line;
    std::uint64_t chunk_left_ = 0;
    std::size_t trailer_bytes_ = 0;
};

// The whole response in one buffer; `closed` says whether the connection ended after it.
struct http_parse_result {
    http_parse_state state = http_parse_state::incomplete;
    http_response response;
    std::string error;
};
http_parse_result parse_http_response(std::string_view bytes, const http_limits& limits = {},
                                      bool closed = true);

// The media type of a Content-Type value, lower-case, without parameters: "text/plain".
std::string http_media_type(std::string_view content_type);

} // namespace stswatch
