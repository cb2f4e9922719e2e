// The rows a stored report becomes: its totals and metadata, the raw bytes as report_raw keeps
// them, and its COPY rows and rollups (sql/0001_create_reports.sql). Internal to store/.
#pragma once

#include "store/db_values.hpp"
#include "store/report_store.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace stswatch::store_detail {

// {"file-name": "…", "tls-report-domain": "…", …, "dkim-domain": "…", "filled": ["…"]}
// dkim_domain: the d= of the DKIM signature that passed (mail only), when there is one.
std::string metadata_json(const report_metadata& m, const std::string& dkim_domain);

// The database's names for policy types (the CHECK in report_policies).
const char* policy_type_name(policy_type t);

// RFC 8460 §3: the DKIM verdicts of mailed copies, weakest first. One report may come several
// times (by HTTPS and by mail, to several rua= addresses); the stored verdict is the strongest
// that any copy earned and is never lowered. "pass" (a signature of the reporting domain
// verified) beats everything; then "fail" (a signature was there and is bad), "permerror"
// (one was there and cannot be checked), "temperror" (one was there and could not be checked
// yet) and "none" (no signature): a verdict on a signature says more than its absence.
// A copy not checked at all (HTTPS: NULL) is the weakest.
// "pass-testing": a pass by keys in testing mode only (t=y), weaker than a real pass.
constexpr std::array<std::string_view, 6> dkim_verdicts_weakest_first{"none", "temperror", "permerror", "fail",
                                                                      "pass-testing", "pass"};

// 0 for a copy not checked, else 1 + the verdict's place in dkim_verdicts_weakest_first.
int dkim_rank(std::string_view state);

// a + b; report_data_error when either is negative or the sum overflows.
std::int64_t add_sessions(std::int64_t a, std::int64_t b, const char* what);

struct session_totals {
    std::int64_t successful = 0, failed = 0;
    std::int64_t all() const { return successful + failed; }   // bounded by add_sessions
};

// The report's own totals (see report_rows.cpp for how senders count).
session_totals report_totals(const tls_report& r);

// Per policy of the report, in its order, whether its sessions are counted: the view of
// its domain that report_totals counts (sql/0004_analysis.sql, report_policies.counted).
std::vector<bool> counted_policies(const tls_report& r);

// The received body as report_raw keeps it (see the table's comment).
struct kept_raw {
    std::string compressed;     // when the store compressed it
    std::string_view gzip;      // the gzip member to keep
    const char* encoding = "gzip";
    std::string sha256;         // 32 bytes, of the body as received
    std::int64_t size = 0;
};

kept_raw keep_raw(const incoming_report& in);

struct batch_item {
    const incoming_report* report;
    const kept_raw* raw;
};

extern const std::vector<std::string> raw_columns, policy_columns, detail_columns;

// The COPY data of one batch's newly stored reports.
struct batch_rows {
    explicit batch_rows(std::size_t reports)
        : raws(reports * 1400), policies(reports * 300), details(reports * 2000)
    {
    }
    copy_data raws, policies, details;
};

struct rollup_key {
    std::string policy_domain, day;
    bool counted = true;   // the order of daily_rollups' primary key
    std::string policy_type, result_type, receiving_mx, organization_name;
    auto operator<=>(const rollup_key&) const = default;
};

using rollup_sums = std::map<rollup_key, session_totals>;

void add_rollup(rollup_sums& sums, rollup_key key, std::int64_t successful, std::int64_t failed);

// The counted part of sums per (policy domain, day, result type): daily_type_rollups' rows.
using type_sums = std::map<std::tuple<std::string, std::string, std::string>, session_totals>;
type_sums type_rollup_sums(const rollup_sums& sums);


// The identity as the database holds it (db_text of both parts): two reports whose names
// differ only in bytes PostgreSQL cannot hold are one report there.
using identity = std::pair<std::string, std::string>;

// What store_once knows of one report of the batch before it talks to the database.
struct prepared_report {
    identity id;
    session_totals totals;
    std::size_t first = 0;   // the batch index of the first copy of this identity (itself if first)
};

// A policy domain and report day of newly stored reports, with one report's receive time
// (microseconds, nullopt for "now"): what reported_domains and analysis_queue learn.
struct reported_day {
    std::string policy_domain, day;
    std::optional<std::int64_t> received_us;
    auto operator<=>(const reported_day&) const = default;
};

// Adds the rows of a newly stored report to the COPY data, its sessions to the rollups and
// its domains and day to days.
void add_report_rows(std::int64_t key, const batch_item& item, const identity& id, batch_rows& rows,
                     rollup_sums& rollups, std::set<reported_day>& days);

} // namespace stswatch::store_detail
