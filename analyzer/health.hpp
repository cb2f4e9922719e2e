// `stswatch domains`: one line per known domain (monitored, or seen in reports): the failure
// rate of the last 7 days against its baseline, open incidents, error findings of the last
// check, the last report received.
#pragma once

#include "store/analysis_rows.hpp"

#include <string>
#include <vector>

namespace stswatch {
class analysis_store;
}

namespace stswatch::analysis {

constexpr int health_recent_days = 7;
constexpr int health_baseline_days = 28;   // before the recent days

struct domain_health {
    domain_health_row row;
    double recent_rate = 0, baseline_rate = 0;   // the baseline Jeffreys-smoothed (docs/analysis.md)
    std::string state;                           // ok, failing, incident, no-reports, check-errors
};

std::vector<domain_health> domains_health(analysis_store& store, utc_date today);

std::string domains_json(const std::vector<domain_health>& rows, utc_date today);

} // namespace stswatch::analysis
