// Per-source rate limiting for the unauthenticated intake (docs/senders.md: anyone can POST).
//
// A token bucket per source address: `burst` requests at once, refilled at `per_second`.
// Real senders post one report per policy domain per day, in bursts from a few addresses
// (a large provider reporting on thousands of hosted domains), so the defaults are generous;
// the point is to keep one abusive client from filling the database.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace stswatch {

class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    // per_second <= 0 disables the limiter (allow() is always true).
    // max_sources bounds memory: past it, full (idle) buckets are forgotten first.
    rate_limiter(double per_second, double burst, std::size_t max_sources = 100000);

    // Takes one token for source; false when its bucket is empty. retry_after is then set
    // to the whole seconds until a token is back (at least 1).
    bool allow(const std::string& source, clock::time_point now, unsigned& retry_after);
    bool allow(const std::string& source, unsigned& retry_after) { return allow(source, clock::now(), retry_after); }

    bool enabled() const { return per_second_ > 0; }
    std::size_t tracked_sources() const;

private:
    struct bucket {
        double tokens;
        clock::time_point updated;
    };
    double per_second_, burst_;
    std::size_t max_sources_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
    void forget_idle(clock::time_point now);
};

} // namespace stswatch
