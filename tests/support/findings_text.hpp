// Findings in a test's failure output, and the check that one is there for its reason.
#pragma once

#include "mtasts/findings.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace stswatch::test {

// "findings:" then one "code: message" line each, for INFO().
inline std::string describe(const std::vector<finding>& findings)
{
    std::string out = "findings:";
    for (const auto& f : findings)
        out += "\n  " + f.code + ": " + f.message;
    return out;
}

// True when a finding of code says reason somewhere in its message.
inline bool has_finding(const std::vector<finding>& findings, const std::string& code, const std::string& reason)
{
    return std::any_of(findings.begin(), findings.end(), [&](const finding& f) {
        return f.code == code && f.message.find(reason) != std::string::npos;
    });
}

} // namespace stswatch::test
