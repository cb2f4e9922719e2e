// Seeds for fuzz_mbox: the mailboxes of the unit tests' table (tests/unit/mbox_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/mbox_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds mbox_seeds("mbox", [] {
    std::vector<std::string> seeds;
    for (auto& c : stswatch::test::mbox_cases())
        seeds.push_back(std::move(c.input));
    return seeds;
});

} // namespace
