// DKIM verification (RFC 6376, RFC 8463): the RFC 8463 example, messages signed here with
// fresh OpenSSL keys, and the parsers' tables.
#include "mail/dkim.hpp"
#include "tests/unit/dkim_cases.hpp"

#include <catch2/catch.hpp>

using namespace stswatch;
using namespace stswatch::test;

namespace {

const auto now = std::chrono::system_clock::from_time_t(1'750'000'000);   // June 2025

dkim_key_lookup lookup_from(std::map<std::string, std::string> keys)
{
    return [keys = std::move(keys)](const std::string& name) -> std::vector<std::string> {
        const auto it = keys.find(name);
        if (it == keys.end())
            return {};
        return {it->second};
    };
}

std::string replaced(std::string s, const std::string& from, const std::string& to)
{
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
}


std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : ":") + i;
    return out;
}

std::string number_or_dash(const std::optional<std::uint64_t>& n)
{
    return n ? std::to_string(*n) : "-";
}

// The fields of a parsed DKIM-Signature in the form dkim_text_case::parsed spells them.
std::string described(const dkim_signature& sig)
{
    const auto canon = [](dkim_canonicalization c) { return c == dkim_canonicalization::relaxed ? "relaxed" : "simple"; };
    const char* algorithm = sig.algorithm == dkim_algorithm::ed25519_sha256 ? "ed25519-sha256"
                            : sig.algorithm == dkim_algorithm::rsa_sha1    ? "rsa-sha1"
                                                                           : "rsa-sha256";
    return std::string("a=") + algorithm + " c=" + canon(sig.header_canonicalization) + "/" +
           canon(sig.body_canonicalization) + " d=" + sig.domain + " s=" + sig.selector + " h=" +
           joined(sig.signed_headers) + " i=" + sig.identity + " l=" + number_or_dash(sig.body_length) +
           " t=" + number_or_dash(sig.timestamp) + " x=" + number_or_dash(sig.expiration) +
           " bh=" + std::to_string(sig.body_hash.size()) + " b=" + std::to_string(sig.signature.size());
}

// The fields of a parsed key record in the form dkim_text_case::parsed spells them.
std::string described(const dkim_key& key)
{
    return std::string("k=") + (key.type == dkim_key_type::ed25519 ? "ed25519" : "rsa") +
           " p=" + std::to_string(key.public_key.size()) + " h=" + joined(key.hash_algorithms) +
           " email=" + (key.for_email ? "yes" : "no") + " testing=" + (key.testing ? "yes" : "no") +
           " strict=" + (key.strict_identity ? "yes" : "no");
}

} // namespace

TEST_CASE("RFC 8463 Appendix A: both signatures verify")
{
    const auto verdict = verify_dkim(rfc8463_message, {"football.example.com"}, lookup_from(rfc8463_keys), now);
    CHECK(verdict.status == dkim_status::pass);
    CHECK(verdict.signing_domain == "football.example.com");
    REQUIRE(verdict.signatures.size() == 2);
    for (const auto& s : verdict.signatures) {
        INFO(s.algorithm << ": " << s.reason);
        CHECK(s.status == dkim_status::pass);
        CHECK(s.domain == "football.example.com");
    }
    CHECK(verdict.signatures[0].algorithm == "ed25519-sha256");
    CHECK(verdict.signatures[0].selector == "brisbane");
    CHECK(verdict.signatures[1].algorithm == "rsa-sha256");
    CHECK(verdict.signatures[1].selector == "test");
}

TEST_CASE("RFC 8463 Appendix A: the same message with LF line ends still verifies")
{
    std::string lf;
    for (char c : rfc8463_message)
        if (c != '\r')
            lf += c;
    const auto verdict = verify_dkim(lf, {"football.example.com"}, lookup_from(rfc8463_keys), now);
    CHECK(verdict.status == dkim_status::pass);
    REQUIRE(verdict.signatures.size() == 2);
    CHECK(verdict.signatures[0].status == dkim_status::pass);
    CHECK(verdict.signatures[1].status == dkim_status::pass);
}

