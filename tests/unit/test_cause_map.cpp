// The cause map: result types of the IANA registry only, finding codes of the catalogue and
// docs/findings.md only, change kinds the monitor records only, and the pairs the analysis
// relies on.
#include "analyzer/cause_map.hpp"
#include "mtasts/findings.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

using namespace stswatch;
using namespace stswatch::analysis;

namespace {

std::string source_file(const std::string& relative)
{
    const std::string path = std::string(STSWATCH_SOURCE_DIR) + "/" + relative;
    std::ifstream in(path, std::ios::binary);
    INFO(path);
    REQUIRE(in);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool names(const std::vector<std::string_view>& list, std::string_view item)
{
    return std::find(list.begin(), list.end(), item) != list.end();
}

// RFC 8460 §4.3, the IANA "STARTTLS Validation Result Types" registry.
const std::set<std::string> iana_result_types = {
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
    "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
    "sts-policy-invalid", "sts-webpki-invalid",
};

} // namespace

TEST_CASE("cause map: every result type is an IANA result type, listed once, with a reason")
{
    std::set<std::string> seen;
    for (const auto& m : cause_map()) {
        INFO(m.result_type);
        CHECK(iana_result_types.count(std::string(m.result_type)) == 1);
        CHECK(seen.insert(std::string(m.result_type)).second);
        CHECK_FALSE(m.why.empty());
    }
    CHECK(seen == iana_result_types);
}

TEST_CASE("cause map: every finding code is catalogued and documented in docs/findings.md")
{
    const std::string docs = source_file("docs/findings.md");
    std::size_t codes = 0;
    for (const auto& m : cause_map())
        for (auto code : m.findings) {
            INFO(m.result_type << ": " << code);
            CHECK(find_finding_kind(code) != nullptr);
            CHECK(docs.find("| `" + std::string(code) + "` |") != std::string::npos);
            ++codes;
        }
    CHECK(codes == 31);
}

TEST_CASE("cause map: every change kind is one that the monitor records")
{
    const std::string diff = source_file("checks/monitor_diff.cpp");
    const std::string rows = source_file("store/monitor_rows.hpp");
    std::size_t kinds = 0;
    for (const auto& m : cause_map())
        for (auto kind : m.changes) {
            INFO(m.result_type << ": " << kind);
            CHECK(diff.find("\"" + std::string(kind) + "\"") != std::string::npos);
            CHECK(rows.find(std::string(kind)) != std::string::npos);
            ++kinds;
        }
    CHECK(kinds == 21);
}

TEST_CASE("cause map: the pairs correlation relies on")
{
    const auto* validation = mapping_for("validation-failure");
    REQUIRE(validation);
    CHECK(validation->result_type == "validation-failure");
    CHECK(names(validation->findings, "mx-not-covered"));
    CHECK(names(validation->findings, "mx-cert-name-mismatch"));
    CHECK(names(validation->changes, "mx-added"));
    CHECK(names(validation->changes, "sts-mx-patterns-changed"));

    const auto* expired = mapping_for("certificate-expired");
    REQUIRE(expired);
    CHECK(expired->findings == std::vector<std::string_view>{"mx-cert-expired"});
    CHECK(expired->changes == std::vector<std::string_view>{"mx-cert-rotated"});

    const auto* mismatch = mapping_for("certificate-host-mismatch");
    REQUIRE(mismatch);
    CHECK(names(mismatch->findings, "mx-cert-name-mismatch"));

    const auto* untrusted = mapping_for("certificate-not-trusted");
    REQUIRE(untrusted);
    CHECK(untrusted->findings == std::vector<std::string_view>{"mx-cert-untrusted"});

    const auto* starttls = mapping_for("starttls-not-supported");
    REQUIRE(starttls);
    CHECK(names(starttls->findings, "mx-starttls-missing"));
    CHECK(names(starttls->changes, "mx-added"));

    const auto* fetch = mapping_for("sts-policy-fetch-error");
    REQUIRE(fetch);
    for (auto code : {"sts-policy-fetch-failed", "sts-policy-http-status", "sts-policy-redirect",
                      "sts-policy-content-type", "sts-policy-too-large"})
        CHECK(names(fetch->findings, code));

    const auto* invalid = mapping_for("sts-policy-invalid");
    REQUIRE(invalid);
    for (auto code : {"sts-policy-syntax", "sts-policy-version", "sts-policy-mode", "sts-policy-max-age",
                      "sts-policy-mx-missing", "sts-record-multiple"})
        CHECK(names(invalid->findings, code));

    const auto* webpki = mapping_for("sts-webpki-invalid");
    REQUIRE(webpki);
    CHECK(webpki->findings == std::vector<std::string_view>{"sts-policy-cert-invalid"});

    // The DANE types map to the DANE findings and to TLSA changes.
    const auto* tlsa = mapping_for("tlsa-invalid");
    REQUIRE(tlsa);
    CHECK(names(tlsa->findings, "mx-tlsa-mismatch"));
    CHECK(names(tlsa->findings, "mx-tlsa-malformed"));
    CHECK(names(tlsa->changes, "mx-tlsa-changed"));
    CHECK(names(tlsa->changes, "mx-cert-rotated"));
    const auto* dnssec = mapping_for("dnssec-invalid");
    REQUIRE(dnssec);
    CHECK(dnssec->findings == std::vector<std::string_view>{"mx-dnssec-bogus"});
    const auto* required = mapping_for("dane-required");
    REQUIRE(required);
    CHECK(names(required->findings, "mx-tlsa-unsigned"));

    CHECK(mapping_for("no-policy-found") == nullptr);
    CHECK(mapping_for("") == nullptr);
    CHECK(mapping_for("Validation-Failure") == nullptr);
}
