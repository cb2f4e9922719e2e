// Logging: one line per event on stderr, "time level component: message key=value ...".
#pragma once

#include <chrono>
#include <initializer_list>
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

} // namespace stswatch::log
