// Findings of the checks: a stable kebab-case code, a severity, the subject it is about
// (the domain, an MX host, a record name), a message saying what is wrong and how to fix it,
// and the RFC section. The catalogue below is the single list of codes; docs/findings.md
// documents it (a unit test keeps the two equal).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

enum class severity { error, warning, info };
const char* to_string(severity s);   // "error", "warning", "info"

struct finding {
    std::string code;       // "mx-not-covered"
    severity level = severity::error;
    std::string subject;    // "example.com", "mx2.example.com", "_mta-sts.example.com"
    std::string message;    // what is wrong and how to fix it, one or two sentences
    std::string rfc;        // "RFC 8461 §4.1"
};

struct finding_kind {
    const char* code;
    severity level;
    const char* rfc;        // "RFC 8461 §3.1"
    const char* meaning;    // one line: what the finding means
    const char* fix;        // one line: how to fix it
};

// Every code, in catalogue order.
const std::vector<finding_kind>& finding_catalogue();
// The kind of a code; nullptr when the code is not in the catalogue.
const finding_kind* find_finding_kind(std::string_view code);

// A finding of a catalogued code, its severity and RFC section taken from the catalogue.
// message is the specific text ("mx3.example.net is not matched by any mx: pattern of the
// policy (mx: mail.example.net, *.backup.example.net); add it to the policy and change the
// id in _mta-sts.example.net"). Throws std::logic_error for a code not in the catalogue.
finding make_finding(std::string_view code, std::string subject, std::string message);

// True when any finding has error severity.
bool has_errors(const std::vector<finding>& findings);

// Untrusted text (a record, a policy line, a URI) for a message: in double quotes, bytes
// outside printable ASCII as \xNN, a '"' or '\\' escaped, cut after max_chars with "...".
std::string quote_untrusted(std::string_view text, std::size_t max_chars = 80);

} // namespace stswatch
