// Seeds for fuzz_sts_record: the TXT record sets of the unit tests' tables
// (tests/unit/sts_record_cases.hpp), one record per line.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/sts_record_cases.hpp"

namespace {

std::string joined(const std::vector<std::string>& txts)
{
    std::string out;
    for (const auto& t : txts) {
        if (!out.empty())
            out += '\n';
        out += t;
    }
    return out;
}

const stswatch::fuzz::register_seeds sts_record_seeds("sts_record", [] {
    namespace t = stswatch::test;
    const auto txts = [](const auto& c) { return joined(c.txts); };
    auto seeds = stswatch::fuzz::seeds_of(t::sts_record_good_cases(), txts);
    stswatch::fuzz::add_seeds(seeds, t::sts_record_bad_cases(), txts);
    stswatch::fuzz::add_seeds(seeds, t::tlsrpt_record_good_cases(), txts);
    stswatch::fuzz::add_seeds(seeds, t::tlsrpt_record_bad_cases(), txts);
    return seeds;
});

} // namespace
