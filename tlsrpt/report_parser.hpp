// RFC 8460 §4.4 report JSON parser, tolerant of what real senders send (docs/senders.md).
//
// Pure: no I/O. The three outcomes are: not a TLS report at all (non-JSON, draft-era
// schema, not an object), a TLS report that is malformed (a required field missing, a
// negative count, a bad date-time), and a report, possibly with warnings.
#pragma once

#include "tlsrpt/report.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

// What came from outside the JSON: file name, email headers. Keys are lower-case:
// "file-name", "tls-report-domain", "tls-report-submitter", "subject-report-id", "from",
// "message-id", "attachment-file-name". The parser adds "filled" notes here.
struct report_metadata {
    std::map<std::string, std::string> fields;
    std::vector<std::string> filled;   // e.g. "policies[0].policy.policy-domain from tls-report-domain"
};

class report_error : public std::runtime_error {
public:
    // field: JSON path of the offending value ("policies[1].summary.total-failure-session-count"),
    // or "" for the document as a whole. what(): "<field>: <reason>" or the reason alone.
    report_error(std::string field, std::string reason);
    const std::string& field() const noexcept { return field_; }
    const std::string& reason() const noexcept { return reason_; }
private:
    std::string field_;
    std::string reason_;
};

struct parse_limits {
    unsigned max_depth = 32;          // JSON nesting
    std::size_t max_policies = 10000;
    std::size_t max_failure_details = 100000;   // per policy
};

struct parsed_report {
    tls_report report;
    std::vector<std::string> warnings;   // accepted but inconsistent, each naming the field
};

// Throws report_error. metadata may be updated with "filled" notes.
parsed_report parse_report(std::string_view json, report_metadata& metadata,
                           const parse_limits& limits = {});

// Whether collector.accept_domains (normalised names; empty: any) lets a policy of this
// domain in. unknown_policy_domain always passes: the report was sent to this receiver for
// a domain it could not name, and refusing it would lose its sessions.
bool policy_domain_accepted(const std::vector<std::string>& accept_domains, std::string_view policy_domain);

} // namespace stswatch
