// Turning a received body into report JSON: sniffing and bounded gzip inflation.
//
// The body's first bytes decide, not its label: senders mislabel gzip as
// application/octet-stream or application/json (docs/senders.md).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace stswatch {

enum class body_kind { gzip, json, unknown };

// gzip: starts with 1f 8b. json: first non-blank byte (after an optional UTF-8 BOM) is '{'
// or '['. unknown otherwise.
body_kind sniff_body(std::string_view body);

enum class decode_failure {
    too_large,    // inflated size over the limit (a bomb, or just too big): HTTP 413
    truncated,    // the gzip stream ends before its end marker: HTTP 400
    corrupt,      // not valid gzip/deflate data, bad CRC or length: HTTP 400
    not_a_report, // neither gzip nor JSON: HTTP 415 or 400
};

class decode_error : public std::runtime_error {
public:
    decode_error(decode_failure kind, std::string reason);
    decode_failure kind() const noexcept { return kind_; }
private:
    decode_failure kind_;
};

struct decoded_body {
    std::string json;        // the report JSON
    bool was_gzip = false;
    std::string warning;     // e.g. "ignored 2 bytes after the gzip member"
};

// Inflates gzip or passes JSON through, and strips a UTF-8 BOM before the JSON.
// - Concatenated gzip members (RFC 1952 §2.2) are inflated as one text, as gzip -d does;
//   a broken further member fails the whole body.
// - Bytes after a complete member that do not start another member (a CRLF added in
//   transit) are ignored with a warning: "ignored 2 bytes after the gzip member (0d 0a)".
// - max_inflated bounds the bytes produced (inflated, or the JSON body as received, BOM
//   included): exactly max_inflated is accepted, one more is too_large. Inflation stops
//   there; the output never holds more than max_inflated + 1 bytes.
// - Inflated content that is not JSON by its first bytes is not_a_report.
// Throws decode_error; reasons are one line and name what is wrong (first bytes in hex).
decoded_body decode_body(std::string_view body, std::uint64_t max_inflated);

// RFC 9110 §8.4.1.3: undoes Content-Encoding: gzip, whatever the content is. The members of
// body (RFC 1952 §2.2) are inflated as one text; bytes after the last complete member are
// ignored. max_inflated bounds the output as for decode_body (too_large past it); a stream
// cut short is truncated, bad data corrupt. Throws decode_error.
std::string inflate_gzip_coding(std::string_view body, std::uint64_t max_inflated);

// gzip-compresses data (for keeping raw reports compressed, and for tests and benchmarks).
std::string gzip_compress(std::string_view data, int level = 6);

} // namespace stswatch
