// DNS rdata parsers (RFC 1035 §3.3, RFC 3596, RFC 6698 §2.1), bounds-checked.
#include "net/dns_rdata.hpp"

#include "common/text.hpp"

#include <arpa/inet.h>

namespace stswatch {

const char* to_string(dns_status s)
{
    switch (s) {
    case dns_status::ok: return "ok";
    case dns_status::nxdomain: return "nxdomain";
    case dns_status::nodata: return "nodata";
    case dns_status::temporary_failure: return "temporary_failure";
    }
    return "unknown";
}


namespace {

// A name in wire format at rdata[pos..]: labels, uncompressed (unbound hands out rdata with
// names decompressed). Returns "" for the root name.
bool read_name(const unsigned char* rdata, std::size_t len, std::size_t& pos, std::string& out)
{
    out.clear();
    // RFC 1035 §2.3.4: at most 255 octets in all, so at most 127 labels.
    for (unsigned labels = 0; labels < 128; ++labels) {
        if (pos >= len)
            return false;
        const unsigned label = rdata[pos++];
        if (label == 0)
            return true;
        if (label > 63 || pos + label > len)
            return false;   // a compression pointer or a label running past the rdata
        if (!out.empty())
            out += '.';
        for (unsigned i = 0; i < label; ++i)
            out += text::lower(static_cast<char>(rdata[pos + i]));
        pos += label;
    }
    return false;
}

} // namespace

bool parse_txt_rdata(const unsigned char* rdata, std::size_t len, std::string& out)
{
    // RFC 1035 §3.3.14 asks for at least one <character-string>; empty rdata is read as ""
    // rather than failing the whole lookup.
    out.clear();
    std::size_t pos = 0;
    while (pos < len) {
        const std::size_t n = rdata[pos++];
        if (pos + n > len)
            return false;
        out.append(reinterpret_cast<const char*>(rdata + pos), n);
        pos += n;
    }
    return true;
}

bool parse_mx_rdata(const unsigned char* rdata, std::size_t len, mx_record& out)
{
    if (len < 3)
        return false;
    out.preference = static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]);
    std::size_t pos = 2;
    return read_name(rdata, len, pos, out.host) && pos == len;
}

bool parse_a_rdata(const unsigned char* rdata, std::size_t len, std::string& out)
{
    char text[INET_ADDRSTRLEN];
    if (len != 4 || !inet_ntop(AF_INET, rdata, text, sizeof text))
        return false;
    out = text;
    return true;
}

bool parse_aaaa_rdata(const unsigned char* rdata, std::size_t len, std::string& out)
{
    // glibc's inet_ntop writes the RFC 5952 form (lower case, longest zero run compressed).
    char text[INET6_ADDRSTRLEN];
    if (len != 16 || !inet_ntop(AF_INET6, rdata, text, sizeof text))
        return false;
    out = text;
    return true;
}

bool parse_tlsa_rdata(const unsigned char* rdata, std::size_t len, tlsa_record& out)
{
    if (len < 3)
        return false;
    out.usage = rdata[0];
    out.selector = rdata[1];
    out.matching_type = rdata[2];
    out.data.assign(reinterpret_cast<const char*>(rdata + 3), len - 3);
    return true;
}

} // namespace stswatch
