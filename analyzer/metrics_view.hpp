// GET /metrics: the Prometheus text exposition of common/metrics.hpp's registry, plus the
// gauges read from the database at scrape time (docs/metrics.md).
#pragma once

#include "analyzer/web.hpp"

namespace stswatch::web {

response handle_metrics(const request& r, services& s);

} // namespace stswatch::web
