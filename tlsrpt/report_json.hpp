// Canonical JSON for reports (docs/contracts.md, "stswatch parse output"): RFC 8460 §4.4 names and
// shape; date-times in UTC with Z; policy-string, mx-host and failure-details always arrays;
// absent optional fields left out; counts as integers; keys in RFC order.
#pragma once

#include "tlsrpt/report.hpp"
#include "tlsrpt/report_parser.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

std::string to_canonical_json(const tls_report& report);

// {"source":…,"report":…,"warnings":[…],"metadata":{…}} on one line, no newline.
std::string parse_output_line(std::string_view source, const tls_report& report,
                              const std::vector<std::string>& warnings,
                              const report_metadata& metadata);

// Appends s as a JSON string literal (quotes, escapes, UTF-8 passed through; invalid
// UTF-8 bytes become U+FFFD so that the output is always valid JSON).
void append_json_string(std::string& out, std::string_view s);


} // namespace stswatch
