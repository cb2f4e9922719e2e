// Failure trends (docs/analysis.md "Trends").
#include "analyzer/trends.hpp"

#include "analyzer/json_out.hpp"
#include "store/analysis_store.hpp"

#include <algorithm>
#include <map>

namespace stswatch::analysis {

const char* const counting_rule =
    "sessions of the counted policy entries: a report's tlsa and sts entries for one domain describe the "
    "same sessions and only the larger view counts (sts on a tie); several sts or no-policy-found entries "
    "of one report are different sessions and are added (docs/analysis.md)";

std::optional<bucket> parse_bucket(const std::string& text)
{
    if (text == "day")
        return bucket::day;
    if (text == "week")
        return bucket::week;
    if (text == "month")
        return bucket::month;
    return std::nullopt;
}

std::optional<trend_group> parse_group(const std::string& text)
{
    if (text == "result-type")
        return trend_group::result_type;
    if (text == "mx")
        return trend_group::mx;
    if (text == "org" || text == "organization")
        return trend_group::organization;
    if (text == "sending-ip")
        return trend_group::sending_ip;
    if (text == "policy-type")
        return trend_group::policy_type;
    return std::nullopt;
}

const char* bucket_name(bucket b)
{
    switch (b) {
    case bucket::day: return "day";
    case bucket::week: return "week";
    case bucket::month: return "month";
    }
    return "day";
}

const char* group_name(trend_group g)
{
    switch (g) {
    case trend_group::result_type: return "result-type";
    case trend_group::mx: return "mx";
    case trend_group::organization: return "org";
    case trend_group::sending_ip: return "sending-ip";
    case trend_group::policy_type: return "policy-type";
    }
    return "result-type";
}

utc_date bucket_start(utc_date d, bucket b)
{
    using namespace std::chrono;
    switch (b) {
    case bucket::day:
        return d;
    case bucket::week: {
        // ISO weeks start on Monday; 1970-01-01 was a Thursday.
        const weekday wd{d};
        const auto back = (wd.iso_encoding() - 1);
        return d - days{back};
    }
    case bucket::month: {
        const year_month_day ymd{d};
        return sys_days{ymd.year() / ymd.month() / 1};
    }
    }
    return d;
}

namespace {

utc_date next_bucket(utc_date start, bucket b)
{
    using namespace std::chrono;
    switch (b) {
    case bucket::day:
        return start + days{1};
    case bucket::week:
        return start + days{7};
    case bucket::month: {
        const year_month_day ymd{start};
        return sys_days{(ymd.year() / ymd.month() / 1) + months{1}};
    }
    }
    return start + days{1};
}

} // namespace

double failure_rate(std::int64_t successful, std::int64_t failed)
{
    const double n = static_cast<double>(successful) + static_cast<double>(failed);
    return n > 0 ? static_cast<double>(failed) / n : 0.0;
}

trends_result build_trends(const trends_request& request, const std::vector<day_type_row>& rows,
                           std::vector<group_row> groups)
{
    trends_result result;
    result.request = request;
    struct sums {
        std::int64_t successful = 0, failed = 0;
        std::map<std::string, std::int64_t> types;
    };
    std::map<utc_date, sums> by_bucket;
    for (auto start = bucket_start(request.since, request.by); start <= request.until;
         start = next_bucket(start, request.by))
        by_bucket[start];
    for (const auto& r : rows) {
        if (r.day < request.since || r.day > request.until)
            continue;
        auto& s = by_bucket[bucket_start(r.day, request.by)];
        if (r.result_type.empty()) {
            s.successful += r.successful;
            s.failed += r.failed;
            result.successful += r.successful;
            result.failed += r.failed;
        } else {
            s.types[r.result_type] += r.failed;
        }
    }
    result.series.reserve(by_bucket.size());
    for (auto& [start, s] : by_bucket) {
        trend_point p;
        p.start = start;
        p.successful = s.successful;
        p.failed = s.failed;
        p.result_types.assign(s.types.begin(), s.types.end());
        result.series.push_back(std::move(p));
    }
    if (request.group)
        result.groups = std::move(groups);
    return result;
}

std::vector<group_row> result_type_groups(const std::vector<day_type_row>& rows)
{
    std::map<std::string, group_row> by_type;
    for (const auto& r : rows) {
        if (r.result_type.empty())
            continue;
        auto [it, added] = by_type.try_emplace(r.result_type);
        auto& g = it->second;
        if (added) {
            g.key = r.result_type;
            g.first_seen = g.last_seen = r.day;
        }
        g.failed += r.failed;
        g.first_seen = std::min(g.first_seen, r.day);
        g.last_seen = std::max(g.last_seen, r.day);
    }
    std::vector<group_row> out;
    for (auto& [type, g] : by_type)
        out.push_back(std::move(g));
    std::stable_sort(out.begin(), out.end(), [](const group_row& a, const group_row& b) { return a.failed > b.failed; });
    return out;
}

trends_result query_trends(analysis_store& store, const trends_request& request)
{
    auto rows = store.daily_series(request.domain, request.since, request.until);
    std::vector<group_row> groups;
    // The result types' groups are sums of the series' own rows: no second read.
    if (request.group == trend_group::result_type)
        groups = result_type_groups(rows);
    else if (request.group)
        groups = store.groups(request.domain, request.since, request.until, *request.group);
    return build_trends(request, rows, std::move(groups));
}

std::string trends_json(const trends_result& r)
{
    json_out j;
    j.begin_object();
    j.field("domain", r.request.domain);
    j.field("since", r.request.since);
    j.field("until", r.request.until);
    j.field("by", bucket_name(r.request.by));
    if (r.request.group)
        j.field("group", group_name(*r.request.group));
    j.field("counting", counting_rule);
    j.key("totals").begin_object();
    j.field("successful", r.successful).field("failed", r.failed).field("failure_rate", failure_rate(r.successful, r.failed));
    j.end_object();
    j.key("series").begin_array();
    for (const auto& p : r.series) {
        j.begin_object();
        j.field("start", p.start).field("successful", p.successful).field("failed", p.failed);
        j.field("failure_rate", failure_rate(p.successful, p.failed));
        j.key("result_types").begin_object();
        for (const auto& [type, failed] : p.result_types)
            j.field(type, failed);
        j.end_object();
        j.end_object();
    }
    j.end_array();
    if (r.request.group) {
        j.key("groups").begin_array();
        for (const auto& g : r.groups) {
            j.begin_object();
            j.field("key", g.key);
            j.field("successful", g.successful);
            j.field("failed", g.failed);
            if (g.successful)
                j.field("failure_rate", failure_rate(*g.successful, g.failed));
            // policy-type shows the uncounted view too: its failures are not a share of the totals.
            if (*r.request.group != trend_group::policy_type)
                j.field("share_of_failed", r.failed > 0 ? static_cast<double>(g.failed) / static_cast<double>(r.failed) : 0.0);
            j.field("first_seen", g.first_seen).field("last_seen", g.last_seen);
            j.end_object();
        }
        j.end_array();
    }
    j.end_object();
    return j.take() + "\n";
}

} // namespace stswatch::analysis
