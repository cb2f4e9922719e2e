// The monitor's snapshots as the store keeps them (store/monitor_store.hpp): a check result
// becomes a snapshot row (its JSON, the policy's hash, what it carries past transient
// failures) and stored rows become the diff base of the next check.
#pragma once

#include "checks/monitor_diff.hpp"
#include "store/monitor_store.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

// The row of result. base is what result was compared with: what it carries past a
// transient failure in result (next_diff_base) is stored with the snapshot.
snapshot_row to_snapshot_row(const check_result& result, const diff_base* base = nullptr);

// Stores result (to_snapshot_row) with its change events; sets the domain's next check.
long long save_snapshot(monitor_store& store, const check_result& result, const std::vector<change_event>& changes,
                        std::chrono::system_clock::time_point next_check, const diff_base* base = nullptr);

// The newest snapshot that is not dns_unavailable.
std::optional<stored_snapshot> latest_snapshot(monitor_store& store, const std::string& domain);

// What the next check diffs against: latest_snapshot() with what it carries from earlier
// snapshots (sql/0003). A stored part that cannot be read is left out, and logged.
std::optional<diff_base> comparison_base(monitor_store& store, const std::string& domain);

} // namespace stswatch