TEST_CASE("RFC 8463 Appendix A: tampering is detected")
{
    struct tamper {
        std::string name, from, to;
        dkim_status verdict;
        std::string words;   // in the reason of a failed signature ("" = none failed)
    };
    const std::vector<tamper> cases = {
        {"body changed", "We lost the game.", "We won the game.", dkim_status::fail, "body hash mismatch"},
        {"signed header changed", "Subject: Is dinner ready?", "Subject: Is lunch ready?", dkim_status::fail,
         "does not verify"},
        {"relaxed whitespace in a header is no change", "Subject: Is dinner ready?", "Subject:  Is  dinner ready?  ",
         dkim_status::pass, ""},
        {"relaxed whitespace in the body is no change", "Hi.\r\n", "Hi.   \r\n", dkim_status::pass, ""},
        {"extra empty lines at the end are no change", "Joe.\r\n", "Joe.\r\n\r\n\r\n", dkim_status::pass, ""},
        // The RSA signature still verifies: one good signature of the domain is a pass.
        {"Ed25519 signature bytes changed", "b=/gCrinpcQ", "b=/gCrinpcR", dkim_status::pass, "does not verify"},
    };
    for (const auto& c : cases) {
        SECTION(c.name)
        {
            const auto verdict = verify_dkim(replaced(rfc8463_message, c.from, c.to), {"football.example.com"},
                                             lookup_from(rfc8463_keys), now);
            CHECK(verdict.status == c.verdict);
            std::string reasons;
            for (const auto& s : verdict.signatures)
                if (s.status != dkim_status::pass)
                    reasons += s.reason + "|";
            if (c.words.empty())
                CHECK(reasons.empty());
            else
                CHECK_THAT(reasons, Catch::Contains(c.words));
        }
    }
}

TEST_CASE("Messages signed with fresh keys: every algorithm and canonicalization verifies")
{
    for (const auto algorithm : {"rsa-sha256", "ed25519-sha256"}) {
        for (const auto canon : {"relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"}) {
            DYNAMIC_SECTION(algorithm << " " << canon)
            {
                const test_key key = std::string(algorithm) == "rsa-sha256" ? test_key::rsa(2048) : test_key::ed25519();
                signing_options o;
                o.algorithm = algorithm;
                o.canonicalization = canon;
                const std::string message = sign_message(sample_message(), key, o);
                const auto lookup = lookup_from({{"sel._domainkey.reporter.example", key.record()}});
                auto verdict = verify_dkim(message, {"reporter.example"}, lookup, now);
                REQUIRE(verdict.signatures.size() == 1);
                INFO(verdict.signatures[0].reason);
                CHECK(verdict.status == dkim_status::pass);
                CHECK(verdict.signing_domain == "reporter.example");

                verdict = verify_dkim(replaced(message, "Hello", "Jello"), {"reporter.example"}, lookup, now);
                CHECK(verdict.status == dkim_status::fail);
                CHECK_THAT(verdict.signatures[0].reason, Catch::Contains("body hash mismatch"));

                verdict = verify_dkim(replaced(message, "Subject: TLS report", "Subject: TLS rep0rt"),
                                      {"reporter.example"}, lookup, now);
                CHECK(verdict.status == dkim_status::fail);
                CHECK_THAT(verdict.signatures[0].reason, Catch::Contains("does not verify"));
            }
        }
    }
}

