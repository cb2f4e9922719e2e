// DNS lookups for the checks and for DKIM keys, with a configurable server
// (checks.resolver, --resolver IP:PORT) and DNSSEC validation state, on libunbound.
#pragma once

#include "net/dns_rdata.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stswatch {

struct dns_options {
    std::string server;          // "IP:PORT" or "IP"; "" = the system's resolv.conf
    unsigned timeout_ms = 5000;
    std::string trust_anchor_file;   // DNSSEC root key; "" = no validation
};

// Queries may come from several threads at once: they share one libunbound context (and
// its cache) without waiting for one another (see dns.cpp).
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

    // Whether answers are DNSSEC-validated (a trust anchor is set): without, secure is never
    // set and nothing can be said of DANE.
    bool validating() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
