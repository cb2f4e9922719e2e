// Loopback addresses for servers that tests start on fixed ports (443, 25): each server gets
// an address of its own, so tests running at once never meet on one address:port. And peers
// that misbehave on purpose, for the time limits of the network checks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace stswatch::test {

// A random loopback address 127.A.B.C (A in 64..254, B and C in 1..254) for one server of one
// test, so that tests running at once never share an address:port. Callers retry on EADDRINUSE.
// Never the same address twice within one process.
std::string unique_loopback_address();

// Starts a server on an address of its own: start(address) with fresh addresses until it
// does not throw std::system_error EADDRINUSE (another process holds that address:port),
// at most 6 times. Returns what start returned.
template <typename Start>
auto on_own_address(Start start) -> decltype(start(std::string()))
{
    for (int attempt = 0;; ++attempt) {
        try {
            return start(unique_loopback_address());
        } catch (const std::system_error& e) {
            if (e.code() != std::errc::address_in_use || attempt >= 5)
                throw;
        }
    }
}

// A UDP socket on 127.0.0.1 that never answers: queries sent to it vanish, as dropped packets
// do. Closed with the object.
class silent_udp_server {
public:
    silent_udp_server();   // FAILs the test when no socket can be bound
    ~silent_udp_server();
    silent_udp_server(const silent_udp_server&) = delete;
    silent_udp_server& operator=(const silent_udp_server&) = delete;
    std::string address() const;   // "127.0.0.1:PORT"

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

// One step of a scripted peer, done in this order: read a line, wait, send, TLS handshake.
struct peer_step {
    bool read_line = false;      // first wait for one line ("\n") from the client
    unsigned delay_ms = 0;       // then wait this long
    std::string send;            // then send this ("" = nothing)
    bool start_tls = false;      // then the server side of a TLS handshake; TLS from then on
    unsigned repeat_ms = 0;      // when set: send `send` again every repeat_ms until the client leaves
    bool close = false;          // then end the connection (with a TLS close_notify under TLS)
};

struct scripted_peer_options {
    std::string address;               // 127.x.y.z
    std::uint16_t port = 0;
    std::string cert_file, key_file;   // for start_tls
    std::vector<peer_step> script;     // run for each connection, one connection at a time
};

// A TCP server that plays a script to each client and then keeps the connection open until
// the client leaves: a slow or trickling SMTP server or HTTPS host. Listening when
// constructed; throws std::system_error (code EADDRINUSE when the address is taken: callers
// may retry with another); FAILs the test when the certificate cannot be loaded.
class scripted_peer {
public:
    explicit scripted_peer(scripted_peer_options options);
    ~scripted_peer();
    scripted_peer(const scripted_peer&) = delete;
    scripted_peer& operator=(const scripted_peer&) = delete;
    unsigned connections() const;      // accepted so far

private:
    struct state;
    std::unique_ptr<state> state_;
};

// A listener on address:port whose accept queue is full: the kernel drops further SYNs, so a
// connect to it hangs as one to a host that drops packets does. Throws std::system_error as
// scripted_peer does.
class unanswering_listener {
public:
    unanswering_listener(const std::string& address, std::uint16_t port);
    ~unanswering_listener();
    unanswering_listener(const unanswering_listener&) = delete;
    unanswering_listener& operator=(const unanswering_listener&) = delete;

private:
    int listener_ = -1;
    int filler_ = -1;   // the one connection that fills the queue
};

} // namespace stswatch::test
