// The HTTPS receiver's request deadlines and open connections (collector/http_deadlines.hpp).
#include "collector/http_deadlines.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace stswatch {

namespace {

// How often the watchdog looks at the deadlines.
constexpr auto tick = std::chrono::milliseconds(100);
// Past the idle timeout within a request, before the watchdog cuts what the read's own
// timeout has not ended.
constexpr auto backstop = std::chrono::milliseconds(3000);
// How long a connection must have sent nothing before it may be closed to free its thread.
constexpr auto min_idle_to_shed = std::chrono::milliseconds(1000);

} // namespace

request_deadlines::request_deadlines() : request_deadlines(limits{}) {}

request_deadlines::request_deadlines(limits l)
    : limits_(l), watchdog_("https-deadlines", [this](std::stop_token stop) { run(stop); })
{
}

void request_deadlines::cut(entry& e, int how, std::string why)
{
    ::shutdown(e.fd.get(), how);
    if (!e.cut)
        --live_;
    e.cut = true;
    e.why = std::move(why);
}

void request_deadlines::forget(std::unordered_map<const Poco::Net::SocketImpl*, entry>::iterator it)
{
    if (!it->second.cut)
        --live_;
    if (auto a = per_address_.find(it->second.peer); a != per_address_.end() && --a->second == 0)
        per_address_.erase(a);
    watched_.erase(it);
}

bool request_deadlines::watch(const Poco::Net::StreamSocket& socket, const std::string& peer,
                              clock::time_point deadline, std::string& why)
{
    std::lock_guard lock(mutex_);
    if (auto a = per_address_.find(peer); a != per_address_.end() && a->second >= limits_.max_per_address) {
        ++counts_.refused_per_address;
        why = "this address holds " + std::to_string(a->second) + " connections already";
        return false;
    }
    if (live_ >= limits_.max_connections) {
        // Room for a new connection before one that has not sent a request, or idles between
        // two: the oldest of those goes (a sender mid-request or being answered never does).
        entry* oldest = nullptr;
        for (auto& [key, e] : watched_) {
            if (e.cut || (e.at != phase::handshake && e.at != phase::waiting))
                continue;
            if (!oldest || e.phase_start < oldest->phase_start)
                oldest = &e;
        }
        if (!oldest) {
            ++counts_.refused_full;
            why = "all " + std::to_string(limits_.max_connections) + " connections are busy with requests";
            return false;
        }
        cut(*oldest, SHUT_RDWR, "closed to make room for a new connection (receiver full, this one idle)");
        ++counts_.shed;
    }
    unique_fd fd(::fcntl(socket.impl()->sockfd(), F_DUPFD_CLOEXEC, 0));
    if (!fd) {
        why = "cannot watch it (out of descriptors?)";
        return false;
    }
    entry e{socket, std::move(fd), peer, deadline, clock::now(), phase::handshake, false, false, {}};
    const auto [it, fresh] = watched_.insert_or_assign(socket.impl(), std::move(e));
    (void)it;
    if (fresh) {
        ++live_;
        ++per_address_[peer];
    }
    return true;
}

void request_deadlines::started(const Poco::Net::SocketImpl* connection, clock::time_point deadline)
{
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(connection); it != watched_.end() && !it->second.cut) {
        it->second.in_thread = true;
        it->second.deadline = deadline;
        it->second.phase_start = clock::now();
    }
}

void request_deadlines::free_threads_for_the_queue(clock::time_point now)
{
    // Connections wait for a thread while every thread serves one: the threads held the
    // longest by clients that send nothing (no handshake yet, or idle between requests, for
    // a second at least) are freed for them, one per waiting connection.
    std::size_t queued = 0, holding = 0;
    std::vector<entry*> idle;
    for (auto& [key, e] : watched_) {
        if (e.cut)
            continue;
        if (!e.in_thread) {
            ++queued;
            continue;
        }
        ++holding;
        if ((e.at == phase::handshake || e.at == phase::waiting) && now - e.phase_start >= min_idle_to_shed)
            idle.push_back(&e);
    }
    if (queued == 0 || holding < limits_.threads || idle.empty())
        return;
    std::sort(idle.begin(), idle.end(), [](const entry* a, const entry* b) { return a->phase_start < b->phase_start; });
    for (std::size_t i = 0; i < std::min(queued, idle.size()); ++i) {
        cut(*idle[i], SHUT_RDWR, "closed to free a thread for a waiting connection (this one sent nothing)");
        ++counts_.shed;
    }
}

