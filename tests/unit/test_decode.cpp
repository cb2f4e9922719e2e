#include "tlsrpt/decode.hpp"
#include "tests/support/memory_use.hpp"
#include "tests/unit/decode_cases.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

using namespace stswatch;
using stswatch::test::decode_cases;
using stswatch::test::reset_peak_rss;
using stswatch::test::sample_report_json;
using stswatch::test::status_kib;

namespace {

std::string failure_name(decode_failure f)
{
    switch (f) {
    case decode_failure::too_large: return "too_large";
    case decode_failure::truncated: return "truncated";
    case decode_failure::corrupt: return "corrupt";
    case decode_failure::not_a_report: return "not_a_report";
    }
    return "?";
}

// A gzip member inflating to `mebibytes` MiB: '{"pad":"' and then 'a' to the end. After a
// full flush deflate forgets its history, so every further MiB compresses to the same
// bytes: they are produced once and repeated, and the CRC-32 is combined, so that the
// bomb is made in milliseconds without the inflated text ever being in memory.
std::string gzip_bomb(std::size_t mebibytes)
{
    constexpr std::size_t mib = 1 << 20;
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_RLE) == Z_OK);
    std::unique_ptr<z_stream, int (*)(z_stream*)> owner(&z, deflateEnd);
    const auto deflate_piece = [&z](const std::string& in, int flush) {
        std::string out(in.size() / 8 + 1024, '\0');
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = static_cast<uInt>(in.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        const int rc = deflate(&z, flush);
        REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
        REQUIRE(z.avail_in == 0);
        REQUIRE(z.avail_out > 0);
        out.resize(out.size() - z.avail_out);
        return out;
    };
    std::string first(mib, 'a');
    const std::string start = "{\"pad\":\"";
    std::copy(start.begin(), start.end(), first.begin());
    const std::string rest(mib, 'a');

    const std::string first_deflated = deflate_piece(first, Z_FULL_FLUSH);
    const std::string rest_deflated = deflate_piece(rest, Z_FULL_FLUSH);
    REQUIRE(deflate_piece(rest, Z_FULL_FLUSH) == rest_deflated);   // the steady state
    const std::string end = deflate_piece("", Z_FINISH);

    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(first.data()), mib);
    const uLong rest_crc = crc32(0, reinterpret_cast<const Bytef*>(rest.data()), mib);
    // RFC 1952 §2.3.1: a 10-byte header without optional fields.
    std::string bomb("\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03", 10);
    bomb += first_deflated;
    for (std::size_t i = 1; i < mebibytes; ++i) {
        bomb += rest_deflated;
        crc = crc32_combine(crc, rest_crc, mib);
    }
    bomb += end;
    const std::uint64_t isize = std::uint64_t{mebibytes} * mib;
    for (const std::uint64_t word : {std::uint64_t{crc}, isize})
        for (int shift = 0; shift < 32; shift += 8)
            bomb += static_cast<char>((word >> shift) & 0xff);
    return bomb;
}

} // namespace

TEST_CASE("decode_body: received bodies from the shared table")
{
    REQUIRE(decode_cases().size() >= 57);
    for (const auto& c : decode_cases()) {
        INFO("case: " << c.name);
        if (!c.failure) {
            decoded_body r;
            REQUIRE_NOTHROW(r = decode_body(c.body, c.limit));
            CHECK(r.json == c.json);
            CHECK(r.was_gzip == c.was_gzip);
            if (c.words.empty())
                CHECK(r.warning.empty());
            else
                CHECK_THAT(r.warning, Catch::Contains(c.words));
            // Never more than the limit (and the one byte that tells "over" from "at").
            CHECK(r.json.capacity() <= std::max<std::uint64_t>(c.limit + 1, 15));
            continue;
        }
        try {
            (void)decode_body(c.body, c.limit);
            FAIL("decoded, expected " << failure_name(*c.failure) << ": " << c.words);
        } catch (const decode_error& e) {
            CHECK(failure_name(e.kind()) == failure_name(*c.failure));
            CHECK_THAT(e.what(), Catch::Contains(c.words));
            CHECK(std::string(e.what()).find('\n') == std::string::npos);
        }
    }
}

