// Queries of the stored reports: `stswatch reports list`, and the MX hosts senders reported
// for a domain (`stswatch check --policy-file`).
#pragma once

#include "store/errors.hpp"
#include "common/time.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace stswatch {

struct report_row {
    std::int64_t key;
    std::string organization_name, report_id;
    utc_time start_datetime, end_datetime;
    std::vector<std::string> policy_domains;
    std::int64_t successful_sessions, failed_sessions;
    std::vector<std::string> transports;
    utc_time received_at;
    std::string dkim_state;     // "" when no mail copy was checked
    std::string dkim_domain;
};

struct report_query {
    std::optional<std::string> domain;       // any policy of the report
    // On the report's date range: reports that end after since and start at or before until.
    std::optional<utc_time> since, until;
    std::size_t limit = 1000;
};

// Newest first (start-datetime descending). policy_domains sorted and distinct; transports
// in the order they were first received; received_at is the first receipt.
std::vector<report_row> list_reports(pqxx::connection& conn, const report_query& q);
// The same on a connection of its own (store/connection.hpp). Throws store_unavailable
// ("cannot connect: …", "no schema (run stswatch db migrate)"), store_error.
std::vector<report_row> list_reports(const std::string& db_url, const report_query& q);

// MX hosts seen in the domain's stored reports (failure details' receiving_mx_hostname only:
// policies' mx patterns are not hosts), sorted, distinct, host names only.
std::vector<std::string> reported_mx_hosts(pqxx::connection& conn, const std::string& domain);

} // namespace stswatch
