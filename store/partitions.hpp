// Monthly partitions of failure_details (sql/0001_create_reports.sql). Internal to store/.
#pragma once

#include <chrono>
#include <set>

#include <pqxx/connection>

namespace stswatch::store_detail {

int month_number(std::chrono::sys_days day);   // year * 12 + month - 1

// Creates the partitions for these months (month_number), each in its own short transaction
// before the batch's: DDL on failure_details inside the batch would hold its exclusive lock
// until commit and order-deadlock against the other writers.
void ensure_partitions(pqxx::connection& conn, const std::set<int>& months);

} // namespace stswatch::store_detail
