// TXT record sets for the _mta-sts (RFC 8461 §3.1) and _smtp._tls (RFC 8460 §3) record
// evaluators: good sets with what they parse to, bad ones with the finding they must give.
// The same tables seed fuzz_sts_record (tests/fuzz/seeds_sts_record.cpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace stswatch::test {

struct sts_record_good {
    std::vector<std::string> txts;
    std::string id;
    std::vector<std::pair<std::string, std::string>> extensions = {};
};

struct record_bad {
    std::vector<std::string> txts;
    std::string code;          // a finding with this code is expected
    std::string reason;        // a part of that finding's message
    bool usable = false;       // whether the record is still usable despite the finding
};

inline std::vector<sts_record_good> sts_record_good_cases()
{
    return {
        {{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z"},   // RFC 8461 §3.1's example
        {{"v=STSv1;id=abc"}, "abc"},
        {{"v=STSv1; id=abc"}, "abc"},
        {{"v=STSv1 ; id=abc"}, "abc"},                 // sts-sep allows WSP before ";"
        {{"v=STSv1;\tid=abc\t;  "}, "abc"},
        {{"v=STSv1; id=abc "}, "abc"},                 // trailing WSP: tolerated
        {{"v=STSv1; id=12345678901234567890123456789012"}, "12345678901234567890123456789012"},   // 32
        {{"v=STSv1; id=ABCdef123; x.y-z_1=a:b/c"}, "ABCdef123", {{"x.y-z_1", "a:b/c"}}},
        {{"v=STSv1; ext=1; id=late"}, "late", {{"ext", "1"}}},   // the id need not come first
        {{"v=spf1 -all", "v=STSv1; id=1", "google-site-verification=abc"}, "1"},
        {{"v=STSv10; id=x", "v=STSv1; id=y"}, "y"},      // "v=STSv10" is not ours
        {{"v=STSv2; id=x", "v=STSv1; id=y"}, "y"},       // another version beside ours: ignored
    };
}

inline std::vector<record_bad> sts_record_bad_cases()
{
    return {
        {{}, "sts-record-missing", "no TXT record begins with \"v=STSv1\""},
        {{"v=spf1 -all"}, "sts-record-missing", "1 TXT record was found, but it is not an MTA-STS record"},
        {{"v=STSv1; id=1", "v=STSv1; id=2"}, "sts-record-multiple", "2 TXT records begin with"},
        {{"v=STSv2; id=1"}, "sts-record-version", "has the version \"v=STSv2\""},
        {{"v=stsv1; id=1"}, "sts-record-version", "case-sensitive"},
        {{"V=STSv1; id=1"}, "sts-record-version", "case-sensitive"},
        {{" v=STSv1; id=1"}, "sts-record-syntax", "begins with white space"},
        {{"v=STSv1"}, "sts-record-id-missing", "has no id field"},
        {{"v=STSv1;"}, "sts-record-id-missing", "has no id field"},
        {{"v=STSv1; ID=abc"}, "sts-record-id-missing", "field names are case-sensitive"},
        {{"v=STSv1; id="}, "sts-record-id-invalid", "the id \"\" is empty"},
        {{"v=STSv1; id=abc-1"}, "sts-record-id-invalid", "the id \"abc-1\" contains \"-\": an id is 1 to 32 letters and digits"},
        {{"v=STSv1; id=123456789012345678901234567890123"}, "sts-record-id-invalid", "is 33 characters long"},
        {{"v=STSv1; id=abc def"}, "sts-record-id-invalid", "contains \" \""},
        {{"v=STSv1; id=a\x01" "b"}, "sts-record-id-invalid", "contains \"\\x01\""},
        {{"v=STSv1; id=\xc3\xa9t\xc3\xa9"}, "sts-record-id-invalid", "contains \"\\xc3\""},
        {{"v=STSv1 id=abc"}, "sts-record-syntax", "expected \";\" after v=STSv1"},
        {{"v=STSv1;; id=abc"}, "sts-record-syntax", "empty field between two \";\" (remaining \"; id=abc\")"},
        {{"v=STSv1; id=abc; junk"}, "sts-record-syntax", "the field \"junk\" is not key=value"},
        {{"v=STSv1; id=abc; _x=1"}, "sts-record-syntax", "the field name \"_x\""},
        {{"v=STSv1; id=abc; x="}, "sts-record-syntax", "the value of \"x\""},
        {{"v=STSv1; id=abc; x=a=b"}, "sts-record-syntax", "the value of \"x\""},
        {{"v=STSv1; id = abc"}, "sts-record-syntax", "the field name \"id \""},
        {{"v=STSv1; id = abc"}, "sts-record-id-missing", "has no id field"},
        // RFC 8461 §3.2: the first occurrence counts; reported because senders differ.
        {{"v=STSv1; id=abc; id=def"}, "sts-record-syntax", "id appears more than once", true},
        {{"v=STSv1; id=abc; v=STSv1"}, "sts-record-syntax", "the version field appears again", true},
    };
}

struct tlsrpt_record_good {
    std::vector<std::string> txts;
    std::vector<std::string> rua;
    std::vector<std::pair<std::string, std::string>> extensions = {};
};

inline std::vector<tlsrpt_record_good> tlsrpt_record_good_cases()
{
    return {
        {{"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"}, {"mailto:tlsrpt@example.com"}},
        {{"v=TLSRPTv1;rua=https://reports.example.com/v1/tlsrpt"}, {"https://reports.example.com/v1/tlsrpt"}},
        {{"v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/x"},
         {"mailto:a@example.com", "https://r.example.net/x"}},
        {{"v=TLSRPTv1; rua=mailto:a@example.com , mailto:b@example.net;"},   // *WSP "," *WSP
         {"mailto:a@example.com", "mailto:b@example.net"}},
        {{"v=TLSRPTv1; rua=mailto:tls%2Drpt@example.com"}, {"mailto:tls%2Drpt@example.com"}},
        {{"v=TLSRPTv1; rua=MAILTO:a@Example.COM"}, {"MAILTO:a@Example.COM"}},
        {{"v=TLSRPTv1; rua=mailto:a@example.com?subject=tls"}, {"mailto:a@example.com?subject=tls"}},
        {{"v=TLSRPTv1; rua=mailto:first.last+tag@example.com"}, {"mailto:first.last+tag@example.com"}},
        {{"v=TLSRPTv1; rua=https://[2001:db8::1]:8443/r"}, {"https://[2001:db8::1]:8443/r"}},
        {{"v=TLSRPTv1; rua=https://192.0.2.1/r"}, {"https://192.0.2.1/r"}},
        {{"v=TLSRPTv1; rua=https://user@reports.example.com:443"}, {"https://user@reports.example.com:443"}},
        {{"v=TLSRPTv1; rua=mailto:a@example.com; ext=1"}, {"mailto:a@example.com"}, {{"ext", "1"}}},
        {{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"}, {"mailto:a@example.com"}},
    };
}

inline std::vector<record_bad> tlsrpt_record_bad_cases()
{
    return {
        {{}, "tlsrpt-record-missing", "no TXT record begins with \"v=TLSRPTv1\""},
        {{"v=spf1 -all"}, "tlsrpt-record-missing", "senders send no TLS reports"},
        {{"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"},
         "tlsrpt-record-multiple", "2 TXT records begin with"},
        {{"v=TLSRPTv2; rua=mailto:a@example.com"}, "tlsrpt-record-syntax", "has the version \"v=TLSRPTv2\""},
        {{"v=tlsrptv1; rua=mailto:a@example.com"}, "tlsrpt-record-syntax", "case-sensitive"},
        {{"v=TLSRPTv1"}, "tlsrpt-rua-missing", "has no rua field"},
        {{"v=TLSRPTv1; RUA=mailto:a@example.com"}, "tlsrpt-rua-missing", "has no rua field"},
        {{"v=TLSRPTv1; rua=http://example.com/r"}, "tlsrpt-rua-invalid", "uses the scheme \"http\""},
        {{"v=TLSRPTv1; rua=http://example.com/r"}, "tlsrpt-rua-missing", "the only rua destination is not usable"},
        {{"v=TLSRPTv1; rua=mailto:a@example.com,http://x.example/"}, "tlsrpt-rua-invalid",
         "the rua destination \"http://x.example/\"", true},
        {{"v=TLSRPTv1; rua=mailto:a@example.com, "}, "tlsrpt-rua-invalid", "\"\" is empty", true},
        {{"v=TLSRPTv1; rua=mailto:"}, "tlsrpt-rua-invalid", "has no \"@\""},
        {{"v=TLSRPTv1; rua=mailto:@example.com"}, "tlsrpt-rua-invalid", "has an empty local part"},
        {{"v=TLSRPTv1; rua=mailto:a..b@example.com"}, "tlsrpt-rua-invalid", "misplaced \".\""},
        {{"v=TLSRPTv1; rua=mailto:a@exa_mple.com"}, "tlsrpt-rua-invalid", "is not a host name"},
        {{"v=TLSRPTv1; rua=mailto:a%ZZ@example.com"}, "tlsrpt-rua-invalid", "malformed %-escape"},
        {{"v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.com"}, "tlsrpt-rua-invalid", "several addresses"},
        {{"v=TLSRPTv1; rua=mailto:a@example.com!10m"}, "tlsrpt-rua-invalid", "contains \"!\""},
        {{"v=TLSRPTv1; rua=mailto:a b@example.com"}, "tlsrpt-rua-invalid", "contains \" \""},
        {{"v=TLSRPTv1; rua=https:///path"}, "tlsrpt-rua-invalid", "without a host"},
        {{"v=TLSRPTv1; rua=https:example.com"}, "tlsrpt-rua-invalid", "without \"//host\""},
        {{"v=TLSRPTv1; rua=https://example.com:99999999/"}, "tlsrpt-rua-invalid", "malformed port"},
        {{"v=TLSRPTv1; rua=https://[2001:db8::1/r"}, "tlsrpt-rua-invalid", "unclosed \"[\""},
        {{"v=TLSRPTv1; rua=tlsrpt@example.com"}, "tlsrpt-rua-invalid", "has no scheme"},
        {{"v=TLSRPTv1 rua=mailto:a@example.com"}, "tlsrpt-record-syntax", "expected \";\" after v=TLSRPTv1"},
        {{"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com"}, "tlsrpt-record-syntax",
         "rua appears more than once", true},
        {{"v=TLSRPTv1; rua=mailto:a@example.com; x"}, "tlsrpt-record-syntax", "the field \"x\" is not key=value"},
    };
}

} // namespace stswatch::test
