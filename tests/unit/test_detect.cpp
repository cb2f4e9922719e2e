// Incident detection (docs/analysis.md "Incidents") on synthetic timelines of one domain's
// counted rollups: each test builds the days it needs and asserts the exact incidents.
#include "analyzer/detect.hpp"
#include "analyzer/stats.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <random>
#include <string>
#include <vector>

using namespace stswatch;
using namespace stswatch::analysis;

namespace {

const utc_date day0 = *parse_day("2026-10-01");

utc_date day(int i)
{
    return day0 + std::chrono::days(i);
}

// A domain's rollup rows, day by day.
struct timeline {
    std::vector<rollup_row> rows;

    // An organization's summary for the day (a report, even with 0 sessions).
    void summary(int d, const std::string& org, std::int64_t successful, std::int64_t failed)
    {
        rollup_row r;
        r.day = day(d);
        r.policy_type = "sts";
        r.organization = org;
        r.successful = successful;
        r.failed = failed;
        rows.push_back(r);
    }
    void failure(int d, const std::string& org, const std::string& type, const std::string& mx, std::int64_t failed)
    {
        rollup_row r;
        r.day = day(d);
        r.policy_type = "sts";
        r.result_type = type;
        r.receiving_mx = mx;
        r.organization = org;
        r.failed = failed;
        rows.push_back(r);
    }
    // A report of sessions with failures as (type, mx, count).
    struct fail {
        std::string type, mx;
        std::int64_t count;
    };
    void report(int d, const std::string& org, std::int64_t sessions, const std::vector<fail>& failures = {})
    {
        std::int64_t failed = 0;
        for (const auto& f : failures) {
            failure(d, org, f.type, f.mx, f.count);
            failed += f.count;
        }
        summary(d, org, sessions - failed, failed);
    }
};

const std::vector<std::string> four_orgs = {"comcast.net", "google.com", "microsoft.com", "yahoo.com"};

// "dimension:key" of each incident, in detect()'s order.
std::vector<std::string> names(const std::vector<detected_incident>& incidents)
{
    std::vector<std::string> out;
    for (const auto& i : incidents)
        out.push_back(i.dimension + ":" + i.key);
    return out;
}

const detected_incident& find(const std::vector<detected_incident>& incidents, const std::string& dimension,
                              const std::string& key)
{
    for (const auto& i : incidents)
        if (i.dimension == dimension && i.key == key)
            return i;
    FAIL("no incident " << dimension << ":" << key);
    throw std::logic_error("unreachable");
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("an MX failing validation from day 17, for every sender")
{
    // 4 senders, 100 sessions a day each, half to each MX; from day 17 on mx2 fails all.
    timeline t;
    for (int d = 0; d <= 29; ++d)
        for (const auto& org : four_orgs)
            if (d < 17)
                t.report(d, org, 100);
            else
                t.report(d, org, 100, {{"validation-failure", "mx2.example.com", 50}});
    const auto found = detect(t.rows, day(0), day(29));
    REQUIRE(names(found) == strings{"domain:", "mx:mx2.example.com", "result-type:validation-failure",
                                    "organization:comcast.net", "organization:google.com",
                                    "organization:microsoft.com", "organization:yahoo.com"});
    for (const auto& i : found) {
        INFO(i.dimension << ":" << i.key);
        CHECK(i.onset == day(17));
        CHECK(i.last_day == day(29));
        CHECK_FALSE(i.end);
        CHECK(i.days.size() == 13);
        CHECK(i.mx == strings{"mx2.example.com"});
        CHECK(i.result_types == strings{"validation-failure"});
    }
    const auto& mx = find(found, "mx", "mx2.example.com");
    CHECK(mx.failed_sessions == 200 * 13);
    CHECK(mx.sessions == 400 * 13);   // the domain's sessions: reports count none per MX
    CHECK(mx.failure_rate == Approx(0.5));
    CHECK(mx.baseline_rate == Approx(0.5 / (17 * 400 + 1)).epsilon(1e-12));
    CHECK(mx.p_value < 1e-100);
    CHECK(mx.organizations == four_orgs);
    const auto& org = find(found, "organization", "google.com");
    CHECK(org.failed_sessions == 50 * 13);
    CHECK(org.sessions == 100 * 13);
    CHECK(org.organizations == strings{"google.com"});
    CHECK(org.baseline_rate == Approx(0.5 / (17 * 100 + 1)).epsilon(1e-12));
}

TEST_CASE("a certificate that expired on day 20 and was renewed on day 24")
{
    timeline t;
    for (int d = 0; d <= 30; ++d)
        for (const auto& org : four_orgs)
            if (d >= 20 && d <= 23)
                t.report(d, org, 100,
                         {{"certificate-expired", "mx1.example.com", 50}, {"certificate-expired", "mx2.example.com", 50}});
            else
                t.report(d, org, 100);
    const auto found = detect(t.rows, day(0), day(30));
    REQUIRE(names(found) == strings{"domain:", "mx:mx1.example.com", "mx:mx2.example.com", "result-type:certificate-expired",
                                    "organization:comcast.net", "organization:google.com",
                                    "organization:microsoft.com", "organization:yahoo.com"});
    for (const auto& i : found) {
        INFO(i.dimension << ":" << i.key);
        CHECK(i.onset == day(20));
        CHECK(i.last_day == day(23));
        REQUIRE(i.end);
        CHECK(*i.end == day(23));
        CHECK(i.result_types == strings{"certificate-expired"});
    }
    const auto& domain = find(found, "domain", "");
    CHECK(domain.failed_sessions == 1600);
    CHECK(domain.sessions == 1600);
    CHECK(domain.failure_rate == 1.0);
    CHECK(domain.mx == strings{"mx1.example.com", "mx2.example.com"});
    CHECK(domain.organizations == four_orgs);
    CHECK(find(found, "mx", "mx1.example.com").failed_sessions == 800);
    CHECK(find(found, "mx", "mx1.example.com").mx == strings{"mx1.example.com"});
}

TEST_CASE("one sender with a broken trust store: an incident of that organization only")
{
    // Three large senders are fine; a small one fails every session from day 15 on. Its
    // 20 sessions among 3,020 do not move the domain, an MX or the result type enough.
    timeline t;
    for (int d = 0; d <= 25; ++d) {
        for (const std::string org : {"google.com", "microsoft.com", "yahoo.com"})
            t.report(d, org, 1000);
        if (d < 15)
            t.report(d, "small-isp.example", 20);
        else
            t.report(d, "small-isp.example", 20,
                     {{"certificate-not-trusted", "mx1.example.com", 10}, {"certificate-not-trusted", "mx2.example.com", 10}});
    }
    const auto found = detect(t.rows, day(0), day(25));
    REQUIRE(names(found) == strings{"organization:small-isp.example"});
    const auto& i = found[0];
    CHECK(i.onset == day(15));
    CHECK(i.last_day == day(25));
    CHECK_FALSE(i.end);
    CHECK(i.failed_sessions == 220);
    CHECK(i.sessions == 220);
    CHECK(i.mx == strings{"mx1.example.com", "mx2.example.com"});
    CHECK(i.result_types == strings{"certificate-not-trusted"});
    CHECK(i.organizations == strings{"small-isp.example"});
}

TEST_CASE("quiet domains with scattered failures raise nothing")
{
    SECTION("1 or 2 stray failures among hundreds")
    {
        timeline t;
        const int stray[] = {3, 9, 17, 18, 26, 33, 41};
        for (int d = 0; d <= 45; ++d)
            for (const auto& org : four_orgs) {
                const bool hit = std::find(std::begin(stray), std::end(stray), d) != std::end(stray);
                if (hit && org == "google.com")
                    t.report(d, org, 150, {{"starttls-not-supported", "mx1.example.com", d % 2 ? 2 : 1}});
                else
                    t.report(d, org, 150);
            }
        CHECK(detect(t.rows, day(0), day(45)).empty());
    }
    SECTION("3 scattered failures a week at 10 sessions a day")
    {
        timeline t;
        for (int d = 0; d <= 45; ++d) {
            if (d % 7 == 1 || d % 7 == 3 || d % 7 == 6)
                t.report(d, "google.com", 10, {{"validation-failure", "mx.small.example", 1}});
            else
                t.report(d, "google.com", 10);
        }
        CHECK(detect(t.rows, day(0), day(45)).empty());
    }
}

TEST_CASE("a low-volume domain whose MX fails everything for 3 days")
{
    // 8 sessions a day from two senders, 4 each: each sender alone stays under min_failed.
    timeline t;
    for (int d = 0; d <= 30; ++d)
        for (const std::string org : {"google.com", "microsoft.com"})
            if (d >= 20 && d <= 22)
                t.report(d, org, 4, {{"starttls-not-supported", "mx.low.example", 4}});
            else
                t.report(d, org, 4);
    const auto found = detect(t.rows, day(0), day(30));
    REQUIRE(names(found) == strings{"domain:", "mx:mx.low.example", "result-type:starttls-not-supported"});
    for (const auto& i : found) {
        INFO(i.dimension << ":" << i.key);
        CHECK(i.onset == day(20));
        CHECK(i.last_day == day(22));
        REQUIRE(i.end);
        CHECK(*i.end == day(22));
        CHECK(i.failed_sessions == 24);
        CHECK(i.sessions == 24);
        CHECK(i.baseline_rate == Approx(0.5 / (20 * 8 + 1)).epsilon(1e-12));
        CHECK(i.organizations == strings{"google.com", "microsoft.com"});
    }
}

TEST_CASE("a burst of 3 days ends with hysteresis: days without reports neither extend nor end it")
{
    // One sender, so only the next day confirms. Days 20-22 fail 40 %, day 23 still 2 of
    // 200 (elevated against a zero baseline), day 24 quiet, day 25 without any report,
    // day 26 quiet: the end is day 23.
    timeline t;
    for (int d = 0; d <= 30; ++d) {
        if (d == 25)
            continue;
        if (d >= 20 && d <= 22)
            t.report(d, "google.com", 200, {{"validation-failure", "mx1.example.com", 80}});
        else if (d == 23)
            t.report(d, "google.com", 200, {{"validation-failure", "mx1.example.com", 2}});
        else
            t.report(d, "google.com", 200);
    }
    const auto found = detect(t.rows, day(0), day(30));
    REQUIRE(names(found) == strings{"domain:", "mx:mx1.example.com", "result-type:validation-failure",
                                    "organization:google.com"});
    for (const auto& i : found) {
        INFO(i.dimension << ":" << i.key);
        CHECK(i.onset == day(20));
        CHECK(i.last_day == day(23));
        REQUIRE(i.end);
        CHECK(*i.end == day(23));
        CHECK(i.failed_sessions == 242);
        CHECK(i.sessions == 800);
        REQUIRE(i.days.size() == 4);
        CHECK(i.days[3].failed == 2);
        CHECK(i.days[3].elevated);
    }
    // Up to day 25 the only quiet day with reports is day 24: still ongoing.
    const auto open = detect(t.rows, day(0), day(25));
    REQUIRE(open.size() == 4);
    for (const auto& i : open) {
        CHECK(i.last_day == day(23));
        CHECK_FALSE(i.end);
    }
}

TEST_CASE("a zero-failure baseline: one day of failures from two senders")
{
    timeline t;
    for (int d = 0; d <= 30; ++d)
        for (const std::string org : {"google.com", "microsoft.com"})
            if (d == 25)
                t.report(d, org, 150, {{"starttls-not-supported", "mx1.example.com", 10}});
            else
                t.report(d, org, 150);
    const auto found = detect(t.rows, day(0), day(30));
    // Two senders confirm the day; each sender alone has no second day.
    REQUIRE(names(found) == strings{"domain:", "mx:mx1.example.com", "result-type:starttls-not-supported"});
    for (const auto& i : found) {
        INFO(i.dimension << ":" << i.key);
        CHECK(i.onset == day(25));
        REQUIRE(i.end);
        CHECK(*i.end == day(25));
        CHECK(i.failed_sessions == 20);
        CHECK(i.sessions == 300);
        CHECK(i.baseline_rate == Approx(0.5 / (25 * 300 + 1)).epsilon(1e-12));
        CHECK(i.p_value == Approx(binomial_upper_tail(20, 300, 0.5 / 7501)).epsilon(1e-12));
        CHECK(i.organizations == strings{"google.com", "microsoft.com"});
    }
}

TEST_CASE("a result type never seen before")
{
    // 1,000 sessions a day; on day 35 6 sessions fail with certificate-host-mismatch, 3 from
    // each of two senders: far below what the result-type test needs, but a new type.
    timeline t;
    for (int d = 0; d <= 40; ++d)
        for (const std::string org : {"google.com", "microsoft.com"})
            if (d == 35)
                t.report(d, org, 500, {{"certificate-host-mismatch", "mx2.example.com", 3}});
            else if (d % 5 == 0 && org == "google.com")
                t.report(d, org, 500, {{"validation-failure", "mx1.example.com", 1}});
            else
                t.report(d, org, 500);
    const auto found = detect(t.rows, day(0), day(40));
    REQUIRE(names(found) == strings{"new-result-type:certificate-host-mismatch"});
    const auto& i = found[0];
    CHECK(i.onset == day(35));
    REQUIRE(i.end);
    CHECK(*i.end == day(35));
    CHECK(i.failed_sessions == 6);
    CHECK(i.sessions == 1000);
    CHECK(i.mx == strings{"mx2.example.com"});
    CHECK(i.organizations == strings{"google.com", "microsoft.com"});
    CHECK(i.baseline_rate == Approx(0.5 / (28 * 1000 + 1)).epsilon(1e-12));

    SECTION("below min_new_type_failed it is not one")
    {
        timeline small;
        for (int d = 0; d <= 40; ++d)
            small.report(d, "google.com", 1000, d == 35 ? std::vector<timeline::fail>{{"certificate-host-mismatch", "mx2.example.com", 4}}
                                                        : std::vector<timeline::fail>{});
        CHECK(detect(small.rows, day(0), day(40)).empty());
    }
    SECTION("without a full baseline of history it is not new")
    {
        timeline young;
        for (int d = 10; d <= 40; ++d)
            for (const std::string org : {"google.com", "microsoft.com"})
                young.report(d, org, 500, d == 35 ? std::vector<timeline::fail>{{"certificate-host-mismatch", "mx2.example.com", 3}}
                                                  : std::vector<timeline::fail>{});
        CHECK(detect(young.rows, day(0), day(40)).empty());
    }
}

TEST_CASE("a regular reporter that goes silent")
{
    // yahoo.com reports every day until day 29, then nothing until day 35; on day 32 nobody
    // reports at all, which counts neither way.
    timeline t;
    for (int d = 0; d <= 40; ++d) {
        if (d == 32)
            continue;
        for (const auto& org : four_orgs)
            if (org != "yahoo.com" || d < 30 || d >= 35)
                t.report(d, org, 100);
    }
    auto found = detect(t.rows, day(0), day(40));
    REQUIRE(names(found) == strings{"silent-reporter:yahoo.com"});
    CHECK(found[0].onset == day(30));
    CHECK(found[0].last_day == day(34));
    REQUIRE(found[0].end);
    CHECK(*found[0].end == day(34));
    CHECK(found[0].organizations == strings{"yahoo.com"});
    REQUIRE(found[0].days.size() == 5);
    CHECK(found[0].days[2].elevated == false);   // day 32: nobody reported
    CHECK(found[0].days[3].elevated);
    // p: 0 of 28 baseline days missed, smoothed to 0.5 / 29, for 4 silent days.
    CHECK(found[0].p_value == Approx(std::pow(0.5 / 29, 4)).epsilon(1e-12));

    found = detect(t.rows, day(0), day(33));   // 30, 31, 33: three silent days
    REQUIRE(names(found) == strings{"silent-reporter:yahoo.com"});
    CHECK_FALSE(found[0].end);
    CHECK(found[0].last_day == day(33));
    CHECK(detect(t.rows, day(0), day(31)).empty());   // two days: not yet

    SECTION("an irregular or small reporter is not one")
    {
        timeline u;
        for (int d = 0; d <= 40; ++d) {
            u.report(d, "google.com", 100);
            if (d % 2 == 0 && d < 30)
                u.report(d, "sometimes.example", 100);   // 15 of the 28 baseline days
            if (d < 30)
                u.report(d, "tiny.example", 3);          // median 3 sessions
        }
        CHECK(detect(u.rows, day(0), day(40)).empty());
    }
}

TEST_CASE("a one-day blip in one sender only raises nothing")
{
    // microsoft.com fails 60 of its 100 sessions on day 20 only; google.com, fine, or with
    // stray validation failures at the same MX that day.
    auto blip = [](std::int64_t google_failed) {
        timeline t;
        for (int d = 0; d <= 30; ++d)
            for (const auto& org : four_orgs)
                if (d == 20 && org == "microsoft.com")
                    t.report(d, org, 100, {{"certificate-expired", "mx1.example.com", 60}});
                else if (d == 20 && org == "google.com" && google_failed > 0)
                    t.report(d, org, 100, {{"validation-failure", "mx1.example.com", google_failed}});
                else
                    t.report(d, org, 100);
        return detect(t.rows, day(0), day(30));
    };
    CHECK(blip(0).empty());
    // A single failure of a second sender does not confirm it (min_sender_failed).
    CHECK(blip(1).empty());
    // Two do, on the keys both share: not on certificate-expired (one sender), nor on
    // validation-failure (2 sessions, under min_failed).
    const auto found = blip(2);
    REQUIRE(names(found) == strings{"domain:", "mx:mx1.example.com"});
    for (const auto& i : found) {
        INFO(i.dimension << ":" << i.key);
        CHECK(i.onset == day(20));
        REQUIRE(i.end);
        CHECK(*i.end == day(20));
        CHECK(i.failed_sessions == 62);
        CHECK(i.sessions == 400);
        CHECK(i.result_types == strings{"certificate-expired", "validation-failure"});
        CHECK(i.organizations == strings{"google.com", "microsoft.com"});
    }
}

TEST_CASE("a flagged last day alone is not returned - the next day or late reports confirm it")
{
    timeline t;
    for (int d = 0; d <= 30; ++d)
        for (const auto& org : four_orgs)
            if (d >= 29 && org == "microsoft.com")
                t.report(d, org, 100, {{"certificate-expired", "mx1.example.com", 60}});
            else if (d <= 29)
                t.report(d, org, 100);
    // Up to day 29: its only flagged day is today, one sender.
    CHECK(detect(t.rows, day(0), day(29)).empty());
    // Day 30's report of that sender is in (the others are late): confirmed.
    const auto found = detect(t.rows, day(0), day(30));
    // After 29 days of history without it, certificate-expired is also a new type.
    REQUIRE(names(found) == strings{"domain:", "mx:mx1.example.com", "result-type:certificate-expired",
                                    "organization:microsoft.com", "new-result-type:certificate-expired"});
    CHECK(find(found, "domain", "").onset == day(29));
    CHECK(find(found, "domain", "").failed_sessions == 120);
    CHECK(find(found, "domain", "").sessions == 500);

    SECTION("late reports for a day already analysed: a second sender confirms it")
    {
        timeline late;
        for (int d = 0; d <= 20; ++d)
            for (const auto& org : four_orgs)
                if (d < 20)
                    late.report(d, org, 100);
        late.report(20, "google.com", 100, {{"certificate-expired", "mx1.example.com", 40}});
        CHECK(detect(late.rows, day(0), day(21)).empty());
        late.report(20, "yahoo.com", 100, {{"certificate-expired", "mx1.example.com", 30}});
        const auto again = detect(late.rows, day(0), day(21));
        REQUIRE(names(again) == strings{"domain:", "mx:mx1.example.com", "result-type:certificate-expired"});
        CHECK(again[0].failed_sessions == 70);
        CHECK(again[0].sessions == 200);
        CHECK(again[0].organizations == strings{"google.com", "yahoo.com"});
        CHECK_FALSE(again[0].end);
    }
}

TEST_CASE("incidents before the evaluated days are settled and not returned")
{
    timeline t;
    for (int d = 0; d <= 60; ++d)
        for (const auto& org : four_orgs)
            if (d >= 20 && d <= 22)
                t.report(d, org, 100, {{"certificate-expired", "mx1.example.com", 80}});
            else
                t.report(d, org, 100);
    CHECK(names(detect(t.rows, day(0), day(60))).size() == 7);
    CHECK(detect(t.rows, day(23), day(60)).empty());
    CHECK(names(detect(t.rows, day(22), day(60))).size() == 7);
}

TEST_CASE("failures at exactly the baseline rate raise no incident over 60 days")
{
    // Binomial draws from mt19937 (its sequence is fixed by the standard, unlike
    // std::binomial_distribution's): 4 senders × 250 sessions a day, each failing with
    // probability 2 %, spread over 2 MX and 2 result types.
    for (std::uint32_t seed : {1u, 7u, 2026u}) {
        std::mt19937 random(seed);
        auto chance = [&](double p) { return static_cast<double>(random()) / 4294967296.0 < p; };
        timeline t;
        for (int d = 0; d < 60; ++d)
            for (const auto& org : four_orgs) {
                std::int64_t counts[2][2] = {{0, 0}, {0, 0}};
                for (int s = 0; s < 250; ++s)
                    if (chance(0.02))
                        ++counts[chance(0.5)][chance(0.5)];
                std::vector<timeline::fail> failures;
                const char* types[] = {"validation-failure", "starttls-not-supported"};
                const char* mxs[] = {"mx1.example.com", "mx2.example.com"};
                for (int a = 0; a < 2; ++a)
                    for (int b = 0; b < 2; ++b)
                        if (counts[a][b] > 0)
                            failures.push_back({types[a], mxs[b], counts[a][b]});
                t.report(d, org, 250, failures);
            }
        INFO("seed " << seed);
        CHECK(names(detect(t.rows, day(0), day(59))).empty());
    }
}
