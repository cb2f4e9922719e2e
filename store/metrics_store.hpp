// The figures GET /metrics reads from the database at scrape time (docs/metrics.md): open
// incidents, the findings of each monitored domain's latest check, and the counted
// sessions of monitored domains on one day. One connection (store/connection.hpp); not
// thread-safe. Every method throws the store's errors (store/errors.hpp), never libpqxx's.
#pragma once

#include "common/time.hpp"
#include "store/errors.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace stswatch {

struct metrics_domain_day {
    std::string domain;
    std::int64_t successful = 0, failed = 0;   // counted sessions (docs/analysis.md)
};

struct metrics_figures {
    std::int64_t monitored_domains = 0;
    // Open incidents by dimension (sql/0004 incidents.dimension), every dimension present.
    std::vector<std::pair<std::string, std::int64_t>> open_incidents;
    // Findings of the latest check of each monitored domain by severity (error, warning,
    // info), every severity present.
    std::vector<std::pair<std::string, std::int64_t>> findings;
    // The first domains_limit monitored domains by name, with their counted sessions of
    // the day (0 and 0 without reports).
    std::vector<metrics_domain_day> domains;
};

class metrics_store {
public:
    // Connects (store_unavailable "cannot connect: …" when it cannot), waiting at most
    // connect_timeout_s: a scrape must answer while the database is down.
    explicit metrics_store(const std::string& db_url, unsigned connect_timeout_s = 3);
    ~metrics_store();
    metrics_store(const metrics_store&) = delete;
    metrics_store& operator=(const metrics_store&) = delete;

    // One read transaction. domains_limit 0: no per-domain rows.
    metrics_figures figures(utc_date day, std::size_t domains_limit);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
