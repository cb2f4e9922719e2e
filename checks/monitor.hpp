// Monitoring: the scheduler `stswatch serve` runs over the monitored domains. A check's
// snapshot (the check_result JSON: records, policy text, MX set, certificates) is stored with
// its findings and the change events since the one before it: change detection is
// checks/monitor_diff.hpp, the stored form checks/monitor_snapshots.hpp, the tables
// store/monitor_store.hpp.
#pragma once

#include "checks/checker.hpp"
#include "checks/monitor_diff.hpp"
#include "checks/monitor_snapshots.hpp"
#include "store/monitor_store.hpp"

#include <functional>
#include <memory>
#include <string>

namespace stswatch {

struct monitor_options {
    std::string db_url;
    unsigned interval_s = 3600;
    unsigned jitter_percent = 10;
    unsigned concurrency = 4;
    unsigned poll_ms = 1000;                   // how often due domains are looked for
};

// The scheduler in `serve`: checks due domains with bounded concurrency, stores each
// snapshot with its change events, logs one line per check. check is run_check bound to
// a resolver and options (replaceable in tests).
class monitor {
public:
    using check_function = std::function<check_result(const std::string& domain)>;
    monitor(monitor_options options, check_function check);
    ~monitor();   // stops
    void start();
    void stop();  // waits for running checks
private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace stswatch
