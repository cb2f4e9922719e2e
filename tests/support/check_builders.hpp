// Check results built by hand, for the tests of what consumes them (snapshots, change events).
#pragma once

#include "checks/checker.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace stswatch::test {

// An MX at 192.0.2.25 that offers STARTTLS with TLS 1.3 and a trusted certificate for its
// own name; the certificate's digest and end of validity are the knobs.
inline mx_check healthy_mx(std::string host, std::uint16_t preference, std::string sha256 = "aa11",
                           std::string not_after = "2027-01-01T00:00:00Z")
{
    mx_check m;
    m.host = std::move(host);
    m.preference = preference;
    m.addresses = {"192.0.2.25"};
    starttls_probe_result p;
    p.status = starttls_status::ok;
    p.host = m.host;
    p.address = "192.0.2.25";
    p.starttls_offered = true;
    p.tls_version = "TLSv1.3";
    p.certificate.present = true;
    p.certificate.subject_names = {m.host};
    p.certificate.not_after = std::move(not_after);
    p.certificate.trusted = true;
    p.certificate.name_matches = true;
    p.certificate.sha256 = std::move(sha256);
    m.probe = p;
    return m;
}

} // namespace stswatch::test
