// Seed registry: each seeds_<name>.cpp registers the inputs of its unit tests' tables.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace stswatch::fuzz {

using seed_source = std::function<std::vector<std::string>()>;

std::map<std::string, seed_source>& seed_registry();

struct register_seeds {
    register_seeds(const std::string& name, seed_source source)
    {
        seed_registry()[name] = std::move(source);
    }
};

// Appends input(c) for every case c of a unit test table (a member pointer names a field).
template <class Cases, class Input>
void add_seeds(std::vector<std::string>& seeds, Cases&& cases, Input input)
{
    for (auto& c : cases)
        seeds.push_back(std::invoke(input, c));
}

// The seeds of one table: input(c) for each of its cases.
template <class Cases, class Input>
std::vector<std::string> seeds_of(Cases&& cases, Input input)
{
    std::vector<std::string> seeds;
    add_seeds(seeds, std::forward<Cases>(cases), input);
    return seeds;
}

// tests/data/<folder>: this file is tests/fuzz/seeds.hpp.
inline std::filesystem::path test_data(const char* folder)
{
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / folder;
}

// Appends the bytes of the file at path, when it can be read.
inline void add_file_seed(std::vector<std::string>& seeds, const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (in)
        seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace stswatch::fuzz
