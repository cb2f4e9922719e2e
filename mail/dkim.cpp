// DKIM verification: RFC 6376 (signatures, key records, canonicalization), RFC 8301
// (algorithm and key size floors), RFC 8463 (Ed25519-SHA256), on OpenSSL 3's EVP.
#include "mail/dkim.hpp"
#include "common/domain.hpp"
#include "common/handles.hpp"
#include "common/text.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory>

namespace stswatch {

const char* to_string(dkim_status s)
{
    switch (s) {
    case dkim_status::none: return "none";
    case dkim_status::pass: return "pass";
    case dkim_status::fail: return "fail";
    case dkim_status::temperror: return "temperror";
    case dkim_status::permerror: return "permerror";
    }
    return "unknown";
}

const char* verdict_label(const dkim_verdict& verdict)
{
    if (verdict.status == dkim_status::pass && verdict.testing_key)
        return "pass-testing";
    return to_string(verdict.status);
}

namespace {

using text::iequals;
using text::is_alpha;
using text::is_digit;
using text::is_wsp;



std::string quoted_rest(std::string_view text, std::size_t pos)
{
    std::string rest(text.substr(std::min(pos, text.size()), 40));
    return "(remaining \"" + rest + (text.size() - std::min(pos, text.size()) > 40 ? "…" : "") + "\")";
}

// Skips FWS (RFC 5322 §3.2.2, with bare LF folds tolerated): WSP and CRLF followed by WSP.
std::size_t skip_fws(std::string_view s, std::size_t pos)
{
    for (;;) {
        if (pos < s.size() && is_wsp(s[pos])) {
            ++pos;
        } else if (pos + 2 < s.size() && s[pos] == '\r' && s[pos + 1] == '\n' && is_wsp(s[pos + 2])) {
            pos += 3;
        } else if (pos + 1 < s.size() && s[pos] == '\n' && is_wsp(s[pos + 1])) {
            pos += 2;
        } else {
            return pos;
        }
    }
}

std::string strip_whitespace(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (!is_wsp(c) && c != '\r' && c != '\n')
            out += c;
    return out;
}

// RFC 6376 §2.4: base64 with FWS anywhere; padding may be left off by sloppy signers.
std::optional<std::string> decode_base64(std::string_view text)
{
    const std::string s = strip_whitespace(text);
    std::string out;
    out.reserve(s.size() / 4 * 3 + 3);
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t i = 0, data_chars = 0;
    for (; i < s.size() && s[i] != '='; ++i) {
        const char c = s[i];
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (is_digit(c)) v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        ++data_chars;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    const std::size_t padding = s.size() - i;
    if (padding > 2 || data_chars % 4 == 1)
        return std::nullopt;
    for (; i < s.size(); ++i)
        if (s[i] != '=')
            return std::nullopt;
    if (padding > 0 && (data_chars + padding) % 4 != 0)
        return std::nullopt;
    return out;
}

std::optional<std::uint64_t> parse_decimal(std::string_view s, bool saturate)
{
    if (s.empty())
        return std::nullopt;
    std::uint64_t value = 0;
    for (char c : s) {
        if (!is_digit(c))
            return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            if (!saturate)
                return std::nullopt;
            value = std::numeric_limits<std::uint64_t>::max();
        } else {
            value = value * 10 + digit;
        }
    }
    return value;
}

// Colon-separated list (h= of signatures and key records), FWS around the items removed.
std::vector<std::string> split_colon_list(std::string_view value)
{
    std::vector<std::string> items;
    std::size_t start = 0;
    for (;;) {
        const auto colon = value.find(':', start);
        items.push_back(strip_whitespace(value.substr(start, colon == std::string_view::npos ? std::string_view::npos
                                                                                             : colon - start)));
        if (colon == std::string_view::npos)
            return items;
        start = colon + 1;
    }
}

bool is_same_or_subdomain(std::string_view name, std::string_view domain)
{
    return name == domain ||
           (name.size() > domain.size() && name.substr(name.size() - domain.size()) == domain &&
            name[name.size() - domain.size() - 1] == '.');
}

const dkim_tag* find_tag(const std::vector<dkim_tag>& tags, std::string_view name)
{
    for (const auto& t : tags)
        if (t.name == name)
            return &t;
    return nullptr;
}

dkim_signature signature_from_tags(const std::vector<dkim_tag>& tags)
{
    dkim_signature sig;
    // RFC 6376 §3.5: v, a, b, bh, d, h and s are required.
    for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"})
        if (!find_tag(tags, required))
            throw dkim_syntax_error(std::string("signature lacks the required tag ") + required + "=");
    // RFC 6376 §3.5: "v=1"; any other version is not a signature this verifier knows.
    if (find_tag(tags, "v")->value != "1")
        throw dkim_syntax_error("unsupported signature version v=" + find_tag(tags, "v")->value);

    sig.algorithm_name = text::lowered(find_tag(tags, "a")->value);
    if (sig.algorithm_name == "rsa-sha256")
        sig.algorithm = dkim_algorithm::rsa_sha256;
    else if (sig.algorithm_name == "ed25519-sha256")   // RFC 8463 §3
        sig.algorithm = dkim_algorithm::ed25519_sha256;
    else if (sig.algorithm_name == "rsa-sha1")
        sig.algorithm = dkim_algorithm::rsa_sha1;      // parsed; refused by the verifier (RFC 8301)
    else
        throw dkim_syntax_error("unsupported signature algorithm a=" + sig.algorithm_name);

    const auto b = decode_base64(find_tag(tags, "b")->value);
    if (!b || b->empty())
        throw dkim_syntax_error("b= is not base64 signature data");
    sig.signature = *b;
    const auto bh = decode_base64(find_tag(tags, "bh")->value);
    const std::size_t hash_size = sig.algorithm == dkim_algorithm::rsa_sha1 ? 20 : 32;
    if (!bh || bh->size() != hash_size)
        throw dkim_syntax_error("bh= is not a base64 " + std::string(hash_size == 20 ? "SHA-1" : "SHA-256") + " hash");
    sig.body_hash = *bh;

    // RFC 6376 §3.5: c= header[/body], each simple or relaxed; default simple/simple.
    if (const auto* c = find_tag(tags, "c")) {
        const std::string value = text::lowered(c->value);
        const auto slash = value.find('/');
        const auto read = [&](std::string_view word) {
            if (word == "simple")
                return dkim_canonicalization::simple;
            if (word == "relaxed")
                return dkim_canonicalization::relaxed;
            throw dkim_syntax_error("unknown canonicalization c=" + c->value);
        };
        sig.header_canonicalization = read(std::string_view(value).substr(0, slash));
        if (slash != std::string::npos)
            sig.body_canonicalization = read(std::string_view(value).substr(slash + 1));
    }

    sig.domain = text::lowered(find_tag(tags, "d")->value);
    if (!is_dns_name(sig.domain))
        throw dkim_syntax_error("d=" + find_tag(tags, "d")->value + " is not a domain name");
    sig.selector = text::lowered(find_tag(tags, "s")->value);
    if (!is_dns_name(sig.selector))
        throw dkim_syntax_error("s=" + find_tag(tags, "s")->value + " is not a selector");

    for (auto& name : split_colon_list(find_tag(tags, "h")->value)) {
        if (name.empty())
            throw dkim_syntax_error("h= holds an empty header field name");
        sig.signed_headers.push_back(text::lowered(name));
    }
    // RFC 6376 §6.1.1: a signature that does not cover From is ignored (PERMFAIL).
    if (std::find(sig.signed_headers.begin(), sig.signed_headers.end(), "from") == sig.signed_headers.end())
        throw dkim_syntax_error("h= does not include From");

    // RFC 6376 §3.5: i= defaults to "@d"; its domain is d or a subdomain of d.
    sig.identity = "@" + sig.domain;
    if (const auto* i = find_tag(tags, "i")) {
        const auto at = i->value.rfind('@');
        if (at == std::string::npos)
            throw dkim_syntax_error("i=" + i->value + " has no '@'");
        if (!is_same_or_subdomain(text::lowered(std::string_view(i->value).substr(at + 1)), sig.domain))
            throw dkim_syntax_error("i=" + i->value + " is not in d=" + sig.domain);
        sig.identity = i->value;
    }
    // RFC 6376 §3.5: q= lists query methods; dns/txt is the only one defined.
    if (const auto* q = find_tag(tags, "q")) {
        bool dns_txt = false;
        for (const auto& method : split_colon_list(q->value))
            dns_txt = dns_txt || iequals(method, "dns/txt");
        if (!dns_txt)
            throw dkim_syntax_error("q=" + q->value + " names no known query method");
    }
    if (const auto* l = find_tag(tags, "l")) {
        // RFC 6376 §3.5: 1*76DIGIT; lengths past 2^64 cannot be honoured anyway.
        sig.body_length = parse_decimal(l->value, true);
        if (!sig.body_length || l->value.size() > 76)
            throw dkim_syntax_error("l=" + l->value + " is not a body length");
    }
    if (const auto* t = find_tag(tags, "t")) {
        sig.timestamp = parse_decimal(t->value, false);
        if (!sig.timestamp)
            throw dkim_syntax_error("t=" + t->value + " is not a timestamp");
    }
    if (const auto* x = find_tag(tags, "x")) {
        sig.expiration = parse_decimal(x->value, false);
        if (!sig.expiration)
            throw dkim_syntax_error("x=" + x->value + " is not a timestamp");
        // RFC 6376 §3.5: x= MUST be greater than t= when both are present.
        if (sig.timestamp && *sig.expiration <= *sig.timestamp)
            throw dkim_syntax_error("x= is not after t=");
    }
    return sig;
}

std::string sha256(std::string_view data)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    return std::string(reinterpret_cast<const char*>(md.data()), len);
}

// RSA p= is a SubjectPublicKeyInfo (what signers publish); some publish the bare
// RSAPublicKey of RFC 3447 that RFC 6376 §3.6.1 literally names: take both.
evp_pkey_ptr load_rsa_key(const std::string& der)
{
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    evp_pkey_ptr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (!key) {
        p = reinterpret_cast<const unsigned char*>(der.data());
        key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
    }
    if (key && EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
        key.reset();
    return key;
}

struct header_field {
    std::string name;   // lower-case
    std::string raw;    // as received, folding kept, without the final CRLF
};

struct split_message {
    std::vector<header_field> headers;
    std::string body;
};

// Messages stored with LF line ends (mbox, maildir copies) were CRLF on the wire, where
// they were signed: restore CRLF before canonicalizing.
std::string with_crlf(std::string_view message)
{
    std::string out;
    out.reserve(message.size() + message.size() / 32);
    for (std::size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\n' && (i == 0 || message[i - 1] != '\r'))
            out += '\r';
        out += message[i];
    }
    return out;
}

split_message split(const std::string& message)
{
    split_message m;
    std::size_t pos = 0;
    while (pos < message.size()) {
        auto eol = message.find("\r\n", pos);
        if (eol == std::string::npos)
            eol = message.size();
        if (eol == pos) {   // the empty line that ends the header section
            pos = eol + 2;
            m.body = pos <= message.size() ? message.substr(pos) : std::string();
            return m;
        }
        const std::string_view line(message.data() + pos, eol - pos);
        if (is_wsp(line.front()) && !m.headers.empty()) {
            m.headers.back().raw.append("\r\n").append(line);
        } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
            std::string_view name = line.substr(0, colon);
            while (!name.empty() && is_wsp(name.back()))
                name.remove_suffix(1);
            m.headers.push_back({text::lowered(name), std::string(line)});
        }
        // else: not a header field (an mbox "From " line): no signature can cover it.
        pos = eol + 2;
    }
    return m;
}

// RFC 6376 §3.5 (b=) and §3.7: the signature's own field is hashed with the value of b=
// deleted, everything else (including other tags' whitespace) as received.
std::string without_b_value(const std::string& raw)
{
    const auto colon = raw.find(':');
    std::string out = raw.substr(0, colon + 1);
    std::size_t pos = colon + 1;
    while (pos <= raw.size()) {
        auto semi = raw.find(';', pos);
        if (semi == std::string::npos)
            semi = raw.size();
        const std::string_view spec(raw.data() + pos, semi - pos);
        const auto eq = spec.find('=');
        const std::size_t name_start = skip_fws(spec, 0);
        std::string_view name = eq == std::string_view::npos ? std::string_view() : spec.substr(name_start, eq - std::min(eq, name_start));
        while (!name.empty() && (is_wsp(name.back()) || name.back() == '\r' || name.back() == '\n'))
            name.remove_suffix(1);
        if (name == "b")
            out.append(spec.substr(0, eq + 1));
        else
            out.append(spec);
        if (semi < raw.size())
            out += ';';
        pos = semi + 1;
    }
    return out;
}

dkim_signature_result verify_one(const split_message& m, const header_field& field, const dkim_key_lookup& lookup,
                                 std::chrono::system_clock::time_point now)
{
    dkim_signature_result r;
    r.status = dkim_status::permerror;
    const std::string_view value = std::string_view(field.raw).substr(field.raw.find(':') + 1);
    dkim_signature sig;
    try {
        const auto tags = parse_dkim_tag_list(value);
        if (const auto* d = find_tag(tags, "d")) r.domain = text::lowered(d->value);
        if (const auto* s = find_tag(tags, "s")) r.selector = text::lowered(s->value);
        if (const auto* a = find_tag(tags, "a")) r.algorithm = text::lowered(a->value);
        sig = signature_from_tags(tags);
    } catch (const dkim_syntax_error& e) {
        r.reason = std::string("malformed signature: ") + e.what();
        return r;
    }
    const auto fail = [&](std::string why) {
        r.status = dkim_status::fail;
        r.reason = std::move(why);
        return r;
    };
    // RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid. The signature
    // is well-formed but unacceptable, so it fails rather than being a syntax error.
    if (sig.algorithm == dkim_algorithm::rsa_sha1)
        return fail("rsa-sha1 signatures are not accepted (RFC 8301)");
    // RFC 6376 §3.5 (x=): verifiers MAY ignore expired signatures; this one fails them.
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (sig.expiration && seconds >= 0 && *sig.expiration < static_cast<std::uint64_t>(seconds))
        return fail("signature expired (x=" + std::to_string(*sig.expiration) + ")");

    // RFC 6376 §3.6.2.1: the key is the TXT record at <s>._domainkey.<d>.
    const std::string key_name = sig.selector + "._domainkey." + sig.domain;
    std::vector<std::string> records;
    try {
        records = lookup(key_name);
    } catch (const dkim_temporary_failure& e) {
        r.status = dkim_status::temperror;
        r.reason = "key " + key_name + " not available now: " + e.what();
        return r;
    }
    // RFC 6376 §6.1.2: no key record → PERMFAIL (no key for signature).
    if (records.empty()) {
        r.reason = "no key for signature at " + key_name;
        return r;
    }
    // RFC 6376 §6.1.2: with several records the verifier may pick; take the first usable.
    std::optional<dkim_key> key;
    std::string key_error;
    for (const auto& record : records) {
        try {
            key = parse_dkim_key_record(record);
            break;
        } catch (const dkim_syntax_error& e) {
            if (key_error.empty())
                key_error = e.what();
        }
    }
    if (!key) {
        r.reason = "malformed key record at " + key_name + ": " + key_error;
        return r;
    }
    // RFC 6376 §3.6.1 (p=): an empty value means the key has been revoked.
    if (key->public_key.empty())
        return fail("key " + key_name + " is revoked (empty p=)");
    if (!key->for_email)
        return fail("key " + key_name + " is not for email (s=)");
    // RFC 6376 §3.6.1 (h=): the key may restrict the hash algorithms.
    if (!key->hash_algorithms.empty() &&
        std::find(key->hash_algorithms.begin(), key->hash_algorithms.end(), "sha256") == key->hash_algorithms.end())
        return fail("key " + key_name + " does not allow sha256 (h=)");
    // RFC 6376 §3.6.1 (t=s): the i= domain must be d= itself, not a subdomain.
    if (key->strict_identity && text::lowered(sig.identity.substr(sig.identity.rfind('@') + 1)) != sig.domain)
        return fail("key " + key_name + " requires i= in d= exactly (t=s)");
    const bool ed25519 = sig.algorithm == dkim_algorithm::ed25519_sha256;
    if ((key->type == dkim_key_type::ed25519) != ed25519)
        return fail(std::string("key type k=") + (key->type == dkim_key_type::ed25519 ? "ed25519" : "rsa") +
                    " does not match a=" + sig.algorithm_name);

    evp_pkey_ptr pkey;
    if (ed25519) {
        // RFC 8463 §4.2: p= is the bare 32-byte Ed25519 public key.
        if (key->public_key.size() == 32)
            pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                   reinterpret_cast<const unsigned char*>(key->public_key.data()), 32));
        if (!pkey) {
            r.reason = "key " + key_name + " is not an Ed25519 public key";
            return r;
        }
    } else {
        pkey = load_rsa_key(key->public_key);
        if (!pkey) {
            r.reason = "key " + key_name + " is not an RSA public key";
            return r;
        }
        // RFC 8301 §3.2: keys under 1024 bits are not to be trusted.
        if (EVP_PKEY_get_bits(pkey.get()) < 1024)
            return fail("RSA key " + key_name + " has " + std::to_string(EVP_PKEY_get_bits(pkey.get())) +
                        " bits, fewer than 1024 (RFC 8301)");
    }

    // RFC 6376 §3.7: the body hash over the canonical body, cut at l= when present.
    std::string body = canonicalize_body(m.body, sig.body_canonicalization);
    std::string note;
    if (sig.body_length) {
        if (*sig.body_length > body.size())
            return fail("l=" + std::to_string(*sig.body_length) + " is longer than the body (" +
                        std::to_string(body.size()) + " octets)");
        // RFC 6376 §8.2: content after l= is unsigned and could have been appended by anyone.
        if (*sig.body_length < body.size())
            note = "l= covers " + std::to_string(*sig.body_length) + " of " + std::to_string(body.size()) +
                   " body octets; the rest is unsigned";
        body.resize(static_cast<std::size_t>(*sig.body_length));
    }
    if (sha256(body) != sig.body_hash)
        return fail("body hash mismatch (bh=): the body was changed after signing");

    // RFC 6376 §5.4.2: each name in h= takes the last not yet used instance of that field,
    // bottom-up; a name with no instance left contributes nothing.
    std::string signed_data;
    std::vector<bool> used(m.headers.size(), false);
    for (const auto& name : sig.signed_headers) {
        for (std::size_t i = m.headers.size(); i-- > 0;) {
            if (!used[i] && m.headers[i].name == name) {
                used[i] = true;
                signed_data += canonicalize_header(m.headers[i].raw, sig.header_canonicalization);
                signed_data += "\r\n";
                break;
            }
        }
    }
    // RFC 6376 §3.7: then the DKIM-Signature field itself, b= empty, with no final CRLF.
    signed_data += canonicalize_header(without_b_value(field.raw), sig.header_canonicalization);

    const evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx)
        throw std::runtime_error("EVP_MD_CTX_new failed");
    bool verified = false;
    const auto* signature = reinterpret_cast<const unsigned char*>(sig.signature.data());
    if (ed25519) {
        // RFC 8463 §3: PureEdDSA over the SHA-256 hash of the data, not over the data.
        const std::string digest = sha256(signed_data);
        verified = EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
                   EVP_DigestVerify(ctx.get(), signature, sig.signature.size(),
                                    reinterpret_cast<const unsigned char*>(digest.data()), digest.size()) == 1;
    } else {
        // RFC 6376 §3.3.1: RSASSA-PKCS1-v1_5 with SHA-256.
        verified = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) == 1 &&
                   EVP_DigestVerify(ctx.get(), signature, sig.signature.size(),
                                    reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size()) == 1;
    }
    if (!verified)
        return fail("signature does not verify: a signed header field was changed, or the wrong key");
    r.status = dkim_status::pass;
    r.reason = note;
    r.testing_key = key->testing;
    if (key->testing)
        r.reason += std::string(r.reason.empty() ? "" : "; ") + "key is in testing mode (t=y)";
    return r;
}

