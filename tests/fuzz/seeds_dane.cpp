// Seeds for fuzz_dane: the unit tests' table of record sets and chains (tests/unit/dane_cases.hpp).
#include "tests/fuzz/dane_input.hpp"
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/dane_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds dane_seeds("dane", [] {
    return stswatch::fuzz::seeds_of(stswatch::test::dane_cases(), [](const stswatch::test::dane_case& c) {
        return stswatch::fuzz::write_dane_input(c.records, c.chain);
    });
});

} // namespace
