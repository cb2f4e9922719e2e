// Small string helpers used across the folders.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

// The items with separator between them ("a, b, c"); empty for no items.
inline std::string join(const std::vector<std::string>& items, std::string_view separator)
{
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += separator;
        out += item;
    }
    return out;
}

} // namespace stswatch
