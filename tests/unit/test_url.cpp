// common/url.hpp: percent-decoding, query strings and forms, cookies, HTML escaping.
#include "common/url.hpp"
#include "tests/unit/url_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

TEST_CASE("percent_decode: escapes and plus signs")
{
    for (const auto& c : test::percent_decode_cases()) {
        INFO("\"" << c.text << "\" form=" << c.form);
        CHECK(url::percent_decode(c.text, c.form) == c.decoded);
    }
}

TEST_CASE("parse_query: pairs in order with malformed ones dropped")
{
    for (const auto& c : test::query_cases()) {
        INFO(c.query);
        CHECK(url::parse_query(c.query) == c.pairs);
    }
}

TEST_CASE("parse_query: at most max_query_params pairs")
{
    std::string q;
    for (int i = 0; i < 100; ++i)
        q += "k" + std::to_string(i) + "=v&";
    const auto pairs = url::parse_query(q);
    REQUIRE(pairs.size() == url::max_query_params);
    CHECK(pairs.front().first == "k0");
    CHECK(pairs.back().first == "k" + std::to_string(url::max_query_params - 1));
}

TEST_CASE("percent_encode: what percent_decode gives back")
{
    for (const std::string s : {"example.com", "a b&c=d/e?f#g", "\xC3\xA9t\xC3\xA9", "~_.-", "%+"}) {
        INFO(s);
        const auto encoded = url::percent_encode(s);
        CHECK(encoded.find_first_of(" &=/?#+") == std::string::npos);
        CHECK(url::percent_decode(encoded, true) == s);
    }
    CHECK(url::percent_encode("a b") == "a%20b");
}

TEST_CASE("cookie_value: the named cookie of a Cookie header")
{
    for (const auto& c : test::cookie_cases()) {
        INFO(c.header);
        CHECK(url::cookie_value(c.header, c.name) == c.value);
    }
}

TEST_CASE("html_escape: markup characters become entities")
{
    CHECK(url::html_escape("<script>alert('x')</script> & \"q\"")
          == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    CHECK(url::html_escape("plain mx2.example.com") == "plain mx2.example.com");
    CHECK(url::html_escape("") == "");
}
