// Date-times as RFC 3339 (and the variants senders write), normalised to UTC.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stswatch {

// A point in time in UTC, with microseconds.
struct utc_time {
    std::int64_t seconds = 0;      // since 1970-01-01T00:00:00Z
    std::int32_t micros = 0;       // 0..999999
    auto operator<=>(const utc_time&) const = default;
};

struct time_parse {
    std::optional<utc_time> value;
    bool zone_missing = false;     // no "Z" nor offset: read as UTC (Microsoft, 2023)
    std::string error;             // why it is not a date-time, when !value
};

// RFC 3339 §5.6 date-time: "2016-04-01T00:00:00Z", "2016-04-01t00:00:00.123+02:00",
// and without zone. Also accepts a space for "T". Validates ranges (month, day of month,
// leap years, hour, minute, second up to 60 for leap seconds folded into :59).
time_parse parse_rfc3339(std::string_view text);

// "2016-04-01T00:00:00Z"; fraction only when non-zero, without trailing zeros.
std::string format_rfc3339(const utc_time& t);

// "2016-04-01": the UTC calendar day of t.
std::string format_date(const utc_time& t);

// Accepts "2016-04-01" (midnight UTC) or a full RFC 3339 date-time; for CLI options.
std::optional<utc_time> parse_date_or_datetime(std::string_view text);

// A UTC calendar day (the unit of TLS reports, RFC 8460 §4.4 date-range, and of the
// analysis, docs/analysis.md).
using utc_date = std::chrono::sys_days;
// The UTC calendar day of t.
utc_date utc_date_of(const utc_time& t);
// "2016-04-01".
std::string format_day(utc_date d);
// Exactly "YYYY-MM-DD" (a valid date), else nullopt.
std::optional<utc_date> parse_day(std::string_view text);
// Midnight UTC at the start of d.
utc_time start_of(utc_date d);

} // namespace stswatch
