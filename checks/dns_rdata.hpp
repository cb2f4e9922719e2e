// Parsers of DNS record data (rdata) as a server sends it: pure and bounds-checked, since
// the server is not trusted (fuzzed). Each returns false for malformed data.
#pragma once

#include "checks/dns.hpp"

#include <cstddef>
#include <string>

namespace stswatch {

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
