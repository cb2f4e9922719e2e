// Logging: one logfmt-style line per event on stderr (journald and docker take it from there).
#include "common/log.hpp"
#include "common/text.hpp"

#include "common/utf8.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <string>

namespace stswatch::log {

namespace {

std::atomic<int> threshold{static_cast<int>(level::info)};

// Serialises whole lines; write(2) of one line is then never interleaved within the process.
std::mutex output_mutex;

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex_escape(std::string& out, unsigned char b)
{
    out += "\\x";
    out += hex_digits[b >> 4];
    out += hex_digits[b & 0x0f];
}

// Copies text into a line: control characters and bytes that are not UTF-8 become escapes,
// so that text from untrusted input (organisation names, reasons) cannot forge lines.
// In quoted values, '"' and '\' are escaped too.
void append_escaped(std::string& out, std::string_view text, bool quoted)
{
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence_length(text, i);
            if (n == 0) {
                append_hex_escape(out, c);
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '"': out += quoted ? "\\\"" : "\""; break;
        case '\\': out += quoted ? "\\\\" : "\\"; break;
        default:
            if (c < 0x20 || c == 0x7f)
                append_hex_escape(out, c);
            else
                out += static_cast<char>(c);
        }
        ++i;
    }
}

// Anything that would be escaped is quoted, so a bare value is always literal.
bool needs_quotes(std::string_view value)
{
    if (value.empty())
        return true;
    for (std::size_t i = 0; i < value.size();) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence_length(value, i);
            if (n == 0)
                return true;
            i += n;
            continue;
        }
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\')
            return true;
        ++i;
    }
    return false;
}

// Keys come from code, but a stray character must not break the key=value structure.
void append_key(std::string& out, std::string_view key)
{
    if (key.empty()) {
        out += '_';
        return;
    }
    for (const char ch : key) {
        const auto c = static_cast<unsigned char>(ch);
        out += (std::isalnum(c) || c == '_' || c == '-' || c == '.') ? ch : '_';
    }
}

void append_time(std::string& out, std::chrono::system_clock::time_point when)
{
    using namespace std::chrono;
    const auto since_epoch = duration_cast<milliseconds>(when.time_since_epoch());
    auto secs = since_epoch.count() / 1000;
    auto millis = since_epoch.count() % 1000;
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
    out.append(buf, static_cast<std::size_t>(n));
}

void write_all(int fd, const std::string& line)
{
    std::size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;   // nowhere left to report a failing stderr
        }
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

level parse_level(std::string_view name)
{
    const std::string n = text::lowered(name);
    // Poco's names map onto the nearest of the four: trace is debug, notice is info,
    // critical and fatal are error.
    if (n == "debug" || n == "trace")
        return level::debug;
    if (n == "info" || n == "information" || n == "notice")
        return level::info;
    if (n == "warning" || n == "warn")
        return level::warning;
    if (n == "error" || n == "critical" || n == "fatal")
        return level::error;
    throw std::invalid_argument("unknown log level \"" + std::string(name) +
                                "\" (expected debug, info, warning or error)");
}

void set_level(level l)
{
    threshold.store(static_cast<int>(l), std::memory_order_relaxed);
}

bool enabled(level l)
{
    return static_cast<int>(l) >= threshold.load(std::memory_order_relaxed);
}

std::string_view level_name(level l)
{
    switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warning: return "warning";
    case level::error: return "error";
    }
    return "unknown";
}

std::string format_value(std::string_view value)
{
    std::string out;
    out.reserve(value.size() + 2);
    if (!needs_quotes(value)) {
        append_escaped(out, value, false);
        return out;
    }
    out += '"';
    append_escaped(out, value, true);
    out += '"';
    return out;
}

std::string format_line(std::chrono::system_clock::time_point when, level l, std::string_view component,
                        std::string_view message, std::initializer_list<field> fields)
{
    std::string line;
    line.reserve(64 + component.size() + message.size() + fields.size() * 24);
    append_time(line, when);
    line += ' ';
    line += level_name(l);
    line += ' ';
    append_escaped(line, component, false);
    line += ": ";
    append_escaped(line, message, false);
    for (const auto& [key, value] : fields) {
        line += ' ';
        append_key(line, key);
        line += '=';
        line += format_value(value);
    }
    return line;
}

void write(level l, std::string_view component, std::string_view message, std::initializer_list<field> fields)
{
    if (!enabled(l))
        return;
    std::string line = format_line(std::chrono::system_clock::now(), l, component, message, fields);
    line += '\n';
    const std::lock_guard lock(output_mutex);
    write_all(STDERR_FILENO, line);
}

} // namespace stswatch::log
