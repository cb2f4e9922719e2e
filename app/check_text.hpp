// The human-readable report of `stswatch check`.
#pragma once

#include <string>

namespace stswatch {

struct check_result;

// Findings grouped by severity and subject, then the records, policy and MX table; ANSI
// colour when colour is true.
std::string to_text(const check_result& r, bool colour);

} // namespace stswatch