TEST_CASE("Header selection is bottom-up (RFC 6376 §5.4.2)")
{
    const test_key key = test_key::ed25519();
    const auto lookup = lookup_from({{"sel._domainkey.reporter.example", key.record()}});
    const std::string message = sign_message(sample_message(), key, {});

    SECTION("an unsigned header added does not matter")
    {
        const auto v = verify_dkim(replaced(message, "Subject:", "Received: by relay\r\nSubject:"), {"reporter.example"},
                                   lookup, now);
        CHECK(v.status == dkim_status::pass);
    }
    SECTION("a second From added below the signed one is the one checked, and fails")
    {
        const auto v = verify_dkim(replaced(message, "\r\n\r\n", "\r\nFrom: attacker@evil.example\r\n\r\n"),
                                   {"reporter.example"}, lookup, now);
        CHECK(v.status == dkim_status::fail);
    }
    SECTION("a second From added above the signed one is not checked")
    {
        const auto v = verify_dkim(replaced(message, "From:", "From: other@reporter.example\r\nFrom:"),
                                   {"reporter.example"}, lookup, now);
        CHECK(v.status == dkim_status::pass);
    }
    SECTION("h= naming a field twice signs its absence: adding one later fails (oversigning)")
    {
        signing_options o;
        o.headers = "from:to:subject:date:keywords:subject";
        const std::string oversigned = sign_message(sample_message(), key, o);
        CHECK(verify_dkim(oversigned, {"reporter.example"}, lookup, now).status == dkim_status::pass);
        const auto v = verify_dkim(replaced(oversigned, "\r\n\r\n", "\r\nSubject: injected\r\n\r\n"),
                                   {"reporter.example"}, lookup, now);
        CHECK(v.status == dkim_status::fail);
    }
}

