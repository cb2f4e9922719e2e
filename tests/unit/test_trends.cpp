// Trends' buckets, zero-filled series and JSON contract (analyzer/trends.hpp), pure.
#include "analyzer/trends.hpp"
#include "tests/support/json_text.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;
using namespace stswatch::analysis;
using std::chrono::days;

namespace {

utc_date day(const char* text) { return *parse_day(text); }

day_type_row summary(const char* d, std::int64_t successful, std::int64_t failed)
{
    return {day(d), "", successful, failed};
}

day_type_row failures(const char* d, const char* type, std::int64_t failed)
{
    return {day(d), type, 0, failed};
}

} // namespace

TEST_CASE("bucket_start: days, ISO weeks from Monday, calendar months")
{
    CHECK(bucket_start(day("2026-11-18"), bucket::day) == day("2026-11-18"));
    // 2026-11-16 is a Monday; 2026-11-22 a Sunday.
    CHECK(bucket_start(day("2026-11-16"), bucket::week) == day("2026-11-16"));
    CHECK(bucket_start(day("2026-11-22"), bucket::week) == day("2026-11-16"));
    CHECK(bucket_start(day("2026-11-23"), bucket::week) == day("2026-11-23"));
    CHECK(bucket_start(day("2027-01-01"), bucket::week) == day("2026-12-28"));
    CHECK(bucket_start(day("2026-02-28"), bucket::month) == day("2026-02-01"));
    CHECK(bucket_start(day("2024-02-29"), bucket::month) == day("2024-02-01"));
}

TEST_CASE("build_trends: every day of the range, zeros where nothing was reported")
{
    trends_request q;
    q.domain = "example.com";
    q.since = day("2026-11-01");
    q.until = day("2026-11-05");
    const auto t = build_trends(q, {summary("2026-11-02", 38, 2), failures("2026-11-02", "validation-failure", 2),
                                    summary("2026-11-04", 40, 0), summary("2026-10-31", 99, 99)},
                                {});
    REQUIRE(t.series.size() == 5);
    CHECK(t.series[0].start == day("2026-11-01"));
    CHECK(t.series[0].successful == 0);
    CHECK(t.series[0].failed == 0);
    CHECK(t.series[1].successful == 38);
    CHECK(t.series[1].failed == 2);
    REQUIRE(t.series[1].result_types.size() == 1);
    CHECK(t.series[1].result_types[0] == std::pair<std::string, std::int64_t>{"validation-failure", 2});
    CHECK(t.series[3].successful == 40);
    CHECK(t.series[4].start == day("2026-11-05"));
    // The row outside the range is not counted.
    CHECK(t.successful == 78);
    CHECK(t.failed == 2);
    CHECK(t.groups.empty());
}

TEST_CASE("build_trends: weeks and months sum their days - the first bucket starts before since")
{
    trends_request q;
    q.domain = "example.com";
    q.since = day("2026-11-18");   // a Wednesday
    q.until = day("2026-12-02");
    q.by = bucket::week;
    const auto t = build_trends(q, {summary("2026-11-18", 10, 1), summary("2026-11-22", 5, 0), summary("2026-11-23", 7, 3),
                                    summary("2026-12-02", 1, 1)},
                                {});
    REQUIRE(t.series.size() == 3);
    CHECK(t.series[0].start == day("2026-11-16"));
    CHECK(t.series[0].successful == 15);
    CHECK(t.series[0].failed == 1);
    CHECK(t.series[1].start == day("2026-11-23"));
    CHECK(t.series[1].successful == 7);
    CHECK(t.series[2].start == day("2026-11-30"));
    CHECK(t.series[2].failed == 1);

    q.by = bucket::month;
    const auto m = build_trends(q, {summary("2026-11-18", 10, 1), summary("2026-12-02", 1, 1)}, {});
    REQUIRE(m.series.size() == 2);
    CHECK(m.series[0].start == day("2026-11-01"));
    CHECK(m.series[1].start == day("2026-12-01"));
    CHECK(m.series[1].successful == 1);
}

TEST_CASE("trends_json: the contract's keys, groups only with a grouping")
{
    trends_request q;
    q.domain = "example.com";
    q.since = day("2026-11-01");
    q.until = day("2026-11-02");
    auto t = build_trends(q, {summary("2026-11-02", 38, 2), failures("2026-11-02", "validation-failure", 2)}, {});
    auto o = test::json_object(trends_json(t));
    CHECK(o->getValue<std::string>("domain") == "example.com");
    CHECK(o->getValue<std::string>("since") == "2026-11-01");
    CHECK(o->getValue<std::string>("until") == "2026-11-02");
    CHECK(o->getValue<std::string>("by") == "day");
    CHECK(o->has("counting"));
    CHECK_FALSE(o->has("groups"));
    auto totals = o->getObject("totals");
    CHECK(totals->getValue<std::int64_t>("successful") == 38);
    CHECK(totals->getValue<std::int64_t>("failed") == 2);
    CHECK(totals->getValue<double>("failure_rate") == Approx(0.05));
    auto series = o->getArray("series");
    REQUIRE(series->size() == 2);
    CHECK(series->getObject(0)->getObject("result_types")->size() == 0);
    CHECK(series->getObject(1)->getObject("result_types")->getValue<std::int64_t>("validation-failure") == 2);

    q.group = trend_group::mx;
    t = build_trends(q, {summary("2026-11-02", 38, 2)},
                     {group_row{"mx2.example.com", std::nullopt, 2, day("2026-11-02"), day("2026-11-02")}});
    o = test::json_object(trends_json(t));
    auto groups = o->getArray("groups");
    REQUIRE(groups->size() == 1);
    auto g = groups->getObject(0);
    CHECK(g->getValue<std::string>("key") == "mx2.example.com");
    CHECK(g->isNull("successful"));
    CHECK(g->getValue<std::int64_t>("failed") == 2);
    CHECK(g->getValue<std::string>("first_seen") == "2026-11-02");
    CHECK(g->getValue<std::string>("last_seen") == "2026-11-02");
}

TEST_CASE("parse_bucket and parse_group take the CLI's words only")
{
    CHECK(parse_bucket("week") == bucket::week);
    CHECK_FALSE(parse_bucket("hour"));
    CHECK(parse_group("org") == trend_group::organization);
    CHECK(parse_group("sending-ip") == trend_group::sending_ip);
    CHECK_FALSE(parse_group("ip"));
}

TEST_CASE("result_type_groups: failed per type with first and last day, most failed first")
{
    const auto groups = result_type_groups({summary("2026-11-01", 10, 5), failures("2026-11-01", "validation-failure", 2),
                                            failures("2026-11-01", "certificate-expired", 3),
                                            failures("2026-11-04", "validation-failure", 4), summary("2026-11-04", 1, 4)});
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].key == "validation-failure");
    CHECK(groups[0].failed == 6);
    CHECK_FALSE(groups[0].successful);
    CHECK(groups[0].first_seen == day("2026-11-01"));
    CHECK(groups[0].last_seen == day("2026-11-04"));
    CHECK(groups[1].key == "certificate-expired");
    CHECK(groups[1].failed == 3);
    CHECK(groups[1].last_seen == day("2026-11-01"));
}
