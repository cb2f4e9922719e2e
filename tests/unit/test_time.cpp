// RFC 3339 date-times: the forms senders write, normalised to UTC, and the civil-date
// arithmetic checked against known instants and the C library's gmtime_r.
#include "common/time.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <random>

using namespace stswatch;
using Catch::Matchers::Contains;

namespace {

struct good_time {
    std::string text;
    std::string utc;          // format_rfc3339 of the result
    std::int64_t seconds;
    std::int32_t micros;
    bool zone_missing;
};

struct bad_time {
    std::string text;
    std::string reason;       // a substring of time_parse::error
};

std::string gmtime_text(std::int64_t seconds)
{
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    REQUIRE(gmtime_r(&t, &tm) != nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace

TEST_CASE("RFC 3339 date-times that are accepted")
{
    const std::vector<good_time> table = {
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 0, 0, false},
        {"2016-04-01T00:00:00Z", "2016-04-01T00:00:00Z", 1459468800, 0, false},   // RFC 8460 Appendix B
        {"2016-04-01T23:59:59Z", "2016-04-01T23:59:59Z", 1459555199, 0, false},
        // Microsoft (2023): no zone, read as UTC.
        {"2023-01-10T00:00:00", "2023-01-10T00:00:00Z", 1673308800, 0, true},
        // RFC 3339 §5.6 NOTE: lower-case t and z; a space for T.
        {"2023-01-10t00:00:00z", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        {"2023-01-10 00:00:00Z", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        // Numeric offsets: local = UTC + offset.
        {"2023-01-10T02:00:00+02:00", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        {"2023-01-09T19:00:00-05:00", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        {"2023-01-10T05:30:00+05:30", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        {"2023-01-10T00:00:00-00:00", "2023-01-10T00:00:00Z", 1673308800, 0, false},   // RFC 3339 §4.3
        {"2023-01-10T02:00:00+0200", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        {"2023-01-10T00:00:00+00", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        // An offset that crosses the day, the month and the year.
        {"2023-01-01T01:00:00+02:00", "2022-12-31T23:00:00Z", 1672527600, 0, false},
        // Fractions: kept to the microsecond, trailing zeros dropped when written.
        {"2023-01-10T00:00:00.5Z", "2023-01-10T00:00:00.5Z", 1673308800, 500000, false},
        {"2023-01-10T00:00:00.000001Z", "2023-01-10T00:00:00.000001Z", 1673308800, 1, false},
        {"2023-01-10T00:00:00.000Z", "2023-01-10T00:00:00Z", 1673308800, 0, false},
        {"2023-01-10T00:00:00.1234567", "2023-01-10T00:00:00.123456Z", 1673308800, 123456, true},   // .NET: 7 digits
        {"2023-01-10T02:00:00.25+02:00", "2023-01-10T00:00:00.25Z", 1673308800, 250000, false},
        // RFC 3339 §5.7: a leap second is folded into :59.
        {"2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z", 1483228799, 0, false},
        // Leap years.
        {"2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z", 1709208000, 0, false},
        {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z", 951782400, 0, false},
        // Before 1970 and far ahead.
        {"1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z", -1, 0, false},
        {"1900-03-01T00:00:00Z", "1900-03-01T00:00:00Z", -2203891200, 0, false},
        {"2038-01-19T03:14:08Z", "2038-01-19T03:14:08Z", 2147483648, 0, false},
        {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", 253402300799, 0, false},
        {"0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", -62167219200, 0, false},
        {"0000-01-01T00:00:00-00:01", "0000-01-01T00:01:00Z", -62167219140, 0, false},
        {"9999-12-31T23:59:59+00:01", "9999-12-31T23:58:59Z", 253402300739, 0, false},
        // Blanks around the value.
        {" 2023-01-10T00:00:00Z\t", "2023-01-10T00:00:00Z", 1673308800, 0, false},
    };
    for (const auto& g : table) {
        INFO(g.text);
        const time_parse p = parse_rfc3339(g.text);
        INFO(p.error);
        REQUIRE(p.value);
        CHECK(p.error.empty());
        CHECK(p.value->seconds == g.seconds);
        CHECK(p.value->micros == g.micros);
        CHECK(p.zone_missing == g.zone_missing);
        CHECK(format_rfc3339(*p.value) == g.utc);
    }
}

TEST_CASE("RFC 3339 date-times that are refused, and why")
{
    const std::vector<bad_time> table = {
        {"", "4-digit year"},
        {"yesterday", "4-digit year"},
        {"1459468800", "\"-MM\""},
        {"2023-1-10T00:00:00Z", "\"-MM\""},
        {"2023-01-1T00:00:00Z", "\"-DD\""},
        {"2023-01-10", "expected \"T\""},
        {"2023-01-10X00:00:00Z", "expected \"T\""},
        {"2023-01-10T00:00Z", "HH:MM:SS"},
        {"2023-01-10T0:00:00Z", "HH:MM:SS"},
        {"2023-00-10T00:00:00Z", "month 0 out of range"},
        {"2023-13-10T00:00:00Z", "month 13 out of range"},
        {"2023-01-00T00:00:00Z", "day 0 out of range"},
        {"2023-01-32T00:00:00Z", "day 32 out of range"},
        {"2023-02-29T00:00:00Z", "day 29 out of range for 2023-02"},
        {"1900-02-29T00:00:00Z", "day 29 out of range"},
        {"2023-04-31T00:00:00Z", "day 31 out of range"},
        {"2023-01-10T24:00:00Z", "hour 24 out of range"},
        {"2023-01-10T23:60:00Z", "minute 60 out of range"},
        {"2023-01-10T23:59:61Z", "second 61 out of range"},
        {"2023-01-10T00:00:00.Z", "digits after the decimal point"},
        {"2023-01-10T00:00:00+2:00", "zone offset"},
        {"2023-01-10T00:00:00+24:00", "zone offset out of range"},
        {"2023-01-10T00:00:00+02:60", "zone offset out of range"},
        {"2023-01-10T00:00:00+02:", "minutes in the zone offset"},
        {"2023-01-10T00:00:00UTC", "expected \"Z\" or a zone offset"},
        {"2023-01-10T00:00:00Z junk", "unexpected text after the date-time (remaining \" junk\")"},
        {"2023-01-10T00:00:00ZZ", "unexpected text"},
        {std::string("2023-01-10T00:00:00\0Z", 21), "expected \"Z\" or a zone offset"},
        {"\xEF\xBB\xBF" "2023-01-10T00:00:00Z", "4-digit year"},
        // An offset that would carry the time out of four-digit years.
        {"0000-01-01T00:00:00+00:01", "before 0000-01-01T00:00:00Z"},
        {"9999-12-31T23:59:59-00:01", "after 9999-12-31T23:59:59Z"},
    };
    for (const auto& b : table) {
        INFO(Catch::Detail::stringify(b.text));
        const time_parse p = parse_rfc3339(b.text);
        CHECK_FALSE(p.value);
        CHECK_THAT(p.error, Contains(b.reason));
    }
}

TEST_CASE("formatting and civil dates agree with gmtime_r and parse back")
{
    std::mt19937_64 random(20240301);
    std::uniform_int_distribution<std::int64_t> any_second(-2208988800, 4102444800);   // 1900 .. 2100
    std::vector<std::int64_t> instants = {0, -1, 1, 86399, 86400, 951782400, 951868799, 951868800,
                                          -2203891201, 4107542399, 1709251199, 1709251200};
    for (int i = 0; i < 20000; ++i)
        instants.push_back(any_second(random));
    for (std::int64_t s : instants) {
        const utc_time t{s, 0};
        const std::string text = format_rfc3339(t);
        INFO(s);
        REQUIRE(text == gmtime_text(s));
        CHECK(format_date(t) == text.substr(0, 10));
        const time_parse back = parse_rfc3339(text);
        REQUIRE(back.value);
        CHECK(*back.value == t);
    }
}

TEST_CASE("fractions are written without trailing zeros and read back exactly")
{
    for (std::int32_t micros : {1, 10, 100000, 120000, 999999, 500000, 123456}) {
        const utc_time t{1459468800, micros};
        const std::string text = format_rfc3339(t);
        INFO(text);
        CHECK(text.back() == 'Z');
        CHECK(text[text.size() - 2] != '0');
        const time_parse back = parse_rfc3339(text);
        REQUIRE(back.value);
        CHECK(*back.value == t);
    }
    CHECK(format_rfc3339({1459468800, 120000}) == "2016-04-01T00:00:00.12Z");
    CHECK(format_rfc3339({-1, 500000}) == "1969-12-31T23:59:59.5Z");
}

TEST_CASE("dates for command-line options")
{
    CHECK(parse_date_or_datetime("2016-04-01") == utc_time{1459468800, 0});
    CHECK(parse_date_or_datetime(" 2016-04-01 ") == utc_time{1459468800, 0});
    CHECK(parse_date_or_datetime("2016-04-01T12:00:00Z") == utc_time{1459512000, 0});
    CHECK(parse_date_or_datetime("2016-04-01T14:00:00+02:00") == utc_time{1459512000, 0});
    CHECK_FALSE(parse_date_or_datetime("2016-02-30"));
    CHECK_FALSE(parse_date_or_datetime("2016-4-1"));
    CHECK_FALSE(parse_date_or_datetime("tomorrow"));
    CHECK_FALSE(parse_date_or_datetime(""));
    CHECK(format_date({1459468800 + 86399, 0}) == "2016-04-01");
    CHECK(format_date({-1, 0}) == "1969-12-31");
}
