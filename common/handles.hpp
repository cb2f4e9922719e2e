// RAII owners for the C handles stswatch uses: file descriptors, OpenSSL objects and zlib
// streams. One copy, so that every folder frees them the same way. Header-only: a library
// that uses the OpenSSL or zlib aliases links OpenSSL or zlib itself.
#pragma once

#include <memory>
#include <stdexcept>
#include <utility>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <zlib.h>

namespace stswatch {

// A file descriptor, closed once. Move-only.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    unique_fd& operator=(unique_fd&& other) noexcept
    {
        if (this != &other)
            reset(other.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // Gives up ownership: the caller closes it (and can see close's result, as fsync paths must).
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// std::unique_ptr for a C object with its free function: handle<SSL, SSL_free>.
template <auto Free>
struct free_with {
    template <typename T>
    void operator()(T* p) const noexcept { Free(p); }
};
template <typename T, auto Free>
using handle = std::unique_ptr<T, free_with<Free>>;

namespace detail {
inline void free_x509_stack(STACK_OF(X509)* chain) { sk_X509_pop_free(chain, X509_free); }
inline void free_bio(BIO* bio) { BIO_free(bio); }
} // namespace detail

using ssl_ptr = handle<SSL, SSL_free>;
using ssl_ctx_ptr = handle<SSL_CTX, SSL_CTX_free>;
using x509_ptr = handle<X509, X509_free>;
using x509_chain_ptr = handle<STACK_OF(X509), detail::free_x509_stack>;
using x509_store_ptr = handle<X509_STORE, X509_STORE_free>;
using x509_store_ctx_ptr = handle<X509_STORE_CTX, X509_STORE_CTX_free>;
using general_names_ptr = handle<GENERAL_NAMES, GENERAL_NAMES_free>;
using bio_ptr = handle<BIO, detail::free_bio>;
using evp_pkey_ptr = handle<EVP_PKEY, EVP_PKEY_free>;
using evp_md_ctx_ptr = handle<EVP_MD_CTX, EVP_MD_CTX_free>;

// A zlib stream set up for inflating (windowBits as inflateInit2 takes them: 16 + MAX_WBITS
// for gzip members, -MAX_WBITS for raw deflate) or deflating. Move-less: z_stream holds
// pointers into itself.
class zlib_stream {
public:
    enum class mode { inflate, deflate };
    explicit zlib_stream(mode m, int window_bits = 16 + MAX_WBITS, int level = Z_DEFAULT_COMPRESSION)
        : mode_(m)
    {
        const int rc = m == mode::inflate
                           ? inflateInit2(&z_, window_bits)
                           : deflateInit2(&z_, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK)
            throw std::runtime_error(m == mode::inflate ? "zlib inflateInit2 failed" : "zlib deflateInit2 failed");
    }
    ~zlib_stream()
    {
        if (mode_ == mode::inflate)
            inflateEnd(&z_);
        else
            deflateEnd(&z_);
    }
    zlib_stream(const zlib_stream&) = delete;
    zlib_stream& operator=(const zlib_stream&) = delete;

    z_stream& get() noexcept { return z_; }
    z_stream* operator->() noexcept { return &z_; }
    // For reuse on the next member or document.
    void reset() { mode_ == mode::inflate ? inflateReset(&z_) : deflateReset(&z_); }

private:
    mode mode_;
    z_stream z_{};
};

} // namespace stswatch
