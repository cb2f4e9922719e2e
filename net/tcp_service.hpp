// The server shell of the receivers (HTTPS, SMTP): OpenSSL's global state, the TLS context
// senders connect to, the listening socket, and Poco's TCPServer on a thread pool of its own,
// started and stopped in the order that lets sessions at work finish.
#pragma once

#include "common/settings.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <Poco/Net/Context.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>

namespace stswatch {

// OpenSSL's global state, held once per receiver (Poco counts the calls).
class ssl_library {
public:
    ssl_library();
    ~ssl_library();
    ssl_library(const ssl_library&) = delete;
    ssl_library& operator=(const ssl_library&) = delete;
};

// The server side of TLS for anonymous senders: TLS 1.2 at least, no client certificates.
// A non-empty session_cache_id lets senders resume their sessions. Throws std::runtime_error
// naming the service, the certificate and the key when they cannot be loaded.
Poco::Net::Context::Ptr server_tls_context(const std::string& cert_file, const std::string& key_file,
                                           std::string_view service, std::string_view session_cache_id = {});

// Binds (reusing the address) and listens with a backlog of `backlog` within [64, 4096].
// Throws std::runtime_error naming the service and the address when it cannot.
void listen_on(Poco::Net::ServerSocket& socket, const listen_address& address, unsigned backlog,
               std::string_view service);

// Poco's TCPServer with a thread pool of its own (Poco's default one holds 16 threads).
class tcp_service {
public:
    // end_waiting_sessions runs at stop() once no connection is accepted any more: sessions
    // waiting for their peer end then, rather than after their idle timeout. The component
    // names the service in the log.
    tcp_service(std::string_view component, std::function<void()> end_waiting_sessions);
    ~tcp_service();   // stops
    tcp_service(const tcp_service&) = delete;
    tcp_service& operator=(const tcp_service&) = delete;

    bool running() const noexcept { return server_ != nullptr; }

    // Serves a listening socket: up to `threads` sessions at once, `max_queued` accepted
    // connections waiting for a thread. params carries the rest (HTTPServerParams for HTTP);
    // filter (may be null) sees each connection as it is accepted.
    void start(const Poco::Net::ServerSocket& socket, Poco::Net::TCPServerConnectionFactory::Ptr factory,
               Poco::Net::TCPServerParams::Ptr params, unsigned threads, unsigned max_queued,
               Poco::Net::TCPServerConnectionFilter::Ptr filter = {});

    // No new connections; waiting sessions end; sessions at work finish, and are waited for.
    void stop();

    std::uint16_t port() const noexcept { return bound_port_; }   // the bound port (with port 0)

private:
    std::string component_;
    std::function<void()> end_waiting_sessions_;
    std::unique_ptr<Poco::ThreadPool> pool_;   // before the server: destroyed after it, as it runs on these threads
    std::unique_ptr<Poco::Net::TCPServer> server_;
    std::uint16_t bound_port_ = 0;
};

} // namespace stswatch
