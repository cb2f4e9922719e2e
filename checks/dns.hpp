// DNS lookups for the checks and for DKIM keys, with a configurable server
// (checks.resolver, --resolver IP:PORT) and DNSSEC validation state, on libunbound.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stswatch {

enum class dns_status {
    ok,
    nxdomain,            // the name does not exist
    nodata,              // the name exists, but has no record of this type
    temporary_failure,   // SERVFAIL, timeout, network: try later
};
const char* to_string(dns_status s);

struct mx_record {
    std::uint16_t preference = 0;
    std::string host;    // normalised: lower-case, no trailing dot ("" for a null MX, RFC 7505)
};

struct tlsa_record {
    std::uint8_t usage = 0, selector = 0, matching_type = 0;
    std::string data;    // raw association data bytes
};

template <typename Record>
struct dns_result {
    dns_status status = dns_status::temporary_failure;
    std::vector<Record> records;
    bool secure = false;         // DNSSEC-validated
    bool bogus = false;          // DNSSEC validation failed
    std::string error;           // for temporary_failure: what happened
};

struct dns_options {
    std::string server;          // "IP:PORT" or "IP"; "" = the system's resolv.conf
    unsigned timeout_ms = 5000;
    std::string trust_anchor_file;   // DNSSEC root key; "" = no validation
};

class dns_resolver {
public:
    explicit dns_resolver(dns_options options);   // throws std::invalid_argument on a bad server
    ~dns_resolver();
    dns_resolver(const dns_resolver&) = delete;
    dns_resolver& operator=(const dns_resolver&) = delete;

    // TXT: each record's character-strings joined without separator (RFC 7208 §3.3 style).
    dns_result<std::string> txt(const std::string& name);
    dns_result<mx_record> mx(const std::string& name);
    dns_result<std::string> a(const std::string& name);       // dotted quad text
    dns_result<std::string> aaaa(const std::string& name);    // RFC 5952 text
    dns_result<tlsa_record> tlsa(const std::string& name);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
