// GET /metrics (docs/metrics.md): the process's registry (common/metrics.hpp), the process
// figures of /proc/self, and the gauges read from the database, which are kept for a few
// seconds so that a tight scrape loop costs the database one query per period. A scrape
// with the database down still answers, with stswatch_database_up 0.
#include "analyzer/metrics_view.hpp"

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "store/errors.hpp"
#include "store/metrics_store.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace stswatch::web {

namespace {

using metrics::sample;

// How long the database's figures are served from memory.
constexpr std::chrono::seconds database_figures_ttl{5};

std::string read_small_file(const char* path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// proc(5): /proc/self/stat, /proc/self/statm, /proc/self/fd, /proc/stat's btime.
void render_process(std::string& out)
{
    const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    {
        std::istringstream statm(read_small_file("/proc/self/statm"));
        double size = 0, resident = 0;
        if (statm >> size >> resident) {
            metrics::render_family(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                                   {{{}, size * page}});
            metrics::render_family(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                                   {{{}, resident * page}});
        }
    }
    {
        std::error_code ec;
        double fds = 0;
        for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec))
            ++fds;
        if (!ec)
            metrics::render_family(out, "process_open_fds", "Number of open file descriptors.", "gauge", {{{}, fds}});
        rlimit limit{};
        if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
            metrics::render_family(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
                                   {{{}, static_cast<double>(limit.rlim_cur)}});
    }
    // The fields after the command name, which is in parentheses and may hold spaces.
    const auto stat = read_small_file("/proc/self/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos || ticks <= 0)
        return;
    std::istringstream fields(stat.substr(close + 1));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
    if (f.size() < 20)
        return;
    try {
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        metrics::render_family(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                               "counter", {{{}, cpu}});
        std::istringstream system(read_small_file("/proc/stat"));
        for (std::string line; std::getline(system, line);) {
            if (line.rfind("btime ", 0) != 0)
                continue;
            const double boot = std::stod(line.substr(6));
            metrics::render_family(out, "process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.", "gauge",
                                   {{{}, boot + std::stod(f[19]) / ticks}});
            break;
        }
    } catch (const std::exception&) {
        // A /proc that reads otherwise: the process figures are left out.
    }
}

std::vector<sample> keyed(const char* label, const std::vector<std::pair<std::string, std::int64_t>>& rows)
{
    std::vector<sample> out;
    for (const auto& [key, n] : rows)
        out.push_back({{{label, key}}, static_cast<double>(n)});
    return out;
}

std::string render_figures(const metrics_figures& f, bool by_domain)
{
    std::string out;
    metrics::render_family(out, "stswatch_monitored_domains", "Domains the monitor checks.", "gauge",
                           {{{}, static_cast<double>(f.monitored_domains)}});
    metrics::render_family(out, "stswatch_incidents_open", "Open incidents, by dimension.", "gauge",
                           keyed("dimension", f.open_incidents));
    metrics::render_family(out, "stswatch_findings",
                           "Findings of the latest check of each monitored domain, by severity.", "gauge",
                           keyed("severity", f.findings));
    if (!by_domain)
        return out;
    std::vector<sample> sessions, ratio;
    for (const auto& d : f.domains) {
        sessions.push_back({{{"domain", d.domain}, {"result", "successful"}}, static_cast<double>(d.successful)});
        sessions.push_back({{{"domain", d.domain}, {"result", "failed"}}, static_cast<double>(d.failed)});
        // No sessions, no ratio: 0 would claim a perfect day.
        if (d.successful + d.failed > 0)
            ratio.push_back({{{"domain", d.domain}},
                             static_cast<double>(d.failed) / static_cast<double>(d.successful + d.failed)});
    }
    metrics::render_family(out, "stswatch_domain_sessions",
                           "Counted sessions of a monitored domain on the last complete UTC day, by result.", "gauge",
                           sessions);
    metrics::render_family(out, "stswatch_domain_failure_ratio",
                           "Failed over all counted sessions of a monitored domain on the last complete UTC day.",
                           "gauge", ratio);
    return out;
}

// The database's figures, fetched at most once per database_figures_ttl (failures too, so
// that a scrape loop against a dead database does not turn into a connection storm).
class database_figures {
public:
    // The figures' text, or nullopt with the database unavailable.
    std::optional<std::string> get(services& s)
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        const auto& url = s.settings().analyzer_db_url.empty() ? s.settings().db_url : s.settings().analyzer_db_url;
        if (url != url_) {
            url_ = url;
            store_.reset();
            fetched_.reset();
        }
        if (fetched_ && now - *fetched_ < database_figures_ttl)
            return text_;
        fetched_ = now;
        text_.reset();
        const bool by_domain = s.settings().api_metrics_domains == "monitored" && s.settings().api_metrics_max_domains > 0;
        try {
            if (!store_)
                store_ = std::make_unique<metrics_store>(url_);
            const auto yesterday = s.today() - std::chrono::days(1);
            const auto f = store_->figures(yesterday, by_domain ? s.settings().api_metrics_max_domains : 0);
            text_.emplace(render_figures(f, by_domain));
        } catch (const store_error& e) {
            store_.reset();   // a fresh connection next time
            log::warning("metrics", "cannot read the database's figures", {{"error", e.what()}});
        }
        return text_;
    }

private:
    std::mutex mutex_;
    std::string url_;
    std::unique_ptr<metrics_store> store_;
    std::optional<std::chrono::steady_clock::time_point> fetched_;
    std::optional<std::string> text_;
};

database_figures& figures_cache()
{
    static database_figures cache;
    return cache;
}

} // namespace

response handle_metrics(const request& r, services& s)
{
    if (s.settings().api_metrics_token) {
        const auto c = authenticate(r, s);
        if (auto refused = refuse_guessing(r, s, c))
            return *refused;
        if (!c.authenticated)
            return unauthorized();
    }
    if (r.method != "GET" && r.method != "HEAD") {
        auto out = response::error(405, "/metrics answers GET");
        out.headers.emplace_back("Allow", "GET, HEAD");
        return out;
    }
    response out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    out.headers.emplace_back("Cache-Control", "no-store");
    out.body = metrics::global().render();
    render_process(out.body);
    const auto database = figures_cache().get(s);
    metrics::render_family(out.body, "stswatch_database_up",
                           "1 when the database answered the latest read of the figures below, else 0.", "gauge",
                           {{{}, database ? 1.0 : 0.0}});
    if (database)
        out.body += *database;
    return out;
}

} // namespace stswatch::web
