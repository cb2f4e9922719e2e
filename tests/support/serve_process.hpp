// `stswatch serve` (STSWATCH_BIN) in the background for end-to-end tests: its stderr kept
// (the log), stopped with SIGTERM at the end, or killed with SIGKILL to test a crash.
#pragma once

#include "common/time.hpp"

#include <Poco/Pipe.h>
#include <Poco/Process.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stswatch::test {

class serve_process {
public:
    explicit serve_process(const std::vector<std::string>& args);
    ~serve_process();   // stop()
    serve_process(const serve_process&) = delete;
    serve_process& operator=(const serve_process&) = delete;

    int stop();         // SIGTERM, then the exit code
    int kill();         // SIGKILL, then the exit code (as Poco reports a signal)
    bool running() const;
    std::string log() const;

private:
    int end(bool hard);

    Poco::Pipe out_, err_;
    Poco::ProcessHandle handle_;
    std::thread err_reader_, out_reader_;
    mutable std::mutex mutex_;
    std::string err_text_;
    bool stopped_ = false;
    int exit_code_ = -1;
};

// Today in UTC by the system clock (a seeded timeline that serve sees as recent).
utc_date real_today();

} // namespace stswatch::test
