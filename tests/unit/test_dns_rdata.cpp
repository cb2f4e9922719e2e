// DNS rdata parsing: each type's good and malformed data (tests/unit/dns_rdata_cases.hpp).
#include "net/dns_rdata.hpp"
#include "tests/unit/dns_rdata_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;

namespace {

// Parses as the case's type; the value as the table writes it.
bool parse_as(const std::string& type, const std::string& rdata, std::string& value)
{
    const auto* p = reinterpret_cast<const unsigned char*>(rdata.data());
    if (type == "TXT")
        return parse_txt_rdata(p, rdata.size(), value);
    if (type == "A")
        return parse_a_rdata(p, rdata.size(), value);
    if (type == "AAAA")
        return parse_aaaa_rdata(p, rdata.size(), value);
    if (type == "MX") {
        mx_record mx;
        const bool ok = parse_mx_rdata(p, rdata.size(), mx);
        value = std::to_string(mx.preference) + " " + mx.host;
        return ok;
    }
    if (type == "TLSA") {
        tlsa_record t;
        const bool ok = parse_tlsa_rdata(p, rdata.size(), t);
        value = std::to_string(t.usage) + " " + std::to_string(t.selector) + " " + std::to_string(t.matching_type) +
                " " + std::to_string(t.data.size());
        return ok;
    }
    FAIL("unknown type " << type);
    return false;
}

} // namespace

TEST_CASE("dns rdata: each case parses to its value or is refused")
{
    REQUIRE(test::rdata_cases().size() >= 23);
    for (const auto& c : test::rdata_cases()) {
        INFO(c.type << " case: " << (c.valid ? c.expected : c.why));
        std::string value;
        const bool ok = parse_as(c.type, c.rdata, value);
        REQUIRE(ok == c.valid);
        if (c.valid)
            CHECK(value == c.expected);
    }
}

TEST_CASE("dns rdata: a name of more than 127 labels is refused")
{
    std::string rdata = test::bytes({0, 10});
    for (int i = 0; i < 130; ++i)
        rdata += test::bytes({1, 'a'});
    rdata += std::string(1, '\0');
    mx_record mx;
    CHECK_FALSE(parse_mx_rdata(reinterpret_cast<const unsigned char*>(rdata.data()), rdata.size(), mx));
}
