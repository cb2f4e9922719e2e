// Failure trends of one domain (docs/analysis.md "Trends"): per day, week or month, the
// counted successful and failed sessions, the failure rate and the failures per result
// type; with a grouping, the same per key. Served from the rollups.
#pragma once

#include "store/analysis_rows.hpp"

#include <optional>
#include <string>
#include <vector>

namespace stswatch {
class analysis_store;
}

namespace stswatch::analysis {

enum class bucket { day, week, month };

struct trends_request {
    std::string domain;
    utc_date since{}, until{};              // inclusive
    analysis::bucket by = bucket::day;
    std::optional<trend_group> group;
};

struct trend_point {
    utc_date start{};                       // the bucket's first day (weeks start on Monday)
    std::int64_t successful = 0, failed = 0;
    std::vector<std::pair<std::string, std::int64_t>> result_types;   // sorted by type
};

struct trends_result {
    trends_request request;
    std::int64_t successful = 0, failed = 0;
    std::vector<trend_point> series;        // every bucket of the range, zeros included
    std::vector<group_row> groups;          // with a grouping only
};

// Parses "day", "week", "month" / "result-type", "mx", "org", "sending-ip", "policy-type".
std::optional<bucket> parse_bucket(const std::string& text);
std::optional<trend_group> parse_group(const std::string& text);
const char* bucket_name(bucket b);
const char* group_name(trend_group g);

// The first day of the bucket that holds d.
utc_date bucket_start(utc_date d, bucket b);

// Pure: the series of the request from the store's daily rows.
trends_result build_trends(const trends_request& request, const std::vector<day_type_row>& rows,
                           std::vector<group_row> groups);

// Pure: the result-type grouping from the daily rows (failed per type, first and last day),
// ordered by failed sessions, then type: what the store's result-type grouping returns.
std::vector<group_row> result_type_groups(const std::vector<day_type_row>& rows);

// Reads the rows and builds the result.
trends_result query_trends(analysis_store& store, const trends_request& request);

double failure_rate(std::int64_t successful, std::int64_t failed);

// The JSON contract of docs/analysis.md (`stswatch trends --json`), one object, with a
// trailing newline.
std::string trends_json(const trends_result& result);

// The counting rule, as the JSON's "counting" says it.
extern const char* const counting_rule;

} // namespace stswatch::analysis
