// The shape of a fuzz target, and how it reports a broken invariant: one line on stderr
// naming the target and the invariant, then abort(), which libFuzzer reports as a crash and
// saves the input for.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace stswatch::fuzz {

// "fuzz_sts_policy": defined by STSWATCH_FUZZ_TARGET.
extern const char* const target_name;

inline void check(bool holds, const char* invariant)
{
    if (!holds) {
        std::fprintf(stderr, "%s: invariant broken: %s\n", target_name, invariant);
        std::abort();
    }
}

} // namespace stswatch::fuzz

// The libFuzzer entry point of the target NAME. The body that follows it is the target's: it
// sees the input as `data` and `size` and as the text INPUT, and is in namespace
// stswatch::fuzz, so that the library's names and check() need no qualification.
#define STSWATCH_FUZZ_TARGET(name, input)                                                             \
    const char* const stswatch::fuzz::target_name = #name;                                            \
    namespace stswatch::fuzz {                                                                        \
    static int test_one_input(std::string_view input, const std::uint8_t* data, std::size_t size);    \
    }                                                                                                 \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)                 \
    {                                                                                                 \
        const std::string_view text(reinterpret_cast<const char*>(data), size);                       \
        return stswatch::fuzz::test_one_input(text, data, size);                                      \
    }                                                                                                 \
    int stswatch::fuzz::test_one_input([[maybe_unused]] std::string_view input,                       \
                                       [[maybe_unused]] const std::uint8_t* data,                     \
                                       [[maybe_unused]] std::size_t size)
