// evaluate_sts_records and evaluate_tlsrpt_records on arbitrary TXT record sets: the input
// is split on '\n' into up to 8 TXT records. They never throw, and what they accept holds
// together: a usable _mta-sts record has an id of 1 to 32 letters and digits, a usable
// _smtp._tls record has at least one destination, and every finding is catalogued and says
// something.
#include "mtasts/sts_record.hpp"
#include "tests/fuzz/invariant.hpp"

namespace {

constexpr std::size_t max_records = 8;

using stswatch::fuzz::check;

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

void check_findings(const std::vector<stswatch::finding>& findings, const std::string& name)
{
    for (const auto& f : findings) {
        check(!f.code.empty() && !f.message.empty(), "a finding has a code and a message");
        const auto* kind = stswatch::find_finding_kind(f.code);
        check(kind != nullptr, "every code is catalogued");
        check(f.level == kind->level && f.rfc == kind->rfc, "severity and RFC come from the catalogue");
        check(f.subject == name, "the subject is the record name");
        for (const char c : f.message)
            check(c >= 0x20 && c < 0x7f, "messages are printable ASCII (untrusted text is escaped)");
    }
    check(findings.size() <= 64, "findings are bounded");
}

} // namespace

STSWATCH_FUZZ_TARGET(fuzz_sts_record, input)
{
    std::vector<std::string> txts;
    while (txts.size() + 1 < max_records) {
        const std::size_t lf = input.find('\n');
        if (lf == std::string_view::npos)
            break;
        txts.emplace_back(input.substr(0, lf));
        input.remove_prefix(lf + 1);
    }
    txts.emplace_back(input);

    const auto sts = evaluate_sts_records("example.com", txts);
    check_findings(sts.findings, "_mta-sts.example.com");
    if (sts.record) {
        const auto& id = sts.record->id;
        check(!id.empty() && id.size() <= 32, "a usable record's id has 1 to 32 characters");
        for (const char c : id)
            check(is_alnum(c), "a usable record's id is letters and digits");
        check(sts.text && sts.text->rfind("v=STSv1", 0) == 0, "a usable record begins with v=STSv1");
    }
    if (sts.findings.empty())
        check(sts.record.has_value(), "no finding means a usable record");

    const auto tlsrpt = evaluate_tlsrpt_records("example.com", txts);
    check_findings(tlsrpt.findings, "_smtp._tls.example.com");
    if (tlsrpt.record) {
        check(!tlsrpt.record->rua.empty(), "a usable record has a destination");
        for (const auto& uri : tlsrpt.record->rua) {
            std::string scheme = uri.substr(0, uri.find(':'));
            for (char& c : scheme)
                c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            check(scheme == "mailto" || scheme == "https", "destinations are mailto: or https: URIs");
            check(uri.find_first_of(" \t;,!") == std::string::npos, "destinations hold no separator");
        }
        check(tlsrpt.text && tlsrpt.text->rfind("v=TLSRPTv1", 0) == 0, "a usable record begins with v=TLSRPTv1");
    }
    if (tlsrpt.findings.empty())
        check(tlsrpt.record.has_value(), "no finding means a usable record");

    // Evaluation is a function of the records.
    const auto again = evaluate_sts_records("example.com", txts);
    check(again.findings.size() == sts.findings.size() && again.record.has_value() == sts.record.has_value(), "deterministic");
    return 0;
}
