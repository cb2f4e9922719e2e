// `stswatch reports reparse`: the stored reports parsed again from the bytes kept with them,
// by the parser of this version, and their rows replaced where they differ (store/report_reparse.hpp).
#pragma once

#include "store/report_queries.hpp"
#include "store/rejected_store.hpp"
#include "store/report_reparse.hpp"
#include "tlsrpt/report_parser.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace stswatch {

struct reparse_options {
    reparse_selection selection;
    bool dry_run = false;                   // compare only, write nothing
    std::uint64_t max_report_bytes = 20971520;
    parse_limits limits;
};

// What became of one stored report.
struct reparsed_report {
    std::int64_t key = 0;
    std::string organization, report_id;    // as stored
    reparse_result result = reparse_result::unchanged;
    std::vector<std::string> changes;       // reparse_outcome::changes
    std::string refusal;                    // set when this version refuses the kept body: left as stored
};

struct reparse_totals {
    std::int64_t selected = 0;              // reports the selection held at the start
    std::int64_t examined = 0, changed = 0, unchanged = 0, refused = 0, identity_changed = 0, missing = 0;
};

// The kept body of a stored report as an incoming report again, parsed by this version with
// the metadata it came with (file name, email headers). Throws decode_error, report_error.
incoming_report incoming_from_stored(const stored_report& stored, const reparse_options& options);

// Parses every selected report again, one transaction each, in key order, calling each for
// every report examined. Throws store_unavailable when the database goes away (the reports
// done so far stay done).
reparse_totals reparse_reports(pqxx::connection& conn, const reparse_options& options,
                               const std::function<void(const reparsed_report&, const reparse_totals&)>& each);

// `stswatch reports retry`: a refused report kept with its bytes, taken again by this version.
struct retry_options {
    std::uint64_t max_report_bytes = 20971520;
    parse_limits limits;
    std::vector<std::string> accept_domains;   // collector.accept_domains (normalised; empty = any)
};

struct retried_report {
    std::int64_t id = 0;
    // "stored", "duplicate" (stored before, by another copy), "refused" (refused again,
    // reason says why), "truncated" (only its first bytes were kept), "missing"
    std::string result;
    std::string reason;
    std::string organization, report_id;   // when it parsed
    std::optional<std::int64_t> report;    // the stored report's key
};

// Decodes and parses the kept body with its metadata, checks the accepted domains and
// stores it as received at its first refusal, by its transport; notes the outcome on the
// kept row. Throws store_unavailable.
retried_report retry_rejected(pqxx::connection& conn, std::int64_t id, const retry_options& options);

} // namespace stswatch
