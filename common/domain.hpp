// Domain names as stswatch keeps them: lower-case, no trailing dot.
#pragma once

#include <string>
#include <string_view>

namespace stswatch {

// Lower-cases ASCII and removes the trailing dot (and any extra ones, so that normalising
// twice changes nothing); does not validate.
std::string normalize_domain(std::string_view name);

// True for a syntactically valid host name (LDH labels of 1..63, total <= 253, at least
// one dot not required); for domain names taken from untrusted input.
bool is_valid_domain(std::string_view name);

// True for a DNS name that need not be a host name (RFC 2181 §11): labels of letters, digits,
// '-' and '_' (DKIM selectors and d= domains as real signers write them, RFC 6376 §3.5),
// 1..63 each, none empty, total <= 253, no leading or trailing dot.
bool is_dns_name(std::string_view name);

} // namespace stswatch
