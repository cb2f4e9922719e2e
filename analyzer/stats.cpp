// docs/analysis.md "Incidents". The incomplete beta function by its continued fraction,
// evaluated with the modified Lentz method; the binomial probability by Loader's
// saddle-point form (stirlerr and bd0), which keeps full precision for n up to 1e9 where a
// difference of lgamma values of size 2e10 would keep only about six digits.
#include "analyzer/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace stswatch::analysis {

namespace {

constexpr double pi = 3.14159265358979323846;
constexpr double tiny = 1e-300;
constexpr double epsilon = 1e-15;

// The continued fraction of I_x(a, b) (without its front factor), which converges fast
// for x < (a + 1) / (a + b + 2); the callers use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
// otherwise. Its iterations grow as sqrt(max(a, b)) near the boundary: the limit allows
// n = 1e9 with margin.
double beta_continued_fraction(double a, double b, double x)
{
    const double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1;
    double d = 1 - qab * x / qap;
    if (std::fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    const long max_iterations = 10'000'000;
    for (long m = 1; m <= max_iterations; ++m) {
        const double m2 = 2.0 * static_cast<double>(m);
        const double md = static_cast<double>(m);
        double aa = md * (b - md) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (std::fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (std::fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + md) * (qab + md) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (std::fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (std::fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        const double del = d * c;
        h *= del;
        if (std::fabs(del - 1) < epsilon)
            break;
    }
    return h;
}

// I_x(a, b) given log(x^a (1-x)^b / B(a, b)).
double incomplete_beta(double a, double b, double x, double log_front)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double front = std::exp(log_front);
    if (x < (a + 1) / (a + b + 2))
        return std::clamp(front * beta_continued_fraction(a, b, x) / a, 0.0, 1.0);
    return std::clamp(1 - front * beta_continued_fraction(b, a, 1 - x) / b, 0.0, 1.0);
}

// log(n!) - log(sqrt(2 pi n) (n/e)^n): exact values for small n, else the Stirling series.
double stirlerr(double n)
{
    constexpr double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680, s4 = 1.0 / 1188;
    if (n <= 15)
        return std::lgamma(n + 1) - (n + 0.5) * std::log(n) + n - 0.5 * std::log(2 * pi);
    const double nn = n * n;
    if (n > 500)
        return (s0 - s1 / nn) / n;
    if (n > 80)
        return (s0 - (s1 - s2 / nn) / nn) / n;
    if (n > 35)
        return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
    return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

// x log(x / np) + np - x, without the cancellation of its terms when x is near np.
double bd0(double x, double np)
{
    if (std::fabs(x - np) < 0.1 * (x + np)) {
        double v = (x - np) / (x + np);
        double s = (x - np) * v;
        double ej = 2 * x * v;
        v *= v;
        for (int j = 1; j < 1000; ++j) {
            ej *= v;
            const double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
        return s;
    }
    return x * std::log(x / np) + np - x;
}

// log P(X = k), X ~ Binomial(n, p), 0 < k < n, 0 < p < 1 (Loader 2000).
double log_binomial_probability(double k, double n, double p)
{
    const double q = 1 - p;
    const double lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n * p) - bd0(n - k, n * q);
    const double lf = std::log(2 * pi) + std::log(k) + std::log1p(-k / n);
    return lc - 0.5 * lf;
}

} // namespace

double regularized_incomplete_beta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double log_front = a * std::log(x) + b * std::log1p(-x) + std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b);
    return incomplete_beta(a, b, x, log_front);
}

double binomial_upper_tail(std::int64_t k, std::int64_t n, double p)
{
    if (k <= 0)
        return 1;
    if (k > n)
        return 0;
    if (!(p > 0))
        return 0;
    if (p >= 1)
        return 1;
    const auto kd = static_cast<double>(k), nd = static_cast<double>(n);
    if (k == n)
        return std::exp(nd * std::log(p));
    // x^a (1-x)^b / B(a, b) with a = k, b = n - k + 1 is k (1 - p) P(X = k).
    const double log_front = std::log(kd) + std::log1p(-p) + log_binomial_probability(kd, nd, p);
    return incomplete_beta(kd, nd - kd + 1, p, log_front);
}

double wilson_lower_bound(std::int64_t k, std::int64_t n, double z)
{
    if (n <= 0)
        return 0;
    const double nd = static_cast<double>(n);
    const double phat = std::clamp(static_cast<double>(k) / nd, 0.0, 1.0);
    const double z2 = z * z;
    const double centre = phat + z2 / (2 * nd);
    const double spread = z * std::sqrt(phat * (1 - phat) / nd + z2 / (4 * nd * nd));
    return std::max(0.0, (centre - spread) / (1 + z2 / nd));
}

double jeffreys_rate(std::int64_t failed, std::int64_t sessions)
{
    return (static_cast<double>(failed) + 0.5) / (static_cast<double>(sessions) + 1);
}

} // namespace stswatch::analysis
