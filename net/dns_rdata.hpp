// Parsers of DNS record data (rdata) as a server sends it: pure and bounds-checked, since
// the server is not trusted (fuzzed). Each returns false for malformed data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stswatch {

// The record types and answer states of DNS lookups (net/dns.hpp asks; these are data).
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


// RFC 1035 §3.3.14: one or more <character-string>s, joined without separator.
bool parse_txt_rdata(const unsigned char* rdata, std::size_t len, std::string& out);
// RFC 1035 §3.3.9: PREFERENCE then an uncompressed EXCHANGE name; RFC 7505: "." → host "".
bool parse_mx_rdata(const unsigned char* rdata, std::size_t len, mx_record& out);
// RFC 1035 §3.4.1: four octets, as dotted-quad text.
bool parse_a_rdata(const unsigned char* rdata, std::size_t len, std::string& out);
// RFC 3596 §2.2: sixteen octets, as RFC 5952 text.
bool parse_aaaa_rdata(const unsigned char* rdata, std::size_t len, std::string& out);
// RFC 6698 §2.1: usage, selector, matching type, association data.
bool parse_tlsa_rdata(const unsigned char* rdata, std::size_t len, tlsa_record& out);

} // namespace stswatch
