#include "tests/support/test_certs.hpp"

#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace stswatch::test {

namespace {

struct bio_free { void operator()(BIO* p) const { BIO_free(p); } };
struct pkey_free { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct x509_free { void operator()(X509* p) const { X509_free(p); } };
struct ext_free { void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); } };
struct bn_free { void operator()(BIGNUM* p) const { BN_free(p); } };
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ext_free>;
using bn_ptr = std::unique_ptr<BIGNUM, bn_free>;

// The folder of this process's certificates, removed when the process exits.
class cert_folder {
public:
    cert_folder()
    {
        char tmpl[] = "/tmp/stswatch-certs.XXXXXX";
        if (::mkdtemp(tmpl) == nullptr)
            throw std::runtime_error("cannot make a folder for test certificates under /tmp");
        path_ = tmpl;
    }
    ~cert_folder()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    cert_folder(const cert_folder&) = delete;
    cert_folder& operator=(const cert_folder&) = delete;
    const std::string& path() const { return path_; }
private:
    std::string path_;
};

const std::string& folder()
{
    static cert_folder f;
    return f.path();
}

// The test CA, loaded once.
struct test_ca {
    x509_ptr cert;
    pkey_ptr key;
};

const test_ca& ca()
{
    static std::mutex lock;
    static test_ca loaded;
    const std::lock_guard<std::mutex> guard(lock);
    if (!loaded.cert) {
        const std::string cert_file = tls_file("ca.pem"), key_file = tls_file("ca.key");
        bio_ptr cb(BIO_new_file(cert_file.c_str(), "r"));
        if (!cb)
            FAIL("cannot read the test CA certificate " << cert_file);
        x509_ptr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
        bio_ptr kb(BIO_new_file(key_file.c_str(), "r"));
        if (!kb)
            FAIL("cannot read the test CA key " << key_file);
        pkey_ptr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
        if (!cert || !key)
            FAIL("cannot parse the test CA in " << cert_file << " / " << key_file << ": " << openssl_error_text());
        loaded.cert = std::move(cert);
        loaded.key = std::move(key);
    }
    return loaded;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
        FAIL("cannot add certificate extension " << OBJ_nid2sn(nid) << "=" << value << ": " << openssl_error_text());
}

void write_file(const std::string& path, const std::string& what, int (*writer)(BIO*, void*), void* object)
{
    bio_ptr out(BIO_new_file(path.c_str(), "w"));
    if (!out || writer(out.get(), object) != 1)
        FAIL("cannot write " << what << " to " << path << ": " << openssl_error_text());
}

} // namespace

std::string test_ca_file()
{
    return tls_file("ca.pem");
}

test_cert make_test_cert(const std::vector<std::string>& dns_names, int not_before_days, int not_after_days,
                         bool self_signed)
{
    REQUIRE_FALSE(dns_names.empty());
    const test_ca* issuer = self_signed ? nullptr : &ca();

    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key)
        FAIL("cannot make an EC P-256 key: " << openssl_error_text());

    x509_ptr cert(X509_new());
    REQUIRE(cert);
    X509_set_version(cert.get(), 2);   // v3: extensions

    // A random 64-bit serial: two certificates of one CA never share one.
    unsigned char serial_bytes[8];
    RAND_bytes(serial_bytes, sizeof serial_bytes);
    serial_bytes[0] &= 0x7f;
    bn_ptr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
    if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
        FAIL("cannot set a certificate serial: " << openssl_error_text());

    constexpr long seconds_per_day = 86400;
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_days * seconds_per_day);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_days * seconds_per_day);

    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(dns_names.front().c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), self_signed ? subject : X509_get_subject_name(issuer->cert.get()));
    X509_set_pubkey(cert.get(), key.get());

    X509* issuer_cert = self_signed ? cert.get() : issuer->cert.get();
    std::string san;
    for (const auto& name : dns_names)
        san += (san.empty() ? "DNS:" : ",DNS:") + name;
    add_extension(cert.get(), issuer_cert, NID_subject_alt_name, san);
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), issuer_cert, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
    if (!self_signed)
        add_extension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always");

    EVP_PKEY* signing_key = self_signed ? key.get() : issuer->key.get();
    if (X509_sign(cert.get(), signing_key, EVP_sha256()) <= 0)
        FAIL("cannot sign the certificate for " << dns_names.front() << ": " << openssl_error_text());

    static std::atomic<unsigned> counter{0};
    const std::string base = folder() + "/" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    test_cert result{base + ".pem", base + ".key"};
    write_file(result.cert_file, "a certificate",
               [](BIO* b, void* c) { return PEM_write_bio_X509(b, static_cast<X509*>(c)); }, cert.get());
    write_file(result.key_file, "a private key",
               [](BIO* b, void* k) {
                   return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0, nullptr,
                                                   nullptr);
               },
               key.get());
    return result;
}

std::string openssl_error_text()
{
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

ssl_ctx_ptr server_tls_context(const std::string& cert_file, const std::string& key_file, const std::string& who)
{
    ssl_ctx_ptr tls(SSL_CTX_new(TLS_server_method()));
    if (!tls || SSL_CTX_use_certificate_chain_file(tls.get(), cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(tls.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        FAIL(who << ": cannot load " << cert_file << " / " << key_file << ": " << openssl_error_text());
    return tls;
}

std::string spki_sha256_hex(const std::string& cert_file)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_file(cert_file.c_str(), "r"), &BIO_free);
    REQUIRE(in);
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr), &X509_free);
    INFO(cert_file << ": " << openssl_error_text());
    REQUIRE(cert);
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
    REQUIRE(len > 0);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<std::size_t>(len), digest);
    OPENSSL_free(der);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char c : digest) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

} // namespace stswatch::test
