// Seeds for fuzz_sts_policy: the policies of the unit tests' tables
// (tests/unit/sts_policy_cases.hpp) and the MX patterns.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/sts_policy_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds sts_policy_seeds("sts_policy", [] {
    namespace t = stswatch::test;
    auto seeds = stswatch::fuzz::seeds_of(t::sts_policy_good_cases(), &t::sts_policy_good::text);
    stswatch::fuzz::add_seeds(seeds, t::sts_policy_bad_cases(), &t::sts_policy_bad::text);
    stswatch::fuzz::add_seeds(seeds, t::mx_pattern_cases(), &t::mx_pattern_case::pattern);
    return seeds;
});

} // namespace