// How useful a status is when no signature of the reporting domain passed: a temporary
// error may still turn into a pass on retry.
int rank(dkim_status s)
{
    switch (s) {
    case dkim_status::pass: return 4;
    case dkim_status::temperror: return 3;
    case dkim_status::fail: return 2;
    case dkim_status::permerror: return 1;
    case dkim_status::none: return 0;
    }
    return 0;
}

std::string normalised_domain(std::string_view d)
{
    std::string out = text::lowered(d);
    while (!out.empty() && out.back() == '.')
        out.pop_back();
    return out;
}

} // namespace

std::vector<dkim_tag> parse_dkim_tag_list(std::string_view text)
{
    // RFC 6376 §3.2: tag-list = tag-spec *( ";" tag-spec ) [ ";" ]
    //                tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
    std::vector<dkim_tag> tags;
    std::size_t pos = 0;
    for (;;) {
        pos = skip_fws(text, pos);
        if (pos == text.size()) {
            if (tags.empty())
                throw dkim_syntax_error("empty tag list");
            return tags;   // a trailing ";" is allowed
        }
        // tag-name = ALPHA *ALNUMPUNC
        const std::size_t name_start = pos;
        if (!is_alpha(text[pos]))
            throw dkim_syntax_error("expected a tag name " + quoted_rest(text, pos));
        while (pos < text.size() && (is_alpha(text[pos]) || is_digit(text[pos]) || text[pos] == '_'))
            ++pos;
        dkim_tag tag;
        tag.name = std::string(text.substr(name_start, pos - name_start));
        pos = skip_fws(text, pos);
        if (pos == text.size() || text[pos] != '=')
            throw dkim_syntax_error("expected '=' after tag " + tag.name + " " + quoted_rest(text, pos));
        pos = skip_fws(text, pos + 1);
        // tag-value = [ tval *( 1*(WSP / FWS) tval ) ], tval = 1*VALCHAR (%x21-3A / %x3C-7E)
        const std::size_t value_start = pos;
        std::size_t value_end = pos;
        while (pos < text.size() && text[pos] != ';') {
            const auto c = static_cast<unsigned char>(text[pos]);
            if (c >= 0x21 && c <= 0x7E) {
                value_end = ++pos;
            } else {
                const std::size_t after = skip_fws(text, pos);
                if (after == pos)
                    throw dkim_syntax_error("invalid character in the value of " + tag.name + " " +
                                            quoted_rest(text, pos));
                pos = after;
            }
        }
        tag.value = std::string(text.substr(value_start, value_end - value_start));
        // RFC 6376 §3.2: a tag occurring more than once makes the entire list invalid.
        if (find_tag(tags, tag.name))
            throw dkim_syntax_error("duplicate tag " + tag.name + "=");
        tags.push_back(std::move(tag));
        if (pos == text.size())
            return tags;
        ++pos;   // ';'
    }
}

