// Monitoring: the scheduler that `stswatch serve` runs (checks/monitor.hpp).
#include "checks/monitor.hpp"

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/worker.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <stop_token>

namespace stswatch {

// ---------------------------------------------------------------------------------------
// Scheduler
// ---------------------------------------------------------------------------------------

namespace {

// docs/metrics.md: stswatch_checks_total{outcome} and stswatch_check_duration_seconds, one
// per check of a monitored domain. outcome: ok (saved, no error finding), errors (saved
// with error findings), dns-unavailable (saved, the resolver failed), failed (not saved).
void count_check(const char* outcome, std::chrono::steady_clock::time_point started_at)
{
    static auto& checks = metrics::global().counter("stswatch_checks_total",
                                                    "Checks of monitored domains, by outcome.", {"outcome"});
    static auto& duration = metrics::global().histogram(
        "stswatch_check_duration_seconds", "Time of one check of a monitored domain, saving included.", {},
        metrics::check_buckets());
    checks.with({outcome}).inc();
    duration.with({}).observe(metrics::seconds_since(started_at));
}

} // namespace

struct monitor::impl {
    monitor_options options;
    check_function check;

    std::mutex mutex;
    std::condition_variable_any wake;         // the scheduler: stop, or a worker became free
    std::condition_variable_any work_ready;   // the workers: a domain queued, or stop
    std::deque<std::string> queue;
    std::size_t busy = 0;
    bool slot_freed = false;
    bool started = false;
    std::mt19937_64 random{std::random_device{}()};
    // Last: stopped (and joined) before the members they use go.
    worker scheduler;        // "monitor"
    worker_group workers;    // "monitor-check-0", …

    std::chrono::system_clock::time_point next_check_time()
    {
        const double interval = options.interval_s;
        const double spread = interval * std::min(options.jitter_percent, 100u) / 100.0;
        double offset = 0;
        {
            std::lock_guard lock(mutex);
            offset = std::uniform_real_distribution<double>(-spread, spread)(random);
        }
        const auto delay = std::chrono::duration<double>(std::max(1.0, interval + offset));
        return std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
    }

    // Long enough for the slowest check (every step timing out), so that no second
    // scheduler takes a domain still being checked.
    std::chrono::seconds lease() const { return std::chrono::seconds(std::max(900u, options.interval_s)); }

    void run_scheduler(std::stop_token stop)
    {
        std::unique_ptr<monitor_store> store;
        std::unique_lock lock(mutex);
        while (!stop.stop_requested()) {
            const std::size_t running = queue.size() + busy;
            const std::size_t free = options.concurrency > running ? options.concurrency - running : 0;
            if (free > 0) {
                lock.unlock();
                std::vector<std::string> claimed;
                try {
                    if (!store)
                        store = std::make_unique<monitor_store>(options.db_url);
                    claimed = store->claim_due(free, lease());
                } catch (const std::exception& e) {
                    store.reset();   // a fresh connection next time
                    log::warning("monitor", "cannot read the due domains", {{"error", e.what()}});
                }
                lock.lock();
                for (auto& d : claimed)
                    queue.push_back(std::move(d));
                if (!claimed.empty())
                    work_ready.notify_all();
            }
            wake.wait_for(lock, stop, std::chrono::milliseconds(options.poll_ms), [&] { return slot_freed; });
            slot_freed = false;
        }
    }

