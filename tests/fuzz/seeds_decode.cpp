// Seeds for fuzz_decode: the bodies of the unit tests' table (tests/unit/decode_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/decode_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds decode_seeds("decode", [] {
    std::vector<std::string> seeds;
    for (auto& c : stswatch::test::decode_cases())
        seeds.push_back(std::move(c.body));
    return seeds;
});

} // namespace
