#include "collector/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace stswatch {

rate_limiter::rate_limiter(double per_second, double burst, std::size_t max_sources)
    : per_second_(per_second), burst_(std::max(1.0, burst)), max_sources_(std::max<std::size_t>(1, max_sources))
{
}

void rate_limiter::forget_idle(clock::time_point now)
{
    // A bucket that has refilled completely carries no information: drop those first.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        double seconds = std::chrono::duration<double>(now - it->second.updated).count();
        if (it->second.tokens + seconds * per_second_ >= burst_)
            it = buckets_.erase(it);
        else
            ++it;
    }
    // Still too many (a flood of distinct addresses): forget the oldest half. This errs on
    // the side of admitting requests, which the size limits still bound.
    if (buckets_.size() >= max_sources_) {
        std::vector<std::pair<clock::time_point, std::string>> by_age;
        by_age.reserve(buckets_.size());
        for (const auto& [source, b] : buckets_)
            by_age.emplace_back(b.updated, source);
        auto half = by_age.begin() + static_cast<std::ptrdiff_t>(by_age.size() / 2);
        std::nth_element(by_age.begin(), half, by_age.end());
        for (auto it = by_age.begin(); it != half; ++it)
            buckets_.erase(it->second);
    }
}

bool rate_limiter::allow(const std::string& source, clock::time_point now, unsigned& retry_after)
{
    retry_after = 0;
    if (!enabled())
        return true;
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(source);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_sources_)
            forget_idle(now);
        it = buckets_.emplace(source, bucket{burst_, now}).first;
    }
    bucket& b = it->second;
    double seconds = std::chrono::duration<double>(now - b.updated).count();
    if (seconds > 0) {
        b.tokens = std::min(burst_, b.tokens + seconds * per_second_);
        b.updated = now;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return true;
    }
    retry_after = static_cast<unsigned>(std::max(1.0, std::ceil((1.0 - b.tokens) / per_second_)));
    return false;
}

std::size_t rate_limiter::tracked_sources() const
{
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

} // namespace stswatch
