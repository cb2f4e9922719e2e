// Seeds for fuzz_mime: the messages of the unit tests' table (tests/unit/mime_cases.hpp)
// and the real-shaped report mail under tests/data/mail.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/mime_cases.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace stswatch::fuzz {
namespace {

std::vector<std::string> mime_seeds()
{
    std::vector<std::string> seeds;
    for (auto& c : test::mime::mime_cases())
        seeds.push_back(std::move(c.message));
    // This file is tests/fuzz/seeds_mime.cpp; the messages are in tests/data/mail.
    const auto mail = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "mail";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(mail, ec)) {
        if (entry.path().extension() != ".eml")
            continue;
        std::ifstream in(entry.path(), std::ios::binary);
        if (in)
            seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return seeds;
}

const register_seeds registered("mime", mime_seeds);

} // namespace
} // namespace stswatch::fuzz
