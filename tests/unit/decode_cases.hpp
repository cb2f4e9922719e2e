// Received bodies and what decode_body must make of them. Shared by the unit tests
// (tests/unit/test_decode.cpp) and the fuzz seeds (tests/fuzz/seeds_decode.cpp).
#pragma once

#include "tlsrpt/decode.hpp"

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stswatch::test {

// A small report as a sender posts it (RFC 8460 §4.4 shape).
inline const std::string sample_report_json =
    R"({"organization-name":"Example Sender","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
    R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"smtp-tls-reporting@example.net",)"
    R"("report-id":"2025-07-08T00:00:00Z_example.com","policies":[{"policy":{"policy-type":"sts",)"
    R"("policy-string":["version: STSv1","mode: enforce","mx: mx1.example.com ","max_age: 86400"],)"
    R"("policy-domain":"example.com","mx-host":["mx1.example.com"]},"summary":)"
    R"({"total-successful-session-count":5326,"total-failure-session-count":3},"failure-details":)"
    R"([{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.10","receiving-mx-hostname":)"
    R"("mx1.example.com","receiving-ip":"198.51.100.25","failed-session-count":3}]}]})";

inline constexpr std::uint64_t default_case_limit = 1 << 20;

struct decode_case {
    std::string name;
    std::string body;
    std::uint64_t limit = default_case_limit;
    std::optional<decode_failure> failure;   // empty: the body decodes
    std::string json;                        // decodes: the JSON expected
    bool was_gzip = false;                   // decodes: whether it was gzip
    std::string words;                       // fails: words of the reason; decodes: of the warning ("" = none)
};

inline decode_case good(std::string name, std::string body, std::string json, bool was_gzip,
                        std::string warning = {}, std::uint64_t limit = default_case_limit)
{
    return {std::move(name), std::move(body), limit, std::nullopt, std::move(json), was_gzip, std::move(warning)};
}

inline decode_case bad(std::string name, std::string body, decode_failure failure, std::string reason,
                       std::uint64_t limit = default_case_limit)
{
    return {std::move(name), std::move(body), limit, failure, {}, false, std::move(reason)};
}

// {"pad":"xx…x"} of exactly n bytes (n >= 10).
inline std::string json_of_size(std::size_t n)
{
    return "{\"pad\":\"" + std::string(n - 10, 'x') + "\"}";
}

// A gzip member as the gzip tool writes it with every optional header field (RFC 1952
// §2.3.1: FEXTRA, FNAME, FCOMMENT, FHCRC), around the same deflate data and trailer.
inline std::string gzip_with_header_fields(const std::string& data, const std::string& file_name)
{
    const std::string plain = gzip_compress(data);
    std::string header = plain.substr(0, 10);
    header[3] = static_cast<char>(0x02 | 0x04 | 0x08 | 0x10);
    header += std::string("\x04\x00", 2) + "AB\x02\x00";   // XLEN = 4: one empty subfield
    header += file_name + '\0';
    header += std::string("from a report sender") + '\0';
    const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(header.data()), static_cast<uInt>(header.size()));
    header += static_cast<char>(crc & 0xff);
    header += static_cast<char>((crc >> 8) & 0xff);
    return header + plain.substr(10);
}

inline std::string with_byte(std::string s, std::size_t at, unsigned char value)
{
    s[at] = static_cast<char>(value);
    return s;
}

inline std::string with_bits_set(std::string s, std::size_t at, unsigned char mask)
{
    s[at] = static_cast<char>(static_cast<unsigned char>(s[at]) | mask);
    return s;
}

inline std::string with_bits_flipped(std::string s, std::size_t at, unsigned char mask)
{
    s[at] = static_cast<char>(static_cast<unsigned char>(s[at]) ^ mask);
    return s;
}

