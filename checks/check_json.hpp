// The JSON codec of a check result; reached through checks/checker.hpp.
#pragma once

#include <string>

namespace Poco::JSON { class Object; }

namespace stswatch {

struct check_result;

// The JSON of docs/contracts.md / the check contract (docs/check.md):
// {"domain","checked_at","findings":[{"code","severity","subject","message","rfc"}],
//  "sts":{"record","id","policy_text","policy":{"version","mode","max_age","mx"},"candidate",
//         "fetch":{"url","address","status","http_status","content_type","location","error",
//                  "certificate"}},
//  "tlsrpt":{"record","rua"},
//  "mx":[{"host","preference","addresses","covered_by","from_reports","starttls","tls_version",
//         "probe":{"status","address","error","banner","starttls_offered","timed_out"},
//         "certificate":{"subject_names","issuer","subject","not_before","not_after",
//                        "days_to_expiry","trusted","name_matches","expired","sha256",
//                        "verify_error"},
//         "other_probes":[{"status","address","error","banner","starttls_offered","timed_out","tls_version",
//                          "certificate"}]}]}
// Absent values are null ("starttls" is null when the MX was not probed, else whether a TLS
// session followed STARTTLS). Peer text is valid UTF-8 without NUL (run_check makes it so).
Poco::JSON::Object to_json(const check_result& r);
std::string to_json_text(const check_result& r);   // compact, one line
// Reads to_json_text back (for snapshots); throws std::runtime_error on malformed input.
check_result check_result_from_json(const std::string& text);

} // namespace stswatch
