#include "tests/support/test_support.hpp"

#include "store/migrations.hpp"

#include <catch2/catch.hpp>

#include <pqxx/connection>
#include <pqxx/nontransaction>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#ifndef STSWATCH_SOURCE_DIR
#error "STSWATCH_SOURCE_DIR must name the source tree (set by tests/CMakeLists.txt)"
#endif

namespace stswatch::test {

std::string required_env(const char* name)
{
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        FAIL("run the tests with ./dev test (" << name << " is not set)");
    return value;
}

namespace {

// The conninfo of the admin URL with dbname replaced: key=value form or URI.
std::string with_dbname(const std::string& admin_url, const std::string& dbname)
{
    if (admin_url.rfind("postgresql://", 0) == 0 || admin_url.rfind("postgres://", 0) == 0) {
        const auto authority = admin_url.find("://") + 3;
        const auto path = admin_url.find_first_of("/?", authority);
        std::string query;
        if (path != std::string::npos) {
            const auto q = admin_url.find('?', path);
            if (q != std::string::npos)
                query = admin_url.substr(q);
        }
        return admin_url.substr(0, path) + "/" + dbname + query;
    }
    // libpq: of a keyword given twice, the last one counts.
    return admin_url + " dbname=" + dbname;
}

std::string random_name()
{
    std::random_device rd;
    std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(::getpid()));
    static const char digits[] = "0123456789abcdef";
    std::string name = "t_";
    for (int i = 0; i < 16; ++i)
        name += digits[gen() % 16];
    return name;
}

} // namespace

scratch_database::scratch_database(bool migrated)
    : admin_url_(required_env("STSWATCH_TEST_DB")), name_(random_name()),
      url_(with_dbname(admin_url_, name_))
{
    {
        pqxx::connection admin(admin_url_);
        pqxx::nontransaction tx(admin);
        tx.exec("CREATE DATABASE " + tx.quote_name(name_));
    }
    if (migrated) {
        try {
            pqxx::connection conn(url_);
            migrate(conn);
        } catch (...) {
            try {
                pqxx::connection admin(admin_url_);
                pqxx::nontransaction tx(admin);
                tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
            } catch (...) {
            }
            throw;
        }
    }
}

scratch_database::~scratch_database()
{
    try {
        pqxx::connection admin(admin_url_);
        pqxx::nontransaction tx(admin);
        tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "could not drop scratch database %s: %s\n", name_.c_str(), e.what());
    }
}

long long query_count(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<long long>();
}

std::string query_text(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    const auto row = tx.exec1(sql);
    return row[0].is_null() ? "(null)" : row[0].as<std::string>();
}

std::string tls_file(std::string_view name)
{
    return required_env("STSWATCH_TEST_TLS_DIR") + "/" + std::string(name);
}

std::string data_file(std::string_view relative_path)
{
    const std::string path = std::string(STSWATCH_SOURCE_DIR "/tests/data/") + std::string(relative_path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read test data " + path + ": " + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

namespace {

// A file descriptor that closes itself.
class fd_owner {
public:
    fd_owner() = default;
    explicit fd_owner(int fd) : fd_(fd) {}
    ~fd_owner() { reset(); }
    fd_owner(fd_owner&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    fd_owner& operator=(fd_owner&& o) noexcept
    {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    fd_owner(const fd_owner&) = delete;
    fd_owner& operator=(const fd_owner&) = delete;
    int get() const { return fd_; }
    void reset()
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
private:
    int fd_ = -1;
};

struct pipe_pair {
    fd_owner read, write;
};

pipe_pair make_pipe()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    return {fd_owner(fds[0]), fd_owner(fds[1])};
}

} // namespace

run_result run_program(const std::vector<std::string>& argv, std::string_view stdin_data,
                       std::chrono::milliseconds timeout)
{
    if (argv.empty())
        throw std::invalid_argument("run_program: no program given");
    // A program that exits without reading all its input must not kill the test with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);

    auto in = make_pipe(), out = make_pipe(), err = make_pipe();
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        ::dup2(in.read.get(), 0);
        ::dup2(out.write.get(), 1);
        ::dup2(err.write.get(), 2);
        ::signal(SIGPIPE, SIG_DFL);
        ::execvp(args[0], args.data());
        const char msg[] = "run_program: exec failed: ";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        n = ::write(2, args[0], std::strlen(args[0]));
        n = ::write(2, "\n", 1);
        ::_exit(127);
    }
    in.read.reset();
    out.write.reset();
    err.write.reset();

    run_result result;
    std::size_t written = 0;
    if (stdin_data.empty())
        in.write.reset();
    else
        ::fcntl(in.write.get(), F_SETFL, O_NONBLOCK);

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Feed stdin and drain both outputs together: a child blocked writing a full stderr
    // pipe while we wait on its stdout would never finish.
    while (out.read.get() >= 0 || err.read.get() >= 0) {
        int wait_ms = -1;
        if (timeout > std::chrono::milliseconds::zero()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left <= std::chrono::milliseconds::zero()) {
                // What it printed so far stays in the result; a process it started may
                // still hold the pipes, so they are not drained further.
                ::kill(pid, SIGKILL);
                result.timed_out = true;
                break;
            }
            wait_ms = static_cast<int>(left.count());
        }
        pollfd fds[3];
        nfds_t n = 0;
        int in_slot = -1, out_slot = -1, err_slot = -1;
        if (in.write.get() >= 0) { in_slot = static_cast<int>(n); fds[n++] = {in.write.get(), POLLOUT, 0}; }
        if (out.read.get() >= 0) { out_slot = static_cast<int>(n); fds[n++] = {out.read.get(), POLLIN, 0}; }
        if (err.read.get() >= 0) { err_slot = static_cast<int>(n); fds[n++] = {err.read.get(), POLLIN, 0}; }
        if (::poll(fds, n, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        if (in_slot >= 0 && fds[in_slot].revents) {
            const auto w = ::write(in.write.get(), stdin_data.data() + written, stdin_data.size() - written);
            if (w > 0)
                written += static_cast<std::size_t>(w);
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size())
                in.write.reset();   // done, or the child stopped reading
        }
        auto drain = [](fd_owner& fd, pollfd& p, std::string& into) {
            if (!p.revents)
                return;
            char buf[65536];
            const auto r = ::read(fd.get(), buf, sizeof buf);
            if (r > 0)
                into.append(buf, static_cast<std::size_t>(r));
            else if (r == 0 || (errno != EINTR && errno != EAGAIN))
                fd.reset();
        };
        if (out_slot >= 0)
            drain(out.read, fds[out_slot], result.out);
        if (err_slot >= 0)
            drain(err.read, fds[err_slot], result.err);
    }
    in.write.reset();

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    }
    if (WIFEXITED(status))
        result.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        result.exit_code = 128 + WTERMSIG(status);
    return result;
}

std::uint16_t free_port()
{
    fd_owner s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0)
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
    socklen_t len = sizeof addr;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
    return ntohs(addr.sin_port);
}

} // namespace stswatch::test
