// The write transaction of a batch of reports (store_batch, store_batch_each in
// store/report_store.hpp, and the group-commit writers). Internal to store/.
#pragma once

#include "store/report_rows.hpp"

#include <vector>

#include <pqxx/connection>

namespace stswatch::store_detail {

// Stores items in one transaction, or, when one report's value spoils it, one by one; a
// broken connection or a deadlock is retried once. One attempt per item, in order; never
// throws for a failure of the database (store_unavailable, store_rejected per attempt).
std::vector<store_attempt> store_items(pqxx::connection& conn, const std::vector<batch_item>& items);

} // namespace stswatch::store_detail
