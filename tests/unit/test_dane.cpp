// RFC 7672 / RFC 6698 TLSA judgement as data: usable records, matching against the chain an
// MX presented (DANE-EE the leaf, DANE-TA above it), and the reasons a record is unusable.
#include "mtasts/dane.hpp"
#include "tests/unit/dane_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

using stswatch::test::issuer_der_abc;
using stswatch::test::leaf_spki_abc;
using stswatch::test::sha256_abc;
using stswatch::test::sha512_abc;
using stswatch::test::unhex;

TEST_CASE("DANE-EE records match the leaf by key or by certificate and digest")
{
    const std::vector<presented_certificate> chain = {leaf_spki_abc};
    CHECK(tlsa_matches({3, 1, 1, sha256_abc}, chain));
    CHECK(tlsa_matches({3, 1, 2, sha512_abc}, chain));
    CHECK(tlsa_matches({3, 1, 0, "abc"}, chain));
    CHECK(tlsa_matches({3, 0, 0, "leaf-der"}, chain));
    CHECK_FALSE(tlsa_matches({3, 0, 1, sha256_abc}, chain));   // selector 0 is the DER, not the key
    CHECK_FALSE(tlsa_matches({3, 1, 1, sha512_abc.substr(0, 32)}, chain));
    CHECK_FALSE(tlsa_matches({3, 1, 1, sha256_abc}, {}));      // nothing presented
}

TEST_CASE("DANE-TA records match a certificate above the leaf and never the leaf itself")
{
    CHECK(tlsa_matches({2, 0, 1, sha256_abc}, {{"leaf-der", "leaf-spki"}, issuer_der_abc}));
    CHECK_FALSE(tlsa_matches({2, 0, 1, sha256_abc}, {{"abc", "leaf-spki"}}));   // the leaf is not an anchor
    CHECK_FALSE(tlsa_matches({3, 0, 1, sha256_abc}, {{"leaf-der", "x"}, issuer_der_abc}));   // EE looks at the leaf only
}

TEST_CASE("records SMTP senders cannot use are named with the reason")
{
    CHECK(tlsa_unusable_reason({3, 1, 1, sha256_abc}).empty());
    CHECK(tlsa_unusable_reason({2, 0, 2, sha512_abc}).empty());
    CHECK_FALSE(tlsa_unusable_reason({0, 1, 1, sha256_abc}).empty());   // PKIX-TA
    CHECK_FALSE(tlsa_unusable_reason({1, 1, 1, sha256_abc}).empty());   // PKIX-EE
    CHECK_FALSE(tlsa_unusable_reason({4, 1, 1, sha256_abc}).empty());
    CHECK_FALSE(tlsa_unusable_reason({3, 2, 1, sha256_abc}).empty());
    CHECK_FALSE(tlsa_unusable_reason({3, 1, 3, sha256_abc}).empty());
    CHECK_THAT(tlsa_unusable_reason({3, 1, 1, sha256_abc.substr(0, 31)}), Catch::Contains("32 bytes") && Catch::Contains("31"));
    CHECK_THAT(tlsa_unusable_reason({3, 1, 2, sha256_abc}), Catch::Contains("64"));
}

TEST_CASE("an evaluation separates unusable records from usable ones and lists the matches")
{
    const std::vector<tlsa_association> records = {
        {1, 1, 1, sha256_abc},                  // PKIX-EE: unusable even though it would match
        {3, 1, 1, std::string(32, '\0')},       // usable, no match
        {3, 1, 1, sha256_abc},                  // usable, matches the leaf's key
    };
    const auto e = evaluate_tlsa(records, {leaf_spki_abc});
    CHECK(e.usable == 2);
    REQUIRE(e.unusable == std::vector<std::size_t>{0});
    REQUIRE(e.reasons.size() == 1);
    CHECK_FALSE(e.reasons[0].empty());
    CHECK(e.matching == std::vector<std::size_t>{2});

    const auto none = evaluate_tlsa(records, {{"other", "other"}});
    CHECK(none.usable == 2);
    CHECK(none.matching.empty());
}

TEST_CASE("a record is written in zone-file form with lower-case hex")
{
    CHECK(tlsa_text({3, 1, 1, unhex("00AbFF")}) == "3 1 1 00abff");
}

TEST_CASE("the table of record sets and chains evaluates as a DANE sender would")
{
    for (const auto& c : stswatch::test::dane_cases()) {
        INFO(c.name);
        const auto e = evaluate_tlsa(c.records, c.chain);
        CHECK(e.unusable == c.unusable);
        CHECK(e.reasons.size() == c.unusable.size());
        CHECK(e.usable == c.records.size() - c.unusable.size());
        CHECK(e.matching == c.matching);
    }
}
