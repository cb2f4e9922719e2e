// Seeds for fuzz_smtp_command: the lines of the unit tests' table (tests/unit/smtp_command_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/smtp_command_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds smtp_command_seeds("smtp_command", [] {
    namespace t = stswatch::test;
    auto seeds = stswatch::fuzz::seeds_of(t::smtp_good_lines(), &t::smtp_good_line::line);
    stswatch::fuzz::add_seeds(seeds, t::smtp_bad_lines(), &t::smtp_bad_line::line);
    return seeds;
});

} // namespace
