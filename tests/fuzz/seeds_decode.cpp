// Seeds for fuzz_decode: the bodies of the unit tests' table (tests/unit/decode_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/decode_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds decode_seeds("decode", [] {
    return stswatch::fuzz::seeds_of(stswatch::test::decode_cases(), &stswatch::test::decode_case::body);
});

} // namespace
