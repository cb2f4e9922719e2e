// The MTA-STS policy file (RFC 8461 §3.2) and MX host matching (§4.1).
//
// "Usable" means what a sender following RFC 8461 would apply: version STSv1, a valid mode,
// a valid max_age and, unless the mode is none, at least one valid mx pattern. Problems a
// lenient sender would look past (a malformed extra line, a key given twice, one bad mx
// line beside good ones) are still reported as errors, because senders differ on them,
// but they do not make the policy unusable.
#include "mtasts/sts_policy.hpp"

#include "common/text.hpp"

#include "common/domain.hpp"

#include <array>

namespace stswatch {
namespace {

constexpr std::uint64_t max_age_limit = 31557600;   // RFC 8461 §3.2: about one year
constexpr std::uint64_t max_age_short = 86400;      // one day; §3.2 expects weeks or more
constexpr std::size_t max_line_findings = 20;       // per code, then one summary

using text::iequals;
using text::is_ext_name;
using text::is_wsp;
using text::lower;
using text::lowered;

// sts-policy-ext-value: visible characters (UTF-8 allowed) and inner spaces; no CTLs.
bool is_ext_value(std::string_view value)
{
    if (value.empty())
        return false;
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || c == '\t')
            return false;
    }
    return true;
}

struct policy_line {
    std::size_t number = 0;     // 1-based
    std::string_view key, value, text;
};

// A key that a policy author probably meant as one of the four ("Mode", "max-age").
bool resembles(std::string_view key, std::string_view known)
{
    if (key.size() != known.size())
        return false;
    for (std::size_t i = 0; i < key.size(); ++i) {
        const char a = lower(key[i]) == '-' ? '_' : lower(key[i]);
        if (a != known[i])
            return false;
    }
    return true;
}

std::string line_ref(const policy_line& l)
{
    return "line " + std::to_string(l.number) + " (" + quote_untrusted(l.text) + ")";
}

} // namespace

const char* to_string(sts_mode m)
{
    switch (m) {
    case sts_mode::enforce: return "enforce";
    case sts_mode::testing: return "testing";
    case sts_mode::none: return "none";
    }
    return "none";
}

