// Certificates for the servers of a test (policy hosts, MX), made in-process with OpenSSL:
// signed by the test CA of STSWATCH_TEST_TLS_DIR, or self-signed, valid or expired.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

namespace stswatch::test {

struct test_cert { std::string cert_file, key_file; };   // PEM files (temporary, removed at exit)

// A certificate for dns_names (subjectAltName DNS entries; CN = the first), signed by the test
// CA of STSWATCH_TEST_TLS_DIR (ca.pem, ca.key), or self-signed. Validity runs from now+not_before_days
// to now+not_after_days (negative = past: an expired certificate is {-30, -1}). Made in-process
// with OpenSSL (EC P-256 keys: fast). FAILs the test when it cannot be made.
test_cert make_test_cert(const std::vector<std::string>& dns_names, int not_before_days = -1,
                         int not_after_days = 90, bool self_signed = false);

std::string test_ca_file();   // STSWATCH_TEST_TLS_DIR/ca.pem

// The SHA-256 of the SubjectPublicKeyInfo of the (first) certificate in a PEM file, lower-case
// hex: the data of a "3 1 1" TLSA record for it (RFC 6698 §2.1). FAILs when it cannot be read.
std::string spki_sha256_hex(const std::string& cert_file);

// The oldest queued OpenSSL error as text, for a test's failure message; empties the queue.
std::string openssl_error_text();

struct ssl_ctx_free { void operator()(SSL_CTX* p) const { SSL_CTX_free(p); } };
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, ssl_ctx_free>;

// A TLS server context presenting cert_file (with its chain) and key_file; FAILs the test,
// naming the server (who), when they cannot be loaded.
ssl_ctx_ptr server_tls_context(const std::string& cert_file, const std::string& key_file, const std::string& who);

} // namespace stswatch::test
