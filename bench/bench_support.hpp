// Small helpers shared by the benchmark programs: options, clocks, number formatting,
// process statistics from /proc.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace stswatch::bench {

class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// "--name value" pairs and bare "--flag"s; every option must be one the program knows.
class option_reader {
public:
    // flags: options that take no value.
    option_reader(int argc, char** argv, const std::vector<std::string>& valued,
                  const std::vector<std::string>& flags = {})
    {
        for (int i = 1; i < argc; ++i) {
            const std::string name = argv[i];
            if (contains(flags, name)) { values_[name] = ""; continue; }
            if (!contains(valued, name)) throw usage_error("unknown option " + name);
            if (i + 1 >= argc) throw usage_error(name + ": missing value");
            values_[name] = argv[++i];
        }
    }

    bool has(const std::string& name) const { return values_.count(name) != 0; }

    std::string text(const std::string& name, const std::string& fallback) const
    {
        const auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second;
    }

    std::string required(const std::string& name) const
    {
        const auto it = values_.find(name);
        if (it == values_.end() || it->second.empty()) throw usage_error(name + " is required");
        return it->second;
    }

    std::uint64_t number(const std::string& name, std::uint64_t fallback, std::uint64_t min = 0) const
    {
        const auto it = values_.find(name);
        if (it == values_.end()) return fallback;
        std::size_t used = 0;
        std::uint64_t value = 0;
        try {
            value = std::stoull(it->second, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != it->second.size() || it->second[0] == '-')
            throw usage_error(name + ": not a number: \"" + it->second + "\"");
        if (value < min) throw usage_error(name + ": at least " + std::to_string(min) + " (got " + it->second + ")");
        return value;
    }

private:
    static bool contains(const std::vector<std::string>& names, const std::string& name)
    {
        for (const auto& n : names) if (n == name) return true;
        return false;
    }
    std::map<std::string, std::string> values_;
};

using bench_clock = std::chrono::steady_clock;

inline double seconds_between(bench_clock::time_point from, bench_clock::time_point to)
{
    return std::chrono::duration<double>(to - from).count();
}

// 1234567.8 -> "1,234,568"
inline std::string grouped(double value)
{
    if (!std::isfinite(value)) return "n/a";
    auto n = static_cast<long long>(std::llround(value));
    const bool negative = n < 0;
    std::string digits = std::to_string(negative ? -n : n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return negative ? '-' + out : out;
}

inline std::string fixed(double value, int decimals)
{
    if (!std::isfinite(value)) return "n/a";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    return buf;
}

inline std::string megabytes(double bytes) { return fixed(bytes / (1024.0 * 1024.0), 1) + " MB"; }

// A value from /proc/PID/status, in kB ("VmRSS", "VmHWM"); nullopt when the process is gone.
inline std::optional<std::uint64_t> proc_status_kb(long pid, const std::string& field)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, field.size(), field) == 0 && line.size() > field.size() && line[field.size()] == ':')
            return std::stoull(line.substr(field.size() + 1));
    }
    return std::nullopt;
}

// User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15).
inline std::optional<double> proc_cpu_seconds(long pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return std::nullopt;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::vector<std::string> fields;
    std::string field;
    for (std::size_t i = close + 2; i <= stat.size(); ++i) {
        if (i == stat.size() || stat[i] == ' ') { fields.push_back(field); field.clear(); }
        else field += stat[i];
    }
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    if (fields.size() < 13) return std::nullopt;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

inline double own_cpu_seconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// Nearest-rank percentile of sorted values (p in 0..1).
inline double percentile(const std::vector<double>& sorted, double p)
{
    if (sorted.empty()) return NAN;
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    if (rank == 0) rank = 1;
    return sorted[std::min(rank, sorted.size()) - 1];
}

} // namespace stswatch::bench
