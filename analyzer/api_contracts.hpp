// JSON contracts shared by the CLI and the API (docs/analysis.md, docs/api.md), where the
// analyzer's modules do not already write them whole.
#pragma once

#include "store/analysis_rows.hpp"

#include <string>
#include <vector>

namespace stswatch::analysis {

// `stswatch incidents --json`: {"domain":…,"incidents":[incident_json…]} with a trailing
// newline.
std::string incidents_list_json(const std::string& domain, const std::vector<incident_row>& rows);

} // namespace stswatch::analysis
