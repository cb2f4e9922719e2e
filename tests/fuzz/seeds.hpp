// Seed registry: each seeds_<name>.cpp registers the inputs of its unit tests' tables.
#pragma once

#include <functional>
#include <map>
#include <string>
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

} // namespace stswatch::fuzz
