// DKIM inputs and what the verifier must make of them. Shared by the unit tests
// (tests/unit/test_dkim.cpp), the DNS-backed tests and the fuzz seeds (tests/fuzz/seeds_dkim.cpp).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace stswatch::test {

// RFC 8463 Appendix A: the two public keys (A.2) and the message signed with both (A.3).
inline const std::string rfc8463_ed25519_key_record =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
inline const std::string rfc8463_rsa_key_record =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
inline const std::map<std::string, std::string> rfc8463_keys = {
    {"brisbane._domainkey.football.example.com", rfc8463_ed25519_key_record},
    {"test._domainkey.football.example.com", rfc8463_rsa_key_record},
};
inline const std::string rfc8463_message =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

// A DKIM-Signature value (after "DKIM-Signature:") and whether it parses; bad ones with
// words of the reason.
struct dkim_text_case {
    std::string name;
    std::string text;
    bool ok = false;
    std::string words;   // bad: words the reason must contain
    // good: the fields it parses to, as tests/unit/test_dkim.cpp spells them (a signature:
    // "a= c= d= s= h= i= l= t= x=" and the decoded sizes of bh= and b=; a key: k=, the
    // decoded size of p=, h= and its flags)
    std::string parsed = {};
};

inline const std::string good_bh = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

inline std::vector<dkim_text_case> dkim_signature_cases()
{
    const std::string base = " v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=" + good_bh + "; b=AAAA";
    return {
        {"minimal", base, true, "",
         "a=rsa-sha256 c=simple/simple d=example.com s=sel h=from:to i=@example.com l=- t=- x=- bh=32 b=3"},
        {"trailing semicolon", base + ";", true, "",
         "a=rsa-sha256 c=simple/simple d=example.com s=sel h=from:to i=@example.com l=- t=- x=- bh=32 b=3"},
        {"folded with CRLF and tabs", " v=1;\r\n\ta=ed25519-sha256;\r\n d=Example.COM; s=sel;\r\n h=From : To;\r\n bh=" +
                                          good_bh + ";\r\n b=AA\r\n AA", true, "",
         "a=ed25519-sha256 c=simple/simple d=example.com s=sel h=from:to i=@example.com l=- t=- x=- bh=32 b=3"},
        {"all optional tags", base + "; c=relaxed/simple; i=joe@mail.example.com; l=100; q=dns/txt; t=1; x=2; z=a", true, "",
         "a=rsa-sha256 c=relaxed/simple d=example.com s=sel h=from:to i=joe@mail.example.com l=100 t=1 x=2 bh=32 b=3"},
        {"rsa-sha1 parses (refused later)", " v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA",
         true, "", "a=rsa-sha1 c=simple/simple d=example.com s=sel h=from i=@example.com l=- t=- x=- bh=20 b=3"},
        {"empty", "", false, "empty tag list"},
        {"no equals", " v=1; a", false, "expected '='"},
        {"tag name starts with digit", " 1v=1", false, "expected a tag name"},
        {"duplicate tag", base + "; d=example.org", false, "duplicate tag d="},
        {"missing bh", " v=1; a=rsa-sha256; d=example.com; s=sel; h=from; b=AAAA", false, "required tag bh="},
        {"missing d", " v=1; a=rsa-sha256; s=sel; h=from; bh=" + good_bh + "; b=AAAA", false, "required tag d="},
        {"version 2", " v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" + good_bh + "; b=AAAA", false,
         "unsupported signature version"},
        {"unknown algorithm", " v=1; a=dsa-sha256; d=example.com; s=sel; h=from; bh=" + good_bh + "; b=AAAA", false,
         "unsupported signature algorithm"},
        {"from not signed", " v=1; a=rsa-sha256; d=example.com; s=sel; h=to:subject; bh=" + good_bh + "; b=AAAA", false,
         "does not include From"},
        {"bh not base64", " v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=!!; b=AAAA", false, "bh="},
        {"bh wrong length", " v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA", false, "SHA-256"},
        {"empty b", " v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=" + good_bh + "; b=", false, "b="},
        {"i outside d", base + "; i=joe@example.org", false, "is not in d="},
        {"i without at", base + "; i=example.com", false, "has no '@'"},
        {"bad canonicalization", base + "; c=loose", false, "unknown canonicalization"},
        {"x before t", base + "; t=100; x=50", false, "x= is not after t="},
        {"t not a number", base + "; t=soon", false, "not a timestamp"},
        {"l not a number", base + "; l=-1", false, "not a body length"},
        {"unknown query method", base + "; q=http/well-known", false, "no known query method"},
        {"d not a domain", " v=1; a=rsa-sha256; d=exa mple..com; s=sel; h=from; bh=" + good_bh + "; b=AAAA", false,
         "not a domain name"},
        {"control character in value", " v=1; a=rsa\x01sha256", false, "invalid character"},
    };
}

