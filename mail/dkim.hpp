// DKIM verification (RFC 6376; Ed25519 per RFC 8463) of report email, as RFC 8460 §3 asks
// of reports sent by mail. stswatch records the outcome per report rather than dropping
// unsigned mail (docs/senders.md: many reports pass through forwarders); operators choose.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch {

enum class dkim_status {
    none,        // no DKIM-Signature header
    pass,        // at least one signature verified
    fail,        // signatures present, none verified (body hash, signature, expired …)
    temperror,   // a key could not be fetched now (DNS temporary failure)
    permerror,   // malformed signature or key record
};
const char* to_string(dkim_status s);

struct dkim_signature_result {
    dkim_status status = dkim_status::none;
    std::string domain;          // d=
    std::string selector;        // s=
    std::string algorithm;       // a=
    std::string reason;          // why it failed, for the log and the metadata
    bool testing_key = false;    // the key record says t=y (RFC 6376 §3.6.1)
};

struct dkim_verdict {
    // pass when a signature of the reporting domain verified (d= equal to, or a parent of,
    // the TLS-Report-Submitter domain or the From domain); else the best other status.
    dkim_status status = dkim_status::none;
    std::string signing_domain;  // d= of the signature that decided a pass
    // The pass rests only on keys in testing mode (t=y): RFC 6376 §3.6.1 says such mail is
    // to be treated as unsigned, so a pass is stored (with the reason) but does not satisfy
    // collector.smtp.require_dkim. A pass by a key not in testing mode is preferred.
    bool testing_key = false;
    std::vector<dkim_signature_result> signatures;
};

// The verdict as stored and shown: to_string(status), except "pass-testing" for a pass
// that rests only on keys in testing mode (t=y).
const char* verdict_label(const dkim_verdict& verdict);

// The key record lookup: TXT records at <selector>._domainkey.<domain>. Returns the TXT
// strings (each record's character-strings joined). Throws dkim_temporary_failure for a
// temporary DNS failure; an empty vector means no record (NXDOMAIN or no data).
class dkim_temporary_failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
using dkim_key_lookup = std::function<std::vector<std::string>(const std::string& name)>;

// Verifies every DKIM-Signature of message (raw bytes as received, CRLF or LF line ends),
// at most max_signatures of them. reporting_domains: the submitter and From domains.
dkim_verdict verify_dkim(std::string_view message, const std::vector<std::string>& reporting_domains,
                         const dkim_key_lookup& lookup, std::chrono::system_clock::time_point now,
                         unsigned max_signatures = 5);

// ---- The pieces verify_dkim is made of, pure and separately tested and fuzzed. ----

// A tag-list (RFC 6376 §3.2) that is malformed, or a signature or key record that breaks a
// rule; what() says which rule and where parsing stopped.
class dkim_syntax_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct dkim_tag {
    std::string name;
    std::string value;   // folding whitespace around the value removed, inside kept
};

// RFC 6376 §3.2 tag=value list; duplicate tags make the whole list invalid.
std::vector<dkim_tag> parse_dkim_tag_list(std::string_view text);

enum class dkim_algorithm { rsa_sha256, ed25519_sha256, rsa_sha1 };
enum class dkim_canonicalization { simple, relaxed };

struct dkim_signature {
    dkim_algorithm algorithm = dkim_algorithm::rsa_sha256;
    std::string algorithm_name;                  // a= as written, lower-case
    std::string signature;                       // b=, decoded
    std::string body_hash;                       // bh=, decoded
    dkim_canonicalization header_canonicalization = dkim_canonicalization::simple;
    dkim_canonicalization body_canonicalization = dkim_canonicalization::simple;
    std::string domain;                          // d=, lower-case
    std::string selector;                        // s=, lower-case
    std::vector<std::string> signed_headers;     // h=, lower-case, in order
    std::string identity;                        // i= (default "@" + d)
    std::optional<std::uint64_t> body_length;    // l=
    std::optional<std::uint64_t> timestamp;      // t=
    std::optional<std::uint64_t> expiration;     // x=
};

// The value of a DKIM-Signature header field (after the colon). Throws dkim_syntax_error.
dkim_signature parse_dkim_signature(std::string_view value);

enum class dkim_key_type { rsa, ed25519 };

struct dkim_key {
    dkim_key_type type = dkim_key_type::rsa;     // k= (default rsa)
    std::string public_key;                      // p=, decoded; empty = revoked
    std::vector<std::string> hash_algorithms;    // h= (empty = any)
    bool for_email = true;                       // s= holds "email" or "*"
    bool testing = false;                        // t=y
    bool strict_identity = false;                // t=s
};

// A key record (RFC 6376 §3.6.1) as found in the TXT at <s>._domainkey.<d>.
// Throws dkim_syntax_error.
dkim_key parse_dkim_key_record(std::string_view record);

// RFC 6376 §3.4: canonical forms. A header field is given whole ("Name: value" with its
// folding, without the final CRLF); a body with CRLF line ends.
std::string canonicalize_header(std::string_view field, dkim_canonicalization c);
std::string canonicalize_body(std::string_view body, dkim_canonicalization c);

} // namespace stswatch
