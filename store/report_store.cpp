// Durable storage of reports in PostgreSQL: the group-commit writers (store/report_store.hpp).
// The transaction itself is store/store_batch.cpp.
#include "store/report_store.hpp"

#include "store/connection.hpp"
#include "store/rejected_store.hpp"
#include "store/store_batch.hpp"
#include "common/log.hpp"
#include "common/worker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <string_view>
#include <stop_token>

namespace stswatch {

using namespace store_detail;

const char* to_string(transport t)
{
    switch (t) {
    case transport::https: return "https";
    case transport::smtp: return "smtp";
    case transport::import: return "import";
    case transport::pipe: return "pipe";
    }
    return "https";
}

// -------------------------------------------------------------------------------------------
// Group commit

namespace {

struct pending_report {
    incoming_report report;
    kept_raw raw;
    std::promise<store_result> promise;
    std::atomic<bool> abandoned{false};   // store() gave up waiting: not worth a transaction
};

using pending_ptr = std::shared_ptr<pending_report>;

constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{2000};

} // namespace

struct report_store::impl {
    store_options options;
    unsigned connect_timeout_s = default_connect_timeout_s;

    // Everything below up to the counters is guarded by mutex.
    std::mutex mutex;
    // Two conditions, so that a report arriving wakes a writer only when that writer has
    // something to do: an idle writer when the queue was empty, a lingering one when its
    // batch is full. Waking a lingering writer for every report cost a context switch each.
    std::condition_variable_any work_queued;    // writers waiting for a first report
    std::condition_variable_any batch_full;     // writers lingering for company
    std::deque<pending_ptr> queue;
    bool stopping = false;
    // While the database is down, store() answers at once until retry_at, and each failed
    // attempt doubles the wait (up to max_backoff).
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
    std::string down_reason;
    std::string paused;   // why store() refuses everything, when it does (pause())

    std::atomic<std::uint64_t> stored{0}, duplicates{0}, batches{0}, failures{0};

    // keep_rejected's own connection: one keeper at a time, the others skip.
    std::mutex keeper_mutex;
    std::unique_ptr<pqxx::connection> keeper_conn;
    // Last: stopped (and joined) before the members they use go.
    worker_group writers;

    bool database_down(std::chrono::steady_clock::time_point now) const { return now < retry_at; }

    // Throws store_unavailable when a report cannot be queued now. Called under mutex.
    void refuse_when_unable()
    {
        if (stopping) {
            ++failures;
            throw store_unavailable("the report store is shutting down");
        }
        if (!paused.empty()) {
            ++failures;
            throw store_unavailable("database unavailable: " + paused);
        }
        if (database_down(std::chrono::steady_clock::now())) {
            ++failures;
            throw store_unavailable("database unavailable: " + down_reason);
        }
        if (queue.size() >= options.queue_max) {
            ++failures;
            throw store_unavailable("queue full: " + std::to_string(queue.size()) + " reports waiting for the database");
        }
    }

    void note_down(const std::string& reason)
    {
        std::lock_guard lock(mutex);
        const bool was_up = backoff.count() == 0;
        backoff = was_up ? first_backoff : std::min(backoff * 2, max_backoff);
        retry_at = std::chrono::steady_clock::now() + backoff;
        down_reason = reason;
        if (was_up)
            log::warning("store", "database unavailable", {{"reason", reason}});
    }

    void note_up()
    {
        std::lock_guard lock(mutex);
        if (backoff.count() != 0)
            log::info("store", "database available again");
        backoff = std::chrono::milliseconds{0};
        retry_at = {};
    }

    void fail(const std::vector<pending_ptr>& batch, const std::exception_ptr& error)
    {
        // Counted before the callers wake, so that a caller reading counters() after its
        // failure sees it.
        failures += batch.size();
        for (const auto& p : batch)
            p->promise.set_exception(error);
    }

    // Waits for reports; once stop is requested, returns at once with what is queued (the
    // destructor drains the queue).
    std::vector<pending_ptr> take_batch(std::unique_lock<std::mutex>& lock, std::stop_token stop)
    {
        work_queued.wait(lock, stop, [&] { return !queue.empty(); });
        // Linger for company only when the queue is short: a full batch goes at once.
        if (!stop.stop_requested() && queue.size() < options.batch_max && options.batch_wait.count() > 0)
            batch_full.wait_for(lock, stop, options.batch_wait, [&] { return queue.size() >= options.batch_max; });
        std::vector<pending_ptr> batch;
        while (!queue.empty() && batch.size() < options.batch_max) {
            auto p = std::move(queue.front());
            queue.pop_front();
            if (!p->abandoned)
                batch.push_back(std::move(p));
        }
        if (!queue.empty())
            work_queued.notify_one();   // more than a batch waits: another writer can start
        return batch;
    }

