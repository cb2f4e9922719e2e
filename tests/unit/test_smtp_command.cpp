#include "mail/smtp_command.hpp"
#include "tests/unit/smtp_command_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

TEST_CASE("parse_smtp_command: good lines")
{
    REQUIRE(test::smtp_good_lines().size() >= 29);
    for (const auto& g : test::smtp_good_lines()) {
        INFO(g.line);
        const auto r = parse_smtp_command(g.line);
        REQUIRE(r.command);
        const auto& c = *r.command;
        CHECK(c.verb == g.verb);
        if (g.verb == smtp_verb::mail || g.verb == smtp_verb::rcpt)
            CHECK(c.path == g.path);
        else if (!g.path.empty())
            CHECK(c.argument == g.path);
        CHECK(c.size == g.size);
        CHECK(c.body == g.body);
    }
}

TEST_CASE("parse_smtp_command: bad lines are refused with their code and reason")
{
    REQUIRE(test::smtp_bad_lines().size() >= 30);
    for (const auto& b : test::smtp_bad_lines()) {
        INFO(b.line);
        const auto r = parse_smtp_command(b.line);
        REQUIRE_FALSE(r.command);
        CHECK(r.error.code == b.code);
        CHECK_THAT(r.error.reason, Catch::Contains(b.reason));
        // RFC 3463: the enhanced code's class matches the reply's.
        REQUIRE_FALSE(r.error.enhanced.empty());
        CHECK(r.error.enhanced.front() == '0' + b.code / 100);
    }
}

TEST_CASE("parse_smtp_command: details")
{
    SECTION("parameters are kept with upper-case keywords")
    {
        const auto r = parse_smtp_command("MAIL FROM:<a@example.com> size=10 Body=8bitmime");
        REQUIRE(r.command);
        REQUIRE(r.command->parameters.size() == 2);
        CHECK(r.command->parameters[0] == std::pair<std::string, std::string>{"SIZE", "10"});
        CHECK(r.command->parameters[1] == std::pair<std::string, std::string>{"BODY", "8bitmime"});
    }
    SECTION("RCPT TO:<Postmaster> in any case is flagged")
    {
        const auto r = parse_smtp_command("RCPT TO:<PostMaster>");
        REQUIRE(r.command);
        CHECK(r.command->postmaster);
        CHECK_FALSE(parse_smtp_command("RCPT TO:<postmaster@example.com>").command->postmaster);
    }
    SECTION("unknown verbs are upper-cased and bounded for the reply")
    {
        const auto r = parse_smtp_command("frobnicate " + std::string(100, 'x'));
        REQUIRE(r.command);
        CHECK(r.command->verb == smtp_verb::unknown);
        CHECK(r.command->verb_text == "FROBNICATE");
        const auto long_verb = parse_smtp_command(std::string(40, 'q'));
        CHECK(long_verb.command->verb_text.size() <= 19);
    }
    SECTION("to_string names every verb")
    {
        CHECK(std::string(to_string(smtp_verb::starttls)) == "STARTTLS");
        CHECK(std::string(to_string(smtp_verb::unknown)) == "UNKNOWN");
    }
}

TEST_CASE("smtp_recipient_matches: the domain without case, the local part exactly")
{
    const std::vector<std::string> recipients{"tlsrpt@example.com", "TLS-Reports@example.org"};
    struct row {
        std::string address;
        bool matches;
    };
    const row rows[] = {
        {"tlsrpt@example.com", true},
        {"tlsrpt@EXAMPLE.com", true},
        {"tlsrpt@example.com.", true},
        {"TLS-Reports@Example.ORG", true},
        {"TLSRPT@example.com", false},      // RFC 5321 §2.4: local parts may be case-sensitive
        {"tls-reports@example.org", false},
        {"tlsrpt@example.org", false},
        {"tlsrpt@sub.example.com", false},
        {"tlsrpt@example.com.evil.example", false},
        {"postmaster", false},
        {"", false},
    };
    for (const auto& r : rows) {
        INFO(r.address);
        CHECK(smtp_recipient_matches(r.address, recipients) == r.matches);
    }
    CHECK(smtp_address_domain("a@Example.COM.") == "example.com");
    CHECK(smtp_address_domain("postmaster").empty());
}
