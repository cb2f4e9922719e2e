// `stswatch domains` (docs/analysis.md "Domains").
#include "analyzer/health.hpp"

#include "analyzer/json_out.hpp"
#include "analyzer/trends.hpp"
#include "store/analysis_store.hpp"

namespace stswatch::analysis {

namespace {

using std::chrono::days;

double jeffreys(std::int64_t failed, std::int64_t sessions)
{
    return (static_cast<double>(failed) + 0.5) / (static_cast<double>(sessions) + 1.0);
}

} // namespace

std::vector<domain_health> domains_health(analysis_store& store, utc_date today)
{
    const utc_date recent_from = today - days{health_recent_days - 1};
    const utc_date baseline_from = recent_from - days{health_baseline_days};
    std::vector<domain_health> out;
    for (auto& row : store.domain_health(baseline_from, recent_from, today)) {
        domain_health h;
        h.recent_rate = failure_rate(row.recent_successful, row.recent_failed);
        const auto baseline_n = row.baseline_successful + row.baseline_failed;
        h.baseline_rate = baseline_n > 0 ? jeffreys(row.baseline_failed, baseline_n) : 0.0;
        const auto recent_n = row.recent_successful + row.recent_failed;
        if (row.open_incidents > 0)
            h.state = "incident";
        else if (!row.error_findings.empty())
            h.state = "check-errors";
        else if (!row.last_report_day || *row.last_report_day < recent_from)
            h.state = "no-reports";
        else if (recent_n > 0 && row.recent_failed > 0 && h.recent_rate > 2 * h.baseline_rate && h.recent_rate >= 0.01)
            h.state = "failing";   // above its baseline, though no incident (yet)
        else
            h.state = "ok";
        h.row = std::move(row);
        out.push_back(std::move(h));
    }
    return out;
}

std::string domains_json(const std::vector<domain_health>& rows, utc_date today)
{
    const utc_date recent_from = today - days{health_recent_days - 1};
    json_out j;
    j.begin_object();
    j.field("as_of", today);
    j.key("recent").begin_object().field("since", recent_from).field("until", today).end_object();
    j.key("baseline").begin_object()
        .field("since", recent_from - days{health_baseline_days})
        .field("until", recent_from - days{1})
        .end_object();
    j.key("domains").begin_array();
    for (const auto& h : rows) {
        const auto& r = h.row;
        j.begin_object();
        j.field("domain", r.domain).field("monitored", r.monitored).field("state", h.state);
        j.key("recent").begin_object()
            .field("successful", r.recent_successful).field("failed", r.recent_failed)
            .field("failure_rate", h.recent_rate).end_object();
        j.key("baseline").begin_object()
            .field("successful", r.baseline_successful).field("failed", r.baseline_failed);
        j.key("failure_rate");
        if (r.baseline_successful + r.baseline_failed > 0)
            j.value(h.baseline_rate);
        else
            j.null();
        j.end_object();
        j.field("open_incidents", r.open_incidents);
        j.key("error_findings").strings(r.error_findings);
        j.field("last_checked_at", r.last_checked_at);
        j.field("last_report_day", r.last_report_day);
        j.field("last_report_received_at", r.last_report_received_at);
        j.end_object();
    }
    j.end_array();
    j.end_object();
    return j.take() + "\n";
}

} // namespace stswatch::analysis
