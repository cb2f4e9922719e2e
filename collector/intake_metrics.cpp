// The intake's figures (collector/intake_metrics.hpp, docs/metrics.md).
#include "collector/intake_metrics.hpp"

#include "common/metrics.hpp"

namespace stswatch {

void count_received(transport via, std::string_view outcome, double n)
{
    static auto& received = metrics::global().counter(
        "stswatch_reports_received_total", "Reports received, by transport and outcome.", {"transport", "outcome"});
    received.with({to_string(via), outcome}).inc(n);
}

void observe_ingest(transport via, std::chrono::steady_clock::time_point began)
{
    static auto& duration = metrics::global().histogram(
        "stswatch_ingest_duration_seconds", "Time from the receipt of a report to the answer, by transport.",
        {"transport"}, metrics::latency_buckets());
    duration.with({to_string(via)}).observe(metrics::seconds_since(began));
}

std::string_view outcome_of_status(int status)
{
    switch (status) {
    case 200: return "duplicate";
    case 201: return "stored";
    case 202: return "spooled";
    case 400: case 411: case 431: return "rejected";
    case 403: return "refused-domain";
    case 408: return "timeout";
    case 413: return "too-large";
    case 415: return "unsupported-type";
    case 429: return "rate-limited";
    case 503: return "unavailable";
    default: return "error";
    }
}

} // namespace stswatch