    void run_batch(std::unique_ptr<pqxx::connection>& conn, const std::vector<pending_ptr>& batch)
    {
        {
            std::lock_guard lock(mutex);
            if (database_down(std::chrono::steady_clock::now())) {
                const auto reason = down_reason;
                fail(batch, std::make_exception_ptr(store_unavailable("database unavailable: " + reason)));
                return;
            }
        }
        if (!conn) {
            try {
                conn = open_connection(options.db_url, connect_timeout_s);
            } catch (...) {
                // The database's own words, as for a failure during a batch.
                std::string reason;
                try {
                    throw;
                } catch (const store_unavailable& e) {
                    reason = e.reason();
                } catch (...) {
                    reason = first_line(std::current_exception());
                }
                note_down(reason);
                fail(batch, std::make_exception_ptr(store_unavailable("database unavailable: " + reason)));
                return;
            }
        }

        std::vector<batch_item> items;
        items.reserve(batch.size());
        for (const auto& p : batch)
            items.push_back({&p->report, &p->raw});
        const auto attempts = store_items(*conn, items);

        std::string down;
        bool committed = false;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (attempts[i].result) {
                committed = true;
                (attempts[i].result->outcome == store_outcome::stored ? stored : duplicates)++;
                batch[i]->promise.set_value(*attempts[i].result);
                continue;
            }
            ++failures;
            try {
                std::rethrow_exception(attempts[i].error);
            } catch (const store_unavailable& e) {
                down = e.what();
                constexpr std::string_view prefix = "database unavailable: ";
                if (down.rfind(prefix, 0) == 0)
                    down.erase(0, prefix.size());
            } catch (const store_rejected& e) {
                // A value the database cannot hold: kept for a version that can.
                keep_refused(*conn, batch[i]->report, e.what());
            } catch (...) {
            }
            batch[i]->promise.set_exception(attempts[i].error);
        }
        if (committed)
            ++batches;
        if (!down.empty()) {
            conn.reset();   // a fresh connection next time, whatever state this one is in
            note_down(down);
        } else {
            note_up();
        }
    }

    void keep_refused(pqxx::connection& conn, const incoming_report& report, const std::string& reason)
    {
        rejected_input in;
        in.raw = report.raw;
        in.via = report.via;
        in.source_address = report.source_address;
        in.reason = reason;
        in.metadata = report.metadata.fields;
        try {
            stswatch::keep_rejected(conn, in, options.rejected);
        } catch (const std::exception& e) {
            log::warning("store", "cannot keep a refused report", {{"error", e.what()}});
        }
    }

    void writer(std::stop_token stop)
    {
        std::unique_ptr<pqxx::connection> conn;
        for (;;) {
            std::vector<pending_ptr> batch;
            {
                std::unique_lock lock(mutex);
                batch = take_batch(lock, stop);
                if (batch.empty() && stop.stop_requested() && queue.empty())
                    return;
            }
            if (batch.empty())
                continue;
            try {
                run_batch(conn, batch);
            } catch (...) {
                // Not expected (store_items reports per report); never leave a caller waiting.
                for (const auto& p : batch) {
                    try {
                        p->promise.set_exception(std::make_exception_ptr(
                            store_unavailable("database unavailable: " + first_line(std::current_exception()))));
                    } catch (const std::future_error&) {
                        // already answered
                    }
                }
                conn.reset();
            }
        }
    }
};

report_store::report_store(store_options options) : impl_(std::make_unique<impl>())
{
    if (options.writers == 0)
        options.writers = 1;
    if (options.batch_max == 0)
        options.batch_max = 1;
    const auto timeout_s = std::chrono::duration_cast<std::chrono::seconds>(options.enqueue_timeout).count() / 2;
    impl_->connect_timeout_s = static_cast<unsigned>(std::clamp<long long>(timeout_s, 2, 10));
    impl_->options = std::move(options);
    impl_->writers.start("store-writer", impl_->options.writers,
                         [impl = impl_.get()](std::stop_token stop, unsigned) { impl->writer(stop); });
}

