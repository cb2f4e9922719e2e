// Small helpers shared by the benchmark programs: options, clocks, number formatting,
// process statistics from /proc, the lines of a report, the exit statuses.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
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

// Nearest-rank percentiles of one run's latencies, in ms; NaN when nothing was measured.
struct latency_figures {
    double p50 = NAN, p95 = NAN, p99 = NAN, max = NAN;
};

// Sorts ms in place.
inline latency_figures latency_percentiles(std::vector<double>& ms)
{
    std::sort(ms.begin(), ms.end());
    return {percentile(ms, 0.50), percentile(ms, 0.95), percentile(ms, 0.99), percentile(ms, 1.0)};
}

// "p50 / p95 / p99 / max", one decimal each, for a report line.
inline std::string latency_text(const latency_figures& l)
{
    return fixed(l.p50, 1) + " / " + fixed(l.p95, 1) + " / " + fixed(l.p99, 1) + " / " + fixed(l.max, 1);
}

// The same four figures as tab-separated columns of a summary line.
inline std::string latency_columns(const latency_figures& l)
{
    return fixed(l.p50, 1) + '\t' + fixed(l.p95, 1) + '\t' + fixed(l.p99, 1) + '\t' + fixed(l.max, 1);
}

// kB (as /proc and rusage count them) as "12.3 MB"; "n/a" when unknown.
inline std::string mb_from_kb(const std::optional<std::uint64_t>& kb)
{
    return kb ? fixed(static_cast<double>(*kb) / 1024.0, 1) + " MB" : std::string("n/a");
}

// The same without the unit, for a column of a summary line.
inline std::string mb_column(const std::optional<std::uint64_t>& kb)
{
    return kb ? fixed(static_cast<double>(*kb) / 1024.0, 1) : std::string("n/a");
}

inline std::string key_text(int key) { return std::to_string(key); }
inline const std::string& key_text(const std::string& key) { return key; }

// "200: 1,990, 503: 10" ("none" when empty); past `limit` keys, ", …".
template <typename Key>
std::string counts_text(const std::map<Key, std::size_t>& counts,
                        std::size_t limit = std::numeric_limits<std::size_t>::max())
{
    std::string out;
    std::size_t shown = 0;
    for (const auto& [key, count] : counts) {
        if (++shown > limit) { out += ", …"; break; }
        out += (out.empty() ? "" : ", ") + key_text(key) + ": " + grouped(static_cast<double>(count));
    }
    return out.empty() ? "none" : out;
}

// One figure of a report: "    label", the value from value_column (a label too long for it
// keeps one space), and a note, when there is one, from column 80.
inline void line_at(std::size_t value_column, const std::string& label, const std::string& value,
                    const std::string& note = "")
{
    std::string text = "    " + label;
    text.resize(std::max<std::size_t>(text.size() + 1, value_column), ' ');
    text += value;
    if (!note.empty()) {
        text.resize(std::max<std::size_t>(text.size() + 2, 80), ' ');
        text += note;
    }
    std::cout << text << '\n';
}

inline void line(const std::string& label, const std::string& value, const std::string& note = "")
{
    line_at(40, label, value, note);
}

// "N x reason" lines, one for each of the first `limit` reasons.
inline void print_reasons(const std::string& label, const std::map<std::string, std::size_t>& reasons,
                          std::size_t limit = std::numeric_limits<std::size_t>::max())
{
    std::size_t shown = 0;
    for (const auto& [reason, count] : reasons) {
        if (++shown > limit) break;
        line(label, grouped(static_cast<double>(count)) + " x " + reason);
    }
}

// One thread per element of results (a sender with its connection), all taking the next
// item to send from one counter. send(next, start, result) connects, waits at start, and
// sends until the counter runs past the end: connections are made before the clock starts.
// Returns the wall time from the start.
template <typename Result, typename Send>
double run_senders(std::vector<Result>& results, Send send)
{
    std::atomic<std::size_t> next{0};
    std::latch start(static_cast<std::ptrdiff_t>(results.size()) + 1);
    std::vector<std::thread> senders;
    senders.reserve(results.size());
    for (auto& result : results) senders.emplace_back([&, out = &result] { send(next, start, *out); });
    start.arrive_and_wait();
    const auto begin = bench_clock::now();
    for (auto& t : senders) t.join();
    return seconds_between(begin, bench_clock::now());
}

// Samples a process's resident set while a run lasts: VmHWM alone would also count whatever
// the process touched before the run. A pid <= 0 samples nothing.
class rss_sampler {
public:
    explicit rss_sampler(long pid, std::chrono::milliseconds every = std::chrono::milliseconds(50))
        : pid_(pid), every_(every)
    {
        if (pid_ > 0) thread_ = std::thread([this] { run(); });
    }
    ~rss_sampler() { stop(); }
    rss_sampler(const rss_sampler&) = delete;
    rss_sampler& operator=(const rss_sampler&) = delete;

    void stop()
    {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    std::uint64_t peak_kb() const { std::lock_guard lock(mutex_); return peak_kb_; }
    std::size_t samples() const { std::lock_guard lock(mutex_); return samples_; }

private:
    void run()
    {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            const auto rss = proc_status_kb(pid_, "VmRSS");
            lock.lock();
            if (rss) {
                peak_kb_ = std::max(peak_kb_, *rss);
                ++samples_;
            }
            wake_.wait_for(lock, every_, [this] { return stopping_; });
        }
    }

    long pid_;
    std::chrono::milliseconds every_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::uint64_t peak_kb_ = 0;
    std::size_t samples_ = 0;
    std::thread thread_;
};

