// The table of result types, findings and change kinds (analyzer/cause_map.hpp). Every code
// is one of docs/findings.md, every change kind one that checks/monitor_diff.cpp records
// (tests/unit/test_cause_map.cpp holds both to it). docs/analysis.md "Causes" prints it.
#include "analyzer/cause_map.hpp"

namespace stswatch::analysis {

const std::vector<cause_mapping>& cause_map()
{
    // Subjects as the checks write them (docs/findings.md): MX findings and MX changes are
    // about an MX host; policy findings and changes about mta-sts.<domain>, record ones
    // about _mta-sts.<domain>.
    static const std::vector<cause_mapping> table = {
        {"validation-failure",
         {"mx-not-covered", "mx-cert-name-mismatch", "sts-policy-mx-invalid", "policy-mx-unused"},
         {"mx-added", "sts-mx-patterns-changed", "sts-policy-changed", "mx-cert-rotated"},
         "senders report validation-failure when the MX they deliver to is not matched by the policy's mx "
         "patterns, or its certificate is not valid for its name"},
        {"certificate-expired",
         {"mx-cert-expired"},
         {"mx-cert-rotated"},
         "senders report certificate-expired when the MX presents a certificate past its not_after"},
        {"certificate-host-mismatch",
         {"mx-cert-name-mismatch", "mx-not-covered"},
         {"mx-added", "mx-cert-rotated"},
         "senders report certificate-host-mismatch when the MX certificate does not name the MX host, or "
         "the MX host is not one the policy names"},
        {"certificate-not-trusted",
         {"mx-cert-untrusted"},
         {"mx-cert-rotated"},
         "senders report certificate-not-trusted when the MX certificate does not chain to a root they trust"},
        {"starttls-not-supported",
         {"mx-starttls-missing", "mx-tls-failed", "mx-unreachable"},
         {"mx-added"},
         "senders report starttls-not-supported when the MX does not offer STARTTLS or the TLS session "
         "after it cannot be set up"},
        {"sts-policy-fetch-error",
         {"sts-policy-fetch-failed", "sts-policy-http-status", "sts-policy-redirect", "sts-policy-content-type",
          "sts-policy-too-large", "sts-record-dns-error", "sts-policy-expired-at-senders"},
         {"sts-policy-removed", "sts-record-added", "sts-record-removed", "sts-id-changed",
          "sts-policy-expired-at-senders"},
         "senders report sts-policy-fetch-error when the policy cannot be fetched from "
         "https://mta-sts.<domain>/.well-known/mta-sts.txt as a plain 200 text/plain answer"},
        {"sts-policy-invalid",
         {"sts-policy-syntax", "sts-policy-version", "sts-policy-mode", "sts-policy-max-age", "sts-policy-mx-missing",
          "sts-policy-mx-invalid", "sts-record-multiple"},
         {"sts-policy-changed", "sts-policy-added"},
         "senders report sts-policy-invalid when the policy they fetched is not one they can use"},
        {"sts-webpki-invalid",
         {"sts-policy-cert-invalid"},
         {"sts-policy-removed"},
         "senders report sts-webpki-invalid when the certificate of mta-sts.<domain> is not valid for that "
         "name, expired or not trusted"},
        // DANE senders (RFC 7672) see the TLSA records of _25._tcp.<mx> through a validating
        // resolver; the checks see the same with checks.trust_anchor set (docs/findings.md).
        {"tlsa-invalid",
         {"mx-tlsa-mismatch", "mx-tlsa-malformed"},
         {"mx-tlsa-changed", "mx-cert-rotated"},
         "DANE senders report tlsa-invalid when no usable TLSA record of _25._tcp.<mx> matches the "
         "certificate the MX presents"},
        {"dnssec-invalid",
         {"mx-dnssec-bogus"},
         {"mx-tlsa-changed"},
         "DANE senders report dnssec-invalid when the TLSA lookup for the MX fails DNSSEC validation"},
        {"dane-required",
         {"mx-tlsa-unsigned", "mx-tlsa-mismatch"},
         {"mx-tlsa-changed"},
         "senders report dane-required when their configuration demands DANE for the MX and it has no "
         "usable, signed TLSA record"},
    };
    return table;
}

const cause_mapping* mapping_for(std::string_view result_type)
{
    for (const auto& m : cause_map())
        if (m.result_type == result_type)
            return &m;
    return nullptr;
}

} // namespace stswatch::analysis
