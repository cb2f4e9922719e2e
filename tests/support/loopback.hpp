// Loopback addresses for servers that tests start on fixed ports (443, 25): each server gets
// an address of its own, so tests running at once never meet on one address:port.
#pragma once

#include <cstdint>
#include <string>

namespace stswatch::test {

// A random loopback address 127.A.B.C (A in 64..254, B and C in 1..254) for one server of one
// test, so that tests running at once never share an address:port. Callers retry on EADDRINUSE.
// Never the same address twice within one process.
std::string unique_loopback_address();

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

} // namespace stswatch::test
