#include "tests/support/memory_use.hpp"

#include <catch2/catch.hpp>

#include <fstream>

namespace stswatch::test {

long status_kib(const std::string& field)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0)
            return std::stol(line.substr(field.size() + 1));
    }
    FAIL("no " << field << " in /proc/self/status");
    return 0;
}

bool reset_peak_rss()
{
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    return static_cast<bool>(clear);
}

} // namespace stswatch::test
