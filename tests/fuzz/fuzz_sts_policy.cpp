// evaluate_policy on arbitrary policy bodies: it never throws, and a usable policy is one a
// sender can apply: a mode, max_age within RFC 8461 §3.2's limit, at least one mx pattern
// unless the mode is none, and only valid patterns. Every finding is catalogued.
#include "mtasts/sts_policy.hpp"
#include "tests/fuzz/invariant.hpp"
#include "common/domain.hpp"

STSWATCH_FUZZ_TARGET(fuzz_sts_policy, text)
{
    const auto e = evaluate_policy("example.com", text);

    for (const auto& f : e.findings) {
        check(!f.code.empty() && !f.message.empty(), "a finding has a code and a message");
        const auto* kind = find_finding_kind(f.code);
        check(kind != nullptr, "every code is catalogued");
        check(f.level == kind->level, "severity comes from the catalogue");
        check(f.subject == "mta-sts.example.com", "the subject is the policy host");
        for (const char c : f.message)
            check(c >= 0x20 && c < 0x7f, "messages are printable ASCII (untrusted text is escaped)");
    }
    check(e.findings.size() <= 64, "findings are bounded");

    if (e.policy) {
        const auto& p = *e.policy;
        check(p.mode == sts_mode::enforce || p.mode == sts_mode::testing || p.mode == sts_mode::none, "a mode is set");
        check(p.max_age <= 31557600, "max_age within RFC 8461 §3.2's limit");
        if (p.mode != sts_mode::none)
            check(!p.mx.empty(), "mx patterns unless the mode is none");
        for (const auto& pattern : p.mx) {
            check(is_valid_mx_pattern(pattern), "every pattern is valid");
            for (const char c : pattern)
                check(!(c >= 'A' && c <= 'Z'), "patterns are lower-cased");
            // A pattern covers the host it names (or, for a wildcard, one label under it).
            const std::string host = pattern.rfind("*.", 0) == 0 ? "x" + pattern.substr(1) : pattern;
            check(mx_pattern_matches(pattern, host), "a pattern matches what it names");
            check(covering_pattern(p.mx, host).has_value(), "covering_pattern finds it");
        }
    } else {
        check(has_errors(e.findings), "an unusable policy has an error finding");
    }

    // Matching never matches an invalid pattern (past a trailing dot, which matching
    // ignores), whatever the host.
    const std::string_view first_line = text.substr(0, text.find('\n'));
    if (!is_valid_mx_pattern(normalize_domain(first_line)))
        check(!mx_pattern_matches(first_line, "mail.example.com"), "invalid patterns match nothing");
    return 0;
}