dkim_signature parse_dkim_signature(std::string_view value)
{
    return signature_from_tags(parse_dkim_tag_list(value));
}

dkim_key parse_dkim_key_record(std::string_view record)
{
    const auto tags = parse_dkim_tag_list(record);
    dkim_key key;
    // RFC 6376 §3.6.1 (v=): optional, but when present it is "DKIM1" and the first tag.
    if (const auto* v = find_tag(tags, "v")) {
        if (v->value != "DKIM1")
            throw dkim_syntax_error("key record version v=" + v->value + " is not DKIM1");
        if (&tags.front() != v)
            throw dkim_syntax_error("v= is not the first tag of the key record");
    }
    if (const auto* k = find_tag(tags, "k")) {
        const std::string type = text::lowered(k->value);
        if (type == "rsa")
            key.type = dkim_key_type::rsa;
        else if (type == "ed25519")   // RFC 8463 §4.1
            key.type = dkim_key_type::ed25519;
        else
            throw dkim_syntax_error("unknown key type k=" + k->value);
    }
    const auto* p = find_tag(tags, "p");
    if (!p)
        throw dkim_syntax_error("key record lacks p=");
    const auto decoded = decode_base64(p->value);
    if (!decoded)
        throw dkim_syntax_error("p= is not base64");
    key.public_key = *decoded;
    if (const auto* h = find_tag(tags, "h"))
        for (const auto& alg : split_colon_list(h->value))
            key.hash_algorithms.push_back(text::lowered(alg));
    // RFC 6376 §3.6.1 (s=): service types; "*" or "email" make the key usable for mail.
    if (const auto* s = find_tag(tags, "s")) {
        key.for_email = false;
        for (const auto& service : split_colon_list(s->value))
            key.for_email = key.for_email || service == "*" || iequals(service, "email");
    }
    // RFC 6376 §3.6.1 (t=): flags; unknown ones are ignored.
    if (const auto* t = find_tag(tags, "t"))
        for (const auto& flag : split_colon_list(t->value)) {
            key.testing = key.testing || iequals(flag, "y");
            key.strict_identity = key.strict_identity || iequals(flag, "s");
        }
    return key;
}