TEST_CASE("sniff_body: the first bytes decide, not the label")
{
    struct row {
        std::string body;
        body_kind kind;
    };
    const row rows[] = {
        {"{}", body_kind::json},
        {"[]", body_kind::json},
        {" \t\r\n{", body_kind::json},
        {"\xEF\xBB\xBF{", body_kind::json},
        {"\xEF\xBB\xBF  [", body_kind::json},
        {"\x1f\x8b", body_kind::gzip},
        {std::string("\x1f\x8b\x08\x00", 4), body_kind::gzip},
        {"", body_kind::unknown},
        {"\x1f", body_kind::unknown},
        {"   ", body_kind::unknown},
        {"\xEF\xBB\xBF", body_kind::unknown},
        {"\xEF\xBB\xBF\xEF\xBB\xBF{", body_kind::unknown},   // only one BOM is forgiven
        {"\xEF\xBB{", body_kind::unknown},
        {"\v{", body_kind::unknown},                         // not JSON whitespace (RFC 8259 §2)
        {"\"report\"", body_kind::unknown},
        {"<html>", body_kind::unknown},
        {"\x8b\x1f", body_kind::unknown},
    };
    for (const auto& r : rows) {
        INFO("body: " << r.body);
        CHECK(sniff_body(r.body) == r.kind);
    }
}

TEST_CASE("gzip_compress: round trips at every level and rejects a bad level")
{
    std::string big;
    while (big.size() < 3 * 1024 * 1024)
        big += sample_report_json;
    big = "[" + big + "]";
    for (const int level : {-1, 0, 1, 6, 9}) {
        INFO("level " << level);
        const std::string gz = gzip_compress(big, level);
        REQUIRE(sniff_body(gz) == body_kind::gzip);
        if (level != 0)
            CHECK(gz.size() < big.size() / 5);
        const auto r = decode_body(gz, big.size());
        CHECK(r.was_gzip);
        CHECK(r.json == big);
    }
    CHECK(decode_body(gzip_compress("{}"), 2).json == "{}");
    CHECK_THROWS_AS(gzip_compress("{}", 10), std::invalid_argument);
    CHECK_THROWS_AS(gzip_compress("{}", -2), std::invalid_argument);
}

TEST_CASE("decode_body: a 1 GiB gzip bomb is stopped at a 20 MiB limit, quickly and in little memory")
{
    constexpr std::uint64_t limit = 20 * 1024 * 1024;
    // The construction is sound: a small bomb made the same way inflates whole.
    const std::string small = gzip_bomb(3);
    const auto whole = decode_body(small, 3 * 1024 * 1024);
    CHECK(whole.json.size() == 3 * 1024 * 1024);
    CHECK(whole.json.substr(0, 10) == "{\"pad\":\"aa");
    CHECK(whole.json.find_first_not_of('a', 8) == std::string::npos);

    const std::string bomb = gzip_bomb(1024);
    INFO("bomb: " << bomb.size() << " bytes of gzip for 1 GiB");
    REQUIRE(bomb.size() < 4 * 1024 * 1024);

    const bool peak_reset = reset_peak_rss();
    const long rss_before = peak_reset ? status_kib("VmRSS") : status_kib("VmHWM");
    const auto started = std::chrono::steady_clock::now();
    try {
        (void)decode_body(bomb, limit);
        FAIL("the bomb was inflated");
    } catch (const decode_error& e) {
        CHECK(e.kind() == decode_failure::too_large);
        CHECK_THAT(e.what(), Catch::Contains("more than the limit of 20971520 bytes"));
    }
    const auto elapsed = std::chrono::steady_clock::now() - started;
    const long growth_kib = status_kib("VmHWM") - rss_before;
    INFO("peak RSS growth " << growth_kib << " KiB (peak reset: " << peak_reset << ")");
    CHECK(elapsed < std::chrono::seconds(2));
    // The limit's worth of output plus slack; inflating the whole bomb would take 1 GiB.
    CHECK(growth_kib < 36 * 1024);
}
