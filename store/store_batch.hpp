// The write transaction of a batch of reports (store_batch, store_batch_each in
// store/report_store.hpp, and the group-commit writers). Internal to store/.
#pragma once

#include "store/report_rows.hpp"

#include <set>
#include <vector>

#include <pqxx/connection>
#include <pqxx/transaction>

namespace stswatch::store_detail {

// Stores items in one transaction, or, when one report's value spoils it, one by one; a
// broken connection or a deadlock is retried once. One attempt per item, in order; never
// throws for a failure of the database (store_unavailable, store_rejected per attempt).
std::vector<store_attempt> store_items(pqxx::connection& conn, const std::vector<batch_item>& items);

// The write path's prepared statements, registered on conn (repeatable).
void prepare_statements(pqxx::connection& conn);

// In one statement: adds sums to daily_rollups and their counted part to daily_type_rollups,
// notes the domains and days seen in reported_domains and queues them for the analysis.
void add_batch_sums(pqxx::work& tx, const rollup_sums& sums, const std::set<reported_day>& seen);

} // namespace stswatch::store_detail
