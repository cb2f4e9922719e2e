// The on-disk spool: where a report waits, durable, while PostgreSQL is unavailable.
//
// docs/contracts.md: an acknowledgement means committed in PostgreSQL or written and fsynced to the
// spool. put() writes the raw bytes and how they came in to a temporary file, fsyncs it,
// renames it into place and fsyncs the directory; drain() re-decodes and re-parses each
// spooled report (so the spool holds only bytes, never a half-parsed state) and stores it
// with the time it was received, removing the file only after the commit.
#pragma once

#include "store/report_store.hpp"
#include "common/metrics.hpp"
#include "common/worker.hpp"

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace stswatch {

struct spool_entry {
    std::string raw;                      // bytes as received
    stswatch::transport via = transport::https;
    std::string source_address;
    std::int64_t received_at = 0;         // seconds since the epoch; stored as the receive time
    std::int32_t received_micros = 0;     // and the microseconds of that second, 0..999999
    std::map<std::string, std::string> metadata;   // report_metadata::fields
};

// Sets e's receive time to now, to the microsecond.
void set_received_now(spool_entry& e);

class spool {
public:
    // dir is created if missing. max_bytes bounds the spool's total size (0 = unbounded).
    spool(std::string dir, std::uint64_t max_bytes);

    // Writes the entry durably. Returns false when the spool is full; throws
    // std::runtime_error naming the path when the disk refuses.
    bool put(const spool_entry& entry);

    // Reports waiting, and their total size.
    std::size_t count() const;
    std::uint64_t bytes() const;
    // Seconds since the oldest waiting report was spooled; 0 when none waits. Reads the
    // directory (the names start with the time).
    double oldest_age_seconds() const;

    struct drain_result {
        std::size_t stored = 0, duplicates = 0, rejected = 0, remaining = 0;
    };
    // Stores every spooled report through store; stops at the first store_unavailable
    // (the rest wait for the next call). A spooled file that no longer parses is moved to
    // dir/rejected/ with a .why file beside it, never deleted.
    drain_result drain(report_store& store, std::uint64_t max_report_bytes, unsigned max_json_depth);

    const std::string& directory() const { return dir_; }

    // Removes the unfinished files (".<name>.tmp") that put() left when its process died
    // before renaming them, once they are older than grace; returns how many. Done at
    // start and before each drain with orphan_grace.
    static constexpr std::chrono::seconds orphan_grace{60};
    std::size_t remove_orphans(std::chrono::seconds grace);

    // Serialisation, exposed for tests and the fuzz target: a header of "key: value" lines,
    // a blank line, then the raw bytes. read_entry throws std::runtime_error on a bad file.
    static std::string write_entry(const spool_entry& entry);
    static spool_entry read_entry(std::string_view bytes);

private:
    std::string dir_;
    std::uint64_t max_bytes_;
    mutable std::mutex mutex_;            // serialises drains and size accounting
    std::uint64_t bytes_ = 0;
    std::size_t count_ = 0;
    void rescan();
    // docs/metrics.md: stswatch_spool_reports, _bytes, _oldest_age_seconds, read at scrape
    // time. Last: removed before the members they read go.
    metrics::registration reports_gauge_, bytes_gauge_, age_gauge_;
};

// Runs spool::drain every interval (and at once when poked) until stopped.
class spool_drainer {
public:
    spool_drainer(spool& s, report_store& store, std::uint64_t max_report_bytes,
                  unsigned max_json_depth, std::chrono::milliseconds interval);
    ~spool_drainer();
    spool_drainer(const spool_drainer&) = delete;
    spool_drainer& operator=(const spool_drainer&) = delete;
    void poke();

private:
    spool& spool_;
    report_store& store_;
    std::uint64_t max_report_bytes_;
    unsigned max_json_depth_;
    std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    bool poked_ = false;
    worker thread_;   // last: starts once the members above exist, stops before they go
    void run(std::stop_token stop);
};

} // namespace stswatch
