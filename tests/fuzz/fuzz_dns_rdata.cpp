// The DNS rdata parsers on arbitrary bytes (the first byte picks the type): they never read
// past the data, and what they accept holds together.
#include "net/dns_rdata.hpp"
#include "tests/fuzz/invariant.hpp"

#include <arpa/inet.h>

STSWATCH_FUZZ_TARGET(fuzz_dns_rdata, input)
{
    if (size == 0)
        return 0;
    // A copy of exactly the rdata, so that the sanitizer sees any read past its end.
    const std::size_t len = size - 1;
    auto* rdata = static_cast<unsigned char*>(std::malloc(len ? len : 1));
    for (std::size_t i = 0; i < len; ++i)
        rdata[i] = data[i + 1];
    switch (data[0] % 5) {
    case 0: {
        std::string txt;
        if (parse_txt_rdata(rdata, len, txt))
            check(txt.size() < len || len == 0, "TXT text is shorter than its rdata (length octets)");
        break;
    }
    case 1: {
        mx_record mx;
        if (parse_mx_rdata(rdata, len, mx)) {
            check(mx.host.size() + 3 <= len + 1, "an MX name fits in its rdata");
            for (char c : mx.host)
                check(!(c >= 'A' && c <= 'Z'), "MX host names are lower-cased");
        }
        break;
    }
    case 2: {
        std::string a;
        if (parse_a_rdata(rdata, len, a)) {
            unsigned char back[4];
            check(len == 4 && inet_pton(AF_INET, a.c_str(), back) == 1, "an A record reads back");
        }
        break;
    }
    case 3: {
        std::string aaaa;
        if (parse_aaaa_rdata(rdata, len, aaaa)) {
            unsigned char back[16];
            check(len == 16 && inet_pton(AF_INET6, aaaa.c_str(), back) == 1, "an AAAA record reads back");
        }
        break;
    }
    default: {
        tlsa_record t;
        if (parse_tlsa_rdata(rdata, len, t))
            check(t.data.size() + 3 == len, "TLSA data is the rdata after three octets");
        break;
    }
    }
    std::free(rdata);
    return 0;
}
