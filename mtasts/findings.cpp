// The catalogue of finding codes (docs/findings.md documents it; a unit test keeps the two
// equal). Severity answers one question: does this make senders fail, or ignore what the
// domain published? Then it is an error. Warnings are weaker protection or an approaching
// problem; info is a deliberate state worth knowing.
#include "mtasts/findings.hpp"

#include <algorithm>
#include <stdexcept>

namespace stswatch {

const char* to_string(severity s)
{
    switch (s) {
    case severity::error: return "error";
    case severity::warning: return "warning";
    case severity::info: return "info";
    }
    return "error";
}

const std::vector<finding_kind>& finding_catalogue()
{
    using enum severity;
    static const std::vector<finding_kind> catalogue = {
        // _mta-sts TXT record
        // A domain without MTA-STS is not broken mail, only unprotected mail: a warning, so
        // that checking such a domain does not fail the way a broken deployment does.
        {"sts-record-missing", warning, "RFC 8461 §3.1",
         "No TXT record at _mta-sts.<domain> begins with v=STSv1: senders apply no MTA-STS policy.",
         "Publish \"v=STSv1; id=<YYYYMMDDTHHMMSS>\" at _mta-sts.<domain> and the policy file at https://mta-sts.<domain>/.well-known/mta-sts.txt."},
        // A policy served without the record: the operator meant to deploy MTA-STS, and
        // senders never fetch the policy.
        {"sts-record-missing-policy-served", error, "RFC 8461 §3.1",
         "mta-sts.<domain> serves a valid policy but no TXT record at _mta-sts.<domain> begins with v=STSv1: senders never fetch the policy, MTA-STS is off.",
         "Publish \"v=STSv1; id=<YYYYMMDDTHHMMSS>\" at _mta-sts.<domain> (the check's message gives a fresh id)."},
        {"sts-record-multiple", error, "RFC 8461 §3.1",
         "More than one TXT record at _mta-sts.<domain> begins with v=STSv1: senders treat the domain as having no policy.",
         "Keep exactly one v=STSv1 record and delete the others."},
        {"sts-record-syntax", error, "RFC 8461 §3.1",
         "The _mta-sts record does not follow the record syntax (fields key=value separated by \";\"): senders may ignore it.",
         "Publish the record as \"v=STSv1; id=<id>\", version first, fields separated by \";\", no empty or malformed fields."},
        {"sts-record-version", error, "RFC 8461 §3.1",
         "The _mta-sts record names a version other than STSv1 (or spells it differently): senders ignore it.",
         "Begin the record with exactly \"v=STSv1\" (case-sensitive)."},
        {"sts-record-id-missing", error, "RFC 8461 §3.1",
         "The _mta-sts record has no id field: senders ignore it.",
         "Add an id, e.g. \"v=STSv1; id=20261126T120000\", and change it whenever the policy changes."},
        {"sts-record-id-invalid", error, "RFC 8461 §3.1",
         "The id of the _mta-sts record is not 1 to 32 letters and digits: senders ignore the record.",
         "Use an id of letters and digits only, at most 32, e.g. a timestamp such as 20261126T120000."},
        {"sts-record-dns-error", error, "RFC 8461 §3.1",
         "The DNS query for _mta-sts.<domain> failed (not a \"no such record\" answer): senders cannot discover the policy.",
         "Make the domain's authoritative servers answer for _mta-sts.<domain> (check DNSSEC, delegation and server health)."},
        {"sts-policy-changed-without-id", error, "RFC 8461 §3.1",
         "The policy that senders read (mode, max_age, mx patterns, version) changed but the id in _mta-sts.<domain> did not: senders with a cached policy keep applying the old one.",
         "Change the id in the _mta-sts record whenever the policy file changes."},

        // Fetching the policy
        {"sts-policy-fetch-failed", error, "RFC 8461 §3.3",
         "The policy could not be fetched from https://mta-sts.<domain>/.well-known/mta-sts.txt (name, connection or TLS failure).",
         "Serve the policy over HTTPS on port 443 at mta-sts.<domain>, with an A/AAAA record pointing at a public address."},
        {"sts-policy-expired-at-senders", error, "RFC 8461 §5.1",
         "The policy host has been unreachable for longer than the last fetched policy's max_age: every sender's cached copy has expired, so MTA-STS is off for them.",
         "Make https://mta-sts.<domain>/.well-known/mta-sts.txt reachable again; senders fetch the policy at their next delivery."},
        {"sts-policy-cert-invalid", error, "RFC 8461 §3.3",
         "The certificate of mta-sts.<domain> is not valid for that name, expired or not trusted: senders refuse the policy.",
         "Install a certificate from a public CA whose subject alternative names include mta-sts.<domain>, with its full chain."},
        {"sts-policy-http-status", error, "RFC 8461 §3.3",
         "The policy URL answered with an HTTP status other than 200: senders treat it as no policy.",
         "Serve the file at /.well-known/mta-sts.txt with status 200."},
        {"sts-policy-redirect", error, "RFC 8461 §3.3",
         "The policy URL answered with a redirect: senders do not follow redirects.",
         "Serve the policy directly at https://mta-sts.<domain>/.well-known/mta-sts.txt, without a redirect."},
        {"sts-policy-content-type", error, "RFC 8461 §3.3",
         "The policy was served with a media type other than text/plain: senders may reject it.",
         "Serve the file with \"Content-Type: text/plain\"."},
        {"sts-policy-too-large", error, "RFC 8461 §3.3",
         "The policy is larger than 64 KiB: senders stop reading it.",
         "Keep the policy file small: the four keys and the mx lines only."},

        // The policy file's content
        {"sts-policy-syntax", error, "RFC 8461 §3.2",
         "A line of the policy is not \"key: value\", or a key appears more than once: senders may read the policy differently or reject it.",
         "Write one \"key: value\" per line (LF or CRLF), keys in lower case, each of version, mode and max_age once."},
        {"sts-policy-version", error, "RFC 8461 §3.2",
         "The policy has no \"version: STSv1\" line: senders reject it.",
         "Add \"version: STSv1\" as the first line."},
        {"sts-policy-mode", error, "RFC 8461 §3.2",
         "The policy's mode is missing or not one of enforce, testing, none: senders reject it.",
         "Add \"mode: testing\" (while checking reports) or \"mode: enforce\"."},
        {"sts-policy-max-age", error, "RFC 8461 §3.2",
         "The policy's max_age is missing, not a number of seconds (1 to 10 digits) or above 31557600: senders reject it.",
         "Set \"max_age: 604800\" (one week) or more, at most 31557600."},
        {"sts-policy-mx-missing", error, "RFC 8461 §3.2",
         "The policy has no mx line although its mode is not none: senders reject it.",
         "Add one \"mx: <host or *.domain>\" line per MX host name, matching every MX record."},
        {"sts-policy-mx-invalid", error, "RFC 8461 §3.2",
         "An mx line of the policy is not a host name or \"*.\" followed by a host name: it matches nothing.",
         "Write each mx value as a host name (mail.example.com) or a wildcard for one label (*.example.com), no trailing dot."},
        {"sts-mode-testing", warning, "RFC 8461 §5",
         "The policy is in testing mode: senders report failures but still deliver without TLS protection.",
         "Once TLS reports show no failures, switch to \"mode: enforce\" and change the id."},
        {"sts-mode-none", info, "RFC 8461 §5",
         "The policy's mode is none: MTA-STS is published but withdrawn, senders apply nothing.",
         "Nothing, if MTA-STS is being removed on purpose; otherwise set mode testing or enforce."},
        {"sts-max-age-short", warning, "RFC 8461 §3.2",
         "The policy's max_age is under one day: senders refetch often and an attacker who blocks the fetch soon disables the policy.",
         "Use a max_age of weeks (e.g. 1209600) once the policy is stable."},

        // MX records against the policy, and each MX itself
        {"mx-missing", error, "RFC 8461 §4.1",
         "The domain has no MX record: senders fall back to its address records, which no mx pattern can cover.",
         "Publish MX records for the domain (or a null MX, \"0 .\", if it accepts no mail)."},
        {"mx-not-covered", error, "RFC 8461 §4.1",
         "An MX host is not matched by any mx pattern of the policy: senders in enforce mode refuse to deliver to it.",
         "Add the MX host (or a *.<parent> pattern) to the policy's mx lines and change the id in _mta-sts.<domain>."},
        {"policy-mx-unused", warning, "RFC 8461 §4.1",
         "An mx pattern of the policy matches none of the domain's MX hosts: a leftover, or an MX that is missing.",
         "Remove the stale mx line (and change the id), or publish the MX it was meant for."},
        {"mx-no-address", error, "RFC 5321 §5.1",
         "An MX host name has no A or AAAA record: senders cannot connect to it.",
         "Publish address records for the MX host, or remove it from the MX set."},
        {"mx-unreachable", error, "RFC 5321 §5.1",
         "An MX host could not be reached on port 25, or did not answer SMTP properly.",
         "Make the MX accept connections on port 25 (firewall, service running, greeting 220)."},
        {"mx-not-probed", warning, "RFC 5321 §5.1",
         "An MX host was not probed: the domain has more than 20 MX hosts (a check takes the first 20 by preference), or the probes of the others used up the check's time.",
         "Check that MX host on its own; keep the MX set short, or raise checks.timeout if the MX hosts are slow."},
        {"mx-starttls-missing", error, "RFC 8461 §4",
         "An MX host does not offer STARTTLS, or refuses it: senders in enforce mode cannot deliver to it.",
         "Enable STARTTLS on the MX with a certificate valid for its host name."},
        {"mx-tls-failed", error, "RFC 8461 §4.2",
         "The TLS handshake with an MX failed after STARTTLS: senders cannot deliver securely.",
         "Check the MX's TLS configuration: protocol versions, ciphers and certificate files."},
        {"mx-tls-version-old", warning, "RFC 8996 §4-5",
         "An MX negotiated TLS 1.1 or older: deprecated protocol versions.",
         "Enable TLS 1.2 and 1.3 on the MX."},
        {"mx-cert-untrusted", error, "RFC 8461 §4.2",
         "The certificate of an MX does not chain to a trusted root: senders in enforce mode refuse to deliver.",
         "Install a certificate from a public CA on the MX, with its full intermediate chain."},
        {"mx-cert-expired", error, "RFC 8461 §4.2",
         "The certificate of an MX has expired (or is not valid yet): senders in enforce mode refuse to deliver.",
         "Renew the MX certificate and automate renewal."},
        {"mx-cert-expiring", warning, "RFC 8461 §4.2",
         "The certificate of an MX expires soon.",
         "Renew the MX certificate before it expires, and check that renewal is automated."},
        {"mx-cert-name-mismatch", error, "RFC 8461 §4.2",
         "The certificate of an MX does not name its host name in its subject alternative names: senders in enforce mode refuse to deliver.",
         "Issue the MX certificate with a dNSName equal to the MX host name (or a wildcard for its parent)."},

        // DANE (RFC 7672): the TLSA records of each MX, as DANE senders use them
        {"mx-dnssec-bogus", error, "RFC 7672 §2.1.1",
         "DNSSEC validation of the TLSA lookup for _25._tcp.<mx> failed (bogus): DANE senders defer delivery to that MX.",
         "Fix the DNSSEC signatures and DS records of the MX host's zone (expired signatures, a DS for a key no longer published)."},
        {"mx-tlsa-mismatch", error, "RFC 7672 §3",
         "No usable TLSA record of _25._tcp.<mx> matches the certificate the MX presented: DANE senders refuse to deliver to it.",
         "Publish a TLSA record for the certificate or key in use (e.g. \"3 1 1\" with the SHA-256 of its public key), or install the certificate the records describe."},
        {"mx-tlsa-malformed", warning, "RFC 7672 §3.1.3",
         "A TLSA record of _25._tcp.<mx> is one SMTP senders cannot use (a PKIX usage, an unknown selector or matching type, a digest of the wrong length): they ignore it.",
         "Publish DANE-EE (3) or DANE-TA (2) records with selector 0 or 1 and matching type 1 (32-byte SHA-256) or 2 (64-byte SHA-512)."},
        {"mx-tlsa-unsigned", warning, "RFC 7672 §2.2",
         "The MX host has TLSA records but its zone is not DNSSEC-signed: senders ignore them, so DANE does not protect this MX.",
         "Sign the MX host's zone with DNSSEC and publish its DS in the parent zone, or remove the TLSA records."},
        {"mx-tlsa-rollover-hazard", warning, "RFC 7671 §8.1",
         "The MX has a single usable TLSA record, matching the current certificate: a new key or certificate deployed without a new record first makes DANE senders refuse delivery.",
         "Publish a second TLSA record for the next key (or for the issuing CA, DANE-TA) before every rollover, and remove the old one after."},
        {"mx-tlsa-missing", info, "RFC 7672 §2.2",
         "The MX host's zone is DNSSEC-signed but publishes no TLSA record at _25._tcp.<mx>: DANE senders deliver with unauthenticated TLS.",
         "Publish TLSA records (e.g. \"3 1 1\" with the SHA-256 of the MX key) to have DANE senders authenticate the MX."},

        // _smtp._tls TXT record (TLS reporting)
        {"tlsrpt-record-missing", warning, "RFC 8460 §3",
         "No TXT record at _smtp._tls.<domain> begins with v=TLSRPTv1: senders send no TLS reports.",
         "Publish \"v=TLSRPTv1; rua=mailto:tlsrpt@<domain>\" (or an https: rua) at _smtp._tls.<domain>."},
        {"tlsrpt-record-multiple", error, "RFC 8460 §3",
         "More than one TXT record at _smtp._tls.<domain> begins with v=TLSRPTv1: senders send no reports.",
         "Keep one v=TLSRPTv1 record; several destinations go into one rua, separated by commas."},
        {"tlsrpt-record-syntax", error, "RFC 8460 §3",
         "The _smtp._tls record does not follow the record syntax or spells the version differently: senders ignore it.",
         "Publish the record as \"v=TLSRPTv1; rua=<uri>[,<uri>]\", version first, fields separated by \";\"."},
        {"tlsrpt-rua-missing", error, "RFC 8460 §3",
         "The _smtp._tls record has no usable rua destination: senders have nowhere to send reports.",
         "Add \"rua=mailto:<address>\" or \"rua=https://<host>/<path>\"."},
        {"tlsrpt-rua-invalid", warning, "RFC 8460 §3",
         "A rua destination is neither a mailto: URI with an address nor an https: URI with a host: senders skip it.",
         "Fix or remove the destination; percent-encode \",\" and \"!\" inside a URI."},
    };
    return catalogue;
}

const finding_kind* find_finding_kind(std::string_view code)
{
    const auto& catalogue = finding_catalogue();
    const auto it = std::find_if(catalogue.begin(), catalogue.end(),
                                 [&](const finding_kind& k) { return code == k.code; });
    return it == catalogue.end() ? nullptr : &*it;
}

finding make_finding(std::string_view code, std::string subject, std::string message)
{
    const finding_kind* kind = find_finding_kind(code);
    if (!kind)
        throw std::logic_error("finding code \"" + std::string(code) + "\" is not in the catalogue (checks/findings.cpp)");
    return finding{kind->code, kind->level, std::move(subject), std::move(message), kind->rfc};
}

bool has_errors(const std::vector<finding>& findings)
{
    return std::any_of(findings.begin(), findings.end(),
                       [](const finding& f) { return f.level == severity::error; });
}

std::string quote_untrusted(std::string_view text, std::size_t max_chars)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    std::size_t shown = 0;
    for (const char ch : text) {
        if (shown == max_chars) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            // Control bytes and non-ASCII are shown, never passed to a terminal or a log.
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
        ++shown;
    }
    out += '"';
    return out;
}

} // namespace stswatch
