// Received bodies to report JSON: sniffing, bounded gzip inflation (RFC 1952) and
// pass-through of plain JSON (RFC 8259), both capped at the inflated-size limit.
#include "tlsrpt/decode.hpp"

#include "common/handles.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace stswatch {

namespace {

// Most output one inflate call may produce; the output string itself never grows past the
// limit plus the one byte that shows a bomb is over it.
constexpr std::size_t inflate_chunk = 64 * 1024;

// z_stream counts in uInt; bodies larger than that are fed in slices.
constexpr std::size_t max_feed = std::size_t{1} << 30;

// Deflate cannot expand more than 1032:1 (RFC 1951 block structure: 258 bytes per
// 2-bit match code at best), which bounds a truthful ISIZE trailer.
constexpr std::uint64_t max_deflate_ratio = 1032;

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

const unsigned char* bytes_of(std::string_view s)
{
    return reinterpret_cast<const unsigned char*>(s.data());
}

std::string hex_bytes(std::string_view data, std::size_t max_bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    const std::size_t n = std::min(data.size(), max_bytes);
    for (std::size_t i = 0; i < n; ++i) {
        const auto b = static_cast<unsigned char>(data[i]);
        if (i > 0)
            out += ' ';
        out += digits[b >> 4];
        out += digits[b & 0x0f];
    }
    if (data.size() > max_bytes)
        out += " ...";
    return out;
}

std::string count_of_bytes(std::uint64_t n)
{
    return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

bool starts_with_bytes(std::string_view data, std::string_view prefix)
{
    return data.substr(0, prefix.size()) == prefix;
}

bool is_json_blank(char c)
{
    // RFC 8259 §2: the four insignificant whitespace characters.
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_gzip_magic(std::string_view data)
{
    // RFC 1952 §2.3.1: ID1 = 31, ID2 = 139.
    return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
           static_cast<unsigned char>(data[1]) == 0x8b;
}

// Why bytes that are neither gzip nor JSON cannot be a report: the formats people send by
// mistake are named, anything else is shown by its first bytes.
std::string describe_unknown(std::string_view data, std::string_view what_is_wrong)
{
    struct known_format {
        std::string_view magic;
        std::string_view name;
    };
    static constexpr known_format formats[] = {
        {std::string_view("PK\x03\x04", 4), "a zip archive"},
        {"BZh", "bzip2 data"},
        {std::string_view("\xFD" "7zXZ\x00", 6), "xz data"},
        {std::string_view("\x28\xB5\x2F\xFD", 4), "zstd data"},
        {std::string_view("\x1F\x9D", 2), "compress (.Z) data"},
        {std::string_view("\x1F\x8B", 2), "gzip data (compressed twice)"},
        // RFC 8259 §8.1: JSON exchanged between systems is UTF-8, so UTF-16 is refused.
        {std::string_view("\xFF\xFE", 2), "UTF-16 text (JSON must be UTF-8)"},
        {std::string_view("\xFE\xFF", 2), "UTF-16 text (JSON must be UTF-8)"},
    };
    std::string reason(what_is_wrong);
    for (const auto& f : formats) {
        if (starts_with_bytes(data, f.magic)) {
            reason += ": it is ";
            reason += f.name;
            break;
        }
    }
    return reason + " (starts with " + hex_bytes(data, 8) + ")";
}

// Reserves room for the output without ever passing the limit's ceiling, so the string
// does not double past max_inflated + 1 when it grows.
void reserve_output(std::string& out, std::size_t wanted, std::uint64_t ceiling)
{
    if (wanted <= out.capacity())
        return;
    std::uint64_t grown = std::max<std::uint64_t>(wanted, std::uint64_t{out.capacity()} * 2);
    grown = std::min(grown, ceiling);
    out.reserve(static_cast<std::size_t>(std::max<std::uint64_t>(grown, wanted)));
}

// The ISIZE of the last member (RFC 1952 §2.3.1: input size modulo 2^32), trusted only as
// far as deflate's maximum ratio allows: a hint for the first allocation, never a promise.
std::uint64_t inflated_size_hint(std::string_view body)
{
    if (body.size() < 18)
        return 0;
    const unsigned char* p = bytes_of(body) + body.size() - 4;
    const std::uint64_t isize = std::uint64_t{p[0]} | std::uint64_t{p[1]} << 8 |
                                std::uint64_t{p[2]} << 16 | std::uint64_t{p[3]} << 24;
    return std::min(isize, std::uint64_t{body.size()} * max_deflate_ratio);
}

[[noreturn]] void fail(decode_failure kind, std::string reason)
{
    throw decode_error(kind, std::move(reason));
}

// The gzip members of body inflated, as one text, within max_inflated (RFC 1952 §2.2: a
// further member continues the text). Stops after the last member; *rest is what follows it.
std::string inflate_members(std::string_view body, std::uint64_t max_inflated, std::string_view* rest_out)
{
    std::string out;
    // Up to one byte over the limit is produced, to tell "exactly the limit" from "over".
    const std::uint64_t ceiling =
        max_inflated < std::uint64_t{SIZE_MAX} ? max_inflated + 1 : std::uint64_t{SIZE_MAX};
    out.reserve(static_cast<std::size_t>(std::min(inflated_size_hint(body) + 1, ceiling)));

    // RFC 1952 via zlib: windowBits 16 + MAX_WBITS accepts the gzip wrapper only, and
    // checks the member's CRC-32 and ISIZE trailer.
    zlib_stream inflater(zlib_stream::mode::inflate, 16 + MAX_WBITS);
    z_stream& z = inflater.get();
    const unsigned char* const base = bytes_of(body);
    std::size_t fed = 0;   // bytes of body handed to zlib so far
    int members = 1;

    for (;;) {
        if (z.avail_in == 0 && fed < body.size()) {
            const std::size_t slice = std::min(body.size() - fed, max_feed);
            z.next_in = const_cast<unsigned char*>(base + fed);   // zlib's API is not const
            z.avail_in = static_cast<uInt>(slice);
            fed += slice;
        }

        const std::size_t produced = out.size();
        const std::uint64_t left = max_inflated - std::min<std::uint64_t>(produced, max_inflated);
        std::size_t room = left >= inflate_chunk ? inflate_chunk : static_cast<std::size_t>(left) + 1;
        // Fill what is reserved before growing: with a truthful ISIZE hint the string is
        // allocated once and never copied.
        if (out.capacity() > produced)
            room = std::min(room, out.capacity() - produced);
        else
            reserve_output(out, produced + room, ceiling);
        out.resize(produced + room);
        z.next_out = reinterpret_cast<unsigned char*>(out.data() + produced);
        z.avail_out = static_cast<uInt>(room);

        const int rc = inflate(&z, Z_NO_FLUSH);
        out.resize(produced + room - z.avail_out);

        if (out.size() > max_inflated)
            fail(decode_failure::too_large,
                 "gzip report inflates to more than the limit of " + count_of_bytes(max_inflated));

        const std::size_t consumed = fed - z.avail_in;   // offset of the next unread byte
        switch (rc) {
        case Z_OK:
            continue;
        case Z_STREAM_END: {
            const std::string_view rest = body.substr(consumed);
            // RFC 1952 §2.2: a gzip file is a series of members, and gzip -d writes out
            // their concatenation, so a further member is part of the report and is
            // inflated within the same limit. A broken further member fails the whole body.
            if (is_gzip_magic(rest)) {
                if (inflateReset(&z) != Z_OK)
                    throw std::runtime_error("zlib inflateReset failed");
                ++members;
                z.next_in = nullptr;
                z.avail_in = 0;
                fed = consumed;
                continue;
            }
            *rest_out = rest;
            return out;
        }
        case Z_BUF_ERROR:
            // No progress with output room left: the input ran out before the end marker.
            fail(decode_failure::truncated,
                 "gzip stream ends before its end marker (member " + std::to_string(members) +
                     ", after " + count_of_bytes(body.size()) + " of input and " +
                     count_of_bytes(out.size()) + " inflated)");
        case Z_DATA_ERROR:
            fail(decode_failure::corrupt,
                 std::string("corrupt gzip data (member ") + std::to_string(members) + ", near byte " +
                     std::to_string(consumed) + "): " + (z.msg != nullptr ? z.msg : "invalid data"));
        case Z_NEED_DICT:
            fail(decode_failure::corrupt, "corrupt gzip data: deflate stream asks for a preset dictionary");
        case Z_MEM_ERROR:
            throw std::bad_alloc();
        default:
            throw std::runtime_error("zlib inflate failed (" + std::to_string(rc) + ")");
        }
    }
}

decoded_body inflate_gzip(std::string_view body, std::uint64_t max_inflated)
{
    decoded_body result;
    result.was_gzip = true;
    std::string_view rest;
    result.json = inflate_members(body, max_inflated, &rest);
    std::string& out = result.json;
    // DMARC-side senders (docs/senders.md): a complete member followed by stray bytes, a
    // CRLF added in transit. The member is whole and its CRC-32 checked, so it is kept;
    // the rest is named in a warning.
    if (!rest.empty())
        result.warning = "ignored " + count_of_bytes(rest.size()) + " after the gzip member (" +
                         hex_bytes(rest, 8) + ")";

    if (out.empty())
        fail(decode_failure::not_a_report, "gzip body inflates to nothing");
    if (sniff_body(out) != body_kind::json)
        fail(decode_failure::not_a_report, describe_unknown(out, "inflated gzip content is not JSON"));
    if (starts_with_bytes(out, utf8_bom))
        out.erase(0, utf8_bom.size());
    return result;
}

} // namespace

decode_error::decode_error(decode_failure kind, std::string reason)
    : std::runtime_error(std::move(reason)), kind_(kind)
{
}

body_kind sniff_body(std::string_view body)
{
    if (is_gzip_magic(body))
        return body_kind::gzip;
    // RFC 8259 §8.1 forbids adding a BOM but lets parsers ignore one; Windows tools add it.
    if (starts_with_bytes(body, utf8_bom))
        body.remove_prefix(utf8_bom.size());
    const auto first = std::find_if_not(body.begin(), body.end(), is_json_blank);
    if (first != body.end() && (*first == '{' || *first == '['))
        return body_kind::json;
    return body_kind::unknown;
}

decoded_body decode_body(std::string_view body, std::uint64_t max_inflated)
{
    if (body.empty())
        fail(decode_failure::not_a_report, "empty body: no report was sent");

    switch (sniff_body(body)) {
    case body_kind::gzip:
        return inflate_gzip(body, max_inflated);
    case body_kind::json: {
        // The limit counts the bytes as received, BOM included, as it does for gzip output.
        if (body.size() > max_inflated)
            fail(decode_failure::too_large, "JSON report of " + count_of_bytes(body.size()) +
                                                " is over the limit of " + count_of_bytes(max_inflated));
        if (starts_with_bytes(body, utf8_bom))
            body.remove_prefix(utf8_bom.size());
        decoded_body result;
        result.json.assign(body);
        return result;
    }
    case body_kind::unknown:
        break;
    }
    if (std::all_of(body.begin(), body.end(), is_json_blank))
        fail(decode_failure::not_a_report, "blank body (" + count_of_bytes(body.size()) + " of whitespace)");
    fail(decode_failure::not_a_report, describe_unknown(body, "body is neither gzip nor JSON"));
}

std::string inflate_gzip_coding(std::string_view body, std::uint64_t max_inflated)
{
    std::string_view rest;
    return inflate_members(body, max_inflated, &rest);
}

std::string gzip_compress(std::string_view data, int level)
{
    if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION)
        throw std::invalid_argument("gzip level " + std::to_string(level) + " is not -1 or 0..9");

    zlib_stream deflater(zlib_stream::mode::deflate, 16 + MAX_WBITS, level);
    z_stream& z = deflater.get();
    std::string out;
    out.resize(deflateBound(&z, static_cast<uLong>(data.size())));

    const unsigned char* next = bytes_of(data);
    std::size_t left_in = data.size();
    std::size_t written = 0;
    for (;;) {
        if (z.avail_in == 0 && left_in > 0) {
            const std::size_t slice = std::min(left_in, max_feed);
            z.next_in = const_cast<unsigned char*>(next);
            z.avail_in = static_cast<uInt>(slice);
            next += slice;
            left_in -= slice;
        }
        if (written == out.size())
            out.resize(out.size() + inflate_chunk);
        const std::size_t room = std::min(out.size() - written, max_feed);
        z.next_out = reinterpret_cast<unsigned char*>(out.data() + written);
        z.avail_out = static_cast<uInt>(room);
        const int rc = deflate(&z, left_in == 0 ? Z_FINISH : Z_NO_FLUSH);
        written += room - z.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            throw std::runtime_error("zlib deflate failed (" + std::to_string(rc) + ")");
    }
    out.resize(written);
    return out;
}

} // namespace stswatch
