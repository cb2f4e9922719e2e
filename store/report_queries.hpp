// Queries of the stored reports: `stswatch reports list`, and the MX hosts senders reported
// for a domain (`stswatch check --policy-file`).
#pragma once

#include "store/errors.hpp"
#include "common/time.hpp"
#include "store/report_records.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace stswatch {

// Newest first (start-datetime descending). policy_domains sorted and distinct; transports
// in the order they were first received; received_at is the first receipt.
std::vector<report_row> list_reports(pqxx::connection& conn, const report_query& q);

// One page of reports (store/report_records.hpp).
report_page page_reports(pqxx::connection& conn, const report_query& q, std::optional<std::int64_t> before_id);

std::optional<stored_report> load_report(pqxx::connection& conn, std::int64_t id);

// The same on a connection of its own (store/connection.hpp). Throws store_unavailable
// ("cannot connect: …", "no schema (run stswatch db migrate)"), store_error.
std::vector<report_row> list_reports(const std::string& db_url, const report_query& q);

// MX hosts seen in the domain's stored reports (failure details' receiving_mx_hostname only:
// policies' mx patterns are not hosts), sorted, distinct, host names only.
std::vector<std::string> reported_mx_hosts(pqxx::connection& conn, const std::string& domain);

} // namespace stswatch
