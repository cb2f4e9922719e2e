// Durable storage of reports in PostgreSQL.
//
// One report is stored whole or not at all, in one transaction with its policies, failure
// details, raw bytes and rollups. Identity is (organization-name, report-id): storing it
// again is "duplicate", which is success: a new transport is still recorded as a receipt, a
// stronger DKIM verdict upgrades the stored one, and an earlier receive time replaces a later.
//
// Group commit: concurrent callers of store() are batched by writer threads into one
// transaction, so that a burst of reports costs one fsync, not one per report. store()
// returns only after the commit that holds the report (or throws).
#pragma once

#include "store/errors.hpp"
#include "store/report_queries.hpp"
#include "tlsrpt/report.hpp"
#include "tlsrpt/report_parser.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace stswatch {

enum class transport { https, smtp, import, pipe };
const char* to_string(transport t);

struct incoming_report {
    tls_report report;
    std::vector<std::string> warnings;
    report_metadata metadata;
    std::string raw;                 // bytes as received (gzip or JSON)
    bool raw_is_gzip = false;        // else the store compresses it
    stswatch::transport via = transport::https;
    std::string source_address;      // peer IP, file path, …
    // Mail only (RFC 8460 §3): "pass", "fail", "none", "temperror", "permerror"; empty
    // for HTTPS, where there is no signature to check.
    std::string dkim_state;
    std::string dkim_domain;         // d= of the signature that passed
    // When the report came in, if not now: a report that waited in the spool while the
    // database was down keeps the time it was received. Unset: the time of storing.
    std::optional<utc_time> received_at;
};

// A report refused at intake, kept for another try (store/rejected_store.hpp).
struct rejected_input {
    std::string raw;                    // the body as received (report file, attachment, HTTPS body)
    stswatch::transport via = transport::https;
    std::string source_address;
    std::string reason;                 // the answer the sender got
    std::map<std::string, std::string> metadata;   // file name, email headers
};

struct rejected_limits {
    std::uint64_t keep = 10000;         // rows at most (collector.rejected.keep); 0: keep nothing
    std::uint64_t max_bytes = 1048576;  // of one body (collector.rejected.max_bytes)
};

enum class store_outcome { stored, duplicate };

struct store_result {
    store_outcome outcome;
    std::int64_t report_key;         // reports.id
};

struct store_options {
    std::string db_url;
    unsigned writers = 2;                              // connections / writer threads
    unsigned batch_max = 256;                          // reports per transaction at most
    std::chrono::milliseconds batch_wait{2};           // linger for more before committing
    std::chrono::milliseconds enqueue_timeout{10000};  // how long store() waits in total
    std::size_t queue_max = 4096;                      // pending reports before refusing
    rejected_limits rejected{};                        // refused reports kept (collector.rejected.*)
};

class report_store {
public:
    explicit report_store(store_options options);
    ~report_store();   // drains the queue, stops the writers
    report_store(const report_store&) = delete;
    report_store& operator=(const report_store&) = delete;

    // Blocks until committed. Throws store_unavailable (try later) or store_rejected.
    store_result store(incoming_report report);

    // Queues every report at once, so that the writers commit them together (and with
    // whatever else is queued), and waits for them all: one attempt per report, in order,
    // a result or the error store() would have thrown. For callers that hold many reports
    // (the spool's drain) and would otherwise commit one per transaction.
    struct attempt;
    std::vector<attempt> store_all(std::vector<incoming_report> reports);

    // Keeps a report the intake refused (the parser's verdict), for `reports retry`. Best
    // effort and never blocking on another keeper: false when not kept (the database is
    // down or busy keeping another, collector.rejected.keep is 0); the failure is logged.
    // A report the database refuses (store_rejected) is kept by store() itself.
    bool keep_rejected(const rejected_input& in);

    // While paused, store() refuses at once (store_unavailable with the reason): `serve`
    // started during a database outage holds the store so until the schema migrations have
    // run, and intake puts reports in the spool meanwhile. A store starts running.
    void pause(const std::string& reason);
    void resume();

    // The database as the store last found it, for /healthz: available, or why not.
    struct database_state {
        bool available = true;
        std::string reason;   // when not available
    };
    database_state database() const;

    // Counters since start, for logs and /healthz.
    struct stats { std::uint64_t stored, duplicates, batches, failures; };
    stats counters() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Stores one batch in one transaction on conn (used by the writers, the importers and tests).
// A report twice in one batch is stored once; the second is a duplicate. When one report
// makes the transaction fail, the others are stored one by one, so that it cannot cost them
// their place; that report's error (store_rejected) is then thrown after the others are
// committed. A broken connection is retried once (libpqxx reconnects), then store_unavailable.
std::vector<store_result> store_batch(pqxx::connection& conn,
                                      const std::vector<const incoming_report*>& batch);

// The outcome of one report of a batch: a result, or store_rejected / store_unavailable.
struct store_attempt {
    std::optional<store_result> result;
    std::exception_ptr error;
};

struct report_store::attempt : store_attempt {};

// As store_batch, but never throws: one attempt per report, in the batch's order.
std::vector<store_attempt> store_batch_each(pqxx::connection& conn,
                                           const std::vector<const incoming_report*>& batch);

} // namespace stswatch
