// Seeds for fuzz_smtp_command: the lines of the unit tests' table (tests/unit/smtp_command_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/smtp_command_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds smtp_command_seeds("smtp_command", [] {
    std::vector<std::string> seeds;
    for (auto& g : stswatch::test::smtp_good_lines())
        seeds.push_back(std::move(g.line));
    for (auto& b : stswatch::test::smtp_bad_lines())
        seeds.push_back(std::move(b.line));
    return seeds;
});

} // namespace
