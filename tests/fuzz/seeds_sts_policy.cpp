// Seeds for fuzz_sts_policy: the policies of the unit tests' tables
// (tests/unit/sts_policy_cases.hpp) and the MX patterns.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/sts_policy_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds sts_policy_seeds("sts_policy", [] {
    namespace t = stswatch::test;
    std::vector<std::string> seeds;
    for (const auto& g : t::sts_policy_good_cases())
        seeds.push_back(g.text);
    for (const auto& b : t::sts_policy_bad_cases())
        seeds.push_back(b.text);
    for (const auto& p : t::mx_pattern_cases())
        seeds.push_back(p.pattern);
    return seeds;
});

} // namespace
