// The HTTPS receiver's request deadlines and open connections (collector/http_deadlines.hpp).
#include "collector/http_deadlines.hpp"

#include <utility>

#include <fcntl.h>
#include <sys/socket.h>

namespace stswatch {

namespace {

// How often the watchdog looks at the deadlines.
constexpr auto tick = std::chrono::milliseconds(100);

} // namespace

request_deadlines::request_deadlines()
    : watchdog_("https-deadlines", [this](std::stop_token stop) { run(stop); })
{
}

bool request_deadlines::watch(const Poco::Net::StreamSocket& socket, clock::time_point deadline)
{
    unique_fd fd(::fcntl(socket.impl()->sockfd(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return false;
    std::lock_guard lock(mutex_);
    watched_.insert_or_assign(socket.impl(), entry{socket, std::move(fd), deadline, true, false});
    return true;
}

void request_deadlines::arm(const Poco::Net::SocketImpl* connection, clock::time_point deadline)
{
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(connection); it != watched_.end() && !it->second.cut) {
        it->second.deadline = deadline;
        it->second.armed = true;
    }
}

void request_deadlines::disarm(const Poco::Net::SocketImpl* connection)
{
    std::lock_guard lock(mutex_);
    if (auto it = watched_.find(connection); it != watched_.end()) it->second.armed = false;
}

bool request_deadlines::expired(const Poco::Net::SocketImpl* connection) const
{
    std::lock_guard lock(mutex_);
    const auto it = watched_.find(connection);
    return it != watched_.end() && (it->second.cut || (it->second.armed && clock::now() >= it->second.deadline));
}

void request_deadlines::run(std::stop_token stop)
{
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
        // Nothing notifies: the wait ends at the tick or at once on a stop.
        wake_.wait_for(lock, stop, tick, [] { return false; });
        const auto now = clock::now();
        for (auto it = watched_.begin(); it != watched_.end();) {
            auto& e = it->second;
            if (e.socket.impl()->referenceCount() <= 1) {
                it = watched_.erase(it);
                continue;
            }
            if (e.armed && now >= e.deadline) {
                ::shutdown(e.fd.get(), SHUT_RD);
                e.armed = false;
                e.cut = true;
            }
            ++it;
        }
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
