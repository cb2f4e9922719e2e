// RFC 8460 registries: policy types (§4.4) and result types (§4.3, IANA §6.6).
#include "tlsrpt/report.hpp"

#include <array>

namespace stswatch {

const char* to_string(policy_type t)
{
    switch (t) {
    case policy_type::sts: return "sts";
    case policy_type::tlsa: return "tlsa";
    case policy_type::no_policy_found: return "no-policy-found";
    }
    return "sts";
}

std::optional<policy_type> policy_type_from_string(std::string_view s)
{
    // RFC 8460 §4.4: "Presently, the only three valid choices are "tlsa", "sts", and the
    // literal string "no-policy-found"."
    if (s == "sts")
        return policy_type::sts;
    if (s == "tlsa")
        return policy_type::tlsa;
    if (s == "no-policy-found")
        return policy_type::no_policy_found;
    return std::nullopt;
}

bool result_type_known(std::string_view result_type)
{
    // RFC 8460 §6.6: the "SMTP TLS Failure Types" registry as IANA holds it.
    static constexpr std::array<std::string_view, 11> registered = {
        "starttls-not-supported",    // §4.3.1
        "certificate-host-mismatch", // §4.3.1
        "certificate-expired",       // §4.3.1
        "certificate-not-trusted",   // §4.3.1
        "validation-failure",        // §4.3.1
        "tlsa-invalid",              // §4.3.2.1
        "dnssec-invalid",            // §4.3.2.1
        "dane-required",             // §4.3.2.1
        "sts-policy-fetch-error",    // §4.3.2.2
        "sts-policy-invalid",        // §4.3.2.2
        "sts-webpki-invalid",        // §4.3.2.2
    };
    for (std::string_view known : registered) {
        if (known == result_type)
            return true;
    }
    return false;
}

} // namespace stswatch
