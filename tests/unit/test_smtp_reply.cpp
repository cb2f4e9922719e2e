#include "net/smtp_reply.hpp"
#include "tests/unit/smtp_reply_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

TEST_CASE("parse_smtp_reply: the table")
{
    REQUIRE(test::smtp_reply_cases().size() >= 26);
    for (const auto& c : test::smtp_reply_cases()) {
        INFO(c.what);
        const auto r = parse_smtp_reply(c.bytes);
        REQUIRE(static_cast<int>(r.state) == static_cast<int>(c.state));
        if (c.state == smtp_reply_state::error) {
            CHECK_THAT(r.error, Catch::Contains(c.error));
            continue;
        }
        CHECK(r.error.empty());
        if (c.state == smtp_reply_state::incomplete) continue;
        CHECK(r.reply.code == c.code);
        CHECK(r.reply.lines == c.lines);
        CHECK(parse_ehlo_reply(r.reply).starttls == c.starttls);
        // What follows the reply is left for the next one.
        CHECK(r.consumed <= c.bytes.size());
        CHECK(c.bytes[r.consumed - 1] == '\n');
    }
}

TEST_CASE("parse_smtp_reply: a reply arriving in pieces completes only at its last line")
{
    const std::string reply = "250-mx.example.test\r\n250-STARTTLS\r\n250 SIZE 100\r\n";
    for (std::size_t cut = 0; cut < reply.size(); ++cut) {
        INFO(cut);
        CHECK(parse_smtp_reply(std::string_view(reply).substr(0, cut)).state == smtp_reply_state::incomplete);
    }
    const auto r = parse_smtp_reply(reply);
    REQUIRE(r.state == smtp_reply_state::complete);
    CHECK(r.consumed == reply.size());
    CHECK(r.reply.text() == "mx.example.test STARTTLS SIZE 100");
}

TEST_CASE("parse_ehlo_reply: keywords upper-cased, parameters dropped")
{
    const auto r = parse_smtp_reply("250-mx.example.test greets you\r\n250-size 1000\r\n250-AUTH=LOGIN\r\n"
                                    "250-Auth PLAIN LOGIN\r\n250 StartTLS\r\n");
    REQUIRE(r.state == smtp_reply_state::complete);
    const auto e = parse_ehlo_reply(r.reply);
    CHECK(e.domain == "mx.example.test");
    CHECK(e.keywords == std::vector<std::string>{"SIZE", "AUTH", "AUTH", "STARTTLS"});
    CHECK(e.starttls);
    CHECK(e.has("size"));
    CHECK_FALSE(e.has("PIPELINING"));
}

TEST_CASE("parse_smtp_reply: limits can be set lower")
{
    CHECK(parse_smtp_reply("220 " + std::string(600, 'x') + "\r\n", 512).state == smtp_reply_state::error);
    CHECK(parse_smtp_reply("250-a\r\n250-b\r\n250 c\r\n", 512, 2).state == smtp_reply_state::error);
    CHECK(parse_smtp_reply("250-a\r\n250 c\r\n", 512, 2).state == smtp_reply_state::complete);
}
