// Correlation (docs/analysis.md "Causes"): pure. Ranks the probable causes of one incident
// from the evidence the store holds around it: findings of the checks on the same subject,
// change events shortly before the onset, the policies senders still apply (stale caches),
// the sender's side, or nothing at all, said plainly.
#pragma once

#include "store/analysis_rows.hpp"

#include <optional>
#include <string>
#include <vector>

namespace stswatch::analysis {

struct cause {
    int rank = 0;                      // 1 is the most probable
    std::string kind;                  // finding, change, stale-policy, sender, unexplained
    std::string code;                  // a finding code, a change kind, "stale-policy", "one-sender", "unexplained"
    std::string subject;               // an MX host, the domain, an organization
    std::optional<std::string> first_seen;   // finding, stale-policy: since when it holds (RFC 3339)
    std::optional<std::string> at;           // change: when it was detected (RFC 3339)
    std::vector<std::string> evidence; // sentences, each naming what it rests on
    double score = 0;                  // what the ranking sorted on
};

// What the store holds around an incident (analyzer/explain.cpp loads it).
struct evidence {
    std::vector<finding_row> findings;          // from some days before the onset to the end
    std::vector<snapshot_facts> snapshots;      // the same window, and the last one before it
    std::vector<stored_change> changes;         // from correlate_params::change_window_days before the onset
    std::vector<sender_policy_row> sender_policies;   // the incident's days
    std::vector<rollup_row> rollups;            // counted rows of the incident's days
};

struct correlate_params {
    int change_window_days = 7;        // a change this many days before the onset (or on its day) is a candidate
};

// The causes of incident, ranked (rank 1 first). Never empty: when nothing explains it, one
// cause of kind "unexplained" says what was checked.
std::vector<cause> correlate(const incident_row& incident, const evidence& ev, const correlate_params& params = {});

} // namespace stswatch::analysis