std::string canonicalize_header(std::string_view field, dkim_canonicalization c)
{
    if (c == dkim_canonicalization::simple)   // RFC 6376 §3.4.1: unchanged
        return std::string(field);
    // RFC 6376 §3.4.2: name lower-cased; value unfolded, WSP runs to one SP, WSP at the
    // ends and around the colon deleted.
    const auto colon = field.find(':');
    std::string_view name = field.substr(0, colon);
    while (!name.empty() && is_wsp(name.back()))
        name.remove_suffix(1);
    std::string out = text::lowered(name);
    out += ':';
    if (colon == std::string_view::npos)
        return out;
    bool pending_space = false, in_value = false;
    for (std::size_t i = colon + 1; i < field.size(); ++i) {
        const char ch = field[i];
        if (ch == '\r' || ch == '\n')
            continue;
        if (is_wsp(ch)) {
            pending_space = in_value;
            continue;
        }
        if (pending_space)
            out += ' ';
        pending_space = false;
        in_value = true;
        out += ch;
    }
    return out;
}

std::string canonicalize_body(std::string_view body, dkim_canonicalization c)
{
    std::string out;
    if (c == dkim_canonicalization::simple) {
        out.assign(body);
    } else {
        // RFC 6376 §3.4.4: WSP at line ends deleted, WSP runs inside lines to one SP.
        out.reserve(body.size());
        std::size_t pos = 0;
        while (pos < body.size()) {
            auto eol = body.find("\r\n", pos);
            const bool has_crlf = eol != std::string_view::npos;
            if (!has_crlf)
                eol = body.size();
            bool pending_space = false;
            for (std::size_t i = pos; i < eol; ++i) {
                if (is_wsp(body[i])) {
                    pending_space = true;
                    continue;
                }
                if (pending_space)
                    out += ' ';
                pending_space = false;
                out += body[i];
            }
            out += "\r\n";   // §3.4.4: a last line without CRLF gets one
            pos = has_crlf ? eol + 2 : eol;
        }
    }
    // §3.4.3 / §3.4.4: empty lines at the end of the body are ignored.
    while (out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0)
        out.resize(out.size() - 2);
    if (c == dkim_canonicalization::relaxed) {
        if (out == "\r\n")
            out.clear();   // §3.4.4: a body of empty lines is the empty body
        return out;
    }
    // §3.4.3: an empty body or one without a final CRLF gets a CRLF.
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)
        out += "\r\n";
    return out;
}

