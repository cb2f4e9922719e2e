// The TLS client context of the alert outputs (internal to analyzer/alert*.cpp).
#pragma once

#include <Poco/Net/Context.h>

#include <string>

namespace stswatch::alerts {

// Peer verification (chain and name) against the system's anchors and, besides them, the
// PEM file ca_file ("" for none); TLS 1.2 at least.
Poco::Net::Context::Ptr alert_client_context(const std::string& ca_file);

// Base64 without line breaks (RFC 4648 §4).
std::string base64(const std::string& bytes);

} // namespace stswatch::alerts
