// Pieces of URLs and HTTP headers that the API listener takes from clients (RFC 3986
// percent-encoding, application/x-www-form-urlencoded, RFC 6265 Cookie headers), and HTML
// escaping of what it writes back. Pure functions of untrusted text: fuzzed by
// tests/fuzz/fuzz_url.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stswatch::url {

constexpr std::size_t max_query_params = 32;

// Percent-decoding of a path or query component ('+' as a space when form is set); nullopt
// on a malformed escape ("%" not followed by two hex digits) or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text, bool form);

// key=value pairs split at '&', decoded as a form; pairs with a malformed escape are
// dropped, and at most max_query_params are kept.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// Every byte but RFC 3986 unreserved characters as %XX.
std::string percent_encode(std::string_view text);

// &, <, >, " and ' as entities: safe in element content and quoted attributes.
std::string html_escape(std::string_view text);

// The value of the first cookie called name in a Cookie header ("a=1; b=2"), blanks trimmed.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

} // namespace stswatch::url
