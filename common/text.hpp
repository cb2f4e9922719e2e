// ASCII text helpers, the one copy for every folder. The protocols stswatch speaks (SMTP, HTTP,
// DNS, MIME, the RFC 8460/8461 records) are ASCII-case-insensitive where they say so,
// independent of the C locale, so <cctype> (locale-dependent) is not used.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stswatch::text {

// RFC 5234 Appendix B.1: WSP = SP / HTAB (also RFC 9110 §5.6.3 OWS).
inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }
// WSP plus CR and LF: what surrounds a value on a line read whole.
inline bool is_space(char c) { return is_wsp(c) || c == '\r' || c == '\n'; }
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
inline bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
inline char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string lowered(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        c = lower(c);
    return out;
}

inline bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

inline bool istarts_with(std::string_view text, std::string_view prefix)
{
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// Without leading and trailing SP / HTAB.
inline std::string_view trim_wsp(std::string_view s)
{
    while (!s.empty() && is_wsp(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back()))
        s.remove_suffix(1);
    return s;
}

// Without leading and trailing SP, HTAB, CR and LF.
inline std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

// The items with separator between them ("a, b, c"); empty for no items.
inline std::string join(const std::vector<std::string>& items, std::string_view separator)
{
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += separator;
        out += item;
    }
    return out;
}

// RFC 8461 §3.1 sts-ext-name, §3.2 sts-policy-ext-name and RFC 8460 §3 tlsrpt-ext-name:
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
inline bool is_ext_name(std::string_view name)
{
    if (name.empty() || name.size() > 32 || !is_alnum(name.front()))
        return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}

// What one_line does with bytes 0x80..0xff: spaces by default; kept where the text may be
// UTF-8 that belongs to it (a header value stored as metadata, an HTTP body in UTF-8).
enum class high_bytes { to_space, keep };

// Untrusted text made into one line of bounded length for a log line, an HTTP body or an SMTP
// reply: control characters and bytes outside ASCII become spaces (replies and logs stay
// ASCII whatever a peer echoed; high_bytes::keep keeps 0x80..0xff), and text past max_bytes
// is cut with "...".
inline std::string one_line(std::string_view s, std::size_t max_bytes = 400,
                            high_bytes high = high_bytes::to_space)
{
    std::string out;
    out.reserve(std::min(s.size(), max_bytes) + 3);
    for (const char c : s) {
        if (out.size() >= max_bytes) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        const bool replaced = u < 0x20 || u == 0x7f || (u > 0x7f && high == high_bytes::to_space);
        out += replaced ? ' ' : c;
    }
    return out;
}

// Our own messages in ASCII words for a channel that carries ASCII only (SMTP replies,
// RFC 5321 §4.2): "§" becomes "section", typographic dashes, quotes and the ellipsis their
// ASCII forms. Other bytes pass unchanged (one_line deals with them).
inline std::string ascii_words(std::string_view s)
{
    static constexpr std::pair<std::string_view, std::string_view> words[] = {
        {"\u00a7 ", "section "}, {"\u00a7", "section "}, {"\u2013", "-"}, {"\u2014", "-"}, {"\u2018", "'"},
        {"\u2019", "'"}, {"\u201c", "\""}, {"\u201d", "\""}, {"\u2026", "..."}, {"\u2192", "->"},
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        bool replaced = false;
        if (static_cast<unsigned char>(s[i]) >= 0x80) {
            for (const auto& [from, to] : words) {
                if (s.substr(i, from.size()) == from) {
                    out += to;
                    i += from.size();
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced)
            out += s[i++];
    }
    return out;
}

// A short excerpt of a peer's untrusted bytes for an error message: in double quotes,
// anything outside printable ASCII (and '"', '\\') as \xNN, cut after max_chars.
inline std::string excerpt(std::string_view s, std::size_t max_chars, std::string_view ellipsis)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\"";
    const std::size_t n = std::min(s.size(), max_chars);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    if (s.size() > n)
        out += ellipsis;
    return out + "\"";
}

} // namespace stswatch::text
