// Line views, charsets, Content-Transfer-Encoding (RFC 2045 §6) and encoded-words
// (RFC 2047) for mail/mime.cpp.
#include "mail/mime_codec.hpp"
#include "common/text.hpp"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <utility>

namespace stswatch::mime_detail {

constexpr std::size_t npos = std::string_view::npos;

using text::is_wsp;
using text::trim;

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// ---------------------------------------------------------------------------------------
// Lines: CRLF as the RFC says, LF alone as mbox and maildir copies store them.

line_view line_at(std::string_view s, std::size_t pos)
{
    const std::size_t nl = s.find('\n', pos);
    if (nl == npos)
        return {s.substr(pos), s.size()};
    std::size_t end = nl;
    if (end > pos && s[end - 1] == '\r')
        --end;
    return {s.substr(pos, end - pos), nl + 1};
}

// ---------------------------------------------------------------------------------------
// Charsets: report metadata is ASCII in practice. UTF-8 and ASCII pass through, Latin-1 is
// widened here, and any other charset the C library knows (windows-1252, ISO-8859-x,
// KOI8-R, Shift_JIS, GB2312, ...) is converted with iconv(3); a byte it cannot convert
// becomes U+FFFD. An unknown charset passes through as bytes (the JSON writers replace
// what is not UTF-8).

namespace {

// A conversion descriptor, closed on every path.
struct iconv_handle {
    iconv_t cd;
    explicit iconv_handle(const std::string& from) : cd(::iconv_open("UTF-8", from.c_str())) {}
    ~iconv_handle()
    {
        if (ok())
            ::iconv_close(cd);
    }
    iconv_handle(const iconv_handle&) = delete;
    iconv_handle& operator=(const iconv_handle&) = delete;
    bool ok() const { return cd != reinterpret_cast<iconv_t>(-1); }
};

std::optional<std::string> convert_with_iconv(const std::string& charset, const std::string& bytes)
{
    iconv_handle h(charset);
    if (!h.ok())
        return std::nullopt;
    std::string out;
    out.reserve(bytes.size() * 2);
    char buffer[1024];
    char* in = const_cast<char*>(bytes.data());
    std::size_t in_left = bytes.size();
    while (in_left > 0) {
        char* to = buffer;
        std::size_t to_left = sizeof buffer;
        const std::size_t n = ::iconv(h.cd, &in, &in_left, &to, &to_left);
        out.append(buffer, static_cast<std::size_t>(to - buffer));
        if (n != static_cast<std::size_t>(-1))
            continue;
        if (errno == E2BIG)
            continue;   // the buffer is full: drained above
        // EILSEQ or EINVAL (a sequence cut at the end): one byte shown as U+FFFD, go on.
        out += "\xEF\xBF\xBD";
        ++in;
        --in_left;
        ::iconv(h.cd, nullptr, nullptr, nullptr, nullptr);   // back to the initial shift state
    }
    // Flush a stateful encoding's return to its initial state (ISO-2022-JP).
    char* to = buffer;
    std::size_t to_left = sizeof buffer;
    ::iconv(h.cd, nullptr, nullptr, &to, &to_left);
    out.append(buffer, static_cast<std::size_t>(to - buffer));
    return out;
}

} // namespace

std::string to_utf8(std::string_view charset, std::string bytes)
{
    const std::string cs = text::lowered(charset);
    if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii")
        return bytes;
    if (cs != "iso-8859-1" && cs != "latin1" && cs != "iso_8859-1") {
        // Charset names come from the message: only the characters of IANA charset names
        // go to iconv_open, whose glibc form also reads "//" suffixes as options.
        const bool plain_name = cs.size() <= 40 && std::all_of(cs.begin(), cs.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
        });
        if (!plain_name)
            return bytes;
        auto converted = convert_with_iconv(cs, bytes);
        return converted ? std::move(*converted) : std::move(bytes);
    }
    std::string out;
    out.reserve(bytes.size());
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            out += ch;
        } else {
            out += static_cast<char>(0xc0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3f));
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Content-Transfer-Encoding (RFC 2045 §6).

namespace {

constexpr std::array<signed char, 256> base64_table()
{
    std::array<signed char, 256> t{};
    for (auto& v : t)
        v = -1;
    constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}

} // namespace