policy_evaluation evaluate_policy(std::string_view domain, std::string_view text)
{
    policy_evaluation out;
    const std::string subject = "mta-sts." + normalize_domain(domain);
    std::array<std::size_t, 2> reported{};   // syntax, mx-invalid findings so far
    std::array<std::size_t, 2> suppressed{};
    auto add = [&](const char* code, const std::string& message) {
        out.findings.push_back(make_finding(code, subject, "policy of " + subject + ": " + message));
    };
    // Per-line findings are bounded: a 64 KiB file of junk gives a readable report.
    auto add_per_line = [&](std::size_t kind, const char* code, const std::string& message) {
        if (reported[kind] == max_line_findings) {
            ++suppressed[kind];
            return;
        }
        ++reported[kind];
        add(code, message);
    };

    std::optional<policy_line> version, mode, max_age;
    std::vector<policy_line> mx_lines, lookalikes;
    std::size_t number = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        // RFC 8461 §3.2: sts-policy-term = LF / CRLF.
        const std::size_t lf = rest.find('\n');
        std::string_view line = rest.substr(0, lf);
        rest = lf == std::string_view::npos ? std::string_view{} : rest.substr(lf + 1);
        ++number;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        // The ABNF allows *WSP after each field.
        while (!line.empty() && is_wsp(line.back()))
            line.remove_suffix(1);
        // Blank lines are outside the ABNF, but every sender skips them and they are common
        // at the end of hand-written files: not worth a finding.
        if (line.empty())
            continue;
        policy_line l{number, {}, {}, line};
        // sts-policy-field-delim = ":" *WSP
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            add_per_line(0, "sts-policy-syntax", line_ref(l) + " is not \"key: value\"; fix or remove it");
            continue;
        }
        l.key = line.substr(0, colon);
        l.value = line.substr(colon + 1);
        while (!l.value.empty() && is_wsp(l.value.front()))
            l.value.remove_prefix(1);
        if (!is_ext_name(l.key)) {
            add_per_line(0, "sts-policy-syntax", line_ref(l) + ": the key " + quote_untrusted(l.key) +
                " is not valid; a key is letters, digits, \"_\", \"-\", \".\" at the start of the line, "
                "directly followed by \":\"");
            continue;
        }
        if (l.key == "version" || l.key == "mode" || l.key == "max_age") {
            auto& slot = l.key == "version" ? version : l.key == "mode" ? mode : max_age;
            if (slot) {
                // RFC 8461 §3.2: for keys other than "mx", only the first occurrence counts.
                // postfix-mta-sts-resolver takes the last one, so the two can disagree.
                add_per_line(0, "sts-policy-syntax", line_ref(l) + " repeats " + quote_untrusted(l.key) +
                    " of line " + std::to_string(slot->number) + "; senders use the first or the last, so keep one");
                continue;
            }
            slot = l;
        } else if (l.key == "mx") {
            mx_lines.push_back(l);
        } else {
            // RFC 8461 §3.2: unknown keys are ignored, but must still be key: value.
            if (resembles(l.key, "version") || resembles(l.key, "mode") || resembles(l.key, "max_age") ||
                resembles(l.key, "mx"))
                lookalikes.push_back(l);
            if (!is_ext_value(l.value))
                add_per_line(0, "sts-policy-syntax", line_ref(l) + ": the value of " + quote_untrusted(l.key) +
                    " is empty or has control characters; fix or remove the line");
        }
    }

    const bool looks_like_policy = version || mode || max_age || !mx_lines.empty();
    if (!looks_like_policy && !text.empty()) {
        // An HTML error page or another file served with 200: one clear finding beats one
        // per line.
        out.findings.clear();
        reported = {};
        suppressed = {};
        std::string_view start = text.substr(0, 60);
        add("sts-policy-syntax", "the body is not an MTA-STS policy: it has no version, mode, max_age or mx line "
            "(it begins " + quote_untrusted(start) + "); serve the policy file at "
            "https://" + subject + "/.well-known/mta-sts.txt");
    }
    auto hint_for = [&](std::string_view key) {
        for (const auto& l : lookalikes) {
            if (resembles(l.key, key))
                return " (" + line_ref(l) + " has the key " + quote_untrusted(l.key) + ", but keys are exact and lower-case: write \"" +
                       std::string(key) + ":\")";
        }
        return std::string{};
    };

    bool usable = true;
    // version: RFC 8461 §3.2 sts-policy-version-value = %s"STSv1"
    if (!version) {
        usable = false;
        add("sts-policy-version", "there is no \"version: STSv1\" line" + hint_for("version") +
            ", so senders reject the policy; add \"version: STSv1\" as the first line");
    } else if (version->value != "STSv1") {
        usable = false;
        add("sts-policy-version", line_ref(*version) + ": the version " + quote_untrusted(version->value) +
            (iequals(version->value, "STSv1") ? " is spelled in another case (it is case-sensitive)" : " is unknown") +
            ", so senders reject the policy; write \"version: STSv1\"");
    }

    // mode: RFC 8461 §3.2 sts-policy-mode-value = %s"testing" / %s"enforce" / %s"none"
    std::optional<sts_mode> mode_value;
    if (!mode) {
        usable = false;
        add("sts-policy-mode", "there is no mode line" + hint_for("mode") +
            ", so senders reject the policy; add \"mode: testing\" or \"mode: enforce\"");
    } else if (mode->value == "enforce") {
        mode_value = sts_mode::enforce;
    } else if (mode->value == "testing") {
        mode_value = sts_mode::testing;
    } else if (mode->value == "none") {
        mode_value = sts_mode::none;
    } else {
        usable = false;
        const bool case_only = iequals(mode->value, "enforce") || iequals(mode->value, "testing") || iequals(mode->value, "none");
        add("sts-policy-mode", line_ref(*mode) + ": the mode " + quote_untrusted(mode->value) +
            (case_only ? " is in the wrong case (modes are case-sensitive)" : " is not enforce, testing or none") +
            ", so senders reject the policy; write \"mode: enforce\", \"mode: testing\" or \"mode: none\"");
    }

    // max_age: RFC 8461 §3.2 sts-policy-max-age-value = 1*10(DIGIT), at most 31557600.
    std::optional<std::uint64_t> max_age_value;
    if (!max_age) {
        usable = false;
        add("sts-policy-max-age", "there is no max_age line" + hint_for("max_age") +
            ", so senders reject the policy; add e.g. \"max_age: 604800\" (one week)");
    } else {
        const std::string_view v = max_age->value;
        bool digits = !v.empty() && v.size() <= 10;
        std::uint64_t seconds = 0;
        for (const char c : v) {
            if (c < '0' || c > '9') {
                digits = false;
                break;
            }
            seconds = seconds * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (!digits) {
            usable = false;
            add("sts-policy-max-age", line_ref(*max_age) + ": the max_age " + quote_untrusted(v) +
                " is not 1 to 10 digits (seconds, no sign or unit), so senders reject the policy; "
                "write e.g. \"max_age: 604800\"");
        } else if (seconds > max_age_limit) {
            usable = false;
            add("sts-policy-max-age", line_ref(*max_age) + ": the max_age " + std::to_string(seconds) +
                " is above the maximum of 31557600 seconds, so senders reject the policy; use at most 31557600");
        } else {
            max_age_value = seconds;
        }
    }

    // mx: RFC 8461 §3.2 sts-policy-mx-value = ["*."] Domain; once per allowed MX.
    sts_policy policy;
    for (const auto& l : mx_lines) {
        if (is_valid_mx_pattern(l.value)) {
            policy.mx.push_back(lowered(l.value));
            continue;
        }
        std::string why = " is not a host name or \"*.\" followed by a host name";
        if (l.value.empty())
            why = " is empty";
        else if (l.value.back() == '.' && is_valid_mx_pattern(l.value.substr(0, l.value.size() - 1)))
            why = " ends with a dot, which patterns do not have";
        else if (l.value.find(' ') != std::string_view::npos || l.value.find(',') != std::string_view::npos)
            why = " holds several values; give each MX its own mx line";
        add_per_line(1, "sts-policy-mx-invalid", line_ref(l) + ": the mx pattern " + quote_untrusted(l.value) + why +
            "; write e.g. \"mx: mail." + normalize_domain(domain) + "\" or \"mx: *." + normalize_domain(domain) + "\"");
    }
    if (mode_value && *mode_value != sts_mode::none && policy.mx.empty()) {
        usable = false;
        if (mx_lines.empty())
            add("sts-policy-mx-missing", "there is no mx line" + hint_for("mx") + " although the mode is " +
                std::string(to_string(*mode_value)) + ", so senders reject the policy; add one \"mx: <host>\" line per MX host");
        // Otherwise every mx line was reported invalid above: the policy has no pattern.
    }

    if (suppressed[0] > 0)
        add("sts-policy-syntax", std::to_string(suppressed[0]) + " more malformed lines are not listed");
    if (suppressed[1] > 0)
        add("sts-policy-mx-invalid", std::to_string(suppressed[1]) + " more invalid mx lines are not listed");

    // Advice on a policy that is otherwise fine.
    if (mode_value == sts_mode::testing)
        add("sts-mode-testing", "the mode is testing: senders report TLS failures but still deliver without "
            "protection; once reports show no failures, set \"mode: enforce\" and change the id in _mta-sts." +
            normalize_domain(domain));
    if (mode_value == sts_mode::none)
        add("sts-mode-none", "the mode is none: senders apply no policy (the way to withdraw MTA-STS); set "
            "\"mode: testing\" or \"mode: enforce\" if that is not intended");
    // Withdrawing with mode none and a short max_age is what RFC 8461 §8.3 recommends.
    if (max_age_value && *max_age_value < max_age_short && mode_value != sts_mode::none)
        add("sts-max-age-short", "max_age is " + std::to_string(*max_age_value) +
            " seconds, under one day: senders refetch often, and an attacker blocking the fetch soon "
            "disables the policy; use weeks, e.g. \"max_age: 1209600\"");

    if (usable) {
        policy.mode = *mode_value;
        policy.max_age = *max_age_value;
        out.policy = std::move(policy);
    }
    return out;
}

