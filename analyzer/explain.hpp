// `stswatch explain`: the domain's incidents in a range with their ranked causes
// (docs/analysis.md "Causes"). Related incidents (same onset, overlapping MX or result
// types) are grouped under the one most specific to the top cause, which is listed first.
#pragma once

#include "analyzer/correlate.hpp"
#include "store/analysis_rows.hpp"

#include <string>
#include <vector>

namespace stswatch {
class analysis_store;
}

namespace stswatch::analysis {

struct explained_incident {
    incident_row incident;
    std::vector<cause> causes;
    std::vector<incident_row> related;      // grouped under this one
};

struct explain_result {
    std::string domain;
    utc_date since{}, until{};
    std::vector<explained_incident> incidents;
};

// Incidents overlapping [since, until], each with its causes, grouped.
explain_result explain(analysis_store& store, const std::string& domain, utc_date since, utc_date until);

// Pure: groups explained incidents (see above), most specific first.
std::vector<explained_incident> group_related(std::vector<explained_incident> incidents);

std::string explain_json(const explain_result& result);

// One sentence: when, who, where, how much, and the top cause's first evidence.
std::string incident_summary(const incident_row& incident, const std::vector<cause>& causes);

} // namespace stswatch::analysis
