#include "net/http_response.hpp"
#include "tests/unit/http_response_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

namespace {

const char* name(http_parse_state s)
{
    switch (s) {
    case http_parse_state::incomplete: return "incomplete";
    case http_parse_state::complete: return "complete";
    case http_parse_state::too_large: return "too_large";
    case http_parse_state::error: return "error";
    }
    return "?";
}

} // namespace

TEST_CASE("parse_http_response: the table, in one buffer")
{
    REQUIRE(test::http_cases().size() >= 48);
    for (const auto& c : test::http_cases()) {
        INFO(c.what);
        const auto r = parse_http_response(c.bytes, test::http_case_limits(), c.closed);
        REQUIRE(std::string(name(r.state)) == name(c.state));
        if (c.state == http_parse_state::error) {
            CHECK_THAT(r.error, Catch::Contains(c.error));
            continue;
        }
        CHECK(r.error.empty());
        CHECK(r.response.status == c.status);
        if (c.state != http_parse_state::incomplete) CHECK(r.response.body == c.body);
    }
}

TEST_CASE("http_response_parser: byte by byte gives the same result as one buffer")
{
    REQUIRE(test::http_cases().size() >= 48);
    for (const auto& c : test::http_cases()) {
        INFO(c.what);
        http_response_parser parser(test::http_case_limits());
        for (const char ch : c.bytes)
            if (parser.feed(std::string_view(&ch, 1)) != http_parse_state::incomplete) break;
        if (c.closed) parser.finish();
        REQUIRE(std::string(name(parser.state())) == name(c.state));
        if (c.state == http_parse_state::error)
            CHECK_THAT(parser.error(), Catch::Contains(c.error));
        else if (c.state != http_parse_state::incomplete)
            CHECK(parser.response().body == c.body);
    }
}

TEST_CASE("http_response: headers and framing details")
{
    SECTION("header lookup ignores case and obs-fold becomes a space")
    {
        const auto r = parse_http_response("HTTP/1.1 200 OK\r\ncontent-type: text/plain;\r\n\tcharset=utf-8\r\n"
                                           "Content-Length: 0\r\n\r\n");
        REQUIRE(r.state == http_parse_state::complete);
        REQUIRE(r.response.header("Content-Type"));
        CHECK(*r.response.header("CONTENT-TYPE") == "text/plain; charset=utf-8");
        CHECK(r.response.header("Location") == nullptr);
        CHECK(r.response.framing == http_framing::content_length);
        CHECK(r.response.content_length == 0);
    }
    SECTION("reason phrase and version are kept")
    {
        const auto r = parse_http_response("HTTP/1.0 404 Not Found\r\n\r\n");
        REQUIRE(r.state == http_parse_state::complete);
        CHECK(r.response.version_minor == 0);
        CHECK(r.response.reason == "Not Found");
        CHECK(r.response.framing == http_framing::until_close);
    }
    SECTION("the head is known before the body is complete")
    {
        http_response_parser parser;
        CHECK(parser.feed("HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.test/\r\nContent-Length: 10\r\n\r\nab") ==
              http_parse_state::incomplete);
        REQUIRE(parser.head_complete());
        CHECK(parser.response().status == 301);
        CHECK(*parser.response().header("location") == "https://elsewhere.test/");
        CHECK(parser.response().body == "ab");
    }
    SECTION("an over-cap Content-Length is refused before reading the body")
    {
        http_limits limits;
        limits.max_body_bytes = 65536;
        http_response_parser parser(limits);
        CHECK(parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\n") == http_parse_state::too_large);
        CHECK(parser.response().content_length == 65537);
        CHECK(parser.feed("more") == http_parse_state::too_large);
    }
}

TEST_CASE("http_media_type: lower-case type without parameters")
{
    const std::pair<std::string, std::string> rows[] = {
        {"text/plain", "text/plain"},
        {"Text/Plain; charset=utf-8", "text/plain"},
        {"  text/plain ;charset=\"utf-8\"", "text/plain"},
        {"text/html", "text/html"},
        {"", ""},
    };
    for (const auto& [in, out] : rows) {
        INFO(in);
        CHECK(http_media_type(in) == out);
    }
}
