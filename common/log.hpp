// Logging: one line per event on stderr, "time level component: message key=value ...".
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace stswatch::log {

enum class level { debug = 0, info = 1, warning = 2, error = 3 };

// Accepts debug|information|info|notice|warning|error (Poco's names too).
// Throws std::invalid_argument on anything else.
level parse_level(std::string_view name);
void set_level(level l);
bool enabled(level l);

using field = std::pair<std::string_view, std::string>;

// Values with spaces, quotes or '=' are quoted with escapes, so lines stay machine-readable.
// One write(2) per line under a lock: lines from different threads never interleave.
void write(level l, std::string_view component, std::string_view message,
           std::initializer_list<field> fields = {});

// The line write() prints for an event at `when`, without the newline:
// "2025-07-08T12:34:56.789Z warning https: body refused peer=192.0.2.1 reason=\"too large\"".
// Control characters and invalid UTF-8 are escaped everywhere, so a line is one line.
std::string format_line(std::chrono::system_clock::time_point when, level l, std::string_view component,
                        std::string_view message, std::initializer_list<field> fields = {});

// A field value as it appears in a line: bare, or quoted with escapes when it is empty or
// holds blanks, quotes, '=', backslashes or control characters.
std::string format_value(std::string_view value);

// "debug", "info", "warning", "error".
std::string_view level_name(level l);

inline void debug(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) { write(level::debug, c, m, f); }
inline void info(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) { write(level::info, c, m, f); }
inline void warning(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) { write(level::warning, c, m, f); }
inline void error(std::string_view c, std::string_view m, std::initializer_list<field> f = {}) { write(level::error, c, m, f); }

// One kind of event that can come thousands of times a minute (a report spooled during a
// database outage): the first of each interval is written whole, the others are counted,
// and the next one written after the interval says how many were left out. A log of an
// hour's outage is then a few hundred lines, not one per report.
class summarised {
public:
    explicit summarised(std::chrono::milliseconds interval = std::chrono::seconds(10)) : interval_(interval) {}

    void write(level l, std::string_view component, std::string_view message,
               std::initializer_list<field> fields = {}, std::chrono::steady_clock::time_point now =
                                                              std::chrono::steady_clock::now())
    {
        std::uint64_t left_out = 0;
        {
            std::lock_guard lock(mutex_);
            if (written_ && now - window_start_ < interval_) {
                ++left_out_;
                return;
            }
            written_ = true;
            window_start_ = now;
            left_out = left_out_;
            left_out_ = 0;
        }
        if (left_out == 0) {
            log::write(l, component, message, fields);
            return;
        }
        std::string more = std::to_string(left_out) + " more like it in the "
                         + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(interval_).count())
                         + " s before, not written one by one";
        if (fields.size() == 0) {
            log::write(l, component, message, {{"left_out", std::move(more)}});
            return;
        }
        // The fields of this line (the first four: callers give no more), then the count.
        const auto* f = fields.begin();
        switch (fields.size()) {
        case 1: log::write(l, component, message, {f[0], {"left_out", more}}); break;
        case 2: log::write(l, component, message, {f[0], f[1], {"left_out", more}}); break;
        case 3: log::write(l, component, message, {f[0], f[1], f[2], {"left_out", more}}); break;
        default: log::write(l, component, message, {f[0], f[1], f[2], f[3], {"left_out", more}}); break;
        }
    }

    std::uint64_t left_out() const
    {
        std::lock_guard lock(mutex_);
        return left_out_;
    }

private:
    std::chrono::milliseconds interval_;
    mutable std::mutex mutex_;
    bool written_ = false;
    std::chrono::steady_clock::time_point window_start_{};
    std::uint64_t left_out_ = 0;
};

} // namespace stswatch::log
