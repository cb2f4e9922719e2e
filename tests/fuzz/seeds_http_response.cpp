// Seeds for fuzz_http_response: the responses of the unit tests' table (tests/unit/http_response_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/http_response_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds http_response_seeds("http_response", [] {
    return stswatch::fuzz::seeds_of(stswatch::test::http_cases(), &stswatch::test::http_case::bytes);
});

} // namespace
