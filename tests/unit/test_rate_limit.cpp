#include "collector/rate_limit.hpp"

#include <catch2/catch.hpp>

using stswatch::rate_limiter;
using namespace std::chrono_literals;

TEST_CASE("a source gets its burst, then one request per refill interval")
{
    rate_limiter limiter(2.0, 5.0);   // 2 per second, 5 at once
    auto t0 = rate_limiter::clock::time_point{} + 1000s;
    unsigned retry = 0;
    for (int i = 0; i < 5; ++i)
        CHECK(limiter.allow("192.0.2.1", t0, retry));
    CHECK_FALSE(limiter.allow("192.0.2.1", t0, retry));
    CHECK(retry == 1);
    // Another source is not affected.
    CHECK(limiter.allow("192.0.2.2", t0, retry));
    // Half a second later one token is back, and only one.
    CHECK(limiter.allow("192.0.2.1", t0 + 500ms, retry));
    CHECK_FALSE(limiter.allow("192.0.2.1", t0 + 500ms, retry));
    // Idle for long, the bucket is full again but never above the burst.
    for (int i = 0; i < 5; ++i)
        CHECK(limiter.allow("192.0.2.1", t0 + 60s, retry));
    CHECK_FALSE(limiter.allow("192.0.2.1", t0 + 60s, retry));
}

TEST_CASE("retry-after says how long until the next token")
{
    rate_limiter limiter(0.1, 1.0);   // one every ten seconds
    auto t0 = rate_limiter::clock::time_point{} + 1000s;
    unsigned retry = 0;
    CHECK(limiter.allow("a", t0, retry));
    CHECK_FALSE(limiter.allow("a", t0, retry));
    CHECK(retry == 10);
    CHECK_FALSE(limiter.allow("a", t0 + 4s, retry));
    CHECK(retry == 6);
}

TEST_CASE("a disabled limiter allows everything")
{
    rate_limiter limiter(0.0, 1.0);
    unsigned retry = 7;
    for (int i = 0; i < 1000; ++i)
        REQUIRE(limiter.allow("a", retry));
    CHECK(retry == 0);
    CHECK(limiter.tracked_sources() == 0);
}

TEST_CASE("memory stays bounded under a flood of distinct sources")
{
    rate_limiter limiter(1.0, 3.0, 1000);
    auto t0 = rate_limiter::clock::time_point{} + 1000s;
    unsigned retry = 0;
    for (int i = 0; i < 20000; ++i) {
        auto source = "198.51.100." + std::to_string(i);
        limiter.allow(source, t0, retry);
        limiter.allow(source, t0, retry);   // not full: cannot be forgotten as idle
    }
    CHECK(limiter.tracked_sources() <= 1000);
    // A source seen recently and limited stays limited.
    CHECK(limiter.allow("198.51.100.19999", t0, retry));
    CHECK_FALSE(limiter.allow("198.51.100.19999", t0, retry));
}