// What a run against the collector learns about it (when its pid is known) and about this
// program's own CPU time.
struct process_figures {
    std::optional<std::uint64_t> rss_before_kb, peak_kb, hwm_kb;   // peak_kb: set when watched
    std::size_t rss_samples = 0;
    std::optional<double> cpu_seconds;
    double own_cpu_seconds = 0;
};

// Watches a process from construction to finish(): RSS before, sampled peak, VmHWM after,
// CPU seconds used in between. A pid <= 0 watches only this program's CPU.
class process_watch {
public:
    explicit process_watch(long pid)
        : pid_(pid), cpu_before_(pid > 0 ? proc_cpu_seconds(pid) : std::nullopt),
          own_cpu_before_(own_cpu_seconds()), sampler_(pid)
    {
        if (pid_ > 0) figures_.rss_before_kb = proc_status_kb(pid_, "VmRSS");
    }

    process_figures finish()
    {
        sampler_.stop();
        figures_.own_cpu_seconds = own_cpu_seconds() - own_cpu_before_;
        if (pid_ > 0) {
            figures_.peak_kb = sampler_.peak_kb();
            figures_.rss_samples = sampler_.samples();
            figures_.hwm_kb = proc_status_kb(pid_, "VmHWM");
            const auto cpu_after = proc_cpu_seconds(pid_);
            if (cpu_before_ && cpu_after) figures_.cpu_seconds = *cpu_after - *cpu_before_;
        }
        return figures_;
    }

private:
    long pid_;
    std::optional<double> cpu_before_;
    double own_cpu_before_;
    process_figures figures_;
    rss_sampler sampler_;
};

// "before / peak / VmHWM" of a watched collector.
inline std::string collector_rss_text(const process_figures& p)
{
    return mb_from_kb(p.rss_before_kb) + " / " + mb_from_kb(p.peak_kb) + " / " + mb_from_kb(p.hwm_kb);
}

// CPU seconds of the collector and of this program against wall time × cores (the two share
// the machine): shows whether the collector was CPU-bound or waiting.
inline void print_collector_cpu(const process_figures& p, double wall_seconds)
{
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    line("CPU: collector / load generator",
         (p.cpu_seconds ? fixed(*p.cpu_seconds, 1) : std::string("n/a")) + " s / " + fixed(p.own_cpu_seconds, 1) +
             " s of " + fixed(wall_seconds * cores, 1) + " s (" + std::to_string(cores) + " cores, shared)");
}

inline void print_collector_unwatched(const process_figures& p, double wall_seconds)
{
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    line("collector RSS", "not sampled (no --collector-pid)");
    line("CPU: load generator", fixed(p.own_cpu_seconds, 1) + " s of " + fixed(wall_seconds * cores, 1) + " s");
}

// The collector's memory and CPU over a run, or that it was not watched; note (a target, or
// nothing) goes before the number of samples.
inline void print_collector(const process_figures& p, double wall_seconds, const std::string& note = "")
{
    if (!p.peak_kb) {
        print_collector_unwatched(p, wall_seconds);
        return;
    }
    line("collector RSS before / peak / VmHWM", collector_rss_text(p),
         (note.empty() ? "" : note + " ") + "(peak of " + std::to_string(p.rss_samples) + " samples, 50 ms apart)");
    print_collector_cpu(p, wall_seconds);
}

// What each sender thread of the intake benches counts besides its answers.
struct sender_tally {
    std::vector<double> latencies_ms;                  // messages answered
    std::map<std::string, std::size_t> errors;         // messages without an answer, by reason
    std::map<std::string, std::size_t> connect_errors; // before the clock started

    void merge_tally(const sender_tally& other)
    {
        latencies_ms.insert(latencies_ms.end(), other.latencies_ms.begin(), other.latencies_ms.end());
        for (const auto& [reason, count] : other.errors) errors[reason] += count;
        for (const auto& [reason, count] : other.connect_errors) connect_errors[reason] += count;
    }
    std::size_t unanswered() const
    {
        std::size_t n = 0;
        for (const auto& [reason, count] : errors) n += count;
        return n;
    }
};

// What a run of the intake senders measured. delivered: the messages whose answer says the
// report is stored (2xx over HTTPS, 250 after DATA over SMTP).
template <typename Result>
struct sender_figures {
    double wall_seconds = 0;
    std::size_t delivered = 0;
    std::size_t unanswered = 0;
    double reports_per_second = NAN;
    latency_figures latency;
    Result all;   // the senders' results merged
    process_figures collector;
};

// Runs one sender per result (run_senders) while watching the collector, and sums up;
// delivered(all) counts the stored reports among the merged answers.
template <typename Result, typename Send, typename Delivered>
sender_figures<Result> measure_senders(long collector_pid, std::size_t senders, Send send, Delivered delivered)
{
    sender_figures<Result> f;
    process_watch collector(collector_pid);
    std::vector<Result> results(senders);
    f.wall_seconds = run_senders(results, send);
    f.collector = collector.finish();

    for (const auto& r : results) f.all.merge(r);
    f.delivered = delivered(f.all);
    f.unanswered = f.all.unanswered();
    f.reports_per_second = static_cast<double>(f.delivered) / f.wall_seconds;
    f.latency = latency_percentiles(f.all.latencies_ms);
    return f;
}

inline std::string exception_text(const std::exception& e) { return e.what(); }

// main() of every benchmark: the exit status run returns (0 whenever the run completed,
// whatever the figures), 2 for a usage error (with the usage), 1 when the run could not be
// made. describe turns an exception into its message.
template <typename Run>
int bench_main(const char* program, const char* usage, Run run,
               std::string (*describe)(const std::exception&) = exception_text)
{
    try {
        return run();
    } catch (const usage_error& e) {
        std::cerr << program << ": " << e.what() << "\n" << usage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << program << ": " << describe(e) << '\n';
        return 1;
    }
}

} // namespace stswatch::bench
