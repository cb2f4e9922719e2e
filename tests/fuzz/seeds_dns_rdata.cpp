// Seeds for fuzz_dns_rdata: the unit tests' rdata table, each prefixed by its type octet
// as fuzz_dns_rdata reads it.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/dns_rdata_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds dns_rdata_seeds("dns_rdata", [] {
    const std::string types[] = {"TXT", "MX", "A", "AAAA", "TLSA"};
    std::vector<std::string> seeds;
    for (const auto& c : stswatch::test::rdata_cases()) {
        for (char t = 0; t < 5; ++t)
            if (types[static_cast<int>(t)] == c.type)
                seeds.push_back(std::string(1, t) + c.rdata);
    }
    return seeds;
});

} // namespace
