// Stored reports as the queries return them (store/report_queries.hpp, analysis_store);
// no database types, so that the layers above can hold them.
#pragma once

#include "common/time.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// One page of reports matching q (q.limit rows at most), newest stored first, below the
// cursor: the id of the last row of the page before. next_before_id is set when more follow.
struct report_page {
    std::vector<report_row> rows;
    std::optional<std::int64_t> next_before_id;
};

// A stored report with its kept bytes (sql/0001 report_raw): raw_gzip is always a gzip
// member holding the report JSON; raw_encoding says whether it is the body as received
// ("gzip") or the JSON body compressed at storing ("json"); raw_size is the body's size.
struct stored_report {
    report_row row;
    std::string raw_gzip;
    std::string raw_encoding;
    std::int64_t raw_size = 0;
    std::string metadata_json;             // reports.metadata
    std::vector<std::string> warnings;     // reports.warnings
    std::string contact_info;
};

} // namespace stswatch