void request_deadlines::arm(const Poco::Net::SocketImpl* connection, clock::time_point deadline)
{
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(connection); it != watched_.end() && !it->second.cut) {
        it->second.deadline = deadline;
        it->second.at = phase::waiting;
        it->second.phase_start = clock::now();
    }
}

void request_deadlines::request_started(const Poco::Net::SocketImpl* connection)
{
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(connection); it != watched_.end() && !it->second.cut)
        it->second.at = phase::reading;
}

void request_deadlines::disarm(const Poco::Net::SocketImpl* connection)
{
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(connection); it != watched_.end())
        it->second.at = phase::busy;
}

bool request_deadlines::expired(const Poco::Net::SocketImpl* connection) const
{
    std::lock_guard lock(mutex_);
    const auto it = watched_.find(connection);
    return it != watched_.end()
        && (it->second.cut || (it->second.at != phase::busy && clock::now() >= it->second.deadline));
}

std::string request_deadlines::cut_reason(const Poco::Net::SocketImpl* connection) const
{
    std::lock_guard lock(mutex_);
    const auto it = watched_.find(connection);
    return it == watched_.end() ? std::string() : it->second.why;
}

request_deadlines::counts request_deadlines::statistics() const
{
    std::lock_guard lock(mutex_);
    auto c = counts_;
    c.tracked = live_;
    return c;
}

namespace {

// Milliseconds since the peer last sent data on fd (TCP_INFO), or -1 when unknown.
long long quiet_ms(int fd)
{
    tcp_info info{};
    socklen_t size = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0)
        return -1;
    return info.tcpi_last_data_recv;
}

} // namespace

void request_deadlines::run(std::stop_token stop)
{
    std::unique_lock lock(mutex_);
    const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(limits_.idle);
    while (!stop.stop_requested()) {
        // Nothing notifies: the wait ends at the tick or at once on a stop.
        wake_.wait_for(lock, stop, tick, [] { return false; });
        const auto now = clock::now();
        for (auto it = watched_.begin(); it != watched_.end();) {
            auto& e = it->second;
            if (e.socket.impl()->referenceCount() <= 1) {
                auto gone = it++;
                forget(gone);
                continue;
            }
            if (e.cut || e.at == phase::busy) {
                ++it;
                continue;
            }
            if (now >= e.deadline) {
                cut(e, SHUT_RD, e.at == phase::handshake ? "no TLS handshake within the handshake timeout"
                                                         : "request not complete within the request timeout");
                ++counts_.cut_deadline;
            } else if (e.at != phase::handshake && now - e.phase_start >= idle) {
                // The pause counts from this phase's start or the peer's last data, the later.
                // Within a request the read's own timeout ends it first, with a 408 (the
                // receiver's bound_each_wait); this is the backstop.
                const auto limit = e.at == phase::reading ? idle + backstop : idle;
                const auto quiet = quiet_ms(e.fd.get());
                if (quiet >= 0 && std::chrono::milliseconds(quiet) >= limit) {
                    cut(e, SHUT_RD, "no data for " + std::to_string(limits_.idle.count()) + " s");
                    ++counts_.cut_idle;
                }
            }
            ++it;
        }
        free_threads_for_the_queue(now);
    }
}

bool open_connections::enter(const Poco::Net::StreamSocket& socket)
{
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    waiting_.emplace(socket.impl(), false);
    return true;
}

void open_connections::leave(const Poco::Net::StreamSocket& socket)
{
    std::lock_guard lock(mutex_);
    waiting_.erase(socket.impl());
}

bool open_connections::await_request(const Poco::Net::StreamSocket& socket)
{
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    waiting_[socket.impl()] = true;
    return true;
}

void open_connections::request_arrived(const Poco::Net::StreamSocket& socket)
{
    std::lock_guard lock(mutex_);
    waiting_[socket.impl()] = false;
}

void open_connections::stop()
{
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& [connection, waiting] : waiting_)
        if (waiting) ::shutdown(connection->sockfd(), SHUT_RD);
}

} // namespace stswatch
