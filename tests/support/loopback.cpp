#include "tests/support/loopback.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>

namespace stswatch::test {

std::string unique_loopback_address()
{
    static std::mutex lock;
    static std::set<std::string> handed_out;
    // Seeded per process from several sources: parallel test processes started in the same
    // instant must not walk the same sequence.
    static std::mt19937_64 gen = [] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), static_cast<unsigned>(::getpid()),
                          static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
        return std::mt19937_64(seq);
    }();
    // 127.0.0.0/8 below 127.64 is left to fixed addresses (127.0.0.1 and the like).
    std::uniform_int_distribution<int> first(64, 254), rest(1, 254);

    const std::lock_guard<std::mutex> guard(lock);
    for (;;) {
        std::string address = "127." + std::to_string(first(gen)) + "." + std::to_string(rest(gen)) +
                              "." + std::to_string(rest(gen));
        if (handed_out.insert(address).second)
            return address;
    }
}

silent_udp_server::silent_udp_server() : fd_(::socket(AF_INET, SOCK_DGRAM, 0))
{
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
}

silent_udp_server::~silent_udp_server()
{
    if (fd_ >= 0)
        ::close(fd_);
}

std::string silent_udp_server::address() const
{
    return "127.0.0.1:" + std::to_string(port_);
}

} // namespace stswatch::test
