// The metrics registry and the text exposition format 0.0.4 (common/metrics.hpp).
#include "common/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace stswatch::metrics {

// ---------------------------------------------------------------------------------------
// Histogram

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1))
{
    if (!std::is_sorted(bounds_.begin(), bounds_.end())
        || std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
        throw std::invalid_argument("histogram bounds must ascend strictly");
    for (std::size_t i = 0; i <= bounds_.size(); ++i)
        buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v)
{
    // The first bucket whose upper bound is >= v ("le": less than or equal).
    const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    buckets_[at].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const
{
    snapshot s;
    s.bounds = bounds_;
    s.cumulative.resize(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = running;
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

std::vector<double> latency_buckets()
{
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> check_buckets()
{
    return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120};
}

std::vector<double> batch_buckets()
{
    return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
}

// ---------------------------------------------------------------------------------------
// Families

namespace {

template <typename Child>
std::unique_ptr<Child> make_child(const std::vector<double>& bounds)
{
    if constexpr (std::is_same_v<Child, histogram>)
        return std::make_unique<histogram>(bounds);
    else
        return std::make_unique<Child>();
}

} // namespace

template <typename Child>
Child& family<Child>::with(const label_values& values)
{
    if (values.size() != label_names_.size())
        throw std::invalid_argument(name_ + ": " + std::to_string(label_names_.size()) + " label values expected, "
                                    + std::to_string(values.size()) + " given");
    {
        std::shared_lock lock(mutex_);
        if (const auto it = children_.find(values); it != children_.end())
            return *it->second;
    }
    std::unique_lock lock(mutex_);
    auto& slot = children_[values];
    if (!slot)
        slot = make_child<Child>(bounds_);
    return *slot;
}

template <typename Child>
std::vector<std::pair<label_values, const Child*>> family<Child>::children() const
{
    std::shared_lock lock(mutex_);
    std::vector<std::pair<label_values, const Child*>> out;
    out.reserve(children_.size());
    for (const auto& [values, child] : children_)
        out.emplace_back(values, child.get());
    return out;
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

// ---------------------------------------------------------------------------------------
// The text format

std::string escape_label_value(std::string_view v)
{
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
    return out;
}

std::string escape_help(std::string_view v)
{
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default: out += c;
        }
    }
    return out;
}

std::string format_value(double v)
{
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    // Exact integers (counts, bytes) as such; 2^53 is where doubles stop holding them all.
    if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
        return std::to_string(static_cast<long long>(v));
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

namespace {

bool valid_name(std::string_view n, bool metric)
{
    if (n.empty()) return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
        const char c = n[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':')
                        || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type)
{
    out += "# HELP ";
    out += name;
    out += ' ';
    out += escape_help(help);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void labels_text(std::string& out, const std::vector<std::string>& names, const label_values& values,
                 std::string_view extra_name = {}, std::string_view extra_value = {})
{
    if (names.empty() && extra_name.empty()) return;
    out += '{';
    bool first = true;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!first) out += ',';
        first = false;
        out += names[i];
        out += "=\"";
        out += escape_label_value(values[i]);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}

void line(std::string& out, std::string_view name, const std::vector<std::string>& names, const label_values& values,
          double v, std::string_view extra_name = {}, std::string_view extra_value = {})
{
    out += name;
    labels_text(out, names, values, extra_name, extra_value);
    out += ' ';
    out += format_value(v);
    out += '\n';
}

} // namespace

void render_family(std::string& out, std::string_view name, std::string_view help, std::string_view type,
                   const std::vector<sample>& samples)
{
    header(out, name, help, type);
    for (const auto& s : samples) {
        std::vector<std::string> names;
        label_values values;
        for (const auto& [n, v] : s.labels) {
            names.push_back(n);
            values.push_back(v);
        }
        line(out, name, names, values, s.value);
    }
}

// ---------------------------------------------------------------------------------------
// Registry

registration& registration::operator=(registration&& o) noexcept
{
    if (this != &o) {
        reset();
        registry_ = o.registry_;
        id_ = o.id_;
        o.registry_ = nullptr;
    }
    return *this;
}

void registration::reset()
{
    if (registry_) registry_->remove_callback(id_);
    registry_ = nullptr;
}

registry::entry& registry::find_or_add(const std::string& name, kind type, const std::vector<std::string>& label_names)
{
    if (!valid_name(name, true))
        throw std::logic_error("not a metric name: " + name);
    for (const auto& l : label_names)
        if (!valid_name(l, false) || l.rfind("__", 0) == 0 || (type == kind::histogram && l == "le"))
            throw std::logic_error(name + ": not a label name: " + l);
    auto [it, added] = entries_.try_emplace(name);
    auto& e = it->second;
    if (added) {
        e.type = type;
        return e;
    }
    const std::vector<std::string>* names = e.counters ? &e.counters->label_names()
                                          : e.gauges ? &e.gauges->label_names()
                                          : e.histograms ? &e.histograms->label_names() : nullptr;
    if (e.type != type || (names && *names != label_names) || (!names && !e.callbacks.empty()))
        throw std::logic_error("metric " + name + " registered twice, differently");
    return e;
}

counter_family& registry::counter(const std::string& name, const std::string& help, std::vector<std::string> label_names)
{
    std::lock_guard lock(mutex_);
    auto& e = find_or_add(name, kind::counter, label_names);
    if (!e.counters) e.counters = std::make_unique<counter_family>(name, help, std::move(label_names));
    return *e.counters;
}

gauge_family& registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names)
{
    std::lock_guard lock(mutex_);
    auto& e = find_or_add(name, kind::gauge, label_names);
    if (!e.gauges) e.gauges = std::make_unique<gauge_family>(name, help, std::move(label_names));
    return *e.gauges;
}

histogram_family& registry::histogram(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names, std::vector<double> bounds)
{
    std::lock_guard lock(mutex_);
    auto& e = find_or_add(name, kind::histogram, label_names);
    if (!e.histograms) {
        stswatch::metrics::histogram check(bounds);   // throws on bad bounds before anything is kept
        e.histograms = std::make_unique<histogram_family>(name, help, std::move(label_names), std::move(bounds));
    }
    return *e.histograms;
}

registration registry::gauge_callback(const std::string& name, const std::string& help, std::function<double()> read)
{
    std::lock_guard lock(mutex_);
    if (!valid_name(name, true))
        throw std::logic_error("not a metric name: " + name);
    auto [it, added] = entries_.try_emplace(name);
    auto& e = it->second;
    if (added)
        e.type = kind::gauge;
    else if (e.type != kind::gauge || e.gauges)
        throw std::logic_error("metric " + name + " registered twice, differently");
    const auto id = next_id_++;
    e.callbacks.push_back({id, help, std::move(read)});
    return registration(this, id);
}

void registry::remove_callback(std::uint64_t id)
{
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        auto& cbs = it->second.callbacks;
        const auto at = std::find_if(cbs.begin(), cbs.end(), [&](const callback& c) { return c.id == id; });
        if (at == cbs.end()) continue;
        cbs.erase(at);
        if (cbs.empty() && !it->second.counters && !it->second.gauges && !it->second.histograms)
            entries_.erase(it);
        return;
    }
}

std::string registry::render() const
{
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [name, e] : entries_) {
        if (e.counters) {
            header(out, name, e.counters->help(), "counter");
            for (const auto& [values, c] : e.counters->children())
                line(out, name, e.counters->label_names(), values, c->value());
        } else if (e.gauges) {
            header(out, name, e.gauges->help(), "gauge");
            for (const auto& [values, g] : e.gauges->children())
                line(out, name, e.gauges->label_names(), values, g->value());
        } else if (e.histograms) {
            header(out, name, e.histograms->help(), "histogram");
            const auto& names = e.histograms->label_names();
            const auto bucket = name + "_bucket";
            for (const auto& [values, h] : e.histograms->children()) {
                const auto s = h->read();
                for (std::size_t i = 0; i < s.bounds.size(); ++i)
                    line(out, bucket, names, values, static_cast<double>(s.cumulative[i]), "le",
                         format_value(s.bounds[i]));
                line(out, bucket, names, values, static_cast<double>(s.count), "le", "+Inf");
                line(out, name + "_sum", names, values, s.sum);
                line(out, name + "_count", names, values, static_cast<double>(s.count));
            }
        } else if (!e.callbacks.empty()) {
            const auto& cb = e.callbacks.back();
            header(out, name, cb.help, "gauge");
            line(out, name, {}, {}, cb.read ? cb.read() : 0.0);
        }
    }
    return out;
}

registry& global()
{
    static registry r;
    return r;
}

double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace stswatch::metrics
