// The HTTPS receiver's bounds on its clients' time, apart from HTTP: the whole-request
// deadline each connection is watched against, and the connections waiting for a request
// that a stop ends at once.
#pragma once

#include "common/handles.hpp"
#include "common/worker.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include <Poco/Net/StreamSocket.h>

namespace stswatch {

// The whole-request deadline. Poco's socket timeouts bound the wait for each byte only, so a
// client sending one byte every few seconds (slowloris) would keep a thread forever, in the
// TLS handshake, the headers or the body. Each connection is watched from its accept; when its
// deadline passes, its receive side is shut down, which ends any blocking read at once.
//
// The watchdog owns a duplicate of the connection's descriptor: Poco closes its own
// descriptor when the connection ends, and a shutdown through a number that may already be
// reused would hit an unrelated socket. The entry is dropped once the watchdog holds the
// last reference to the socket, i.e. the connection is over; until then (a tick at most) the
// TCP connection stays open behind the TLS close_notify Poco has already sent.
class request_deadlines {
public:
    using clock = std::chrono::steady_clock;

    request_deadlines();
    ~request_deadlines() = default;   // the watchdog stops first (declared last)
    request_deadlines(const request_deadlines&) = delete;
    request_deadlines& operator=(const request_deadlines&) = delete;

    // False when the descriptor cannot be duplicated (out of descriptors): refuse the client.
    bool watch(const Poco::Net::StreamSocket& socket, clock::time_point deadline);
    void arm(const Poco::Net::SocketImpl* connection, clock::time_point deadline);
    // While the report is decoded and stored the client waits for us, not we for it.
    void disarm(const Poco::Net::SocketImpl* connection);
    bool expired(const Poco::Net::SocketImpl* connection) const;

private:
    struct entry {
        Poco::Net::StreamSocket socket;   // keeps the SocketImpl (the key) alive
        unique_fd fd;
        clock::time_point deadline;
        bool armed;
        bool cut;
    };

    void run(std::stop_token stop);

    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::unordered_map<const Poco::Net::SocketImpl*, entry> watched_;
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