// RFC 2045 §6.8: line breaks and other characters outside the alphabet are ignored (senders
// wrap at 76 columns, CRLF or LF); decoding ends at the padding.
base64_result decode_base64(std::string_view in)
{
    static constexpr auto table = base64_table();
    base64_result r;
    r.data.resize(in.size() / 4 * 3 + 3);
    char* out = r.data.data();
    std::uint32_t bits = 0;
    int count = 0;
    std::size_t i = 0;
    for (; i < in.size(); ++i) {
        const char c = in[i];
        const signed char v = table[static_cast<unsigned char>(c)];
        if (v >= 0) {
            bits = (bits << 6) | static_cast<std::uint32_t>(v);
            if (++count == 4) {
                *out++ = static_cast<char>((bits >> 16) & 0xff);
                *out++ = static_cast<char>((bits >> 8) & 0xff);
                *out++ = static_cast<char>(bits & 0xff);
                bits = 0;
                count = 0;
            }
        } else if (c == '=') {
            break;
        } else if (!text::is_space(c)) {
            ++r.skipped;
        }
    }
    if (count == 2) {
        *out++ = static_cast<char>((bits >> 4) & 0xff);
    } else if (count == 3) {
        *out++ = static_cast<char>((bits >> 10) & 0xff);
        *out++ = static_cast<char>((bits >> 2) & 0xff);
    } else if (count == 1) {
        r.dangling = true;
    }
    r.data.resize(static_cast<std::size_t>(out - r.data.data()));
    for (; i < in.size(); ++i) {
        if (!text::is_space(in[i]) && in[i] != '=')
            ++r.after_padding;
    }
    return r;
}

// RFC 2045 §6.7. Lines keep their own line ends; a '=' that starts no valid escape is kept
// as it is (the robustness §6.7 (1) suggests).
std::string decode_quoted_printable(std::string_view in)
{
    std::string out;
    out.reserve(in.size());
    std::size_t pos = 0;
    while (pos < in.size()) {
        const line_view l = line_at(in, pos);
        const bool has_end = l.next > pos + l.text.size();
        const std::string_view line_end =
            has_end ? in.substr(pos + l.text.size(), l.next - pos - l.text.size()) : std::string_view{};
        std::string_view text = l.text;
        // §6.7 (3): white space at the end of an encoded line was added in transport.
        while (!text.empty() && is_wsp(text.back()))
            text.remove_suffix(1);
        // §6.7 (5): a final '=' is a soft line break.
        const bool soft_break = !text.empty() && text.back() == '=';
        if (soft_break)
            text.remove_suffix(1);
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '=' && i + 2 < text.size()) {
                const int hi = hex_value(text[i + 1]);
                const int lo = hex_value(text[i + 2]);
                if (hi >= 0 && lo >= 0) {
                    out += static_cast<char>(hi * 16 + lo);
                    i += 2;
                    continue;
                }
            }
            out += text[i];
        }
        if (!soft_break)
            out += line_end;
        pos = l.next;
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Encoded-words (RFC 2047) in unstructured headers such as Subject and From.

namespace {

std::optional<std::string> decode_encoded_word(std::string_view charset, char encoding, std::string_view text)
{
    std::string bytes;
    if (encoding == 'b' || encoding == 'B') {
        bytes = decode_base64(text).data;
    } else if (encoding == 'q' || encoding == 'Q') {
        // RFC 2047 §4.2: '_' stands for a space; "=XX" for a byte.
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '_') {
                bytes += ' ';
            } else if (text[i] == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
                       hex_value(text[i + 2]) >= 0) {
                bytes += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
                i += 2;
            } else {
                bytes += text[i];
            }
        }
    } else {
        return std::nullopt;
    }
    // RFC 2231 §5: a language may follow the charset after '*'.
    return to_utf8(charset.substr(0, charset.find('*')), std::move(bytes));
}

constexpr std::size_t max_encoded_word = 1024;

} // namespace

std::string decode_encoded_words(std::string_view text)
{
    std::string out;
    std::size_t pos = 0;
    bool previous_was_word = false;
    while (pos < text.size()) {
        const std::size_t start = text.find("=?", pos);
        if (start == npos) {
            out += text.substr(pos);
            break;
        }
        // =?charset?encoding?encoded-text?= . RFC 2047 §2 allows 75 characters; senders
        // write longer ones, but the search stays within a window so that the work stays
        // linear in the header.
        const std::string_view word = text.substr(start, max_encoded_word);
        const std::size_t q1 = word.find('?', 2);
        const std::size_t q2 = q1 == npos ? npos : word.find('?', q1 + 1);
        const std::size_t end = q2 == npos ? npos : word.find("?=", q2 + 1);
        std::optional<std::string> decoded;
        if (end != npos && q2 == q1 + 2 && q1 > 2) {
            const std::string_view charset = word.substr(2, q1 - 2);
            if (charset.find_first_of(" \t") == npos)
                decoded = decode_encoded_word(charset, word[q1 + 1], word.substr(q2 + 1, end - q2 - 1));
        }
        if (!decoded) {
            out += text.substr(pos, start + 2 - pos);
            pos = start + 2;
            previous_was_word = false;
            continue;
        }
        const std::string_view between = text.substr(pos, start - pos);
        // RFC 2047 §6.2: white space between adjacent encoded-words is not displayed.
        if (!(previous_was_word && trim(between).empty()))
            out += between;
        out += *decoded;
        pos = start + end + 2;
        previous_was_word = true;
    }
    return out;
}

} // namespace stswatch::mime_detail