report_store::~report_store()
{
    {
        // store() refuses from now on; the writers drain what is queued, then return.
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->writers.stop();
}

store_result report_store::store(incoming_report report)
{
    {
        // Before compressing: refusing costs nothing when the database is down.
        std::lock_guard lock(impl_->mutex);
        impl_->refuse_when_unable();
    }
    auto p = std::make_shared<pending_report>();
    p->report = std::move(report);
    p->raw = keep_raw(p->report);   // compressing here spreads the work over the callers
    auto result = p->promise.get_future();
    {
        std::lock_guard lock(impl_->mutex);
        impl_->refuse_when_unable();
        impl_->queue.push_back(p);
        if (impl_->queue.size() == 1)
            impl_->work_queued.notify_one();
        if (impl_->queue.size() == impl_->options.batch_max)
            impl_->batch_full.notify_one();
    }
    if (result.wait_for(impl_->options.enqueue_timeout) != std::future_status::ready) {
        p->abandoned = true;
        ++impl_->failures;
        throw store_unavailable("timed out after " + std::to_string(impl_->options.enqueue_timeout.count()) +
                                " ms waiting for the database");
    }
    return result.get();
}

std::vector<report_store::attempt> report_store::store_all(std::vector<incoming_report> reports)
{
    std::vector<attempt> out(reports.size());
    std::vector<std::pair<std::size_t, std::shared_ptr<pending_report>>> queued;
    queued.reserve(reports.size());
    for (std::size_t i = 0; i < reports.size(); ++i) {
        auto p = std::make_shared<pending_report>();
        p->report = std::move(reports[i]);
        p->raw = keep_raw(p->report);
        queued.emplace_back(i, std::move(p));
    }
    std::vector<std::future<store_result>> results;
    results.reserve(queued.size());
    {
        std::lock_guard lock(impl_->mutex);
        for (auto& [i, p] : queued) {
            try {
                impl_->refuse_when_unable();
            } catch (...) {
                out[i].error = std::current_exception();
                results.emplace_back();
                continue;
            }
            results.push_back(p->promise.get_future());
            impl_->queue.push_back(p);
        }
        impl_->work_queued.notify_one();
        if (impl_->queue.size() >= impl_->options.batch_max)
            impl_->batch_full.notify_one();
    }
    const auto deadline = std::chrono::steady_clock::now() + impl_->options.enqueue_timeout;
    for (std::size_t k = 0; k < queued.size(); ++k) {
        auto& [i, p] = queued[k];
        auto& result = results[k];
        if (!result.valid())
            continue;
        if (result.wait_until(deadline) != std::future_status::ready) {
            p->abandoned = true;
            ++impl_->failures;
            out[i].error = std::make_exception_ptr(store_unavailable(
                "timed out after " + std::to_string(impl_->options.enqueue_timeout.count()) +
                " ms waiting for the database"));
            continue;
        }
        try {
            out[i].result = result.get();
        } catch (...) {
            out[i].error = std::current_exception();
        }
    }
    return out;
}

bool report_store::keep_rejected(const rejected_input& in)
{
    if (impl_->options.rejected.keep == 0)
        return false;
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->stopping || impl_->database_down(std::chrono::steady_clock::now()))
            return false;
    }
    // A flood of garbage costs one keeper's work at a time, never a queue of them.
    std::unique_lock keeper(impl_->keeper_mutex, std::try_to_lock);
    if (!keeper.owns_lock())
        return false;
    try {
        if (!impl_->keeper_conn)
            impl_->keeper_conn = open_connection(impl_->options.db_url, impl_->connect_timeout_s);
        stswatch::keep_rejected(*impl_->keeper_conn, in, impl_->options.rejected);
        return true;
    } catch (const std::exception& e) {
        impl_->keeper_conn.reset();
        log::warning("store", "cannot keep a refused report", {{"error", e.what()}});
        return false;
    }
}

void report_store::pause(const std::string& reason)
{
    std::lock_guard lock(impl_->mutex);
    impl_->paused = reason.empty() ? std::string("paused") : reason;
}

void report_store::resume()
{
    std::lock_guard lock(impl_->mutex);
    impl_->paused.clear();
}

report_store::database_state report_store::database() const
{
    std::lock_guard lock(impl_->mutex);
    if (!impl_->paused.empty())
        return {false, impl_->paused};
    if (impl_->database_down(std::chrono::steady_clock::now()) || impl_->backoff.count() != 0)
        return {false, impl_->down_reason};
    return {};
}

report_store::stats report_store::counters() const
{
    return {impl_->stored.load(), impl_->duplicates.load(), impl_->batches.load(), impl_->failures.load()};
}


} // namespace stswatch
