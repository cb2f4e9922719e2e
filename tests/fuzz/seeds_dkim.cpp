// Seeds for fuzz_dkim: the unit tests' tables (tests/unit/dkim_cases.hpp), each prefixed
// with the byte that selects its parser in fuzz_dkim.cpp, and signed messages.
#include "tests/fuzz/seeds.hpp"
#include "tests/unit/dkim_cases.hpp"

namespace {

const stswatch::fuzz::register_seeds dkim_seeds("dkim", [] {
    using namespace stswatch::test;
    auto seeds = stswatch::fuzz::seeds_of(dkim_signature_cases(), [](const auto& c) { return '\0' + c.text; });
    stswatch::fuzz::add_seeds(seeds, dkim_key_cases(), [](const auto& c) { return '\1' + c.text; });
    seeds.push_back('\2' + std::string(" C \r\nD \t E\r\n\r\n\r\n"));
    seeds.push_back('\2' + std::string("B : Y\t\r\n\tZ  "));
    seeds.push_back('\3' + rfc8463_message);
    seeds.push_back('\3' + sample_message());
    signing_options relaxed;
    relaxed.domain = "football.example.com";
    relaxed.selector = "brisbane";
    signing_options simple = relaxed;
    simple.canonicalization = "simple/simple";
    simple.body_length = 20;
    const test_key key = test_key::ed25519();
    seeds.push_back('\3' + sign_message(sample_message(), key, relaxed));
    seeds.push_back('\3' + sign_message(sample_message(), key, simple));
    return seeds;
});

} // namespace
