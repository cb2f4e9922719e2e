// Seeds for fuzz_report_json: the unit tests' good and bad report tables and the sample
// reports under tests/data/reports.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/report_cases.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace stswatch::fuzz {
namespace {

std::vector<std::string> report_json_seeds()
{
    std::vector<std::string> seeds;
    for (const auto& c : report_cases::good_cases())
        seeds.push_back(c.json);
    for (const auto& c : report_cases::bad_cases())
        seeds.push_back(c.json);
    // This file is tests/fuzz/seeds_report_json.cpp; the samples are in tests/data/reports.
    const auto samples = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "reports";
    for (const auto& sample : report_cases::sample_files()) {
        std::ifstream in(samples / sample.file, std::ios::binary);
        if (in)
            seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return seeds;
}

const register_seeds registered("report_json", report_json_seeds);

} // namespace
} // namespace stswatch::fuzz
