// The main of every test program: Catch2's, except that --warn (-w) may be given more than
// once, as ctest does (`--warn NoTests --warn NoAssertions`, tests/CMakeLists.txt). Catch2 v2
// takes the option once only, so the warnings it names are set here and the rest of the
// command line is Catch2's as usual.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::optional<Catch::WarnAbout::What> warning_named(std::string_view name)
{
    if (name == "NoAssertions")
        return Catch::WarnAbout::NoAssertions;
    if (name == "NoTests")
        return Catch::WarnAbout::NoTests;
    return std::nullopt;
}

} // namespace

int main(int argc, char* argv[])
{
    Catch::Session session;
    int warnings = Catch::WarnAbout::Nothing;
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i > 0 && (arg == "--warn" || arg == "-w") && i + 1 < argc) {
            if (const auto w = warning_named(argv[i + 1])) {
                warnings |= *w;
                ++i;
                continue;
            }
        } else if (i > 0 && arg.rfind("--warn=", 0) == 0) {
            if (const auto w = warning_named(arg.substr(7))) {
                warnings |= *w;
                continue;
            }
        }
        rest.push_back(argv[i]);   // an unknown warning is left for Catch2 to refuse
    }
    if (const int rc = session.applyCommandLine(static_cast<int>(rest.size()), rest.data()); rc != 0)
        return rc;
    session.configData().warnings =
        static_cast<Catch::WarnAbout::What>(session.configData().warnings | warnings);
    return session.run();
}
