// decode_body on arbitrary bytes, with a small limit: it either yields report JSON within
// the limit or throws decode_error with a reason, and its answers agree with sniff_body.
#include "tlsrpt/decode.hpp"
#include "tests/fuzz/invariant.hpp"

namespace {

constexpr std::uint64_t limit = 1 << 20;

} // namespace

STSWATCH_FUZZ_TARGET(fuzz_decode, body)
{
    const body_kind kind = sniff_body(body);
    try {
        const decoded_body r = decode_body(body, limit);
        check(r.json.size() <= limit, "output within the limit");
        check(r.json.capacity() <= limit + 1 || r.json.capacity() < 16, "never held more than the limit");
        check(kind != body_kind::unknown, "unknown bodies are refused");
        check(r.was_gzip == (kind == body_kind::gzip), "was_gzip follows the sniffed kind");
        check(sniff_body(r.json) == body_kind::json, "the output is JSON by its first bytes");
        check(r.json.substr(0, 3) != "\xEF\xBB\xBF", "the BOM is stripped");
        if (r.was_gzip) {
            const decoded_body again = decode_body(gzip_compress(r.json, 1), limit);
            check(again.json == r.json, "inflated JSON survives a gzip round trip");
        } else {
            const std::string_view expected =
                body.substr(0, 3) == "\xEF\xBB\xBF" ? body.substr(3) : body;
            check(r.json == expected, "JSON passes through unchanged");
            check(r.warning.empty(), "no warning for plain JSON");
        }
    } catch (const decode_error& e) {
        check(e.what()[0] != '\0', "a failure names its reason");
        if (kind == body_kind::unknown)
            check(e.kind() == decode_failure::not_a_report, "unknown bodies are not reports");
        if (kind == body_kind::json)
            check(e.kind() == decode_failure::too_large, "JSON fails only by size");
        if (kind == body_kind::json)
            check(size > limit, "JSON within the limit is never refused");
    }
    return 0;
}
