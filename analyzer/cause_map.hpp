// The one table between result types (RFC 8460 §4.3, the IANA registry), check findings
// (docs/findings.md) and change kinds (store/monitor_rows.hpp change_event): which findings
// and changes can cause failures of each result type. docs/analysis.md "Causes" prints it.
#pragma once

#include <string_view>
#include <vector>

namespace stswatch::analysis {

struct cause_mapping {
    std::string_view result_type;
    std::vector<std::string_view> findings;   // finding codes that cause it
    std::vector<std::string_view> changes;    // change kinds that can start it
    std::string_view why;                     // one sentence for the evidence
};

const std::vector<cause_mapping>& cause_map();

// The mapping of one result type, or nullptr when the table has none.
const cause_mapping* mapping_for(std::string_view result_type);

} // namespace stswatch::analysis