dkim_verdict verify_dkim(std::string_view message, const std::vector<std::string>& reporting_domains,
                         const dkim_key_lookup& lookup, std::chrono::system_clock::time_point now,
                         unsigned max_signatures)
{
    dkim_verdict verdict;
    const split_message m = split(with_crlf(message));
    std::vector<std::string> reporters;
    for (const auto& d : reporting_domains)
        if (auto n = normalised_domain(d); !n.empty())
            reporters.push_back(std::move(n));

    for (const auto& field : m.headers) {
        if (field.name != "dkim-signature")
            continue;
        if (verdict.signatures.size() >= max_signatures)
            break;   // bounded work per message: a flood of signatures is not verified
        verdict.signatures.push_back(verify_one(m, field, lookup, now));
    }
    for (const auto& s : verdict.signatures) {
        if (s.status == dkim_status::pass) {
            // RFC 8460 §3: the signature must be the reporting domain's (d= the submitter or
            // From domain, or a parent of it); a forwarder's own signature proves nothing.
            const bool reporter = std::any_of(reporters.begin(), reporters.end(), [&](const std::string& r) {
                return r == s.domain || (s.domain.find('.') != std::string::npos && is_same_or_subdomain(r, s.domain));
            });
            if (reporter) {
                const bool first_pass = verdict.status != dkim_status::pass;
                if (first_pass || (verdict.testing_key && !s.testing_key)) {
                    verdict.status = dkim_status::pass;
                    verdict.signing_domain = s.domain;
                    verdict.testing_key = s.testing_key;
                }
                if (!s.testing_key)
                    return verdict;
                continue;   // a signature by a key not in testing mode may still follow
            }
            // A valid signature of another domain is not a pass for the reporting domain.
            if (rank(verdict.status) < rank(dkim_status::fail))
                verdict.status = dkim_status::fail;
        } else if (rank(s.status) > rank(verdict.status)) {
            verdict.status = s.status;
        }
    }
    return verdict;
}

} // namespace stswatch
