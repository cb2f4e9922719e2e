// The DANE evaluator (mtasts/dane.hpp) on TLSA record sets and presented chains made of
// arbitrary bytes: every record is judged usable or not, with a reason for each unusable
// one, and only usable records match.
#include "mtasts/dane.hpp"
#include "tests/fuzz/dane_input.hpp"
#include "tests/fuzz/invariant.hpp"

#include <algorithm>

STSWATCH_FUZZ_TARGET(fuzz_dane, input)
{
    const auto in = read_dane_input(input);
    const auto e = evaluate_tlsa(in.records, in.chain);
    check(e.usable + e.unusable.size() == in.records.size(), "every record is usable or unusable");
    check(e.reasons.size() == e.unusable.size(), "each unusable record has its reason");
    for (std::size_t k = 0; k < e.unusable.size(); ++k) {
        check(e.unusable[k] < in.records.size(), "unusable indexes are records");
        check(!e.reasons[k].empty(), "a reason is never empty");
        check(tlsa_unusable_reason(in.records[e.unusable[k]]) == e.reasons[k], "the reason is the record's");
    }
    for (const auto i : e.matching) {
        check(i < in.records.size(), "matching indexes are records");
        check(std::find(e.unusable.begin(), e.unusable.end(), i) == e.unusable.end(), "an unusable record never matches");
        check(tlsa_matches(in.records[i], in.chain), "a listed match matches on its own");
    }
    check(std::is_sorted(e.matching.begin(), e.matching.end()), "matches are in record order");
    for (const auto& r : in.records) {
        const auto text = tlsa_text(r);
        check(text.size() >= 6 + 2 * r.data.size(), "the zone-file form carries all the data");
    }
    return 0;
}
