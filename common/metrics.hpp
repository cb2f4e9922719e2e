// The process's metrics: counters, gauges and histograms in families with fixed label
// names, and their rendering in the Prometheus text exposition format 0.0.4
// (docs/metrics.md). Pure: no sockets; analyzer/metrics_view.cpp serves render() on
// GET /metrics.
//
// A family is created once by name (asking again for the same name, type and label names
// returns the same family) and hands out one child per tuple of label values. A child's
// reference stays valid for the life of the process, so a hot path looks it up once and
// then only increments an atomic. Label values must come from bounded sets: every
// distinct tuple is a series forever.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stswatch::metrics {

using label_values = std::vector<std::string>;

class counter {
public:
    void inc(double by = 1.0) { value_.fetch_add(by, std::memory_order_relaxed); }   // by >= 0
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

class gauge {
public:
    void set(double v) { value_.store(v, std::memory_order_relaxed); }
    void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
    double value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

class histogram {
public:
    // bounds: the upper bounds of the buckets, ascending (+Inf is implicit).
    explicit histogram(const std::vector<double>& bounds);
    void observe(double v);

    struct snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;   // one per bound, then +Inf (= count)
        double sum = 0;
        std::uint64_t count = 0;
    };
    snapshot read() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;   // bounds_.size() + 1, not cumulative
    std::atomic<double> sum_{0.0};
};

// Bucket bounds, in seconds or in counts.
std::vector<double> latency_buckets();        // 1 ms … 30 s: a request, a transaction
std::vector<double> check_buckets();          // 50 ms … 120 s: a check of a domain's deployment
std::vector<double> batch_buckets();          // 1 … 512: reports in one transaction

enum class kind { counter, gauge, histogram };

template <typename Child>
class family {
public:
    family(std::string name, std::string help, std::vector<std::string> label_names,
           std::vector<double> bounds = {})
        : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
          bounds_(std::move(bounds)) {}

    // The child of these label values (as many as the family has label names; else
    // std::invalid_argument), created at its first use.
    Child& with(const label_values& values);
    Child& with(std::initializer_list<std::string_view> values)
    {
        return with(label_values(values.begin(), values.end()));
    }

    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    // Every child, sorted by label values.
    std::vector<std::pair<label_values, const Child*>> children() const;

private:
    std::string name_, help_;
    std::vector<std::string> label_names_;
    std::vector<double> bounds_;
    mutable std::shared_mutex mutex_;
    std::map<label_values, std::unique_ptr<Child>> children_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

// One sample of a family rendered from outside the registry (the database's gauges).
struct sample {
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
};

// Appends one family in the text format: HELP, TYPE, then the samples in order. type is
// "counter", "gauge" or "untyped".
void render_family(std::string& out, std::string_view name, std::string_view help, std::string_view type,
                   const std::vector<sample>& samples);

// The format's escapes: label values escape backslash, double quote and newline; HELP
// text escapes backslash and newline.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value: integers without a fraction, otherwise the shortest exact decimal;
// +Inf, -Inf, NaN.
std::string format_value(double v);

class registry;

// Keeps a gauge callback registered; removing it when destroyed (move-only).
class registration {
public:
    registration() = default;
    registration(registry* r, std::uint64_t id) : registry_(r), id_(id) {}
    registration(registration&& o) noexcept : registry_(o.registry_), id_(o.id_) { o.registry_ = nullptr; }
    registration& operator=(registration&& o) noexcept;
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
    ~registration() { reset(); }
    void reset();

private:
    registry* registry_ = nullptr;
    std::uint64_t id_ = 0;
};

class registry {
public:
    registry() = default;
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    // Get or create. The same name with another type or other label names throws
    // std::logic_error (a programming error). Names follow docs/metrics.md.
    counter_family& counter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
    gauge_family& gauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
    histogram_family& histogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

    // A gauge without labels whose value is read at render time (the spool's depth). A
    // second registration of the same name replaces the first until it is removed, then
    // the first is back. The function is called under the registry's lock: it must be
    // quick and must not use the registry.
    [[nodiscard]] registration gauge_callback(const std::string& name, const std::string& help,
                                              std::function<double()> read);

    // Every family, sorted by name, in the text format.
    std::string render() const;

private:
    friend class registration;
    void remove_callback(std::uint64_t id);

    struct callback {
        std::uint64_t id;
        std::string help;
        std::function<double()> read;
    };
    struct entry {
        kind type = kind::counter;
        std::unique_ptr<counter_family> counters;
        std::unique_ptr<gauge_family> gauges;
        std::unique_ptr<histogram_family> histograms;
        std::vector<callback> callbacks;   // a callback gauge: the last one counts
    };
    entry& find_or_add(const std::string& name, kind type, const std::vector<std::string>& label_names);

    mutable std::mutex mutex_;
    std::map<std::string, entry> entries_;
    std::uint64_t next_id_ = 1;
};

// The registry of this process, which GET /metrics renders.
registry& global();

// Seconds since t0 on the steady clock, for observe().
double seconds_since(std::chrono::steady_clock::time_point t0);

} // namespace stswatch::metrics