inline std::vector<dkim_text_case> dkim_key_cases()
{
    return {
        {"rfc 8463 ed25519", rfc8463_ed25519_key_record, true, "", "k=ed25519 p=32 h= email=yes testing=no strict=no"},
        {"rfc 8463 rsa", rfc8463_rsa_key_record, true, "", "k=rsa p=162 h= email=yes testing=no strict=no"},
        {"no version, default rsa", "p=AAAA", true, "", "k=rsa p=3 h= email=yes testing=no strict=no"},
        {"revoked (empty p)", "v=DKIM1; p=", true, "", "k=rsa p=0 h= email=yes testing=no strict=no"},
        {"flags and services", "v=DKIM1; k=rsa; h=sha1:sha256; s=email; t=y:s; n=notes here; p=AAAA", true, "",
         "k=rsa p=3 h=sha1:sha256 email=yes testing=yes strict=yes"},
        {"version not first", "k=rsa; v=DKIM1; p=AAAA", false, "not the first tag"},
        {"wrong version", "v=DKIM2; p=AAAA", false, "is not DKIM1"},
        {"unknown key type", "v=DKIM1; k=dsa; p=AAAA", false, "unknown key type"},
        {"no p", "v=DKIM1; k=rsa", false, "lacks p="},
        {"p not base64", "v=DKIM1; p=A*AA", false, "not base64"},
        {"duplicate p", "p=AAAA; p=BBBB", false, "duplicate tag"},
        {"not a tag list", "hello world", false, "expected '='"},
    };
}

// ---- A small DKIM signer for the tests, written apart from the verifier (its own
// canonicalization), so that the two do not share a mistake. ----

inline std::string base64(const std::string& bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

inline std::string digest(const std::string& data, const EVP_MD* md)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1)
        throw std::runtime_error("EVP_Digest failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

struct test_key {
    std::shared_ptr<EVP_PKEY> pkey;
    bool ed = false;

    static test_key rsa(unsigned bits)
    {
        test_key k;
        k.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)), EVP_PKEY_free);
        if (!k.pkey)
            throw std::runtime_error("RSA key generation failed");
        return k;
    }
    static test_key ed25519()
    {
        test_key k;
        k.ed = true;
        k.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
        if (!k.pkey)
            throw std::runtime_error("Ed25519 key generation failed");
        return k;
    }
    // RFC 8463 §4.2: the raw 32 bytes for Ed25519; SubjectPublicKeyInfo DER for RSA.
    std::string public_key_base64() const
    {
        if (ed) {
            std::string raw(32, '\0');
            std::size_t len = raw.size();
            EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
            return base64(raw);
        }
        unsigned char* der = nullptr;
        const int len = i2d_PUBKEY(pkey.get(), &der);
        std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
        OPENSSL_free(der);
        return base64(bytes);
    }
    std::string record() const
    {
        return std::string("v=DKIM1; k=") + (ed ? "ed25519" : "rsa") + "; p=" + public_key_base64();
    }
};

struct signing_options {
    std::string algorithm = "ed25519-sha256";
    std::string canonicalization = "relaxed/relaxed";
    std::string domain = "reporter.example";
    std::string selector = "sel";
    std::string headers = "from:to:subject:date:keywords";
    std::optional<std::int64_t> timestamp, expiration;
    std::optional<std::uint64_t> body_length;
    bool body_hash_override = false;   // l= past the end: hash the whole body anyway
};

// A report message as Google-style senders shape it, CRLF line ends.
inline std::string sample_message()
{
    return "From: TLS reporting <noreply-smtp-tls-reporting@reporter.example>\r\n"
           "To: tlsrpt@stswatch.test\r\n"
           "Subject: TLS report   for example.com\r\n"
           "Date: Tue, 08 Jul 2025 00:00:00 +0000\r\n"
           "Keywords: a : b\t:\r\n c\r\n"
           "Message-ID: <report-1@reporter.example>\r\n"
           "TLS-Report-Domain: example.com\r\n"
           "TLS-Report-Submitter: reporter.example\r\n"
           "\r\n"
           "Hello   report\t \r\n"
           "second line\r\n"
           "\r\n"
           "\r\n";
}

