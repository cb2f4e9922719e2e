// The MTA-STS policy file (RFC 8461 §3.2) and MX pattern matching (§4.1). Pure (fuzzed).
#pragma once

#include "mtasts/findings.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

enum class sts_mode { enforce, testing, none };
const char* to_string(sts_mode m);

struct sts_policy {
    sts_mode mode = sts_mode::none;
    std::uint64_t max_age = 0;          // seconds, 0..31557600
    std::vector<std::string> mx;        // patterns as written, lower-cased
};

struct policy_evaluation {
    std::optional<sts_policy> policy;   // when the policy is usable by a sender (as a
                                        // conforming sender would read it)
    std::vector<finding> findings;      // sts-policy-syntax, sts-policy-version,
                                        // sts-policy-mode, sts-policy-max-age,
                                        // sts-policy-mx-missing, sts-policy-mx-invalid,
                                        // sts-mode-testing, sts-mode-none, sts-max-age-short;
                                        // subject is "mta-sts.<domain>"
};

// Parses the body of https://mta-sts.<domain>/.well-known/mta-sts.txt. Lines end in CRLF
// or LF; keys are case-sensitive per the ABNF; unknown keys are ignored (§3.2). For
// version, mode and max_age the first occurrence counts (a repeat is a sts-policy-syntax
// error); invalid mx lines are reported and left out of policy.mx. Malformed extra lines
// are errors that leave the policy usable (docs/findings.md says why).
policy_evaluation evaluate_policy(std::string_view domain, std::string_view text);

// §3.2 mx pattern syntax: a host name, or "*." followed by a host name.
bool is_valid_mx_pattern(std::string_view pattern);

// §4.1: a pattern matches a host name case-insensitively, ignoring a trailing dot; "*.x.y"
// matches exactly one extra leftmost label: "a.x.y" yes, "x.y" no, "a.b.x.y" no.
bool mx_pattern_matches(std::string_view pattern, std::string_view host);

// The first pattern that matches host, if any.
std::optional<std::string> covering_pattern(const std::vector<std::string>& patterns, std::string_view host);

} // namespace stswatch
