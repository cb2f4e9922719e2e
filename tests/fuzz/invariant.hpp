// How a fuzz target reports a broken invariant: one line on stderr naming the target and
// the invariant, then abort(), which libFuzzer reports as a crash and saves the input for.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace stswatch::fuzz {

struct invariants {
    const char* target;   // "fuzz_sts_policy"

    void operator()(bool holds, const char* invariant) const
    {
        if (!holds) {
            std::fprintf(stderr, "%s: invariant broken: %s\n", target, invariant);
            std::abort();
        }
    }
};

} // namespace stswatch::fuzz
