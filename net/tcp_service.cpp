// The receivers' server shell on Poco's TCPServer and Poco::Net's OpenSSL context.
#include "net/tcp_service.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

namespace stswatch {

namespace {

// Threads beyond the two kept ready end after a minute without a connection.
constexpr int thread_idle_seconds = 60;

Poco::Net::SocketAddress socket_address_of(const listen_address& listen)
{
    if (listen.host.empty()) return Poco::Net::SocketAddress(Poco::Net::IPAddress(), listen.port);
    return Poco::Net::SocketAddress(listen.host, listen.port);
}

} // namespace

ssl_library::ssl_library()
{
    Poco::Net::initializeSSL();
}

ssl_library::~ssl_library()
{
    Poco::Net::uninitializeSSL();
}

Poco::Net::Context::Ptr server_tls_context(const std::string& cert_file, const std::string& key_file,
                                           std::string_view service, std::string_view session_cache_id)
{
    try {
        Poco::Net::Context::Params params;
        params.certificateFile = cert_file;
        params.privateKeyFile = key_file;
        // Senders are anonymous: no client certificates (RFC 8460 §5.4 only requires HTTPS;
        // RFC 3207 §4.1: an SMTP server need not ask for one).
        params.verificationMode = Poco::Net::Context::VERIFY_NONE;
        params.loadDefaultCAs = false;
        params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
        Poco::Net::Context::Ptr tls = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
        tls->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
        tls->preferServerCiphers();
        if (!session_cache_id.empty()) tls->enableSessionCache(true, std::string(session_cache_id));
        return tls;
    } catch (const Poco::Exception& e) {
        throw std::runtime_error(std::string(service) + ": cannot load certificate " + cert_file + " and key "
                                 + key_file + ": " + e.displayText());
    }
}

void listen_on(Poco::Net::ServerSocket& socket, const listen_address& address, unsigned backlog,
               std::string_view service)
{
    try {
        socket.bind(socket_address_of(address), true);
        socket.listen(static_cast<int>(std::clamp(backlog, 64u, 4096u)));
    } catch (const Poco::Exception& e) {
        throw std::runtime_error(std::string(service) + ": cannot listen on " + address.to_string() + ": "
                                 + e.displayText());
    }
}

tcp_service::tcp_service(std::string_view component, std::function<void()> end_waiting_sessions)
    : component_(component), end_waiting_sessions_(std::move(end_waiting_sessions))
{
}

tcp_service::~tcp_service()
{
    try {
        stop();
    } catch (...) {
        // Destructors do not throw; stop() has logged what it could.
    }
}

void tcp_service::start(const Poco::Net::ServerSocket& socket, Poco::Net::TCPServerConnectionFactory::Ptr factory,
                        Poco::Net::TCPServerParams::Ptr params, unsigned threads, unsigned max_queued,
                        Poco::Net::TCPServerConnectionFilter::Ptr filter)
{
    const int max_threads = static_cast<int>(std::max(1u, threads));
    params->setMaxThreads(max_threads);
    params->setMaxQueued(static_cast<int>(std::max(1u, max_queued)));
    params->setThreadIdleTime(Poco::Timespan(thread_idle_seconds, 0));
    // Named after the service: its threads show as "https[#3]", "smtp[#1]" in top -H and gdb.
    pool_ = std::make_unique<Poco::ThreadPool>(component_, std::min(2, max_threads), max_threads, thread_idle_seconds);
    server_ = std::make_unique<Poco::Net::TCPServer>(std::move(factory), *pool_, socket, params);
    if (filter) server_->setConnectionFilter(filter);
    server_->start();
    bound_port_ = socket.address().port();
}

void tcp_service::stop()
{
    if (!server_) return;
    server_->stop();
    if (end_waiting_sessions_) end_waiting_sessions_();
    pool_->joinAll();
    server_.reset();
    pool_.reset();
    log::info(component_, "stopped", {{"port", std::to_string(bound_port_)}});
}

} // namespace stswatch
