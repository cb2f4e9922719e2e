// The HTTP response parser on arbitrary bytes, whole and split at a point taken from the
// input: it never throws, stays within its limits, and splitting changes nothing.
#include "net/http_response.hpp"
#include "tests/fuzz/invariant.hpp"

STSWATCH_FUZZ_TARGET(fuzz_http_response, input)
{
    if (size == 0) return 0;
    http_limits limits;
    limits.max_body_bytes = 1024;
    limits.max_head_bytes = 2048;
    limits.max_chunk_line = 128;
    limits.max_headers = 20;
    // The first byte picks where to split the rest, and whether the peer closes.
    const bool closed = (data[0] & 1) != 0;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t cut = bytes.empty() ? 0 : (data[0] * 131u) % (bytes.size() + 1);

    const auto whole = parse_http_response(bytes, limits, closed);
    check(whole.response.body.size() <= limits.max_body_bytes, "the body is within the cap");
    check(whole.response.headers.size() <= limits.max_headers, "the header count is within the limit");
    check((whole.state == http_parse_state::error) == !whole.error.empty(), "an error, and only an error, says why");
    if (whole.state == http_parse_state::complete || whole.state == http_parse_state::too_large) {
        check(whole.response.status >= 200 && whole.response.status <= 999, "a final status of three digits");
        if (whole.response.framing == http_framing::content_length && whole.state == http_parse_state::complete)
            check(static_cast<std::int64_t>(whole.response.body.size()) == whole.response.content_length,
                  "a complete Content-Length body has that length");
    }

    http_response_parser split(limits);
    split.feed(bytes.substr(0, cut));
    split.feed(bytes.substr(cut));
    if (closed) split.finish();
    check(split.state() == whole.state, "splitting the input does not change the outcome");
    if (whole.state != http_parse_state::error) {
        check(split.response().status == whole.response.status, "same status either way");
        check(split.response().body == whole.response.body, "same body either way");
    }
    return 0;
}
