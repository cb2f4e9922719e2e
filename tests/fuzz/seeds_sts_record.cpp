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
    std::vector<std::string> seeds;
    for (const auto& g : t::sts_record_good_cases())
        seeds.push_back(joined(g.txts));
    for (const auto& b : t::sts_record_bad_cases())
        seeds.push_back(joined(b.txts));
    for (const auto& g : t::tlsrpt_record_good_cases())
        seeds.push_back(joined(g.txts));
    for (const auto& b : t::tlsrpt_record_bad_cases())
        seeds.push_back(joined(b.txts));
    return seeds;
});

} // namespace
