// Incident detection (docs/analysis.md "Incidents"): pure, over one domain's counted daily
// rollups. Finds the days on which a domain's failures depart from the domain's own
// baseline, on each dimension (the domain, each MX, each result type, each sending
// organization), plus result types never seen before and regular reporters gone silent,
// and groups confirmed days into incidents with onset and end.
#pragma once

#include "store/analysis_rows.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stswatch::analysis {

// Every parameter is explained, with its reason, in docs/analysis.md.
struct detect_params {
    int baseline_days = 28;            // the days before a day that form its baseline
    double alpha = 1e-4;               // one-sided binomial p-value under which a day is flagged
    std::int64_t min_failed = 5;       // failed sessions of the key on a flagged day, at least
    double wilson_z = 1.96;            // the Wilson lower bound's z (95 %)
    double min_ratio = 2.0;            // the lower bound must be at least this × the baseline rate
    double min_excess = 0.01;          // and at least this much above it (absolute)
    double clear_alpha = 0.05;         // a day of an open incident stays elevated while p < this
    int clear_days = 2;                // quiet days with reports that end an incident
    std::int64_t min_new_type_failed = 5;   // failed sessions of a never-seen result type
    int regular_min_days = 20;         // a reporter is regular when it reported on this many of the baseline days
    int silent_days = 3;               // consecutive days without its report (others reporting) that make it silent
    std::int64_t silent_min_sessions = 5;   // its median daily sessions, at least
    std::int64_t min_sender_failed = 2;     // failed sessions of the key from a sender that confirms as a second sender
};

// One day of an incident, for the evidence and the days column.
struct day_figure {
    utc_date day{};
    std::int64_t failed = 0, sessions = 0;
    double baseline_rate = 0, p_value = 1;
    bool elevated = false;
};

struct detected_incident {
    std::string dimension;             // domain, mx, result-type, organization, new-result-type, silent-reporter
    std::string key;                   // the MX host, the result type, the organization; "" for the
                                       // domain dimension (the rows name no domain: to_row sets it)
    utc_date onset{}, last_day{};
    std::optional<utc_date> end;       // nullopt while ongoing
    std::int64_t failed_sessions = 0;  // over the elevated days
    std::int64_t sessions = 0;         // the denominator over the same days
    double failure_rate = 0, baseline_rate = 0, p_value = 1;
    std::vector<std::string> mx, result_types, organizations;   // sorted, distinct; of the failures
    std::vector<day_figure> days;      // onset to last_day (or end)
};

// rows: the domain's counted rollup rows from at least evaluate_from - 2 × baseline_days
// to today. Days in [evaluate_from, today] are evaluated (earlier ones only warm up the
// baselines). Incidents are returned oldest onset first; one not yet confirmed (its only
// flagged day is today, one sender) is not returned.
std::vector<detected_incident> detect(const std::vector<rollup_row>& rows, utc_date evaluate_from, utc_date today,
                                      const detect_params& params = {});

} // namespace stswatch::analysis
