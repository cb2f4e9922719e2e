// DKIM on arbitrary bytes: the tag-list and signature parser, the key record parser, the
// canonicalizations, and verify_dkim on whole messages with a lookup that returns fixed
// keys (RFC 8463 Appendix A). The first byte chooses which; the rest is the input.
#include "mail/dkim.hpp"
#include "tests/fuzz/invariant.hpp"
#include "tests/unit/dkim_cases.hpp"

#include <algorithm>

namespace {

using stswatch::fuzz::check;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

void fuzz_signature(std::string_view text)
{
    using namespace stswatch;
    try {
        const auto tags = parse_dkim_tag_list(text);
        check(!tags.empty(), "a parsed tag list has a tag");
        for (std::size_t i = 0; i < tags.size(); ++i) {
            check(!tags[i].name.empty() && is_alpha(tags[i].name[0]), "tag names start with a letter");
            for (std::size_t j = 0; j < i; ++j)
                check(tags[i].name != tags[j].name, "no duplicate tags");
        }
    } catch (const dkim_syntax_error& e) {
        check(e.what()[0] != '\0', "a syntax error names its reason");
    }
    try {
        const auto sig = parse_dkim_signature(text);
        check(!sig.domain.empty() && !sig.selector.empty(), "d= and s= are present");
        check(std::find(sig.signed_headers.begin(), sig.signed_headers.end(), "from") != sig.signed_headers.end(),
              "From is signed");
        check(sig.body_hash.size() == (sig.algorithm == dkim_algorithm::rsa_sha1 ? 20u : 32u), "bh= has the hash size");
        check(!sig.signature.empty(), "b= is not empty");
        check(!sig.expiration || !sig.timestamp || *sig.expiration > *sig.timestamp, "x= after t=");
    } catch (const dkim_syntax_error& e) {
        check(e.what()[0] != '\0', "a syntax error names its reason");
    }
}

void fuzz_key(std::string_view text)
{
    using namespace stswatch;
    try {
        const auto key = parse_dkim_key_record(text);
        (void)key;
    } catch (const dkim_syntax_error& e) {
        check(e.what()[0] != '\0', "a syntax error names its reason");
    }
}

void fuzz_canonicalization(std::string_view text)
{
    using namespace stswatch;
    for (auto c : {dkim_canonicalization::simple, dkim_canonicalization::relaxed}) {
        const std::string body = canonicalize_body(text, c);
        check(canonicalize_body(body, c) == body, "body canonicalization is idempotent");
        check(body.empty() || body.size() >= 2, "a canonical body ends with CRLF");
        if (!body.empty())
            check(body.compare(body.size() - 2, 2, "\r\n") == 0, "a canonical body ends with CRLF");
    }
    if (text.find(':') != std::string_view::npos) {
        const std::string relaxed = canonicalize_header(text, dkim_canonicalization::relaxed);
        check(canonicalize_header(relaxed, dkim_canonicalization::relaxed) == relaxed,
              "relaxed header canonicalization is idempotent");
        // Field names never hold a line break in a message (split at lines); values are unfolded.
        if (text.substr(0, text.find(':')).find('\n') == std::string_view::npos)
            check(relaxed.find('\n') == std::string::npos, "a relaxed header is unfolded");
    }
}

void fuzz_message(std::string_view message)
{
    using namespace stswatch;
    const dkim_key_lookup lookup = [](const std::string& name) -> std::vector<std::string> {
        const auto it = test::rfc8463_keys.find(name);
        if (name.rfind("temp", 0) == 0)
            throw dkim_temporary_failure("fuzz");
        if (name.rfind("none", 0) == 0)
            return {};
        return {it != test::rfc8463_keys.end() ? it->second : test::rfc8463_ed25519_key_record};
    };
    const auto verdict = verify_dkim(message, {"football.example.com"}, lookup,
                                     std::chrono::system_clock::from_time_t(1'750'000'000), 3);
    check(verdict.signatures.size() <= 3, "at most max_signatures are verified");
    check((verdict.status == dkim_status::none) == verdict.signatures.empty(), "none exactly when unsigned");
    if (verdict.status == dkim_status::pass) {
        bool found = false;
        for (const auto& s : verdict.signatures)
            found = found || (s.status == dkim_status::pass && s.domain == verdict.signing_domain);
        check(found, "a pass names a passing signature's domain");
    } else {
        check(verdict.signing_domain.empty(), "no signing domain without a pass");
    }
    for (const auto& s : verdict.signatures)
        check(s.status != dkim_status::none, "a present signature has a result");
}

} // namespace

STSWATCH_FUZZ_TARGET(fuzz_dkim, input)
{
    if (size == 0)
        return 0;
    input.remove_prefix(1);   // the first byte picks the parser
    switch (data[0] % 4) {
    case 0: fuzz_signature(input); break;
    case 1: fuzz_key(input); break;
    case 2: fuzz_canonicalization(input); break;
    default: fuzz_message(input); break;
    }
    return 0;
}
