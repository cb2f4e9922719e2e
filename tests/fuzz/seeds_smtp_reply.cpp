// Seeds for fuzz_smtp_reply: the replies of the unit tests' table (tests/unit/smtp_reply_cases.hpp).
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/smtp_reply_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds smtp_reply_seeds("smtp_reply", [] {
    return stswatch::fuzz::seeds_of(stswatch::test::smtp_reply_cases(), &stswatch::test::smtp_reply_case::bytes);
});

} // namespace
