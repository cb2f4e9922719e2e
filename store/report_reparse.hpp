// Re-deriving a stored report's rows from the bytes kept with it (`stswatch reports reparse`):
// when the parser improves, the reports stored by an older version get the rows the new one
// makes, and the rollups follow, exactly as if the report had been stored fresh.
#pragma once

#include "store/errors.hpp"
#include "store/report_store.hpp"
#include "common/time.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace stswatch {

struct reparse_selection {
    std::optional<utc_time> since;          // reports that end after since (as `reports list`)
    std::optional<std::string> domain;      // a policy of the report is for this domain
};

// Keys of the stored reports selected, ascending, above after_key, limit at most.
std::vector<std::int64_t> select_stored_reports(pqxx::connection& conn, const reparse_selection& s,
                                                std::int64_t after_key, std::size_t limit);

// How many reports the selection holds (for progress).
std::int64_t count_stored_reports(pqxx::connection& conn, const reparse_selection& s);

enum class reparse_result {
    unchanged,          // the stored rows are those the report makes now
    changed,            // they were not (applied unless a dry run)
    identity_changed,   // the body now names another report: left alone
    missing,            // no such report (deleted meanwhile)
};

const char* to_string(reparse_result r);

struct reparse_outcome {
    reparse_result result = reparse_result::unchanged;
    // "<field>: <before> -> <after>", in the report's order, bounded (the last line says how
    // many more there were).
    std::vector<std::string> changes;
};

// Compares the rows stored for report key with those fresh makes (its totals, warnings,
// metadata, policies and failure details) and, when apply and they differ, replaces them in
// one transaction: the report's share of daily_rollups and daily_type_rollups is taken out
// and fresh's put in, rows that only this report held go, and the domains are queued for the
// analysis. The receipts, the raw bytes, the receive time and the DKIM verdict stay.
// Throws store_unavailable, store_rejected (a value of fresh the database refuses).
reparse_outcome reparse_stored_report(pqxx::connection& conn, std::int64_t key, const incoming_report& fresh,
                                      bool apply);

} // namespace stswatch
