// Domain names as stswatch keeps them (RFC 1035 §2.3.1 host names, RFC 4343 case).
#include "common/domain.hpp"

namespace stswatch {

std::string normalize_domain(std::string_view name)
{
    // RFC 4343: DNS names compare case-insensitively in ASCII only; other bytes (U-labels
    // sent against RFC 8460 §4.4's A-label rule) are left alone.
    std::string out(name);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    // The root label's dot: "example.com." and "example.com" are the same domain. Extra
    // dots ("example.com..") name nothing valid; dropping them too keeps this idempotent.
    while (!out.empty() && out.back() == '.')
        out.pop_back();
    return out;
}

bool is_valid_domain(std::string_view name)
{
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    // RFC 1035 §2.3.4: 255 octets on the wire, i.e. 253 characters in text.
    if (name.empty() || name.size() > 253)
        return false;
    std::size_t label_start = 0;
    while (label_start <= name.size()) {
        std::size_t end = name.find('.', label_start);
        if (end == std::string_view::npos)
            end = name.size();
        const std::string_view label = name.substr(label_start, end - label_start);
        // RFC 1035 §2.3.1 (as relaxed by RFC 1123 §2.1): letters, digits and hyphens,
        // 1..63 of them, not starting or ending with a hyphen.
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label) {
            const bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (!ldh)
                return false;
        }
        label_start = end + 1;
    }
    return true;
}

bool is_dns_name(std::string_view s)
{
    if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.')
        return false;
    std::size_t label = 0;
    for (char c : s) {
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

} // namespace stswatch
