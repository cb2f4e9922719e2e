#include "common/log.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

using namespace stswatch;

namespace {

// Sends fd 2 into a pipe while alive, drained by a thread: writes of more than PIPE_BUF
// bytes to a pipe are not atomic, so interleaving shows up here if lines are not serialised.
class stderr_capture {
public:
    stderr_capture()
    {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        REQUIRE(::dup2(fds[1], STDERR_FILENO) == STDERR_FILENO);
        ::close(fds[1]);
        read_end_ = fds[0];
        reader_ = std::thread([this] {
            char buf[65536];
            for (;;) {
                const ssize_t n = ::read(read_end_, buf, sizeof buf);
                if (n <= 0)
                    break;
                text_.append(buf, static_cast<std::size_t>(n));
            }
        });
    }
    ~stderr_capture() { finish(); }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;

    // Restores stderr and returns all that was written meanwhile.
    const std::string& text()
    {
        finish();
        return text_;
    }

private:
    void finish()
    {
        if (saved_ < 0)
            return;
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);   // closes the last write end: the reader sees EOF
        ::close(saved_);
        saved_ = -1;
        reader_.join();
        ::close(read_end_);
    }

    int saved_ = -1, read_end_ = -1;
    std::thread reader_;
    std::string text_;
};

// Restores the level the process had.
struct level_guard {
    log::level saved = log::enabled(log::level::debug) ? log::level::debug
                       : log::enabled(log::level::info) ? log::level::info
                       : log::enabled(log::level::warning) ? log::level::warning
                                                           : log::level::error;
    ~level_guard() { log::set_level(saved); }
};

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    return lines;
}

// 2025-07-08T12:34:56.789Z
const auto sample_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1751978096789));

} // namespace

TEST_CASE("parse_level: our names and Poco's")
{
    const std::pair<const char*, log::level> good[] = {
        {"debug", log::level::debug},       {"trace", log::level::debug},       {"DEBUG", log::level::debug},
        {"info", log::level::info},         {"information", log::level::info}, {"notice", log::level::info},
        {"Information", log::level::info},  {"warning", log::level::warning}, {"warn", log::level::warning},
        {"error", log::level::error},       {"critical", log::level::error},   {"fatal", log::level::error},
    };
    for (const auto& [name, l] : good) {
        INFO(name);
        CHECK(log::parse_level(name) == l);
    }
    for (const char* bad : {"", "verbose", "infos", " info", "none", "3"}) {
        INFO("\"" << bad << "\"");
        try {
            (void)log::parse_level(bad);
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Catch::Contains(std::string("unknown log level \"") + bad + "\""));
        }
    }
}

TEST_CASE("format_line: UTC time with milliseconds, level, component, message, fields")
{
    CHECK(log::format_line(sample_time, log::level::warning, "https", "body refused",
                           {{"peer", "192.0.2.1"}, {"reason", "inflated report too large"}, {"status", "413"}}) ==
          "2025-07-08T12:34:56.789Z warning https: body refused peer=192.0.2.1 "
          "reason=\"inflated report too large\" status=413");
    CHECK(log::format_line(std::chrono::system_clock::time_point(std::chrono::seconds(0)), log::level::info, "db",
                           "ready") == "1970-01-01T00:00:00.000Z info db: ready");
    CHECK(log::format_line(sample_time + std::chrono::microseconds(999), log::level::debug, "c", "m") ==
          "2025-07-08T12:34:56.789Z debug c: m");   // truncated, not rounded, to the millisecond
    CHECK(log::format_line(sample_time, log::level::error, "c", "m") == "2025-07-08T12:34:56.789Z error c: m");
}

TEST_CASE("format_line: nothing from the input can start a new line or a new field")
{
    CHECK(log::format_line(sample_time, log::level::info, "smtp", "got\nforged 2025 error x: y", {}) ==
          "2025-07-08T12:34:56.789Z info smtp: got\\nforged 2025 error x: y");
    CHECK(log::format_line(sample_time, log::level::info, "c", "m", {{"bad key=x", "v"}, {"", "w"}}) ==
          "2025-07-08T12:34:56.789Z info c: m bad_key_x=v _=w");
}

