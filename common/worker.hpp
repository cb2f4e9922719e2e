// The one thread primitive of stswatch: every server loop, drainer, scheduler and writer is a
// named std::jthread whose body takes a std::stop_token. Stopping is request_stop() and join,
// and waits inside a body use std::condition_variable_any with the token, so that a stop
// wakes them at once instead of at the next poll. Thread names show in top -H, gdb and perf.
#pragma once

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>

namespace stswatch {

// Names the calling thread (Linux keeps 15 bytes).
inline void name_this_thread(const std::string& name)
{
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

class worker {
public:
    worker() = default;
    // body(std::stop_token) runs on a new thread named name.
    template <typename Body>
    worker(std::string name, Body&& body)
        : thread_([name = std::move(name), body = std::forward<Body>(body)](std::stop_token stop) mutable {
              name_this_thread(name);
              body(stop);
          })
    {
    }
    worker(worker&&) noexcept = default;
    worker& operator=(worker&&) noexcept = default;
    ~worker() { stop(); }   // std::jthread would too; explicit for readers

    void request_stop() noexcept { thread_.request_stop(); }
    // Requests the stop and waits for the body to return. Idempotent.
    void stop()
    {
        if (thread_.joinable()) {
            thread_.request_stop();
            thread_.join();
        }
    }
    bool running() const noexcept { return thread_.joinable(); }
    std::stop_source stop_source() noexcept { return thread_.get_stop_source(); }

private:
    std::jthread thread_;
};

// Several workers of one kind ("store-writer-0", "store-writer-1", …), stopped together:
// every stop is requested first, then each is joined, so that they wind down in parallel.
class worker_group {
public:
    template <typename Body>
    void start(const std::string& name, unsigned count, Body body)
    {
        for (unsigned i = 0; i < count; ++i)
            workers_.emplace_back(name + "-" + std::to_string(i), [body, i](std::stop_token stop) mutable { body(stop, i); });
    }
    void request_stop() noexcept
    {
        for (auto& w : workers_)
            w.request_stop();
    }
    void stop()
    {
        request_stop();
        for (auto& w : workers_)
            w.stop();
        workers_.clear();
    }
    std::size_t size() const noexcept { return workers_.size(); }
    ~worker_group() { stop(); }

private:
    std::vector<worker> workers_;
};

} // namespace stswatch
