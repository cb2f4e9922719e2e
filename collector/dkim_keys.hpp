// DKIM key lookups (RFC 6376 §3.6.2.2: TXT at selector._domainkey.domain) through a DNS
// resolver, cached: report mail comes signed with the same few keys over and over. One
// lookup for the SMTP receiver, ingest-mail and import.
#pragma once

#include "mail/dkim.hpp"

#include <chrono>
#include <cstddef>
#include <memory>

namespace stswatch {

class dns_resolver;

// TXT lookups of DKIM keys through resolver, kept for max_age (zero: for as long as the
// lookup lives, as an import run wants; a long-running service passes an expiry, so that a
// rotated key is seen) and at most max_entries of them, the oldest dropped first. A
// temporary DNS failure is not kept: it throws dkim_temporary_failure each time. Safe to
// call from many threads at once; lookups of different names do not wait for each other
// here (the resolver decides how many queries it runs at once).
dkim_key_lookup caching_dkim_lookup(std::shared_ptr<dns_resolver> resolver, std::size_t max_entries = 4096,
                                    std::chrono::seconds max_age = std::chrono::seconds::zero());

// The same cache over any lookup (which throws dkim_temporary_failure for a failure that is
// not to be kept); the one above is this over resolver's TXT answers.
dkim_key_lookup caching_dkim_lookup(dkim_key_lookup fetch, std::size_t max_entries = 4096,
                                    std::chrono::seconds max_age = std::chrono::seconds::zero());

} // namespace stswatch
