// Change detection between two snapshots of a domain (pure: no database, no network): the
// change events the monitor stores and the base the next check is compared with.
#pragma once

#include "checks/checker.hpp"
#include "store/monitor_rows.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stswatch {

struct stored_snapshot {
    long long id = 0;
    check_result result;
};

// What a check is compared with: the domain's last usable snapshot and, for the parts of it
// that a transient failure can hide without saying anything about the domain (the policy
// when its host could not be reached, the certificate of an MX that did not answer), the
// last values seen.
struct diff_base {
    stored_snapshot previous;
    // The last snapshot whose published policy was known (fetched, or known to be absent),
    // when previous's was not: its policy text, parsed policy and the _mta-sts id it was
    // fetched under are what the next policy is compared with. Empty when previous's own
    // policy is known, or when none ever was.
    std::optional<stored_snapshot> policy_source;
    // "<MX host> <address>" of previous's live set -> the last certificate presented there,
    // for the addresses that presented none in previous (only sha256 and not_after kept).
    std::map<std::string, certificate_info> certificates;
};

// Pure: the base for the check after `snapshot`, given the base `snapshot` was compared
// with (nullptr for a domain's first snapshot).
diff_base next_diff_base(const diff_base* base, const stored_snapshot& snapshot);

// Pure: the change events from before to after (same domain), in a stable order. A policy
// that senders would read differently while the _mta-sts id stayed the same also yields the
// finding sts-policy-changed-without-id, appended to findings_out.
std::vector<change_event> diff_snapshots(const diff_base& before, const check_result& after,
                                         std::vector<finding>& findings_out);
// The same with nothing carried from earlier snapshots: before is all there is.
std::vector<change_event> diff_snapshots(const check_result& before, const check_result& after,
                                         std::vector<finding>& findings_out);

// The policy text a sender would have fetched: only a successful fetch of the live policy
// counts, not a --policy-file candidate; nullptr when there is none.
const std::string* published_policy_text(const check_result& r);

} // namespace stswatch
