// Helpers for tests that use real components: the test PostgreSQL cluster, the test CA,
// the stswatch binary. `./dev test` provides them through the environment; a test run
// without them fails with a message saying so, rather than passing without checking.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::test {

// The value of an environment variable that ./dev test sets; FAILs the test when unset.
std::string required_env(const char* name);

// A fresh database in the test cluster, dropped when this goes out of scope.
class scratch_database {
public:
    explicit scratch_database(bool migrated = true);
    ~scratch_database();
    scratch_database(const scratch_database&) = delete;
    scratch_database& operator=(const scratch_database&) = delete;
    const std::string& url() const { return url_; }
    const std::string& name() const { return name_; }
private:
    std::string admin_url_, name_, url_;
};

// One value from a query of the database at url: a number (a count) or text, "(null)" for NULL.
long long query_count(const std::string& url, const std::string& sql);
std::string query_text(const std::string& url, const std::string& sql);

// Paths in the test TLS directory (ca.pem, server.pem, server.key).
std::string tls_file(std::string_view name);

// Reads a file under tests/data (the source tree's), whole.
std::string data_file(std::string_view relative_path);

struct run_result {
    int exit_code = -1;       // the exit status; 128 + N when killed by signal N
    std::string out, err;
    bool timed_out = false;   // killed (SIGKILL) for running past the timeout
};

// Runs argv[0] (looked up in PATH) with args, feeding stdin_data, capturing stdout and
// stderr. No shell. A program that cannot be started exits 127 with "run_program: exec
// failed" on stderr. With a timeout, a program still running after it is killed.
run_result run_program(const std::vector<std::string>& argv, std::string_view stdin_data = {},
                       std::chrono::milliseconds timeout = std::chrono::milliseconds::zero());

// A TCP port that was free on 127.0.0.1 a moment ago.
std::uint16_t free_port();

} // namespace stswatch::test
