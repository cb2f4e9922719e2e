// MTA-STS policy files (RFC 8461 §3.2) for evaluate_policy, and MX patterns for the §4.1
// matching rules: good policies with what they parse to, bad ones with the finding they
// must give. The policy tables seed fuzz_sts_policy (tests/fuzz/seeds_sts_policy.cpp).
#pragma once

#include "mtasts/sts_policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace stswatch::test {

struct sts_policy_good {
    std::string text;
    sts_mode mode;
    std::uint64_t max_age;
    std::vector<std::string> mx;
    std::vector<std::string> codes = {};   // the findings expected, all of them (never errors)
};

struct sts_policy_bad {
    std::string text;
    std::string code;          // a finding with this code is expected
    std::string reason;        // a part of that finding's message
    bool usable = false;       // whether the policy is still usable despite the finding
};

inline std::vector<sts_policy_good> sts_policy_good_cases()
{
    return {
        // RFC 8461 §3.2's example
        {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
         sts_mode::enforce, 604800, {"mail.example.com", "*.example.net", "backupmx.example.com"}},
        {"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n",
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800",   // no final line break
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"version:STSv1\nmode:\tenforce\nmx:   mail.example.com\nmax_age:604800\n",   // ":" *WSP
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"version: STSv1  \nmode: enforce\t\nmx: mail.example.com \r\nmax_age: 604800 \n",   // trailing WSP
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"max_age: 604800\nmx: Mail.Example.COM\nmode: enforce\nversion: STSv1\n",   // any order, mx lower-cased
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n",
         sts_mode::testing, 86400, {"mail.example.com"}, {"sts-mode-testing"}},
        {"version: STSv1\nmode: none\nmax_age: 86400\n", sts_mode::none, 86400, {}, {"sts-mode-none"}},
        // RFC 8461 §8.3: withdrawing, with a short max_age: no max_age warning then.
        {"version: STSv1\nmode: none\nmax_age: 0\n", sts_mode::none, 0, {}, {"sts-mode-none"}},
        {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 3600\n",
         sts_mode::enforce, 3600, {"mail.example.com"}, {"sts-max-age-short"}},
        {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 31557600\n",
         sts_mode::enforce, 31557600, {"mail.example.com"}},
        {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 0000604800\n",   // 10 digits
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"version: STSv1\nmode: enforce\nfoo: bar baz\nx-comment: UTF-8 \xc3\xa9t\xc3\xa9\nmx: mail.example.com\nmax_age: 604800\n",
         sts_mode::enforce, 604800, {"mail.example.com"}},   // unknown keys are ignored
        {"\nversion: STSv1\n\nmode: enforce\n\n\nmx: mail.example.com\nmax_age: 604800\n\n",   // blank lines
         sts_mode::enforce, 604800, {"mail.example.com"}},
        {"version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 604800\n", sts_mode::enforce, 604800, {"*.com"}},
    };
}

