// The statistics of incident detection (docs/analysis.md "Incidents"): the binomial upper
// tail, the Wilson score lower bound and the Jeffreys-smoothed rate. Pure functions of
// counts; stable for session counts up to 1e9.
#pragma once

#include <cstdint>

namespace stswatch::analysis {

// I_x(a, b), the regularized incomplete beta function, for a > 0, b > 0, 0 <= x <= 1.
double regularized_incomplete_beta(double a, double b, double x);

// P(X >= k) for X ~ Binomial(n, p): 1 for k <= 0, 0 for k > n; p is clamped to [0, 1].
// Computed as I_p(k, n - k + 1), the front factor from the binomial probability of k
// (saddle-point form, so that large n lose no precision to cancelling lgamma terms).
double binomial_upper_tail(std::int64_t k, std::int64_t n, double p);

// The lower bound of the Wilson score interval of the rate k / n at z (1.96: 95 %
// two-sided). 0 when n <= 0.
double wilson_lower_bound(std::int64_t k, std::int64_t n, double z);

// (failed + 0.5) / (sessions + 1): the Jeffreys-smoothed failure rate, never 0 nor 1, so
// that a baseline without any failure still gives a usable test.
double jeffreys_rate(std::int64_t failed, std::int64_t sessions);

} // namespace stswatch::analysis
