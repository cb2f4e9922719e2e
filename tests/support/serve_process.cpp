// tests/support/serve_process.hpp.
#include "tests/support/serve_process.hpp"

#include "tests/support/test_support.hpp"

#include <Poco/PipeStream.h>

#include <csignal>
#include <ctime>
#include <istream>

namespace stswatch::test {

serve_process::serve_process(const std::vector<std::string>& args)
    : handle_(Poco::Process::launch(required_env("STSWATCH_BIN"), args, nullptr, &out_, &err_))
{
    err_reader_ = std::thread([this] {
        Poco::PipeInputStream in(err_);
        for (std::string line; std::getline(in, line);) {
            std::lock_guard lock(mutex_);
            err_text_ += line + "\n";
        }
    });
    out_reader_ = std::thread([this] {
        Poco::PipeInputStream in(out_);
        for (std::string line; std::getline(in, line);) {
        }
    });
}

serve_process::~serve_process() { stop(); }

int serve_process::stop() { return end(false); }
int serve_process::kill() { return end(true); }

bool serve_process::running() const { return !stopped_ && Poco::Process::isRunning(handle_); }

int serve_process::end(bool hard)
{
    if (!stopped_) {
        stopped_ = true;
        if (hard)
            ::kill(static_cast<pid_t>(handle_.id()), SIGKILL);
        else
            Poco::Process::requestTermination(handle_.id());
        exit_code_ = handle_.wait();
        err_reader_.join();
        out_reader_.join();
    }
    return exit_code_;
}

std::string serve_process::log() const
{
    std::lock_guard lock(mutex_);
    return err_text_;
}

utc_date real_today()
{
    return utc_date_of(utc_time{static_cast<std::int64_t>(std::time(nullptr)), 0});
}

} // namespace stswatch::test
