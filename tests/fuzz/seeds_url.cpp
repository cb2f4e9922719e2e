// Seeds for fuzz_url: the query strings, escapes and Cookie headers of the unit tests'
// tables (tests/unit/url_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/url_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds url_seeds("url", [] {
    namespace t = stswatch::test;
    auto seeds = stswatch::fuzz::seeds_of(t::query_cases(), &t::query_case::query);
    stswatch::fuzz::add_seeds(seeds, t::percent_decode_cases(), &t::percent_case::text);
    stswatch::fuzz::add_seeds(seeds, t::cookie_cases(), &t::cookie_case::header);
    return seeds;
});

} // namespace
