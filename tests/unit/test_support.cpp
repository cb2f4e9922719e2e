// The test helpers themselves (tests/support) that need no server: running a program, the
// scratch folder, the zone file text. A helper that silently did nothing would let the tests
// that use it pass without checking.
#include "tests/support/dns_server.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

using namespace stswatch::test;
using namespace std::chrono_literals;

TEST_CASE("run_program: exit code, stdout and stderr apart")
{
    const auto r = run_program({"/bin/sh", "-c", "printf 'to out'; printf 'to err' >&2; exit 3"});
    CHECK(r.exit_code == 3);
    CHECK(r.out == "to out");
    CHECK(r.err == "to err");
    CHECK_FALSE(r.timed_out);

    const auto ok = run_program({"true"});   // looked up in PATH
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.empty());
    CHECK(ok.err.empty());
}

TEST_CASE("run_program: arguments reach the program as given, without a shell")
{
    const auto r = run_program({"printf", "%s|", "a b", "$HOME", "*", "", "'q'"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "a b|$HOME|*||'q'|");
}

TEST_CASE("run_program: standard input is fed, large outputs on both pipes are drained")
{
    CHECK(run_program({"cat"}, "one\ntwo\n").out == "one\ntwo\n");
    CHECK(run_program({"cat"}).out.empty());   // no input: end of file at once

    // More than any pipe buffer each way, stderr written before stdin is read: a helper that
    // wrote all input first, or read one pipe to its end first, would hang here.
    std::string input(1 << 20, 'x');
    for (std::size_t i = 0; i < input.size(); i += 1000)
        input[i] = '\n';
    const auto r = run_program({"/bin/sh", "-c", "head -c 300000 /dev/zero >&2; cat"}, input, 20s);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK(r.out == input);
    CHECK(r.err == std::string(300000, '\0'));
}

TEST_CASE("run_program: a program that does not read its input, or dies of a signal")
{
    // The unread input must not kill the test with SIGPIPE.
    const auto unread = run_program({"true"}, std::string(1 << 20, 'x'));
    CHECK(unread.exit_code == 0);

    const auto killed = run_program({"/bin/sh", "-c", "kill -TERM $$"});
    CHECK(killed.exit_code == 128 + 15);
    CHECK_FALSE(killed.timed_out);
}

TEST_CASE("run_program: a program that cannot be started")
{
    const auto r = run_program({"/nonexistent/program", "arg"});
    CHECK(r.exit_code == 127);
    CHECK(r.out.empty());
    CHECK(r.err == "run_program: exec failed: /nonexistent/program\n");

    CHECK_THROWS_AS(run_program({}), std::invalid_argument);
}

TEST_CASE("run_program: a timeout kills the program and keeps what it printed")
{
    const auto started = std::chrono::steady_clock::now();
    const auto r = run_program({"/bin/sh", "-c", "echo started; exec sleep 30"}, {}, 300ms);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(r.timed_out);
    CHECK(r.exit_code == 128 + 9);
    CHECK(r.out == "started\n");
    CHECK(elapsed >= 300ms);
    CHECK(elapsed < 5s);

    const auto quick = run_program({"/bin/sh", "-c", "echo done"}, {}, 10s);
    CHECK_FALSE(quick.timed_out);
    CHECK(quick.exit_code == 0);
    CHECK(quick.out == "done\n");
}

TEST_CASE("temp_dir: a fresh folder, files written under it, all removed at the end")
{
    std::filesystem::path kept;
    {
        const temp_dir dir("stswatch-support-test");
        kept = dir.path;
        REQUIRE(std::filesystem::is_directory(dir.path));
        CHECK(dir.path.filename().string().rfind("stswatch-support-test.", 0) == 0);
        CHECK(std::filesystem::is_empty(dir.path));

        const std::string file = dir.write("a/b/c.txt", std::string("bytes\0kept", 10));
        CHECK(file == (dir.path / "a/b/c.txt").string());
        std::ifstream in(file, std::ios::binary);
        CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == std::string("bytes\0kept", 10));

        const temp_dir other("stswatch-support-test");
        CHECK(other.path != dir.path);
    }
    CHECK_FALSE(std::filesystem::exists(kept));
}

TEST_CASE("temp_file: the data, gone with the object")
{
    std::string path;
    {
        const temp_file f("policy text\n");
        path = f.path();
        std::ifstream in(path, std::ios::binary);
        CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "policy text\n");
    }
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("zone_file: SOA and NS for the origin, then the records")
{
    CHECK(zone_file("chk.test", "@ MX 10 mx1\n") ==
          "$ORIGIN chk.test.\n$TTL 60\n@ SOA ns.chk.test. hostmaster.chk.test. 1 3600 600 86400 60\n"
          "@ NS ns\nns A 127.0.0.1\n@ MX 10 mx1\n");
}

TEST_CASE("free_port: a port that can be bound")
{
    const auto a = free_port();
    CHECK(a > 0);
    // Two calls in a row need not differ, but both must be usable ports.
    CHECK(free_port() > 0);
}

TEST_CASE("data_file: a file under tests/data, whole, and a missing one throws")
{
    const std::string google = data_file("reports/google.json");
    CHECK(google.find("\"organization-name\"") != std::string::npos);
    CHECK(google.back() == '\n');
    CHECK_THROWS_WITH(data_file("reports/nonexistent.json"), Catch::Contains("reports/nonexistent.json"));
}
