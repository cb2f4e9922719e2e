// One check of a domain's MTA-STS / TLS-RPT / MX deployment, end to end: _mta-sts and
// _smtp._tls records, the policy fetch and parse, the MX set against the policy, and a
// STARTTLS probe of each MX (in parallel), giving findings. The result is what
// `stswatch check --json` prints and what the monitor stores as a snapshot.
#pragma once

#include "checks/check_json.hpp"   // to_json, to_json_text, check_result_from_json
#include "net/certificate.hpp"
#include "net/dns.hpp"
#include "mtasts/findings.hpp"
#include "checks/policy_fetch.hpp"
#include "mtasts/sts_policy.hpp"
#include "mtasts/sts_record.hpp"
#include "checks/starttls_probe.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

struct settings;

struct check_options {
    std::string ca_file;                 // checks.ca_file / --ca-file
    bool allow_private = false;          // checks.allow_private / --allow-private
    unsigned timeout_ms = 10000;         // checks.timeout
    unsigned mx_concurrency = 8;         // checks.mx_concurrency
    unsigned cert_expiring_days = 14;    // checks.cert_expiring_days
    bool probe_mx = true;                // STARTTLS probes (off: records and policy only)
    std::uint16_t https_port = 443;      // for benchmarks only
    std::uint16_t smtp_port = 25;        // for benchmarks only

    // --policy-file: check this text as if it were the published policy (it is not
    // fetched; the live policy, when there is one, is still fetched and shown), and also
    // match it against extra_mx_hosts (MX hosts seen in the domain's stored reports).
    std::optional<std::string> candidate_policy;
    std::vector<std::string> extra_mx_hosts;

    static check_options from(const settings& s);
};

struct mx_check {
    std::string host;                    // "" for a null MX (RFC 7505)
    std::uint16_t preference = 0;
    std::vector<std::string> addresses;  // A then AAAA
    std::optional<std::string> covered_by;   // the policy's mx pattern matching host
    bool from_reports = false;           // an extra_mx_hosts entry, not in the live MX set
    std::optional<starttls_probe_result> probe;   // when probed: the first address that answered
    std::vector<starttls_probe_result> other_probes;   // the other addresses that answered

    // RFC 7672: the TLSA records at _25._tcp.<host>, as DANE senders see them.
    struct dane_part {
        dns_status status = dns_status::temporary_failure;   // of the TLSA query
        bool validated = false;          // the resolver validates DNSSEC (checks.trust_anchor)
        bool secure = false, bogus = false;
        std::vector<std::string> records;    // "3 1 1 <hex>", sorted
        std::vector<std::string> matching;   // the usable records that match the certificate presented
    };
    std::optional<dane_part> dane;       // looked up for live MX hosts with addresses
};

struct check_result {
    std::string domain;                  // normalised (lower-case A-labels, no trailing dot)
    std::string checked_at;              // RFC 3339 UTC, when the check started
    bool dns_unavailable = false;        // the resolver itself failed (exit 69)
    std::vector<finding> findings;       // errors first, then warnings, then info; stable order

    struct sts_part {
        std::optional<std::string> record;       // the _mta-sts TXT record selected
        std::optional<std::string> id;           // its id, when it parsed
        std::optional<policy_fetch_result> fetch;
        std::optional<std::string> policy_text;  // fetched body (or the candidate with --policy-file)
        std::optional<sts_policy> policy;        // parsed and usable
        bool candidate = false;                  // policy_text is the --policy-file text
    } sts;

    struct tlsrpt_part {
        std::optional<std::string> record;
        std::vector<std::string> rua;
    } tlsrpt;

    std::vector<mx_check> mx;            // by preference, then host
};

// Runs every check. Never throws for what the domain publishes: problems become findings;
// when the resolver fails for the domain's own records, dns_unavailable is set (with a
// sts-record-dns-error finding). Throws std::invalid_argument for a malformed domain.
check_result run_check(const std::string& domain, dns_resolver& resolver, const check_options& options);

// Orders findings as check_result keeps them: errors, then warnings, then info, each
// group in the order the checks produced it.
void sort_findings(std::vector<finding>& findings);

} // namespace stswatch
