// TLSA records against presented certificates (mtasts/dane.hpp).
#include "mtasts/dane.hpp"

#include <Poco/SHA2Engine.h>

namespace stswatch {

namespace {

std::string digest(const std::string& bytes, Poco::SHA2Engine::ALGORITHM algorithm)
{
    Poco::SHA2Engine engine(algorithm);
    engine.update(bytes.data(), bytes.size());
    const auto& d = engine.digest();
    return std::string(d.begin(), d.end());
}

bool matches_certificate(const tlsa_association& r, const presented_certificate& c)
{
    const std::string& selected = r.selector == 0 ? c.der : c.spki;
    if (selected.empty())
        return false;
    switch (r.matching_type) {
    case 0: return selected == r.data;
    case 1: return digest(selected, Poco::SHA2Engine::SHA_256) == r.data;
    case 2: return digest(selected, Poco::SHA2Engine::SHA_512) == r.data;
    default: return false;
    }
}

} // namespace

std::string tlsa_unusable_reason(const tlsa_association& r)
{
    if (r.usage == 0 || r.usage == 1)
        return "usage " + std::to_string(r.usage) + (r.usage == 0 ? " (PKIX-TA)" : " (PKIX-EE)") +
               " is not used by SMTP senders (RFC 7672 §3.1.3): use 3 (DANE-EE) or 2 (DANE-TA)";
    if (r.usage > 3)
        return "usage " + std::to_string(r.usage) + " is not defined (2 DANE-TA or 3 DANE-EE)";
    if (r.selector > 1)
        return "selector " + std::to_string(r.selector) + " is not defined (0 full certificate or 1 SubjectPublicKeyInfo)";
    switch (r.matching_type) {
    case 0:
        if (r.data.empty())
            return "matching type 0 (Full) with no data";
        return "";
    case 1:
        if (r.data.size() != 32)
            return "matching type 1 (SHA2-256) needs 32 bytes of data, the record has " + std::to_string(r.data.size());
        return "";
    case 2:
        if (r.data.size() != 64)
            return "matching type 2 (SHA2-512) needs 64 bytes of data, the record has " + std::to_string(r.data.size());
        return "";
    default:
        return "matching type " + std::to_string(r.matching_type) + " is not defined (0 Full, 1 SHA2-256, 2 SHA2-512)";
    }
}

bool tlsa_matches(const tlsa_association& r, const std::vector<presented_certificate>& chain)
{
    if (!tlsa_unusable_reason(r).empty() || chain.empty())
        return false;
    if (r.usage == 3)
        return matches_certificate(r, chain.front());
    for (std::size_t i = 1; i < chain.size(); ++i)
        if (matches_certificate(r, chain[i]))
            return true;
    return false;
}

std::string tlsa_text(const tlsa_association& r)
{
    static const char digits[] = "0123456789abcdef";
    std::string out = std::to_string(r.usage) + " " + std::to_string(r.selector) + " " + std::to_string(r.matching_type) + " ";
    for (const unsigned char c : r.data) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    if (r.data.empty())
        out += "-";
    return out;
}

dane_evaluation evaluate_tlsa(const std::vector<tlsa_association>& records,
                              const std::vector<presented_certificate>& chain)
{
    dane_evaluation e;
    for (std::size_t i = 0; i < records.size(); ++i) {
        auto reason = tlsa_unusable_reason(records[i]);
        if (!reason.empty()) {
            e.unusable.push_back(i);
            e.reasons.push_back(std::move(reason));
            continue;
        }
        ++e.usable;
        if (tlsa_matches(records[i], chain))
            e.matching.push_back(i);
    }
    return e;
}

} // namespace stswatch
