// Stable incident ids (analyzer/incidents.hpp reconcile), pure.
#include "analyzer/incidents.hpp"
#include "tests/support/json_text.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;
using namespace stswatch::analysis;

namespace {

utc_date day(const char* text) { return *parse_day(text); }

detected_incident found(const char* dimension, const char* key, const char* onset, const char* last,
                        std::optional<const char*> end, std::int64_t failed)
{
    detected_incident d;
    d.dimension = dimension;
    d.key = key;
    d.onset = day(onset);
    d.last_day = day(last);
    if (end)
        d.end = day(*end);
    d.failed_sessions = failed;
    d.sessions = failed * 10;
    d.failure_rate = 0.1;
    return d;
}

incident_row stored(long long id, const char* dimension, const char* key, const char* onset, const char* last,
                    std::optional<const char*> end, std::int64_t failed, const char* status = nullptr)
{
    auto r = to_row("example.com", found(dimension, key, onset, last, end, failed));
    r.id = id;
    if (status)
        r.status = status;
    r.opened_at = "2026-11-17T10:00:00Z";
    return r;
}

} // namespace

TEST_CASE("reconcile: a new incident has no id - the same one found again keeps its id")
{
    const auto first = reconcile("example.com", {found("mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40)}, {},
                                 day("2026-11-01"));
    REQUIRE(first.save.size() == 1);
    CHECK(first.save[0].id == 0);
    CHECK(first.save[0].status == "open");
    CHECK(first.retract.empty());

    // Two more days of failures: same incident, later last day, more failures.
    const auto second = reconcile("example.com", {found("mx", "mx2.example.com", "2026-11-17", "2026-11-20", {}, 90)},
                                  {stored(7, "mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40)}, day("2026-11-01"));
    REQUIRE(second.save.size() == 1);
    CHECK(second.save[0].id == 7);
    CHECK(second.save[0].failed_sessions == 90);
    CHECK(second.save[0].opened_at == "2026-11-17T10:00:00Z");
    CHECK(second.unchanged == 0);

    // Found again unchanged: nothing to write.
    const auto third = reconcile("example.com", {found("mx", "mx2.example.com", "2026-11-17", "2026-11-20", {}, 90)},
                                 {stored(7, "mx", "mx2.example.com", "2026-11-17", "2026-11-20", {}, 90)}, day("2026-11-01"));
    CHECK(third.save.empty());
    CHECK(third.unchanged == 1);
}

TEST_CASE("reconcile: late reports move the onset earlier, the id stays - an end closes it")
{
    const auto r = reconcile("example.com", {found("mx", "mx2.example.com", "2026-11-16", "2026-11-20", "2026-11-20", 120)},
                             {stored(7, "mx", "mx2.example.com", "2026-11-17", "2026-11-20", {}, 90)}, day("2026-11-01"));
    REQUIRE(r.save.size() == 1);
    CHECK(r.save[0].id == 7);
    CHECK(r.save[0].onset == day("2026-11-16"));
    CHECK(r.save[0].status == "ended");
    REQUIRE(r.save[0].end);
    CHECK(*r.save[0].end == day("2026-11-20"));
}

TEST_CASE("reconcile: an incident later data no longer supports is retracted - others are left alone")
{
    const auto r = reconcile("example.com", {},
                             {stored(7, "mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40),
                              stored(3, "domain", "example.com", "2026-10-01", "2026-10-03", "2026-10-03", 60, "ended"),
                              stored(5, "mx", "mx1.example.com", "2026-11-10", "2026-11-10", {}, 9, "retracted")},
                             day("2026-11-01"));
    CHECK(r.save.empty());
    // 3 began before the evaluated days, 5 is retracted already.
    CHECK(r.retract == std::vector<long long>{7});
}

TEST_CASE("reconcile: another key or dimension, or days apart, is another incident")
{
    const auto r = reconcile("example.com",
                             {found("mx", "mx1.example.com", "2026-11-17", "2026-11-18", {}, 40),
                              found("result-type", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40),
                              found("domain", "example.com", "2026-11-25", "2026-11-26", {}, 40)},
                             {stored(7, "mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40),
                              stored(8, "domain", "example.com", "2026-11-01", "2026-11-03", "2026-11-03", 50, "ended")},
                             day("2026-11-01"));
    REQUIRE(r.save.size() == 3);
    for (const auto& row : r.save)
        CHECK(row.id == 0);
    CHECK(r.retract == std::vector<long long>{7, 8});
}

TEST_CASE("reconcile: a retracted incident found again comes back with its id")
{
    const auto r = reconcile("example.com", {found("mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40)},
                             {stored(7, "mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40, "retracted")},
                             day("2026-11-01"));
    REQUIRE(r.save.size() == 1);
    CHECK(r.save[0].id == 7);
    CHECK(r.save[0].status == "open");
}

TEST_CASE("incident_json: end is null while ongoing, the id a string")
{
    auto row = stored(42, "mx", "mx2.example.com", "2026-11-17", "2026-11-18", {}, 40);
    auto o = test::json_object(incident_json(row));
    CHECK(o->getValue<std::string>("id") == "42");
    CHECK(o->isNull("end"));
    CHECK(o->getValue<std::string>("onset") == "2026-11-17");
    CHECK(o->getValue<std::int64_t>("failed_sessions") == 40);
    CHECK(o->getArray("days")->size() == 0);
}