bool is_valid_mx_pattern(std::string_view pattern)
{
    // RFC 8461 §3.2: sts-policy-mx-value = ["*."] Domain (RFC 5321 Domain: no trailing
    // dot, no wildcard elsewhere).
    if (pattern.substr(0, 2) == "*.")
        pattern.remove_prefix(2);
    return !pattern.empty() && pattern.back() != '.' && is_valid_domain(pattern);
}

bool mx_pattern_matches(std::string_view pattern, std::string_view host)
{
    const std::string p = normalize_domain(pattern), h = normalize_domain(host);
    if (!is_valid_mx_pattern(p) || h.empty())
        return false;
    if (p.substr(0, 2) != "*.")
        return p == h;
    // RFC 8461 §4.1: "*.example.com" matches exactly one extra leftmost label:
    // "mail.example.com" yes, "example.com" no, "a.b.example.com" no.
    const std::string_view suffix = std::string_view(p).substr(1);   // ".example.com"
    if (h.size() <= suffix.size() || h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
    const std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
    return label.find('.') == std::string_view::npos;
}

std::optional<std::string> covering_pattern(const std::vector<std::string>& patterns, std::string_view host)
{
    for (const auto& p : patterns) {
        if (mx_pattern_matches(p, host))
            return p;
    }
    return std::nullopt;
}

} // namespace stswatch
