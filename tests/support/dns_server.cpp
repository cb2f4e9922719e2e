#include "tests/support/dns_server.hpp"


#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace stswatch::test {

namespace {

std::string dns_script() { return std::string(STSWATCH_SOURCE_DIR) + "/tests/fixtures/dns.sh"; }

} // namespace

std::string zone_file(const std::string& origin, const std::string& records)
{
    return "$ORIGIN " + origin + ".\n$TTL 60\n@ SOA ns." + origin + ". hostmaster." + origin +
           ". 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n" + records;
}

dns_server::dns_server(const std::vector<test_zone>& zones)
{
    std::vector<std::string> specs;
    for (const auto& z : zones) {
        const std::string file = dir_.write(z.name + ".in", z.text);
        specs.push_back(z.name + "=" + file + (z.dnssec ? ":signed" : ""));
    }
    // A port free a moment ago may be taken by the time knot binds it: try a few.
    run_result r;
    for (int attempt = 0; attempt < 3; ++attempt) {
        port_ = free_port();
        std::vector<std::string> argv = {"/bin/bash", dns_script(), "start", server_dir(), std::to_string(port_)};
        argv.insert(argv.end(), specs.begin(), specs.end());
        r = run_program(argv);
        if (r.exit_code == 0)
            return;
    }
    FAIL("tests/fixtures/dns.sh could not start knotd: " << r.err);
}

dns_server::~dns_server()
{
    run_program({"/bin/bash", dns_script(), "destroy", server_dir()});
}

std::string dns_server::trust_anchor_file(const std::string& zone, const std::string& extra_lines) const
{
    return trust_anchor_file(std::vector<std::string>{zone}, extra_lines);
}

std::string dns_server::trust_anchor_file(const std::vector<std::string>& zones, const std::string& extra_lines) const
{
    std::string text;
    for (const auto& zone : zones) {
        const run_result r = run_program({"/bin/bash", dns_script(), "ds", server_dir(), zone});
        INFO("DS of " << zone << ": " << r.err);
        REQUIRE(r.exit_code == 0);
        REQUIRE(r.out.find(" DS ") != std::string::npos);
        text += r.out;
    }
    return dir_.write((zones.empty() ? std::string("none") : zones.front()) + ".anchor", text + extra_lines);
}

struct udp_relay::state {
    int listener = -1;
    int upstream = -1;
    std::uint16_t port = 0;
    std::atomic<unsigned> relayed{0};
    std::atomic<bool> stop{false};
    std::thread thread;

    ~state()
    {
        stop = true;
        if (thread.joinable())
            thread.join();
        if (listener >= 0)
            ::close(listener);
        if (upstream >= 0)
            ::close(upstream);
    }

    void run()
    {
        char buf[65535];
        while (!stop) {
            pollfd p{listener, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0)
                continue;
            sockaddr_storage client{};
            socklen_t client_len = sizeof client;
            const auto n = ::recvfrom(listener, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&client), &client_len);
            if (n <= 0)
                continue;
            if (::send(upstream, buf, static_cast<std::size_t>(n), 0) != n)
                continue;
            // The answer to this query, or none within a second (the client retries).
            pollfd u{upstream, POLLIN, 0};
            if (::poll(&u, 1, 1000) <= 0)
                continue;
            const auto m = ::recv(upstream, buf, sizeof buf, 0);
            if (m <= 0)
                continue;
            // Counted before it is sent: the client may look at the count as soon as it has
            // the answer.
            ++relayed;
            ::sendto(listener, buf, static_cast<std::size_t>(m), 0, reinterpret_cast<sockaddr*>(&client), client_len);
        }
    }
};

udp_relay::udp_relay(const std::string& ip, std::uint16_t port, std::uint16_t upstream_port)
    : state_(std::make_unique<state>())
{
    sockaddr_storage address{};
    socklen_t address_len = 0;
    if (ip.find(':') != std::string::npos) {
        auto* a6 = reinterpret_cast<sockaddr_in6*>(&address);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        REQUIRE(::inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1);
        address_len = sizeof(sockaddr_in6);
    } else {
        auto* a4 = reinterpret_cast<sockaddr_in*>(&address);
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        REQUIRE(::inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1);
        address_len = sizeof(sockaddr_in);
    }
    state_->listener = ::socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(state_->listener >= 0);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::bind(state_->listener, reinterpret_cast<sockaddr*>(&address), address_len) != 0) {
        const int error = errno;
        if (error != EADDRINUSE || std::chrono::steady_clock::now() > give_up)
            FAIL("udp_relay: cannot bind " << ip << " port " << port << ": " << std::strerror(error));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    socklen_t len = address_len;
    REQUIRE(::getsockname(state_->listener, reinterpret_cast<sockaddr*>(&address), &len) == 0);
    state_->port = ntohs(address.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                                                       : reinterpret_cast<sockaddr_in*>(&address)->sin_port);

    state_->upstream = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(state_->upstream >= 0);
    sockaddr_in up{};
    up.sin_family = AF_INET;
    up.sin_port = htons(upstream_port);
    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(state_->upstream, reinterpret_cast<sockaddr*>(&up), sizeof up) == 0);
    state_->thread = std::thread([s = state_.get()] { s->run(); });
}

udp_relay::~udp_relay() = default;

std::uint16_t udp_relay::port() const { return state_->port; }

unsigned udp_relay::relayed() const { return state_->relayed; }

} // namespace stswatch::test
