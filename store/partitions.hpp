// Monthly partitions of failure_details (sql/0001_create_reports.sql). Internal to store/.
#pragma once

#include <chrono>
#include <set>

#include <pqxx/connection>

namespace stswatch::store_detail {

int month_number(std::chrono::sys_days day);   // year * 12 + month - 1

// Whether a month gets a partition of its own: from partition_months_back months before the
// current one (UTC, by the system clock) to partition_months_ahead after it. Report dates
// are the sender's word: one sender's reports dated across centuries would otherwise make a
// partition for every month, and every query of failure_details would plan over them all.
// Rows of other months go to failure_details_default, where they are read as any other.
constexpr int partition_months_back = 24;
constexpr int partition_months_ahead = 2;
bool month_gets_partition(int month, std::chrono::sys_days today);

// Creates the partitions for these months (month_number) that month_gets_partition allows,
// each in its own short transaction before the batch's: DDL on failure_details inside the
// batch would hold its exclusive lock until commit and order-deadlock against the other
// writers.
void ensure_partitions(pqxx::connection& conn, const std::set<int>& months);

} // namespace stswatch::store_detail
