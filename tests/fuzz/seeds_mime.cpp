// Seeds for fuzz_mime: the messages of the unit tests' table (tests/unit/mime_cases.hpp)
// and the real-shaped report mail under tests/data/mail.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/mime_cases.hpp"

namespace stswatch::fuzz {
namespace {

std::vector<std::string> mime_seeds()
{
    auto seeds = seeds_of(test::mime::mime_cases(), &test::mime::mime_case::message);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(test_data("mail"), ec)) {
        if (entry.path().extension() == ".eml")
            add_file_seed(seeds, entry.path());
    }
    return seeds;
}

const register_seeds registered("mime", mime_seeds);

} // namespace
} // namespace stswatch::fuzz
