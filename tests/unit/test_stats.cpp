// The statistics of incident detection (docs/analysis.md "Incidents") against reference
// values computed independently: binomial tails by exact rational sums (Python's
// math.comb and fractions.Fraction) for n <= 10,000 and by 40-digit mpmath sums of the
// probability terms for n = 1e9; incomplete beta values by mpmath.betainc (regularized,
// 30 digits); Wilson bounds by bisection on (p̂ - p)² = z² p (1 - p) / n in mpmath.
#include "analyzer/stats.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace stswatch::analysis;

namespace {

struct tail_case {
    std::int64_t k, n;
    double p;
    double expected;
    const char* source;
};

const tail_case tail_cases[] = {
    {5, 100, 0.01, 0.0034323215877545152, "exact sum"},
    {1, 10, 0.5, 0.9990234375, "exact sum (1 - 2^-10)"},
    {50, 100, 0.5, 0.5397946186935894, "exact sum"},
    {8, 8, 0.00222, 5.8996166904769743e-22, "exact sum (p^8)"},
    {20, 500, 0.02, 0.0031263426850115878, "exact sum"},
    {12, 40, 0.05, 3.652669918896119e-7, "exact sum"},
    {100, 10000, 0.0001, 2.4468588897098809e-159, "exact sum"},
    {3, 1000000000, 1e-9, 0.080301396979424336, "mpmath sum"},
    {31700, 1000000000, 3e-5, 1.2070998238127021e-22, "mpmath sum"},
    {30000, 1000000000, 3e-5, 0.50076779946869465, "mpmath sum"},
    {1000000, 1000000000, 0.001, 0.50013318034844579, "mpmath sum"},
    {1001000, 1000000000, 0.001, 0.15865521361459447, "mpmath sum"},
    {999000, 1000000000, 0.001, 0.8415868376420168, "mpmath sum"},
};

} // namespace

TEST_CASE("binomial upper tail against exact and high-precision sums")
{
    for (const auto& c : tail_cases) {
        INFO("P(X >= " << c.k << " | n = " << c.n << ", p = " << c.p << "), " << c.source);
        CHECK(binomial_upper_tail(c.k, c.n, c.p) == Approx(c.expected).epsilon(1e-10));
    }
}

TEST_CASE("binomial upper tail at its edges")
{
    CHECK(binomial_upper_tail(0, 100, 0.3) == 1.0);
    CHECK(binomial_upper_tail(-2, 100, 0.3) == 1.0);
    CHECK(binomial_upper_tail(0, 0, 0.3) == 1.0);
    CHECK(binomial_upper_tail(101, 100, 0.3) == 0.0);
    CHECK(binomial_upper_tail(1, 0, 0.3) == 0.0);
    CHECK(binomial_upper_tail(1, 100, 0.0) == 0.0);
    CHECK(binomial_upper_tail(0, 100, 0.0) == 1.0);
    CHECK(binomial_upper_tail(100, 100, 1.0) == 1.0);
    CHECK(binomial_upper_tail(37, 100, 1.0) == 1.0);
    // k = n: p^n exactly; 1 - (1 - p)^n for k = 1.
    CHECK(binomial_upper_tail(10, 10, 0.5) == Approx(1.0 / 1024).epsilon(1e-14));
    CHECK(binomial_upper_tail(1, 3, 0.5) == Approx(0.875).epsilon(1e-14));
    // Far in the tail it underflows to 0, never to a negative or NaN.
    const double far = binomial_upper_tail(5000, 10000, 1e-6);
    CHECK(far >= 0.0);
    CHECK(far < 1e-300);
}

TEST_CASE("binomial upper tail decreases in k and increases in p")
{
    double previous = 1.0;
    for (std::int64_t k = 0; k <= 60; ++k) {
        const double v = binomial_upper_tail(k, 200, 0.1);
        CHECK(v <= previous);
        previous = v;
    }
    previous = 0.0;
    for (double p = 0.001; p < 1; p += 0.037) {
        const double v = binomial_upper_tail(17, 300, p);
        CHECK(v >= previous);
        previous = v;
    }
}

TEST_CASE("regularized incomplete beta against mpmath.betainc")
{
    struct beta_case {
        double a, b, x, expected;
    };
    const beta_case cases[] = {
        {2.5, 3.5, 0.4, 0.4869041915261174},
        {0.5, 0.5, 0.3, 0.36901011956554538},
        {10, 20, 0.7, 0.99998285808282691},
        {1, 1, 0.25, 0.25},
        {200, 300, 0.38, 0.18093001184220385},
    };
    for (const auto& c : cases) {
        INFO("I_" << c.x << "(" << c.a << ", " << c.b << ")");
        CHECK(regularized_incomplete_beta(c.a, c.b, c.x) == Approx(c.expected).epsilon(1e-10));
    }
    CHECK(regularized_incomplete_beta(3, 4, 0) == 0.0);
    CHECK(regularized_incomplete_beta(3, 4, 1) == 1.0);
}

TEST_CASE("Wilson score lower bound against bisection")
{
    struct wilson_case {
        std::int64_t k, n;
        double expected;
    };
    const wilson_case cases[] = {
        {8, 8, 0.67558438048912309},
        {5, 100, 0.021543361456313556},
        {50, 50, 0.92864996582568126},
        {3, 1000, 0.0010207654054443256},
        {250, 1000, 0.22415264273735048},
    };
    for (const auto& c : cases) {
        INFO(c.k << " / " << c.n);
        CHECK(wilson_lower_bound(c.k, c.n, 1.96) == Approx(c.expected).epsilon(1e-12));
    }
    CHECK(wilson_lower_bound(0, 50, 1.96) == 0.0);
    CHECK(wilson_lower_bound(0, 0, 1.96) == 0.0);
    CHECK(wilson_lower_bound(3, 0, 1.96) == 0.0);
}

TEST_CASE("Jeffreys-smoothed rate")
{
    CHECK(jeffreys_rate(0, 0) == 0.5);
    CHECK(jeffreys_rate(0, 999) == Approx(0.0005).epsilon(1e-15));
    CHECK(jeffreys_rate(10, 99) == Approx(0.105).epsilon(1e-15));
    CHECK(jeffreys_rate(100, 100) == Approx(100.5 / 101).epsilon(1e-15));
}
