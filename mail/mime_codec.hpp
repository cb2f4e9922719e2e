// Decoding inside a message (mail/mime.cpp uses these): line views over CRLF or LF-only
// text, charsets to UTF-8, Content-Transfer-Encoding (RFC 2045 §6) and encoded-words
// (RFC 2047). Pure; exposed for mail/mime.cpp and its tests.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace stswatch::mime_detail {

int hex_value(char c);   // -1 for a character that is no hex digit

// Lines: CRLF as the RFC says, LF alone as mbox and maildir copies store them.
struct line_view {
    std::string_view text;   // without its line end
    std::size_t next;        // where the next line starts
};
line_view line_at(std::string_view s, std::size_t pos);

// The bytes in charset as UTF-8 (docs/senders.md: any charset the C library knows).
std::string to_utf8(std::string_view charset, std::string bytes);

struct base64_result {
    std::string data;
    std::size_t skipped = 0;        // characters outside the alphabet, skipped
    std::size_t after_padding = 0;  // non-blank characters after the padding, ignored
    bool dangling = false;          // a lone 6-bit group at the end, dropped
};
base64_result decode_base64(std::string_view in);
std::string decode_quoted_printable(std::string_view in);

// An unstructured header value with its RFC 2047 encoded-words decoded to UTF-8.
std::string decode_encoded_words(std::string_view text);

} // namespace stswatch::mime_detail
