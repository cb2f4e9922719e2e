// UTF-8 (RFC 3629) for text that comes from peers: DNS records, policy files, banners,
// certificate names. Such text goes into JSON, PostgreSQL jsonb and terminals, which take
// only well-formed UTF-8 and (jsonb) no U+0000.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace stswatch {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629 §4, "UTF8-char"),
// or 0 when the bytes there are not one (overlong forms, surrogates, above U+10FFFF,
// truncated). i < s.size().
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

// True when s is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);

// s with each byte that does not start a well-formed sequence, and each NUL, replaced by
// U+FFFD: valid UTF-8 that jsonb accepts. Well-formed text without NUL comes back unchanged.
std::string to_valid_utf8(std::string_view s);

// Text from peers for a terminal: control characters (C0, DEL and the C1 range U+0080..
// U+009F, which terminals take as escape sequences) as \xNN, so that a banner or a record
// cannot move the cursor, recolour, retitle or clear the screen; with keep_newlines, '\n'
// stays. Expects valid UTF-8 (to_valid_utf8).
std::string terminal_safe(std::string_view text, bool keep_newlines = false);

// The longest prefix of s of at most max_bytes that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes);

} // namespace stswatch
