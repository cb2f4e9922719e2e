// The intake's figures in GET /metrics (docs/metrics.md): what became of each report, by
// transport, and how long its answer took. Shared by the HTTPS receiver and the mail intake.
#pragma once

#include "store/report_store.hpp"

#include <chrono>
#include <string_view>

namespace stswatch {

// docs/metrics.md: stswatch_reports_received_total{transport,outcome} and
// stswatch_ingest_duration_seconds{transport}, for every transport of the intake.
// outcome is one of the bounded set there (stored, duplicate, spooled, rejected, too-large,
// refused-domain, refused-dkim, unsupported-type, rate-limited, timeout, aborted, unavailable, error).
void count_received(transport via, std::string_view outcome, double n = 1);
void observe_ingest(transport via, std::chrono::steady_clock::time_point began);
// The outcome of an answer to POST of a report, by its HTTP status (docs/contracts.md).
std::string_view outcome_of_status(int status);

} // namespace stswatch