inline std::vector<decode_case> decode_cases()
{
    using df = decode_failure;
    const std::string& json = sample_report_json;
    const std::string gz = gzip_compress(json);
    const std::string bom = "\xEF\xBB\xBF";
    const std::string half1 = json.substr(0, json.size() / 2);
    const std::string half2 = json.substr(json.size() / 2);
    const std::string two_members = gzip_compress(half1) + gzip_compress(half2, 9);

    std::vector<decode_case> cases = {
        // Sniffed by content; the label a sender put on it does not matter.
        good("JSON (application/tlsrpt+json)", json, json, false),
        good("JSON sent as application/tlsrpt+gzip (mislabelled) passes through", json, json, false),
        good("JSON with leading blank lines kept verbatim", "\r\n  \t" + json, "\r\n  \t" + json, false),
        good("JSON array passes through (the parser judges it)", "[" + json + "]", "[" + json + "]", false),
        good("UTF-8 BOM before the JSON is stripped", bom + json, json, false),
        good("gzip (application/tlsrpt+gzip)", gz, json, true),
        good("gzip sent as application/octet-stream, with the gzip tool's header fields",
             gzip_with_header_fields(json, "google.com!example.com!1751932800!1752019199.json"), json, true),
        good("gzip of BOM + JSON: BOM stripped", gzip_compress(bom + json), json, true),
        good("gzip, level 0 (stored blocks)", gzip_compress(json, 0), json, true),
        // Seen on the DMARC side: a complete member followed by a CRLF.
        good("gzip + CRLF", gz + "\r\n", json, true, "ignored 2 bytes after the gzip member (0d 0a)"),
        good("gzip + zero padding", gz + std::string(16, '\0'), json, true, "ignored 16 bytes"),
        good("gzip + one stray byte that could start a member", gz + "\x1f", json, true, "ignored 1 byte "),
        // RFC 1952 §2.2: concatenated members are one gzip file.
        good("two gzip members are inflated as one", two_members, json, true),
        good("two gzip members + CRLF", two_members + "\r\n", json, true, "ignored 2 bytes"),
        good("gzip member of nothing, then the report", gzip_compress("") + gz, json, true),
        // The limit is on the bytes produced: exactly the limit is fine.
        good("JSON of exactly the limit", json_of_size(1000), json_of_size(1000), false, {}, 1000),
        good("gzip inflating to exactly the limit", gzip_compress(json_of_size(1000)), json_of_size(1000), true, {},
             1000),
        good("gzip inflating to exactly one 64 KiB chunk, at the limit", gzip_compress(json_of_size(65536)),
             json_of_size(65536), true, {}, 65536),
        good("gzip inflating to several chunks and a bit", gzip_compress(json_of_size(3 * 65536 + 17)),
             json_of_size(3 * 65536 + 17), true, {}, 3 * 65536 + 17),
        good("two members summing to exactly the limit",
             gzip_compress(json_of_size(500).substr(0, 300)) + gzip_compress(json_of_size(500).substr(300)),
             json_of_size(500), true, {}, 500),

        bad("empty body", "", df::not_a_report, "empty body"),
        bad("only whitespace", " \r\n\t", df::not_a_report, "blank body (4 bytes of whitespace)"),
        bad("a UTF-8 BOM and nothing else", bom, df::not_a_report, "starts with ef bb bf"),
        bad("plain text", "hello, this is not a report", df::not_a_report,
            "body is neither gzip nor JSON (starts with 68 65 6c 6c 6f 2c 20 74 ...)"),
        bad("an HTML error page", "<html><body>502 Bad Gateway</body></html>", df::not_a_report,
            "starts with 3c 68 74 6d 6c 3e"),
        bad("a MIME message instead of its attachment", "From: reports@example.net\r\n\r\n{}", df::not_a_report,
            "starts with 46 72 6f 6d"),
        bad("a zip archive", std::string("PK\x03\x04\x14\x00\x00\x00", 8), df::not_a_report, "a zip archive"),
        bad("xz data", std::string("\xFD" "7zXZ\x00\x00\x04", 8), df::not_a_report, "xz data"),
        bad("zstd data", std::string("\x28\xB5\x2F\xFD\x00", 5), df::not_a_report, "zstd data"),
        bad("UTF-16 JSON", std::string("\xFF\xFE{\x00}\x00", 6), df::not_a_report, "UTF-16"),
        bad("a lone 0x1f byte", "\x1f", df::not_a_report, "starts with 1f)"),
        bad("JSON one byte over the limit", json_of_size(1001), df::too_large,
            "JSON report of 1001 bytes is over the limit of 1000 bytes", 1000),
        bad("JSON with BOM: the BOM counts toward the limit", bom + json_of_size(1000), df::too_large,
            "over the limit", 1000),
        bad("gzip inflating to one byte over the limit", gzip_compress(json_of_size(1001)), df::too_large,
            "more than the limit of 1000 bytes", 1000),
        bad("gzip inflating to one byte over a 64 KiB chunk limit", gzip_compress(json_of_size(65537)),
            df::too_large, "more than the limit of 65536 bytes", 65536),
        bad("two members summing to one byte over the limit",
            gzip_compress(json_of_size(501).substr(0, 300)) + gzip_compress(json_of_size(501).substr(300)),
            df::too_large, "more than the limit", 500),
        bad("limit of zero", gz, df::too_large, "more than the limit of 0 bytes", 0),
        bad("CRC-32 corrupted", with_bits_flipped(gz, gz.size() - 8, 0x01), df::corrupt, "incorrect data check"),
        bad("ISIZE corrupted", with_bits_flipped(gz, gz.size() - 3, 0x10), df::corrupt, "incorrect length check"),
        bad("unknown compression method", with_byte(gz, 2, 7), df::corrupt, "unknown compression method"),
        bad("reserved header flags set", with_byte(gz, 3, 0xe0), df::corrupt, "unknown header flags set"),
        bad("invalid deflate block type", with_bits_set(gz, 10, 0x06), df::corrupt, "invalid block type"),
        bad("a corrupt second member fails the whole body",
            gz + with_bits_flipped(gzip_compress("{}"), gzip_compress("{}").size() - 8, 0x80), df::corrupt,
            "member 2"),
        bad("a truncated second member fails the whole body", gz + "\x1f\x8b\x08", df::truncated, "member 2"),
        bad("gzip of plain text", gzip_compress("hello"), df::not_a_report,
            "inflated gzip content is not JSON (starts with 68 65 6c 6c 6f)"),
        bad("gzip of gzip", gzip_compress(gz), df::not_a_report, "compressed twice"),
        bad("gzip of nothing", gzip_compress(""), df::not_a_report, "inflates to nothing"),
        bad("gzip of whitespace", gzip_compress("  \n"), df::not_a_report, "not JSON"),
    };

    // Truncated at several points: inside the header, at the first deflate byte, inside the
    // deflate data, before the trailer, inside the trailer, one byte short.
    for (const std::size_t keep : {std::size_t{2}, std::size_t{3}, std::size_t{9}, std::size_t{10},
                                   std::size_t{11}, gz.size() / 2, gz.size() - 8, gz.size() - 5,
                                   gz.size() - 1}) {
        cases.push_back(bad("gzip truncated to " + std::to_string(keep) + " of " + std::to_string(gz.size()) +
                                " bytes",
                            gz.substr(0, keep), df::truncated, "gzip stream ends before its end marker"));
    }
    return cases;
}

} // namespace stswatch::test
