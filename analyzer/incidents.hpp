// Incidents as stored (docs/analysis.md "Incidents"): a refresh runs the detection over a
// domain's recent days and reconciles what it finds with the stored incidents, so that an
// incident keeps its id as later reports extend, shorten or end it; and the refresher of
// `stswatch serve`, which takes the domains that reports have queued.
#pragma once

#include "analyzer/detect.hpp"
#include "common/worker.hpp"
#include "store/analysis_rows.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace stswatch {
class analysis_store;
}

namespace stswatch::analysis {

// Days a refresh evaluates at least, before the day the queue names: so that an incident
// that began earlier is found whole again.
constexpr int refresh_overlap_days = 14;

struct refresh_result {
    std::size_t opened = 0, updated = 0, ended = 0, retracted = 0, unchanged = 0;
    std::vector<incident_row> incidents;    // as stored after the refresh (retracted ones left out)
};

// Pure: which stored incidents the detected ones are (same dimension and key, overlapping
// days, or the stored one still open), and what to write. Detected ones without a match are
// new (id 0). Stored ones (not retracted) whose days lie in the evaluated range and that no
// detected one matches are retracted.
struct reconciliation {
    std::vector<incident_row> save;         // new (id 0) and changed rows
    std::vector<long long> retract;
    std::size_t unchanged = 0;
};
reconciliation reconcile(const std::string& domain, const std::vector<detected_incident>& detected,
                         const std::vector<incident_row>& stored, utc_date evaluate_from);

incident_row to_row(const std::string& domain, const detected_incident& d);

// Detects the domain's incidents from since on (less refresh_overlap_days) up to today and
// saves them.
refresh_result refresh_incidents(analysis_store& store, const std::string& domain, utc_date since, utc_date today,
                                 const detect_params& params = {});

struct refresher_options {
    std::string db_url;
    std::chrono::milliseconds poll{std::chrono::seconds(30)};   // how often the queue is read
    std::size_t batch = 100;                                    // domains per claim
};

// Refreshes the queued domains (sql/0004 analysis_queue) in a thread of its own, and at
// start every known domain once. A database away is logged and retried at the next poll.
class incident_refresher {
public:
    explicit incident_refresher(refresher_options options);
    ~incident_refresher();                  // stops
    void start();
    void stop();
    void poke();                            // read the queue now
    std::size_t refreshed() const;          // domains refreshed so far

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The incident's JSON (without causes): the keys of docs/analysis.md.
std::string incident_json(const incident_row& row);

} // namespace stswatch::analysis
