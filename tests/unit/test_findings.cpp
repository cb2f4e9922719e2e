// The findings catalogue: every code the checks need, well-formed, and documented in
// docs/findings.md with the same severity.
#include "mtasts/findings.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

using namespace stswatch;

namespace {

// The codes the MTA-STS / TLS-RPT checks are specified to produce.
const std::vector<std::string> required_codes = {
    "sts-record-missing", "sts-record-multiple", "sts-record-syntax", "sts-record-version",
    "sts-record-id-missing", "sts-record-id-invalid", "sts-record-dns-error",
    "sts-policy-fetch-failed", "sts-policy-cert-invalid", "sts-policy-http-status", "sts-policy-redirect",
    "sts-policy-content-type", "sts-policy-too-large", "sts-policy-syntax", "sts-policy-version",
    "sts-policy-mode", "sts-policy-max-age", "sts-policy-mx-missing", "sts-policy-mx-invalid",
    "sts-mode-testing", "sts-mode-none", "sts-max-age-short",
    "mx-missing", "mx-not-covered", "policy-mx-unused", "mx-no-address", "mx-unreachable",
    "mx-starttls-missing", "mx-cert-untrusted", "mx-cert-expired", "mx-cert-expiring", "mx-cert-name-mismatch",
    "tlsrpt-record-missing", "tlsrpt-record-multiple", "tlsrpt-record-syntax", "tlsrpt-rua-missing",
    "tlsrpt-rua-invalid", "sts-policy-changed-without-id", "sts-record-missing-policy-served",
};

std::string read_docs()
{
    const std::string path = std::string(STSWATCH_SOURCE_DIR) + "/docs/findings.md";
    std::ifstream in(path, std::ios::binary);
    INFO(path);
    REQUIRE(in);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string trim(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

// Rows of the markdown tables whose first cell is a `code`: code -> severity cell.
std::map<std::string, std::string> documented_codes(const std::string& docs, std::vector<std::string>& duplicates)
{
    std::map<std::string, std::string> out;
    std::istringstream lines(docs);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] != '|')
            continue;
        std::vector<std::string> cells;
        std::istringstream row(line.substr(1));
        std::string cell;
        while (std::getline(row, cell, '|'))
            cells.push_back(trim(cell));
        if (cells.size() < 2 || cells[0].size() < 3 || cells[0].front() != '`' || cells[0].back() != '`')
            continue;
        const std::string code = cells[0].substr(1, cells[0].size() - 2);
        if (!out.emplace(code, cells[1]).second)
            duplicates.push_back(code);
    }
    return out;
}

} // namespace

TEST_CASE("finding catalogue: every specified code is catalogued")
{
    for (const auto& code : required_codes) {
        INFO(code);
        CHECK(find_finding_kind(code) != nullptr);
    }
}

TEST_CASE("finding catalogue: codes are unique, kebab-case, with RFC, meaning and fix")
{
    const std::regex kebab("[a-z0-9]+(-[a-z0-9]+)*");
    const std::regex rfc("RFC [0-9]+( §[0-9.]+(-[0-9.]+)?)?");
    std::set<std::string> seen;
    REQUIRE(finding_catalogue().size() >= 42);
    for (const auto& k : finding_catalogue()) {
        INFO(k.code);
        CHECK(seen.insert(k.code).second);
        CHECK(std::regex_match(k.code, kebab));
        CHECK(std::regex_match(k.rfc, rfc));
        CHECK(std::string(k.meaning).size() > 20);
        CHECK(std::string(k.fix).size() > 10);
        CHECK(find_finding_kind(k.code) == &k);
    }
    CHECK(seen.size() >= required_codes.size());
}

TEST_CASE("finding catalogue: docs/findings.md lists exactly the catalogue with the same severities")
{
    std::vector<std::string> duplicates;
    const auto documented = documented_codes(read_docs(), duplicates);
    CHECK(duplicates.empty());
    REQUIRE(finding_catalogue().size() >= 42);
    for (const auto& k : finding_catalogue()) {
        INFO(k.code);
        const auto it = documented.find(k.code);
        REQUIRE(it != documented.end());
        CHECK(it->second == to_string(k.level));
    }
    for (const auto& [code, level] : documented) {
        INFO("documented but not catalogued: " << code);
        CHECK(find_finding_kind(code) != nullptr);
    }
}

TEST_CASE("make_finding takes severity and RFC section from the catalogue")
{
    const finding f = make_finding("mx-not-covered", "mx3.example.net", "mx3.example.net is not matched");
    CHECK(f.code == "mx-not-covered");
    CHECK(f.level == severity::error);
    CHECK(f.subject == "mx3.example.net");
    CHECK(f.message == "mx3.example.net is not matched");
    CHECK(f.rfc == "RFC 8461 §4.1");
    CHECK(make_finding("sts-mode-none", "mta-sts.example.com", "m").level == severity::info);
    CHECK(make_finding("sts-mode-testing", "mta-sts.example.com", "m").level == severity::warning);
}

TEST_CASE("make_finding refuses a code that is not catalogued")
{
    CHECK_THROWS_AS(make_finding("no-such-code", "example.com", "m"), std::logic_error);
    CHECK_THROWS_WITH(make_finding("mx-not-coverd", "example.com", "m"), Catch::Contains("mx-not-coverd"));
    CHECK(find_finding_kind("") == nullptr);
}

TEST_CASE("has_errors and severity names")
{
    CHECK_FALSE(has_errors({}));
    CHECK_FALSE(has_errors({make_finding("sts-mode-testing", "s", "m"), make_finding("sts-mode-none", "s", "m")}));
    CHECK(has_errors({make_finding("sts-mode-none", "s", "m"), make_finding("mx-cert-expired", "s", "m")}));
    CHECK(std::string(to_string(severity::error)) == "error");
    CHECK(std::string(to_string(severity::warning)) == "warning");
    CHECK(std::string(to_string(severity::info)) == "info");
}

TEST_CASE("quote_untrusted escapes and bounds untrusted text")
{
    CHECK(quote_untrusted("abc") == "\"abc\"");
    CHECK(quote_untrusted("") == "\"\"");
    CHECK(quote_untrusted("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(quote_untrusted("\x1b[31m\r\n") == "\"\\x1b[31m\\x0d\\x0a\"");
    CHECK(quote_untrusted("\xc3\xa9") == "\"\\xc3\\xa9\"");
    CHECK(quote_untrusted(std::string(100, 'x'), 5) == "\"xxxxx...\"");
    CHECK(quote_untrusted("xxxxx", 5) == "\"xxxxx\"");
}
