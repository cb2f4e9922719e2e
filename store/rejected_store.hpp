// Reports refused at intake, kept with their bytes and reason (sql/0008_rejected_reports.sql)
// so that `stswatch reports rejected` shows them and `reports retry` takes them again.
#pragma once

#include "store/errors.hpp"
#include "store/report_store.hpp"
#include "common/time.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace stswatch {

// Keeps one refused body, or counts it again when the same bytes were refused before (the
// reason and source become the latest); then drops the oldest rows past limits.keep.
// Throws store_unavailable, store_error.
void keep_rejected(pqxx::connection& conn, const rejected_input& in, const rejected_limits& limits);

struct rejected_row {
    std::int64_t id = 0;
    utc_time first_received_at, last_received_at;
    std::int64_t times = 1;
    std::string transport, source_address, reason;
    std::int64_t size = 0;
    bool truncated = false;
    std::optional<utc_time> retried_at;
    std::string retry_result;           // "" until retried
    std::optional<std::int64_t> report; // the stored report, after a retry that stored it
};

// Newest refusal first. pending_only: not truncated and not taken by a retry yet.
std::vector<rejected_row> list_rejected(pqxx::connection& conn, bool pending_only, std::size_t limit);

struct rejected_body {
    rejected_row row;
    std::string raw;
    std::map<std::string, std::string> metadata;
};

std::optional<rejected_body> load_rejected(pqxx::connection& conn, std::int64_t id);

// Records a retry's outcome: "stored" or "duplicate" with the report's key, or the reason
// it was refused again.
void note_retry(pqxx::connection& conn, std::int64_t id, const std::string& result, std::optional<std::int64_t> report);

} // namespace stswatch