inline std::string test_relaxed_header(const std::string& field)
{
    const auto colon = field.find(':');
    std::string name = std::regex_replace(field.substr(0, colon), std::regex("[ \t]+$"), "");
    for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = std::regex_replace(field.substr(colon + 1), std::regex("\r\n"), "");
    value = std::regex_replace(value, std::regex("[ \t]+"), " ");
    value = std::regex_replace(value, std::regex("^ | $"), "");
    return name + ":" + value;
}

inline std::string test_canonical_body(std::string body, bool relaxed)
{
    if (relaxed) {
        body = std::regex_replace(body, std::regex("[ \t]+\r\n"), "\r\n");
        body = std::regex_replace(body, std::regex("[ \t]+"), " ");
    }
    while (body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0)
        body.resize(body.size() - 2);
    if (!body.empty() || !relaxed)
        body += "\r\n";
    return body;
}

// Adds a DKIM-Signature on top of message (CRLF line ends).
inline std::string sign_message(const std::string& message, const test_key& key, const signing_options& o)
{
    const auto split = message.find("\r\n\r\n");
    const std::string head = message.substr(0, split + 2);
    const std::string body = message.substr(split + 4);
    const bool relaxed_header = o.canonicalization.rfind("relaxed", 0) == 0;
    const bool relaxed_body = o.canonicalization.find("/relaxed") != std::string::npos;
    const bool sha1 = o.algorithm == "rsa-sha1";
    const EVP_MD* md = sha1 ? EVP_sha1() : EVP_sha256();

    std::string canonical_body = test_canonical_body(body, relaxed_body);
    if (o.body_length && !o.body_hash_override)
        canonical_body.resize(static_cast<std::size_t>(*o.body_length));

    std::vector<std::pair<std::string, std::string>> fields;   // lower-case name, raw field
    for (std::size_t pos = 0; pos < head.size();) {
        const auto eol = head.find("\r\n", pos);
        const std::string line = head.substr(pos, eol - pos);
        if (line[0] == ' ' || line[0] == '\t') {
            fields.back().second += "\r\n" + line;
        } else {
            std::string name = line.substr(0, line.find(':'));
            for (auto& c : name)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            fields.emplace_back(name, line);
        }
        pos = eol + 2;
    }

    std::string data;
    std::vector<bool> used(fields.size());
    std::size_t start = 0;
    while (start <= o.headers.size()) {
        const auto colon = std::min(o.headers.find(':', start), o.headers.size());
        const std::string name = o.headers.substr(start, colon - start);
        for (std::size_t i = fields.size(); i-- > 0;) {
            if (!used[i] && fields[i].first == name) {
                used[i] = true;
                data += (relaxed_header ? test_relaxed_header(fields[i].second) : fields[i].second) + "\r\n";
                break;
            }
        }
        start = colon + 1;
    }

    std::string field = "DKIM-Signature: v=1; a=" + o.algorithm + "; c=" + o.canonicalization + ";\r\n d=" + o.domain +
                        "; s=" + o.selector + ";";
    if (o.timestamp)
        field += " t=" + std::to_string(*o.timestamp) + ";";
    if (o.expiration)
        field += " x=" + std::to_string(*o.expiration) + ";";
    if (o.body_length)
        field += " l=" + std::to_string(*o.body_length) + ";";
    field += "\r\n h=" + o.headers + ";\r\n bh=" + base64(digest(canonical_body, md)) + ";\r\n b=";
    data += relaxed_header ? test_relaxed_header(field) : field;

    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string signature(1024, '\0');
    std::size_t len = signature.size();
    bool ok;
    if (key.ed) {
        // RFC 8463 §3: Ed25519 over the SHA-256 hash of the data.
        const std::string hash = digest(data, EVP_sha256());
        ok = EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) == 1 &&
             EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                            reinterpret_cast<const unsigned char*>(hash.data()), hash.size()) == 1;
    } else {
        ok = EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) == 1 &&
             EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    }
    if (!ok)
        throw std::runtime_error("test signing failed");
    signature.resize(len);
    std::string b = base64(signature);
    b.insert(b.size() / 2, "\r\n ");   // b= folded, as signers do
    return field + b + "\r\n" + message;
}

} // namespace stswatch::test
