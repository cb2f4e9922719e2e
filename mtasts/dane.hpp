// RFC 7672 (SMTP security via opportunistic DANE TLS) and RFC 6698 TLSA records as data:
// which records a sender can use, and whether they match the certificates an MX presented.
// Pure: the lookup (net/dns) and the handshake (checks/starttls_probe) are elsewhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stswatch {

// One TLSA record of _25._tcp.<mx> (RFC 6698 §2.1).
struct tlsa_association {
    std::uint8_t usage = 0, selector = 0, matching_type = 0;
    std::string data;   // the certificate association data, raw bytes
};

// One certificate as presented: its DER and its SubjectPublicKeyInfo DER.
struct presented_certificate {
    std::string der, spki;
};

// Why a sender cannot use the record, or "" when it can. RFC 7672 §3.1.3: SMTP clients do
// not use PKIX-TA(0) and PKIX-EE(1); usages are DANE-TA(2) and DANE-EE(3), selectors
// Cert(0) and SPKI(1), matching types Full(0), SHA2-256(1) with 32 bytes of data and
// SHA2-512(2) with 64.
std::string tlsa_unusable_reason(const tlsa_association& r);

// RFC 6698 §2.1: whether a usable record matches the chain (leaf first). DANE-EE(3) matches
// the leaf only; DANE-TA(2) a certificate the MX presented above its leaf (RFC 7672 §3.1.2:
// the trust anchor must be in the chain the server sends). The chain's signatures and the
// leaf's names are not checked here.
bool tlsa_matches(const tlsa_association& r, const std::vector<presented_certificate>& chain);

// "3 1 1 <hex>": the record in zone-file form, hex lower-case.
std::string tlsa_text(const tlsa_association& r);

struct dane_evaluation {
    std::vector<std::size_t> unusable;   // indexes of records a sender cannot use
    std::vector<std::string> reasons;    // tlsa_unusable_reason of each, same order
    std::vector<std::size_t> matching;   // indexes of usable records that match the chain
    std::size_t usable = 0;
};

dane_evaluation evaluate_tlsa(const std::vector<tlsa_association>& records,
                              const std::vector<presented_certificate>& chain);

} // namespace stswatch
