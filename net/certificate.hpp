// What the checks report about a peer's certificate (policy host or MX), and its
// verification against the system trust store plus checks.ca_file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stswatch {

struct certificate_info {
    bool present = false;                    // the peer sent a certificate
    std::vector<std::string> subject_names;  // DNS names of subjectAltName (the CN only when
                                             // there are none), lower-case, as in the cert
    std::string subject;                     // one-line RFC 2253 subject
    std::string issuer;                      // one-line RFC 2253 issuer
    std::string not_before, not_after;       // RFC 3339 UTC
    std::int64_t days_to_expiry = 0;         // whole days from the check time to not_after
                                             // (negative when expired)
    bool expired = false;                    // not_after is in the past (or not_before in the future)
    bool trusted = false;                    // the chain verifies to a trust anchor (time included)
    std::string verify_error;                // OpenSSL's reason when not trusted, "" otherwise
    bool name_matches = false;               // valid for the name asked for (RFC 6125 rules,
                                             // wildcard = one leftmost label only)
    std::string sha256;                      // fingerprint of the leaf, lower-case hex (rotation)
    // The certificates as presented, leaf first, each as DER and its SubjectPublicKeyInfo
    // as DER: what DANE TLSA records match (RFC 6698 §2.1.2, selector 0 and 1). Not part
    // of the snapshot JSON.
    struct presented {
        std::string der, spki;
    };
    std::vector<presented> chain;
};

} // namespace stswatch

namespace stswatch {

// Describes the first certificate of a PEM text (the rest is the chain as a peer would send
// it) for `host`, verified against the system's trust store plus ca_file (when set) at the
// current time. present = false when the text holds no certificate.
certificate_info describe_certificate_pem(const std::string& pem, const std::string& host,
                                          const std::string& ca_file = {});

// What makes the certificate unacceptable for `host` (RFC 8461 §3.3 for policy hosts, §4.1
// for MX hosts), as one phrase for a finding's message: "expired on 2026-01-01T00:00:00Z;
// not valid for mta-sts.example.com (names: a.example.com)"; "" when it is acceptable.
std::string certificate_problems(const certificate_info& certificate, const std::string& host);

} // namespace stswatch