inline std::vector<sts_policy_bad> sts_policy_bad_cases()
{
    const std::string ok_mx = "mx: mail.example.com\n";
    return {
        {"", "sts-policy-version", "there is no \"version: STSv1\" line"},
        {"", "sts-policy-mode", "there is no mode line"},
        {"", "sts-policy-max-age", "there is no max_age line"},
        {"mode: enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-version", "there is no \"version: STSv1\" line"},
        {"version: STSv2\nmode: enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-version", "the version \"STSv2\" is unknown"},
        {"version: stsv1\nmode: enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-version", "case-sensitive"},
        {"version: STSv1\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "there is no mode line"},
        {"version: STSv1\nmode: enforced\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "is not enforce, testing or none"},
        {"version: STSv1\nmode: Enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "wrong case"},
        {"version: STSv1\nmode:\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "the mode \"\""},
        {"version: STSv1\nMode: enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "keys are exact and lower-case"},
        {"version: STSv1\nmode: enforce\n" + ok_mx, "sts-policy-max-age", "there is no max_age line"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max-age: 604800\n", "sts-policy-max-age", "write \"max_age:\""},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: -1\n", "sts-policy-max-age", "is not 1 to 10 digits"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: +86400\n", "sts-policy-max-age", "is not 1 to 10 digits"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: 1w\n", "sts-policy-max-age", "is not 1 to 10 digits"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: 86 400\n", "sts-policy-max-age", "is not 1 to 10 digits"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: 00000604800\n", "sts-policy-max-age", "is not 1 to 10 digits"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: 31557601\n", "sts-policy-max-age", "above the maximum of 31557600"},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: 9999999999\n", "sts-policy-max-age", "above the maximum"},
        {"version: STSv1\nmode: enforce\nmax_age: 604800\n", "sts-policy-mx-missing", "there is no mx line although the mode is enforce"},
        {"version: STSv1\nmode: testing\nmax_age: 604800\n", "sts-policy-mx-missing", "the mode is testing"},
        {"version: STSv1\nmode: enforce\nMX: mail.example.com\nmax_age: 604800\n", "sts-policy-mx-missing", "keys are exact"},
        {"version: STSv1\nmode: enforce\nmx: mail.example.com.\nmax_age: 604800\n", "sts-policy-mx-invalid", "ends with a dot"},
        {"version: STSv1\nmode: enforce\nmx: *\nmax_age: 604800\n", "sts-policy-mx-invalid", "the mx pattern \"*\""},
        {"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 604800\n", "sts-policy-mx-invalid", "the mx pattern \"*.\""},
        {"version: STSv1\nmode: enforce\nmx: a.*.example.com\nmax_age: 604800\n", "sts-policy-mx-invalid", "is not a host name"},
        {"version: STSv1\nmode: enforce\nmx:\nmax_age: 604800\n", "sts-policy-mx-invalid", "is empty"},
        {"version: STSv1\nmode: enforce\nmx: mail.example.com, mx2.example.com\nmax_age: 604800\n", "sts-policy-mx-invalid",
         "holds several values"},
        // One bad mx beside a good one: reported, and the good one still applies.
        {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: mail_2.example.com\nmax_age: 604800\n",
         "sts-policy-mx-invalid", "line 4 (\"mx: mail_2.example.com\")", true},
        {"<html><body>Not Found</body></html>\n", "sts-policy-syntax", "the body is not an MTA-STS policy"},
        {"version: STSv1\nmode: enforce\nhello\n" + ok_mx + "max_age: 604800\n", "sts-policy-syntax",
         "line 3 (\"hello\") is not \"key: value\"", true},
        {"version: STSv1\n mode: enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-syntax", "the key \" mode\" is not valid"},
        {"version: STSv1\nmode : enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-syntax", "the key \"mode \" is not valid"},
        {"version: STSv1\nmode : enforce\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "there is no mode line"},
        // RFC 8461 §3.2: the first occurrence counts.
        {"version: STSv1\nmode: enforce\nmode: testing\n" + ok_mx + "max_age: 604800\n", "sts-policy-syntax",
         "repeats \"mode\" of line 2", true},
        {"version: STSv1\nmode: enforce\n" + ok_mx + "max_age: 604800\nfoo: a\x01" "b\n", "sts-policy-syntax",
         "the value of \"foo\" is empty or has control characters", true},
        // A lone CR does not end a line (sts-policy-term = LF / CRLF).
        {"version: STSv1\rmode: enforce\rmx: mail.example.com\rmax_age: 604800\r", "sts-policy-version",
         "the version \"STSv1\\x0dmode: enforce"},
        {"version: STSv1\nmode: enforce\r\r\n" + ok_mx + "max_age: 604800\n", "sts-policy-mode", "\"enforce\\x0d\""},
    };
}

struct mx_match_case {
    std::string pattern, host;
    bool matches;
};

inline std::vector<mx_match_case> mx_match_cases()
{
    return {
        {"mail.example.com", "mail.example.com", true},
        {"mail.example.com", "MAIL.Example.COM", true},       // case-insensitive
        {"MAIL.example.com", "mail.example.com", true},
        {"mail.example.com", "mail.example.com.", true},      // an MX target's trailing dot
        {"*.example.com", "mx1.example.com", true},           // one label
        {"*.example.com", "MX1.EXAMPLE.COM.", true},
        {"*.example.com", "example.com", false},              // the parent
        {"*.example.com", "a.b.example.com", false},          // two labels
        {"*.example.com", "mx1.example.net", false},
        {"*.example.com", "xexample.com", false},
        {"*.example.com", ".example.com", false},             // an empty label
        {"mail.example.com", "mx.mail.example.com", false},   // no implicit wildcard
        {"mail.example.com", "example.com", false},
        {"*", "mail.example.com", false},                     // invalid patterns match nothing
        {"a.*.example.com", "a.b.example.com", false},
        {"*.com", "example.com", true},                       // valid syntax, however broad
        {"", "", false},
        {"*.example.com", "", false},
    };
}

struct mx_pattern_case {
    std::string pattern;
    bool valid;
};

inline std::vector<mx_pattern_case> mx_pattern_cases()
{
    return {
        {"mail.example.com", true},
        {"*.example.com", true},
        {"*.com", true},
        {"localhost", true},
        {"xn--bcher-kva.example", true},
        {"Mail.Example.COM", true},
        {"192.0.2.1", true},          // numeric labels are LDH too
        {"*", false},
        {"*.", false},
        {"a.*.b", false},
        {"*.*.example.com", false},
        {"**.example.com", false},
        {"*example.com", false},
        {"mail.example.com.", false},
        {"", false},
        {"mail_1.example.com", false},
        {"-a.example.com", false},
        {"mail..example.com", false},
        {"mail.example.com ", false},
    };
}

} // namespace stswatch::test
