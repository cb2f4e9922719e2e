// Record data as servers send it, good and malformed, for each type the checks ask for.
// Shared by tests/unit/test_dns_rdata.cpp and the fuzzer's seeds (tests/fuzz/seeds_dns_rdata.cpp).
#pragma once

#include <string>
#include <vector>

namespace stswatch::test {

struct rdata_case {
    std::string type;       // "TXT", "MX", "A", "AAAA", "TLSA"
    std::string rdata;      // wire bytes
    bool valid;
    std::string expected;   // the parsed value as text: TXT the joined strings, MX "PREF HOST",
                            // A/AAAA the address, TLSA "U S M <data length>"
    std::string why;        // for an invalid case: what is wrong
};

inline std::string bytes(std::initializer_list<int> list)
{
    std::string out;
    for (int b : list)
        out += static_cast<char>(b);
    return out;
}

inline std::vector<rdata_case> rdata_cases()
{
    using std::string;
    return {
        {"TXT", "\x0cv=STSv1; id=", true, "v=STSv1; id=", ""},
        // RFC 7208 §3.3 style: long records come as several character-strings, joined.
        {"TXT", "\x07v=TLSRP" "\x05Tv1; ", true, "v=TLSRPTv1; ", ""},
        {"TXT", string("\x00", 1), true, "", ""},
        {"TXT", "", true, "", ""},
        {"TXT", "\x0a" "short", false, "", "a character-string longer than the rdata"},
        {"TXT", "\x02ok\x03", false, "", "a length octet with nothing after it"},
        {"MX", bytes({0, 10, 4, 'm', 'a', 'i', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0}), true,
         "10 mail.example.com", ""},
        {"MX", bytes({0, 20, 2, 'M', 'X', 4, 'T', 'E', 'S', 'T', 0}), true, "20 mx.test", ""},
        // RFC 7505: a null MX is preference 0 and the root name.
        {"MX", bytes({0, 0, 0}), true, "0 ", ""},
        {"MX", bytes({0, 10}), false, "", "too short for a preference and a name"},
        {"MX", bytes({0, 10, 4, 'm', 'a', 'i', 'l'}), false, "", "a name without its terminating root label"},
        {"MX", bytes({0, 10, 0xc0, 0x0c}), false, "", "a compression pointer (names arrive decompressed)"},
        {"MX", bytes({0, 10, 9, 'm', 'a', 'i', 'l', 0}), false, "", "a label running past the rdata"},
        {"MX", bytes({0, 10, 1, 'a', 0, 0}), false, "", "bytes after the name"},
        {"A", bytes({127, 0, 0, 1}), true, "127.0.0.1", ""},
        {"A", bytes({192, 0, 2, 25}), true, "192.0.2.25", ""},
        {"A", bytes({127, 0, 0}), false, "", "three octets"},
        {"A", bytes({127, 0, 0, 1, 1}), false, "", "five octets"},
        {"AAAA", bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), true, "2001:db8::1", ""},
        {"AAAA", bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), true, "::1", ""},
        {"AAAA", bytes({0x20, 0x01}), false, "", "two octets"},
        {"TLSA", bytes({3, 1, 1, 0xab, 0xcd}), true, "3 1 1 2", ""},
        {"TLSA", bytes({3, 1}), false, "", "no matching type"},
    };
}

} // namespace stswatch::test
