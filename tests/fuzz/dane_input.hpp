// How fuzz_dane reads its input, and how seeds_dane writes the unit tests' table in it:
// one octet, the record count (mod 8); each record as usage, selector, matching type, a
// length octet and that many data octets; then certificates, leaf first, each as a length
// octet and its DER, a length octet and its SPKI. A short input ends where it runs out.
#pragma once

#include "mtasts/dane.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::fuzz {

struct dane_input {
    std::vector<tlsa_association> records;
    std::vector<presented_certificate> chain;
};

inline dane_input read_dane_input(std::string_view in)
{
    dane_input out;
    std::size_t at = 0;
    auto octet = [&](unsigned& v) {
        if (at >= in.size())
            return false;
        v = static_cast<unsigned char>(in[at++]);
        return true;
    };
    auto bytes = [&](std::string& v) {
        unsigned n = 0;
        if (!octet(n) || in.size() - at < n)
            return false;
        v.assign(in.substr(at, n));
        at += n;
        return true;
    };
    unsigned count = 0;
    if (!octet(count))
        return out;
    for (unsigned i = 0; i < count % 8; ++i) {
        unsigned u = 0, s = 0, m = 0;
        tlsa_association r;
        if (!octet(u) || !octet(s) || !octet(m) || !bytes(r.data))
            return out;
        r.usage = static_cast<std::uint8_t>(u);
        r.selector = static_cast<std::uint8_t>(s);
        r.matching_type = static_cast<std::uint8_t>(m);
        out.records.push_back(std::move(r));
    }
    while (at < in.size()) {
        presented_certificate c;
        if (!bytes(c.der) || !bytes(c.spki))
            break;
        out.chain.push_back(std::move(c));
    }
    return out;
}

// The inverse, for seeds; fields longer than 255 octets are cut.
inline std::string write_dane_input(const std::vector<tlsa_association>& records,
                                    const std::vector<presented_certificate>& chain)
{
    std::string out(1, static_cast<char>(records.size() % 8));
    auto bytes = [&](const std::string& v) {
        const std::string cut = v.substr(0, 255);
        out += static_cast<char>(cut.size());
        out += cut;
    };
    for (const auto& r : records) {
        out += static_cast<char>(r.usage);
        out += static_cast<char>(r.selector);
        out += static_cast<char>(r.matching_type);
        bytes(r.data);
    }
    for (const auto& c : chain) {
        bytes(c.der);
        bytes(c.spki);
    }
    return out;
}

} // namespace stswatch::fuzz
