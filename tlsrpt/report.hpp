// The SMTP TLS Report (RFC 8460 §4): the model every part of stswatch shares.
//
// Field names follow RFC 8460 §4.4. Optional fields are std::optional: absent and JSON null
// are the same thing (Stalwart sends null for absent). Result types form an IANA registry
// that grows, so they are kept as the string the sender wrote (see result_type_known()).
#pragma once

#include "common/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

// RFC 8460 §4.3 policy types; anything else is rejected by the parser.
enum class policy_type { sts, tlsa, no_policy_found };
const char* to_string(policy_type t);
std::optional<policy_type> policy_type_from_string(std::string_view s);

// RFC 8460 §4.3 result types registered at IANA ("SMTP TLS Failure Types").
bool result_type_known(std::string_view result_type);

struct failure_detail {
    std::string result_type;                          // verbatim, registry may grow
    std::optional<std::string> sending_mta_ip;
    std::optional<std::string> receiving_mx_hostname; // normalised domain
    std::optional<std::string> receiving_mx_helo;
    std::optional<std::string> receiving_ip;
    std::int64_t failed_session_count = 0;
    std::optional<std::string> additional_information; // verbatim (may hold spaces)
    std::optional<std::string> failure_reason_code;     // verbatim free text
    bool operator==(const failure_detail&) const = default;
};

// The policy domain of a policy that names none and whose report gives no sound way to
// tell it (RFC 6761 §6.4: .invalid is never a real domain). Its sessions are kept and
// shown under this name, apart from every real domain.
inline constexpr std::string_view unknown_policy_domain = "unknown.invalid";

struct report_policy {
    policy_type type = policy_type::sts;
    std::vector<std::string> policy_string;   // verbatim lines, sender's order and spaces
    std::string policy_domain;                // normalised domain
    bool policy_domain_filled = false;        // not in the JSON: taken from metadata, the
                                              // report's other policies or its report-id,
                                              // or unknown_policy_domain
    std::vector<std::string> mx_host;         // verbatim patterns (normalised case)
    std::int64_t total_successful_session_count = 0;
    std::int64_t total_failure_session_count = 0;
    std::vector<failure_detail> failure_details;
    bool operator==(const report_policy&) const = default;
};

struct tls_report {
    std::string organization_name;
    utc_time start_datetime;
    utc_time end_datetime;
    std::optional<std::string> contact_info;
    std::string report_id;                    // verbatim (case kept)
    std::vector<report_policy> policies;
    bool operator==(const tls_report&) const = default;
};

} // namespace stswatch
