// Certificate description and verification (RFC 8461 §3.3, §4.1; RFC 6125 name matching).
// See certificate.hpp and tls.hpp.
#include "net/certificate.hpp"
#include "net/tls.hpp"
#include "common/domain.hpp"
#include "common/handles.hpp"
#include "common/text.hpp"
#include "common/time.hpp"

#include <ctime>
#include <map>
#include <memory>
#include <mutex>

#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace stswatch {

namespace net {

namespace {

// The RFC 2253 one-line form of a name ("CN=mx.example.com,O=Example").
std::string rfc2253_text(const X509_NAME* name)
{
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || !name) return {};
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// Seconds since the epoch of an ASN.1 time, or nullopt when it cannot be read.
bool to_epoch(const ASN1_TIME* t, std::int64_t& seconds)
{
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return false;
    seconds = static_cast<std::int64_t>(::timegm(&tm));
    return true;
}

std::vector<std::string> subject_names(X509* cert)
{
    std::vector<std::string> names;
    general_names_ptr sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans.get(), i);
            if (n->type != GEN_DNS) continue;
            const ASN1_STRING* s = n->d.dNSName;
            names.push_back(text::lowered(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                           static_cast<std::size_t>(ASN1_STRING_length(s)))));
        }
    }
    if (!names.empty()) return names;
    // RFC 6125 §6.4.4: the CN counts only when there is no DNS subjectAltName.
    const X509_NAME* subject = X509_get_subject_name(cert);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
        unsigned char* utf8 = nullptr;
        const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
        if (n >= 0) names.push_back(text::lowered(std::string_view(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n))));
        OPENSSL_free(utf8);
    }
    return names;
}

// The trust store: the system's default paths plus ca_file (when set), loaded once per
// ca_file and shared (X509_STORE is safe to use from several threads). The error says why
// ca_file could not be read (the system's anchors still apply then).
struct trust_store_result {
    std::shared_ptr<X509_STORE> store;
    std::string error;
};

trust_store_result trust_store(const std::string& ca_file)
{
    // Keyed by the file and its modification time, so that a replaced ca_file is re-read.
    std::string key = ca_file;
    if (!ca_file.empty()) {
        struct stat st {};
        if (::stat(ca_file.c_str(), &st) == 0) key += "@" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    }
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<X509_STORE>> stores;
    std::lock_guard lock(mutex);
    if (const auto it = stores.find(key); it != stores.end()) return {it->second, {}};

    std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
    if (!store) return {store, openssl_error("cannot make a trust store")};
    X509_STORE_set_default_paths(store.get());
    ERR_clear_error();
    if (!ca_file.empty() && X509_STORE_load_file(store.get(), ca_file.c_str()) != 1) {
        // The system's anchors still apply; not cached, so a fixed file is read.
        return {store, "cannot read the CA file " + ca_file + ": " + openssl_error("no certificate in it")};
    }
    stores.emplace(key, store);
    return {store, {}};
}

} // namespace