    void check_one(std::unique_ptr<monitor_store>& store, const std::string& domain)
    {
        const auto started_at = std::chrono::steady_clock::now();
        try {
            if (!store)
                store = std::make_unique<monitor_store>(options.db_url);
            check_result result = check(domain);
            if (result.domain.empty())
                result.domain = domain;
            std::vector<change_event> changes;
            std::optional<diff_base> base;
            if (!result.dns_unavailable) {
                // Diffed against the last usable snapshot (checks in between whose resolver
                // failed are skipped), with what transient failures hid carried from earlier.
                base = comparison_base(*store, domain);
                if (base) {
                    std::vector<finding> extra;
                    changes = diff_snapshots(*base, result, extra);
                    if (!extra.empty()) {
                        result.findings.insert(result.findings.end(), extra.begin(), extra.end());
                        // Errors first, then warnings, then info.
                        std::stable_sort(result.findings.begin(), result.findings.end(),
                                         [](const finding& a, const finding& b) { return a.level < b.level; });
                    }
                }
            }
            save_snapshot(*store, result, changes, next_check_time(), base ? &*base : nullptr);
            unsigned errors = 0, warnings = 0;
            for (const auto& f : result.findings) {
                errors += f.level == severity::error;
                warnings += f.level == severity::warning;
            }
            count_check(result.dns_unavailable ? "dns-unavailable" : errors > 0 ? "errors" : "ok", started_at);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_at);
            log::info("monitor", result.dns_unavailable ? "checked, DNS unavailable" : "checked",
                      {{"domain", domain},
                       {"errors", std::to_string(errors)},
                       {"warnings", std::to_string(warnings)},
                       {"changes", std::to_string(changes.size())},
                       {"ms", std::to_string(ms.count())}});
        } catch (const std::exception& e) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_at);
            count_check("failed", started_at);
            log::error("monitor", "check failed", {{"domain", domain}, {"error", e.what()}, {"ms", std::to_string(ms.count())}});
            try {
                if (!store)
                    store = std::make_unique<monitor_store>(options.db_url);
                store->reschedule(domain, next_check_time());
            } catch (const std::exception& again) {
                // The claim's lease brings the domain back anyway.
                store.reset();
                log::warning("monitor", "cannot reschedule", {{"domain", domain}, {"error", again.what()}});
            }
        }
    }

    void run_worker(std::stop_token stop)
    {
        std::unique_ptr<monitor_store> store;   // one connection per thread
        std::unique_lock lock(mutex);
        for (;;) {
            work_ready.wait(lock, stop, [&] { return !queue.empty(); });
            if (stop.stop_requested())
                return;   // stop() releases the domains still queued
            std::string domain = std::move(queue.front());
            queue.pop_front();
            ++busy;
            lock.unlock();
            check_one(store, domain);
            lock.lock();
            --busy;
            slot_freed = true;
            wake.notify_all();   // a slot is free: look for due domains now
        }
    }
};

monitor::monitor(monitor_options options, check_function check) : impl_(std::make_unique<impl>())
{
    if (options.concurrency == 0)
        options.concurrency = 1;
    if (options.poll_ms == 0)
        options.poll_ms = 1;
    impl_->options = std::move(options);
    impl_->check = std::move(check);
}

monitor::~monitor() { stop(); }

void monitor::start()
{
    std::lock_guard lock(impl_->mutex);
    if (impl_->started)
        return;
    impl_->started = true;
    auto* impl = impl_.get();
    impl_->workers.start("monitor-check", impl_->options.concurrency,
                         [impl](std::stop_token stop, unsigned) { impl->run_worker(stop); });
    impl_->scheduler = worker("monitor", [impl](std::stop_token stop) { impl->run_scheduler(stop); });
}

void monitor::stop()
{
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->started)
            return;
    }
    // The workers first, so that none starts a check the scheduler's last claim queued; each
    // running check finishes and is saved before its worker returns.
    impl_->workers.request_stop();
    impl_->scheduler.stop();
    impl_->workers.stop();
    std::deque<std::string> unstarted;
    {
        std::lock_guard lock(impl_->mutex);
        unstarted.swap(impl_->queue);
        impl_->started = false;
    }
    // Claimed but never checked: due again now rather than when their lease ends.
    if (!unstarted.empty()) {
        try {
            monitor_store store(impl_->options.db_url);
            for (const auto& domain : unstarted)
                store.reschedule(domain, std::chrono::system_clock::now());
        } catch (const std::exception& e) {
            log::warning("monitor", "cannot release unchecked domains", {{"error", e.what()}});
        }
    }
}

} // namespace stswatch
