// The _mta-sts (RFC 8461 §3.1) and _smtp._tls (RFC 8460 §3) record evaluators, from the
// tables in sts_record_cases.hpp.
#include "mtasts/sts_record.hpp"
#include "tests/support/findings_text.hpp"
#include "tests/unit/sts_record_cases.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace stswatch;

namespace {

using stswatch::test::describe;
using stswatch::test::has_finding;

std::string describe(const std::vector<std::string>& txts)
{
    std::string out = "TXT records:";
    for (const auto& t : txts)
        out += " [" + t + "]";
    return out;
}

// Every finding is about the record name, says so, and comes from the catalogue.
void check_subjects(const std::vector<finding>& findings, const std::string& name)
{
    for (const auto& f : findings) {
        CHECK(f.subject == name);
        CHECK(f.message.rfind(name + ": ", 0) == 0);
        REQUIRE(find_finding_kind(f.code) != nullptr);
        CHECK(f.rfc == find_finding_kind(f.code)->rfc);
    }
}

// Each bad record gives its finding (and is usable or not as the table says), about `name`.
template <typename Evaluate>
void check_bad_cases(const std::vector<test::record_bad>& cases, Evaluate evaluate, const std::string& name)
{
    for (const auto& b : cases) {
        INFO(describe(b.txts) << "\nexpected " << b.code << ": " << b.reason);
        const auto e = evaluate("example.com", b.txts);
        INFO(describe(e.findings));
        CHECK(has_finding(e.findings, b.code, b.reason));
        CHECK(e.record.has_value() == b.usable);
        check_subjects(e.findings, name);
    }
}

// Each good record parses, with its extensions and no finding; check_record checks the rest.
template <typename Good, typename Evaluate, typename Check>
void check_good_cases(const std::vector<Good>& cases, const std::string& domain, Evaluate evaluate, Check check_record)
{
    for (const auto& g : cases) {
        INFO(describe(g.txts));
        const auto e = evaluate(domain, g.txts);
        INFO(describe(e.findings));
        REQUIRE(e.record);
        CHECK(e.record->extensions == g.extensions);
        CHECK(e.findings.empty());
        check_record(g, e);
    }
}

} // namespace

TEST_CASE("evaluate_sts_records: good records parse to their id and extensions")
{
    const auto cases = test::sts_record_good_cases();
    REQUIRE(cases.size() >= 12);   // the table as it stands: an emptied one must not pass
    check_good_cases(cases, "Example.COM.", evaluate_sts_records, [](const auto& g, const auto& e) {
        CHECK(e.record->id == g.id);
        REQUIRE(e.text);
        CHECK(e.text->rfind("v=STSv1", 0) == 0);
    });
}

TEST_CASE("evaluate_sts_records: bad records give their finding")
{
    REQUIRE(test::sts_record_bad_cases().size() >= 26);   // the table as it stands: an emptied one must not pass
    check_bad_cases(test::sts_record_bad_cases(), evaluate_sts_records, "_mta-sts.example.com");
}

TEST_CASE("evaluate_sts_records: which record is selected")
{
    SECTION("a record that does not parse is still the one shown")
    {
        const auto e = evaluate_sts_records("example.com", {"v=spf1 -all", "v=STSv1; id=a-b"});
        REQUIRE(e.text);
        CHECK(*e.text == "v=STSv1; id=a-b");
        CHECK_FALSE(e.record);
    }
    SECTION("several v=STSv1 records: none is selected")
    {
        const auto e = evaluate_sts_records("example.com", {"v=STSv1; id=1", "v=STSv1; id=2"});
        CHECK_FALSE(e.text);
        CHECK_FALSE(e.record);
        REQUIRE(e.findings.size() == 1);
        CHECK(e.findings[0].level == severity::error);
    }
    SECTION("no record at all is a warning, not an error")
    {
        const auto e = evaluate_sts_records("example.com", {});
        REQUIRE(e.findings.size() == 1);
        CHECK(e.findings[0].code == "sts-record-missing");
        CHECK(e.findings[0].level == severity::warning);
        CHECK_FALSE(e.text);
    }
    SECTION("the first id counts (RFC 8461 §3.2)")
    {
        const auto e = evaluate_sts_records("example.com", {"v=STSv1; id=first; id=second"});
        REQUIRE(e.record);
        CHECK(e.record->id == "first");
    }
    SECTION("a near miss is shown as the record")
    {
        const auto e = evaluate_sts_records("example.com", {"v=STSv2; id=1"});
        REQUIRE(e.text);
        CHECK(*e.text == "v=STSv2; id=1");
        CHECK_FALSE(e.record);
    }
    SECTION("untrusted text in messages is escaped and bounded")
    {
        const std::string long_id(5000, 'x');
        const auto e = evaluate_sts_records("example.com", {"v=STSv1; id=" + long_id + "\x1b[31m"});
        REQUIRE_FALSE(e.findings.empty());
        for (const auto& f : e.findings) {
            CHECK(f.message.size() < 600);
            CHECK(f.message.find('\x1b') == std::string::npos);
        }
    }
}

TEST_CASE("evaluate_tlsrpt_records: good records parse to their destinations")
{
    const auto cases = test::tlsrpt_record_good_cases();
    REQUIRE(cases.size() >= 13);   // the table as it stands: an emptied one must not pass
    check_good_cases(cases, "example.com", evaluate_tlsrpt_records,
                     [](const auto& g, const auto& e) { CHECK(e.record->rua == g.rua); });
}

TEST_CASE("evaluate_tlsrpt_records: bad records give their finding")
{
    REQUIRE(test::tlsrpt_record_bad_cases().size() >= 27);   // the table as it stands: an emptied one must not pass
    check_bad_cases(test::tlsrpt_record_bad_cases(), evaluate_tlsrpt_records, "_smtp._tls.example.com");
}

TEST_CASE("evaluate_tlsrpt_records: an invalid destination beside a valid one")
{
    const auto e = evaluate_tlsrpt_records("example.com", {"v=TLSRPTv1; rua=ftp://x.example/r,mailto:a@example.com"});
    REQUIRE(e.record);
    CHECK(e.record->rua == std::vector<std::string>{"mailto:a@example.com"});
    REQUIRE(e.findings.size() == 1);
    CHECK(e.findings[0].code == "tlsrpt-rua-invalid");
    CHECK(e.findings[0].level == severity::warning);
    CHECK_FALSE(has_errors(e.findings));
}

TEST_CASE("evaluate_sts_records: a record of many bad fields gives a bounded report")
{
    std::string txt = "v=STSv1; id=abc";
    for (int i = 0; i < 2000; ++i)
        txt += "; junk" + std::to_string(i);
    const auto e = evaluate_sts_records("example.com", {txt});
    CHECK_FALSE(e.record);
    CHECK(e.findings.size() == 11);
    CHECK(e.findings.back().code == "sts-record-syntax");
    CHECK_THAT(e.findings.back().message, Catch::Contains("1990 more problems of this kind are not listed"));
}