TEST_CASE("Verdicts for keys, time and domains")
{
    // Each SECTION re-runs this body: make the keys once.
    static const test_key rsa = test_key::rsa(2048);
    static const test_key ed = test_key::ed25519();
    static const test_key small_rsa = test_key::rsa(512);
    const std::string key_name = "sel._domainkey.reporter.example";
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();

    struct verdict_case {
        std::string name;
        std::string message;
        dkim_key_lookup lookup;
        std::vector<std::string> reporting_domains;
        dkim_status expected;
        std::string words;   // in the first signature's reason
    };
    signing_options expired;
    expired.timestamp = seconds - 7200;
    expired.expiration = seconds - 3600;
    signing_options not_expired = expired;
    not_expired.expiration = seconds + 3600;
    signing_options sha1;
    sha1.algorithm = "rsa-sha1";
    signing_options rsa_options;
    rsa_options.algorithm = "rsa-sha256";
    signing_options forwarder;
    forwarder.domain = "forwarder.example";
    signing_options parent;
    parent.domain = "example.net";
    signing_options body_length;
    body_length.body_length = 10;

    const auto ed_lookup = lookup_from({{key_name, ed.record()}});
    const std::string ed_message = sign_message(sample_message(), ed, {});
    const std::string rsa_message = sign_message(sample_message(), rsa, rsa_options);
    const std::vector<std::string> reporter = {"reporter.example"};

    const std::vector<verdict_case> cases = {
        {"unsigned", sample_message(), ed_lookup, reporter, dkim_status::none, ""},
        {"expired x=", sign_message(sample_message(), ed, expired), ed_lookup, reporter, dkim_status::fail, "expired"},
        {"x= in the future", sign_message(sample_message(), ed, not_expired), ed_lookup, reporter, dkim_status::pass, ""},
        {"revoked key", ed_message, lookup_from({{key_name, "v=DKIM1; k=ed25519; p="}}), reporter, dkim_status::fail,
         "revoked"},
        {"no key record (NXDOMAIN)", ed_message, lookup_from({}), reporter, dkim_status::permerror, "no key"},
        {"malformed key record", ed_message, lookup_from({{key_name, "v=DKIM1; k=ed25519"}}), reporter,
         dkim_status::permerror, "lacks p="},
        {"temporary DNS failure", ed_message,
         [](const std::string&) -> std::vector<std::string> { throw dkim_temporary_failure("SERVFAIL"); }, reporter,
         dkim_status::temperror, "SERVFAIL"},
        {"key of the wrong type", ed_message, lookup_from({{key_name, rsa.record()}}), reporter, dkim_status::fail,
         "does not match"},
        {"key of another signer", ed_message, lookup_from({{key_name, test_key::ed25519().record()}}), reporter,
         dkim_status::fail, "does not verify"},
        {"key not for email", ed_message,
         lookup_from({{key_name, "v=DKIM1; k=ed25519; s=tlsrpt; p=" + ed.public_key_base64()}}), reporter,
         dkim_status::fail, "not for email"},
        {"key restricted to sha1", rsa_message,
         lookup_from({{key_name, "v=DKIM1; k=rsa; h=sha1; p=" + rsa.public_key_base64()}}), reporter, dkim_status::fail,
         "sha256"},
        {"rsa-sha1 refused", sign_message(sample_message(), rsa, sha1), lookup_from({{key_name, rsa.record()}}), reporter,
         dkim_status::fail, "RFC 8301"},
        {"RSA key under 1024 bits", sign_message(sample_message(), small_rsa, rsa_options),
         lookup_from({{key_name, small_rsa.record()}}), reporter, dkim_status::fail, "1024"},
        {"signed by a forwarder, not the reporter", sign_message(sample_message(), ed, forwarder),
         lookup_from({{"sel._domainkey.forwarder.example", ed.record()}}), reporter, dkim_status::fail, ""},
        {"signed by a parent of the reporting domain", sign_message(sample_message(), ed, parent),
         lookup_from({{"sel._domainkey.example.net", ed.record()}}), {"Reports.Example.NET."}, dkim_status::pass, ""},
        {"no reporting domain known", ed_message, ed_lookup, {}, dkim_status::fail, ""},
        {"l= shorter than the body: pass, noted", sign_message(sample_message(), ed, body_length), ed_lookup, reporter,
         dkim_status::pass, "rest is unsigned"},
    };
    for (const auto& c : cases) {
        SECTION(c.name)
        {
            const auto v = verify_dkim(c.message, c.reporting_domains, c.lookup, now);
            INFO((v.signatures.empty() ? std::string("no signature") : v.signatures[0].reason));
            CHECK(v.status == c.expected);
            if (!c.words.empty()) {
                REQUIRE(!v.signatures.empty());
                CHECK_THAT(v.signatures[0].reason, Catch::Contains(c.words));
            }
        }
    }
    SECTION("the forwarder's signature itself verified, but is not the reporter's")
    {
        const auto v = verify_dkim(sign_message(sample_message(), ed, forwarder), reporter,
                                   lookup_from({{"sel._domainkey.forwarder.example", ed.record()}}), now);
        REQUIRE(v.signatures.size() == 1);
        CHECK(v.signatures[0].status == dkim_status::pass);
        CHECK(v.status != dkim_status::pass);
        CHECK(v.signing_domain.empty());
    }
    SECTION("a forwarder's signature beside the reporter's: pass by the reporter")
    {
        const std::string twice = sign_message(sign_message(sample_message(), ed, {}), ed, forwarder);
        const auto v = verify_dkim(twice, reporter,
                                   lookup_from({{key_name, ed.record()}, {"sel._domainkey.forwarder.example", ed.record()}}),
                                   now);
        CHECK(v.status == dkim_status::pass);
        CHECK(v.signing_domain == "reporter.example");
        CHECK(v.signatures.size() == 2);
    }
    SECTION("a key in testing mode (t=y) passes, marked; a key not in testing mode is preferred")
    {
        const std::string testing_record = "v=DKIM1; k=ed25519; t=y; p=" + ed.public_key_base64();
        const auto v = verify_dkim(ed_message, reporter, lookup_from({{key_name, testing_record}}), now);
        CHECK(v.status == dkim_status::pass);
        CHECK(v.testing_key);
        REQUIRE(v.signatures.size() == 1);
        CHECK(v.signatures[0].testing_key);
        CHECK_THAT(v.signatures[0].reason, Catch::Contains("t=y"));

        signing_options other_selector;
        other_selector.selector = "sel2";
        const std::string twice = sign_message(ed_message, ed, other_selector);
        const auto both = verify_dkim(twice, reporter,
                                      lookup_from({{key_name, testing_record},
                                                   {"sel2._domainkey.reporter.example", ed.record()}}),
                                      now);
        CHECK(both.status == dkim_status::pass);
        CHECK_FALSE(both.testing_key);
        CHECK(both.signatures.size() == 2);

        const auto plain = verify_dkim(ed_message, reporter, ed_lookup, now);
        CHECK(plain.status == dkim_status::pass);
        CHECK_FALSE(plain.testing_key);
    }
    SECTION("a temporary failure outranks a failure: retrying may pass")
    {
        const std::string twice = sign_message(sign_message(sample_message(), ed, {}), ed, forwarder);
        const auto v = verify_dkim(replaced(twice, "Hello", "Jello"), reporter,
                                   [](const std::string& name) -> std::vector<std::string> {
                                       if (name.find("forwarder") == std::string::npos)
                                           throw dkim_temporary_failure("timeout");
                                       return {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
                                   },
                                   now);
        CHECK(v.status == dkim_status::temperror);
    }
    SECTION("l= longer than the body fails")
    {
        signing_options o;
        o.body_length = 100000;
        o.body_hash_override = true;
        const auto v = verify_dkim(sign_message(sample_message(), ed, o), reporter, ed_lookup, now);
        CHECK(v.status == dkim_status::fail);
        REQUIRE(v.signatures.size() == 1);
        CHECK_THAT(v.signatures[0].reason, Catch::Contains("longer than the body"));
    }
    SECTION("appending to an l= signed body still passes, and says so")
    {
        const auto v = verify_dkim(sign_message(sample_message(), ed, body_length) + "appended by anyone\r\n", reporter,
                                   ed_lookup, now);
        CHECK(v.status == dkim_status::pass);
        CHECK_THAT(v.signatures[0].reason, Catch::Contains("unsigned"));
    }
    SECTION("at most max_signatures are verified")
    {
        std::string many = sample_message();
        for (int i = 0; i < 8; ++i)
            many = sign_message(many, ed, forwarder);
        unsigned lookups = 0;
        const auto v = verify_dkim(many, reporter,
                                   [&](const std::string&) -> std::vector<std::string> {
                                       ++lookups;
                                       return {ed.record()};
                                   },
                                   now, 3);
        CHECK(v.signatures.size() == 3);
        CHECK(lookups == 3);
    }
}

TEST_CASE("Canonicalization: RFC 6376 §3.4.5 example")
{
    CHECK(canonicalize_header("A: X", dkim_canonicalization::relaxed) == "a:X");
    CHECK(canonicalize_header("B : Y\t\r\n\tZ  ", dkim_canonicalization::relaxed) == "b:Y Z");
    CHECK(canonicalize_header("B : Y\t\r\n\tZ  ", dkim_canonicalization::simple) == "B : Y\t\r\n\tZ  ");
    // Only the whitespace around the field's own colon goes; colons in the value keep theirs.
    CHECK(canonicalize_header("H :  from : to :\r\n subject", dkim_canonicalization::relaxed) == "h:from : to : subject");
    const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
    CHECK(canonicalize_body(body, dkim_canonicalization::relaxed) == " C\r\nD E\r\n");
    CHECK(canonicalize_body(body, dkim_canonicalization::simple) == " C \r\nD \t E\r\n");
}

TEST_CASE("Canonicalization: empty and unterminated bodies (RFC 6376 §3.4.3, §3.4.4)")
{
    struct body_case {
        std::string body, simple, relaxed;
    };
    const std::vector<body_case> cases = {
        {"", "\r\n", ""},
        {"\r\n", "\r\n", ""},
        {"\r\n\r\n", "\r\n", ""},
        {"  \r\n", "  \r\n", ""},
        {"abc", "abc\r\n", "abc\r\n"},
        {"a  b\t\r\n\r\nc", "a  b\t\r\n\r\nc\r\n", "a b\r\n\r\nc\r\n"},
    };
    for (const auto& c : cases) {
        INFO('"' << c.body << '"');
        CHECK(canonicalize_body(c.body, dkim_canonicalization::simple) == c.simple);
        CHECK(canonicalize_body(c.body, dkim_canonicalization::relaxed) == c.relaxed);
    }
}

TEST_CASE("DKIM-Signature tag lists: good and bad")
{
    const auto cases = dkim_signature_cases();
    REQUIRE(cases.size() >= 26);
    std::size_t good = 0;
    for (const auto& c : cases) {
        INFO(c.name);
        if (c.ok) {
            ++good;
            REQUIRE_FALSE(c.parsed.empty());
            CHECK(described(parse_dkim_signature(c.text)) == c.parsed);
        } else {
            try {
                parse_dkim_signature(c.text);
                FAIL("accepted: " << c.text);
            } catch (const dkim_syntax_error& e) {
                CHECK_THAT(e.what(), Catch::Contains(c.words));
            }
        }
    }
    CHECK(good >= 5);
}

TEST_CASE("DKIM-Signature fields are read as written")
{
    const auto sig = parse_dkim_signature(
        " v=1;\r\n\ta=ed25519-sha256; c=relaxed; d=Example.COM; s=Sel;\r\n h=From : To:SUBJECT; i=joe@mail.example.com;"
        " l=100; t=10; x=20; bh=" + good_bh + ";\r\n b=AA\r\n AA");
    CHECK(sig.algorithm == dkim_algorithm::ed25519_sha256);
    CHECK(sig.header_canonicalization == dkim_canonicalization::relaxed);
    CHECK(sig.body_canonicalization == dkim_canonicalization::simple);   // §3.5: "c=relaxed" is relaxed/simple
    CHECK(sig.domain == "example.com");
    CHECK(sig.selector == "sel");
    CHECK(sig.signed_headers == std::vector<std::string>{"from", "to", "subject"});
    CHECK(sig.identity == "joe@mail.example.com");
    CHECK(sig.body_length == 100u);
    CHECK(sig.timestamp == 10u);
    CHECK(sig.expiration == 20u);
    CHECK(sig.signature == std::string(3, '\0'));
    CHECK(sig.body_hash.size() == 32);
}

TEST_CASE("Tag-list parsing keeps folding inside values and drops it around them")
{
    const auto tags = parse_dkim_tag_list(" a = x y ;\r\n b=\r\n 1\r\n\t2 ; c=");
    REQUIRE(tags.size() == 3);
    CHECK(tags[0].name == "a");
    CHECK(tags[0].value == "x y");
    CHECK(tags[1].value == "1\r\n\t2");
    CHECK(tags[2].value.empty());
}

TEST_CASE("DKIM key records: good and bad")
{
    const auto cases = dkim_key_cases();
    REQUIRE(cases.size() >= 12);
    std::size_t good = 0;
    for (const auto& c : cases) {
        INFO(c.name);
        if (c.ok) {
            ++good;
            REQUIRE_FALSE(c.parsed.empty());
            CHECK(described(parse_dkim_key_record(c.text)) == c.parsed);
        } else {
            try {
                parse_dkim_key_record(c.text);
                FAIL("accepted: " << c.text);
            } catch (const dkim_syntax_error& e) {
                CHECK_THAT(e.what(), Catch::Contains(c.words));
            }
        }
    }
    CHECK(good >= 5);
    const auto key = parse_dkim_key_record("v=DKIM1; k=ed25519; h=SHA256; s=email:tlsrpt; t=y:s; p=AAAA");
    CHECK(key.type == dkim_key_type::ed25519);
    CHECK(key.public_key == std::string(3, '\0'));
    CHECK(key.hash_algorithms == std::vector<std::string>{"sha256"});
    CHECK(key.for_email);
    CHECK(key.testing);
    CHECK(key.strict_identity);
    CHECK(parse_dkim_key_record("v=DKIM1; p=").public_key.empty());
    CHECK_FALSE(parse_dkim_key_record("s=tlsrpt; p=AAAA").for_email);
}