certificate_info describe_certificate(X509* leaf, STACK_OF(X509)* chain, const std::string& host, const std::string& ca_file)
{
    certificate_info info;
    if (!leaf) {
        info.verify_error = "no certificate was sent";
        return info;
    }
    info.present = true;
    info.subject_names = subject_names(leaf);
    info.subject = rfc2253_text(X509_get_subject_name(leaf));
    info.issuer = rfc2253_text(X509_get_issuer_name(leaf));

    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    std::int64_t not_before = 0, not_after = 0;
    const bool have_before = to_epoch(X509_get0_notBefore(leaf), not_before);
    const bool have_after = to_epoch(X509_get0_notAfter(leaf), not_after);
    if (have_before) info.not_before = format_rfc3339(utc_time{not_before, 0});
    if (have_after) {
        info.not_after = format_rfc3339(utc_time{not_after, 0});
        const std::int64_t left = not_after - now;
        info.days_to_expiry = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
    }
    info.expired = (have_after && not_after < now) || (have_before && not_before > now) || !have_after;

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(leaf, EVP_sha256(), md, &md_len) == 1) {
        static const char digits[] = "0123456789abcdef";
        for (unsigned int i = 0; i < md_len; ++i) {
            info.sha256 += digits[md[i] >> 4];
            info.sha256 += digits[md[i] & 15];
        }
    }

    const auto add_presented = [&](X509* cert) {
        certificate_info::presented p;
        unsigned char* out = nullptr;
        int length = i2d_X509(cert, &out);
        if (length > 0) {
            p.der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(length));
            OPENSSL_free(out);
        }
        out = nullptr;
        length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &out);
        if (length > 0) {
            p.spki.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(length));
            OPENSSL_free(out);
        }
        info.chain.push_back(std::move(p));
    };
    add_presented(leaf);
    if (chain)
        for (int i = 0; i < sk_X509_num(chain); ++i)
            if (X509* cert = sk_X509_value(chain, i); X509_cmp(cert, leaf) != 0)
                add_presented(cert);

    const auto [store, store_error] = trust_store(ca_file);
    x509_store_ctx_ptr ctx(X509_STORE_CTX_new());
    if (store && ctx && X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain) == 1) {
        // The checks a TLS client makes of a server's chain (purpose serverAuth).
        X509_STORE_CTX_set_default(ctx.get(), "ssl_server");
        info.trusted = X509_verify_cert(ctx.get()) == 1;
        if (!info.trusted) info.verify_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    } else {
        info.verify_error = openssl_error("cannot verify");
    }
    if (!info.trusted && !store_error.empty()) info.verify_error += " (" + store_error + ")";
    ERR_clear_error();

    const std::string name = normalize_domain(host);
    // RFC 8461 §4.1 / RFC 6125 §6.4.3: a wildcard stands for exactly one whole leftmost label.
    info.name_matches = !name.empty() &&
                        X509_check_host(leaf, name.data(), name.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
    return info;
}

certificate_info describe_peer(SSL* ssl, const std::string& host, const std::string& ca_file)
{
    x509_ptr leaf(SSL_get1_peer_certificate(ssl));
    return describe_certificate(leaf.get(), SSL_get_peer_cert_chain(ssl), host, ca_file);
}

} // namespace net

certificate_info describe_certificate_pem(const std::string& pem, const std::string& host, const std::string& ca_file)
{
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    x509_chain_ptr chain(sk_X509_new_null());
    if (!bio || !chain) return {};
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
        sk_X509_push(chain.get(), cert);
    ERR_clear_error();
    if (sk_X509_num(chain.get()) == 0) {
        certificate_info none;
        none.verify_error = "no certificate in the PEM text";
        return none;
    }
    return net::describe_certificate(sk_X509_value(chain.get(), 0), chain.get(), host, ca_file);
}

std::string certificate_problems(const certificate_info& certificate, const std::string& host)
{
    if (!certificate.present) return "no certificate was sent";
    std::string out;
    const auto add = [&out](const std::string& phrase) {
        if (!out.empty()) out += "; ";
        out += phrase;
    };
    if (certificate.expired) {
        if (certificate.days_to_expiry < 0)
            add("expired on " + certificate.not_after);
        else
            add("not valid before " + certificate.not_before);
    }
    // An expiry alone also fails verification: say it once.
    if (!certificate.trusted && !(certificate.expired && certificate.verify_error.find("expired") != std::string::npos) &&
        !(certificate.expired && certificate.verify_error.find("not yet valid") != std::string::npos))
        add("not trusted (" + (certificate.verify_error.empty() ? std::string("unknown reason") : certificate.verify_error) + ")");
    if (!certificate.name_matches) {
        const std::string names = text::join(certificate.subject_names, ", ");
        add("not valid for " + normalize_domain(host) + " (names: " + (names.empty() ? "none" : names) + ")");
    }
    return out;
}

} // namespace stswatch
