// Fuzz target: the RFC 8460 report parser and the canonical JSON writer.
//
// Any input either is refused with report_error or parses to a report whose canonical JSON
// parses back to the same report, and is a fixed point of the writer. Anything else (a
// crash, another exception, a difference) aborts.
#include "tlsrpt/report_json.hpp"
#include "tlsrpt/report_parser.hpp"
#include "tests/fuzz/invariant.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "fuzz_report_json: %s\n%s\n", what, detail.c_str());
    std::abort();
}

} // namespace

STSWATCH_FUZZ_TARGET(fuzz_report_json, input)
{
    // Half of the inputs come with metadata, so that both filling a missing policy domain
    // and refusing it are reached.
    report_metadata metadata;
    if (size % 2 == 1) {
        metadata.fields["tls-report-domain"] = "example.com";
        metadata.fields["file-name"] = "sender.example!example.org!1700000000!1700086399.json.gz";
        metadata.fields["subject-report-id"] = "<id@sender.example>";
    }

    parsed_report first;
    try {
        first = parse_report(input, metadata);
    } catch (const report_error&) {
        return 0;
    }

    const std::string canonical = to_canonical_json(first.report);
    (void)parse_output_line("fuzz", first.report, first.warnings, metadata);

    report_metadata none;
    parsed_report second;
    try {
        second = parse_report(canonical, none);
    } catch (const report_error& e) {
        fail(e.what(), canonical);
    }
    // Where a policy domain came from is metadata, not report data.
    for (auto& p : first.report.policies)
        p.policy_domain_filled = false;
    if (!(second.report == first.report))
        fail("the canonical JSON parses to a different report", canonical);
    if (to_canonical_json(second.report) != canonical)
        fail("the canonical JSON is not a fixed point", canonical);
    return 0;
}
