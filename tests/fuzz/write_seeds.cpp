// write_seeds NAME DIR: writes the seed inputs registered for fuzz target NAME into DIR.
#include "tests/fuzz/seeds.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>

namespace stswatch::fuzz {
std::map<std::string, seed_source>& seed_registry()
{
    static std::map<std::string, seed_source> registry;
    return registry;
}
} // namespace stswatch::fuzz

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::cerr << "usage: write_seeds NAME DIR\n";
        return 2;
    }
    auto& registry = stswatch::fuzz::seed_registry();
    auto it = registry.find(argv[1]);
    if (it == registry.end()) {
        std::cerr << "write_seeds: no seed table registered for " << argv[1] << "\n";
        return 1;
    }
    int n = 0;
    for (const auto& seed : it->second()) {
        std::ofstream out(std::string(argv[2]) + "/seed-" + std::to_string(n++), std::ios::binary);
        out.write(seed.data(), static_cast<std::streamsize>(seed.size()));
        if (!out) {
            std::cerr << "write_seeds: cannot write into " << argv[2] << "\n";
            return 1;
        }
    }
    std::cout << "write_seeds: " << n << " seeds for " << argv[1] << "\n";
    return 0;
}
