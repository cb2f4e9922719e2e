// The HTTPS receiver's bounds on its clients' time, apart from HTTP: the whole-request
// deadline each connection is watched against, and the connections waiting for a request
// that a stop ends at once.
#pragma once

#include "common/handles.hpp"
#include "common/worker.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_map>

#include <Poco/Net/StreamSocket.h>

namespace stswatch {

// The bounds on a connection's time, kept by a watchdog rather than by Poco's socket
// timeouts (which a TLS read does not honour between records, and which bound each byte
// only: a client sending one byte every few seconds, slowloris, would keep a thread
// forever). Each connection is watched from its accept: its TLS handshake must end within
// collector.https.handshake_timeout; then each request must be whole within
// collector.https.request_timeout, and no pause between two bytes (before a request, within
// one, or kept alive between two) may last collector.https.idle_timeout, which the kernel's
// TCP_INFO tells without reading. When a bound passes, the receive side is shut down, which
// ends any blocking read at once. The same table caps the connections of one address and
// sheds the oldest idle connection when the receiver is full.
//
// The watchdog owns a duplicate of the connection's descriptor: Poco closes its own
// descriptor when the connection ends, and a shutdown through a number that may already be
// reused would hit an unrelated socket. The entry is dropped once the watchdog holds the
// last reference to the socket, i.e. the connection is over; until then (a tick at most) the
// TCP connection stays open behind the TLS close_notify Poco has already sent.
class request_deadlines {
public:
    using clock = std::chrono::steady_clock;

    struct limits {
        std::size_t max_connections = 256;   // tracked at once
        std::size_t threads = 64;            // connections served at once (the rest wait for a thread)
        std::size_t max_per_address = 32;    // from one client address
        std::chrono::seconds idle{15};       // without a byte, before and within a request
    };

    request_deadlines();
    explicit request_deadlines(limits l);
    ~request_deadlines() = default;   // the watchdog stops first (declared last)
    request_deadlines(const request_deadlines&) = delete;
    request_deadlines& operator=(const request_deadlines&) = delete;

    // Admission of a new connection from peer, whose TLS handshake must end by deadline.
    // Refused (false, with why) when peer holds max_per_address connections already, or
    // when max_connections are tracked and none of them may be shed: the oldest that has
    // not sent a request yet, or waits idle between two, is closed to make room. When every
    // thread holds a connection, the oldest one idle between requests is closed too, so that
    // the new one does not wait for a thread behind clients that send nothing (and the
    // watchdog goes on doing so while connections wait for a thread). False also when the
    // descriptor cannot be duplicated (out of descriptors).
    bool watch(const Poco::Net::StreamSocket& socket, const std::string& peer, clock::time_point deadline,
               std::string& why);
    // A thread has taken the connection: its TLS handshake must end by deadline. Until then
    // it waited in the queue (bounded by the deadline watch() was given).
    void started(const Poco::Net::SocketImpl* connection, clock::time_point deadline);
    // The handshake is over, or a response is sent: the connection may send a request, which
    // must be whole by deadline, with no pause of idle between bytes.
    void arm(const Poco::Net::SocketImpl* connection, clock::time_point deadline);
    // A request's header has arrived: the connection is no longer one to shed.
    void request_started(const Poco::Net::SocketImpl* connection);
    // While the report is decoded and stored the client waits for us, not we for it.
    void disarm(const Poco::Net::SocketImpl* connection);
    bool expired(const Poco::Net::SocketImpl* connection) const;
    // Why the connection was cut ("" when it was not): the handshake or request deadline,
    // a pause longer than idle, or shed to make room.
    std::string cut_reason(const Poco::Net::SocketImpl* connection) const;

    struct counts {
        std::size_t tracked = 0, refused_per_address = 0, refused_full = 0, shed = 0, cut_idle = 0, cut_deadline = 0;
    };
    counts statistics() const;

private:
    enum class phase { handshake, waiting, reading, busy };
    struct entry {
        Poco::Net::StreamSocket socket;   // keeps the SocketImpl (the key) alive
        unique_fd fd;
        std::string peer;
        clock::time_point deadline;
        clock::time_point phase_start;
        phase at = phase::handshake;
        bool in_thread = false;   // a thread serves it (else it waits in the queue)
        bool cut = false;
        std::string why;
    };
    void run(std::stop_token stop);
    void free_threads_for_the_queue(clock::time_point now);
    void cut(entry& e, int how, std::string why);
    void forget(std::unordered_map<const Poco::Net::SocketImpl*, entry>::iterator it);

    limits limits_;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::unordered_map<const Poco::Net::SocketImpl*, entry> watched_;
    std::unordered_map<std::string, std::size_t> per_address_;
    std::size_t live_ = 0;   // watched and not cut
    counts counts_;
    worker watchdog_;   // last: starts once the members above exist, stops before they go
};

// The connections being served, so that a stop can end those waiting for a request.
class open_connections {
public:
    // False once stopping: the connection is closed without a request.
    bool enter(const Poco::Net::StreamSocket& socket);
    void leave(const Poco::Net::StreamSocket& socket);
    // Before reading the next request; false once stopping.
    bool await_request(const Poco::Net::StreamSocket& socket);
    void request_arrived(const Poco::Net::StreamSocket& socket);
    // Requests being handled finish; connections waiting for one see the end of their
    // input at once. Only the descriptor is shut down: the thread reading through the TLS
    // session must be the only one to touch it.
    void stop();

private:
    std::mutex mutex_;
    // Registered from enter() to leave(), while run() holds the socket: the descriptor is open.
    std::unordered_map<const Poco::Net::SocketImpl*, bool> waiting_;   // true: between requests
    bool stopping_ = false;
};

} // namespace stswatch
