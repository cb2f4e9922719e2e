// Seeds for fuzz_report_json: the unit tests' good and bad report tables and the sample
// reports under tests/data/reports.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/report_cases.hpp"

namespace stswatch::fuzz {
namespace {

std::vector<std::string> report_json_seeds()
{
    auto seeds = seeds_of(report_cases::good_cases(), &report_cases::good_case::json);
    add_seeds(seeds, report_cases::bad_cases(), &report_cases::bad_case::json);
    for (const auto& sample : report_cases::sample_files())
        add_file_seed(seeds, test_data("reports") / sample.file);
    return seeds;
}

const register_seeds registered("report_json", report_json_seeds);

} // namespace
} // namespace stswatch::fuzz
