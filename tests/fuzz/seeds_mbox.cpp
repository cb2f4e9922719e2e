// Seeds for fuzz_mbox: the mailboxes of the unit tests' table (tests/unit/mbox_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/mbox_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds mbox_seeds("mbox", [] {
    return stswatch::fuzz::seeds_of(stswatch::test::mbox_cases(), &stswatch::test::mbox_case::input);
});

} // namespace