TEST_CASE("format_value: bare when safe, quoted with escapes otherwise")
{
    const std::pair<std::string, std::string> rows[] = {
        {"plain", "plain"},
        {"mx1.example.com", "mx1.example.com"},
        {"", "\"\""},
        {"two words", "\"two words\""},
        {"a=b", "\"a=b\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"C:\\path", "\"C:\\\\path\""},
        {"line1\nline2", "\"line1\\nline2\""},
        {"cr\rtab\t", "\"cr\\rtab\\t\""},
        {std::string("nul\0x", 5), "\"nul\\x00x\""},
        {"del\x7f", "\"del\\x7f\""},
        {"Soci\xC3\xA9t\xC3\xA9", "Soci\xC3\xA9t\xC3\xA9"},                 // UTF-8 kept
        {"\xE2\x82\xAC\xF0\x9F\x93\xA7", "\xE2\x82\xAC\xF0\x9F\x93\xA7"},   // 3- and 4-byte sequences
        {"caf\xE9", "\"caf\\xe9\""},                                         // Latin-1, not UTF-8
        {"\xC0\xAF", "\"\\xc0\\xaf\""},                                      // overlong '/'
        {"\xED\xA0\x80", "\"\\xed\\xa0\\x80\""},                             // a surrogate
        {"\xF4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\""},                    // above U+10FFFF
        {"\xE2\x82", "\"\\xe2\\x82\""},                                      // cut short
    };
    for (const auto& [value, shown] : rows) {
        INFO(value);
        CHECK(log::format_value(value) == shown);
    }
}

TEST_CASE("write: honours the level and writes whole lines to stderr")
{
    const level_guard guard;
    stderr_capture capture;
    log::set_level(log::level::warning);
    CHECK_FALSE(log::enabled(log::level::info));
    CHECK(log::enabled(log::level::warning));
    CHECK(log::enabled(log::level::error));
    log::info("test", "hidden");
    log::debug("test", "hidden too");
    log::warning("test", "shown", {{"n", "1"}});
    log::error("test", "shown too");
    log::set_level(log::level::debug);
    log::debug("test", "now shown");

    const auto lines = lines_of(capture.text());
    REQUIRE(lines.size() == 3);
    const std::regex shape(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\w+) test: (.*)$)");
    std::smatch m;
    REQUIRE(std::regex_match(lines[0], m, shape));
    CHECK(m[1] == "warning");
    CHECK(m[2] == "shown n=1");
    REQUIRE(std::regex_match(lines[1], m, shape));
    CHECK(m[1] == "error");
    REQUIRE(std::regex_match(lines[2], m, shape));
    CHECK(m[2] == "now shown");
}

TEST_CASE("write: lines from many threads never interleave")
{
    const level_guard guard;
    log::set_level(log::level::info);
    constexpr int threads = 8;
    constexpr int per_thread = 1000;
    const std::string payload(20000, 'p');   // lines far over PIPE_BUF
    std::string text;
    {
        stderr_capture capture;
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([t, &payload] {
                for (int i = 0; i < per_thread; ++i)
                    log::info("load", "event", {{"thread", std::to_string(t)}, {"seq", std::to_string(i)},
                                                {"payload", payload}});
            });
        }
        for (auto& th : pool)
            th.join();
        text = capture.text();
    }
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == threads * per_thread);
    const std::regex shape("^\\S+Z info load: event thread=(\\d+) seq=(\\d+) payload=" + payload + "$");
    std::set<std::pair<int, int>> seen;
    for (const auto& line : lines) {
        std::smatch m;
        REQUIRE(std::regex_match(line, m, shape));
        seen.emplace(std::stoi(m[1]), std::stoi(m[2]));
    }
    CHECK(seen.size() == threads * per_thread);
}

TEST_CASE("summarised: the first line of each interval is written, the rest counted into the next")
{
    const level_guard guard;
    stderr_capture capture;
    log::set_level(log::level::debug);
    log::summarised lines(std::chrono::seconds(10));
    const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    for (int i = 0; i < 1000; ++i)   // an outage: a report a millisecond
        lines.write(log::level::warning, "test", "cannot store report", {{"report_id", "r-" + std::to_string(i)}},
                    t0 + std::chrono::milliseconds(i));
    CHECK(lines.left_out() == 999);
    lines.write(log::level::warning, "test", "cannot store report", {{"report_id", "r-late"}},
                t0 + std::chrono::seconds(11));
    CHECK(lines.left_out() == 0);
    lines.write(log::level::warning, "test", "cannot store report", {}, t0 + std::chrono::seconds(30));

    const auto out = lines_of(capture.text());
    REQUIRE(out.size() == 3);
    CHECK_THAT(out[0], Catch::EndsWith("cannot store report report_id=r-0"));
    CHECK_THAT(out[1], Catch::EndsWith(
                           "cannot store report report_id=r-late left_out=\"999 more like it in the 10 s before, not written one by one\""));
    CHECK_THAT(out[2], Catch::EndsWith("cannot store report"));
}
