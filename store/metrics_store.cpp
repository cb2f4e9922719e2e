// The scrape-time queries of GET /metrics (store/metrics_store.hpp). Each is bounded by the
// number of monitored domains, never by the reports: the sessions are read from
// daily_type_rollups (sql/0004_analysis.sql) by its key, one day of the listed domains.
#include "store/metrics_store.hpp"

#include "store/connection.hpp"

#include <pqxx/result>
#include <pqxx/transaction>

#include <array>
#include <map>

namespace stswatch {

namespace {

// The bounded sets of the labels (sql/0004 incidents.dimension, sql/0002 check_findings.severity):
// every value is exported, 0 included, so that a series does not vanish when it drops to 0.
constexpr std::array<const char*, 6> dimensions = {"domain", "mx", "result-type", "organization",
                                                   "new-result-type", "silent-reporter"};
constexpr std::array<const char*, 3> severities = {"error", "warning", "info"};

template <std::size_t N>
std::vector<std::pair<std::string, std::int64_t>> complete(const std::array<const char*, N>& keys,
                                                           const pqxx::result& rows)
{
    std::map<std::string, std::int64_t> found;
    for (const auto& row : rows)
        found[row[0].as<std::string>()] = row[1].as<std::int64_t>();
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const char* k : keys) {
        const auto it = found.find(k);
        out.emplace_back(k, it == found.end() ? 0 : it->second);
    }
    return out;
}

} // namespace

struct metrics_store::impl {
    impl(const std::string& url, unsigned timeout) : conn(open_connection(url, timeout)) {}
    std::unique_ptr<pqxx::connection> conn;
};

metrics_store::metrics_store(const std::string& db_url, unsigned connect_timeout_s)
    : impl_(std::make_unique<impl>(db_url, connect_timeout_s))
{
}

metrics_store::~metrics_store() = default;

metrics_figures metrics_store::figures(utc_date day, std::size_t domains_limit)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "metrics_figures");
        metrics_figures f;
        f.monitored_domains = tx.exec1("SELECT count(*) FROM monitored_domains")[0].as<std::int64_t>();
        // incidents_open (partial index on status = 'open').
        f.open_incidents = complete(dimensions, tx.exec("SELECT dimension, count(*) FROM incidents"
                                                        " WHERE status = 'open' GROUP BY dimension"));
        // The latest check of each monitored domain is its last_snapshot_id.
        f.findings = complete(severities, tx.exec("SELECT f.severity, count(*) FROM monitored_domains m"
                                                  " JOIN check_findings f ON f.snapshot_id = m.last_snapshot_id"
                                                  " GROUP BY f.severity"));
        if (domains_limit > 0) {
            // result_type '' rows are the day's counted summaries.
            const auto rows = tx.exec_params(
                "SELECT m.domain, coalesce(t.successful_sessions, 0), coalesce(t.failed_sessions, 0)"
                " FROM (SELECT domain FROM monitored_domains ORDER BY domain LIMIT $2) m"
                " LEFT JOIN daily_type_rollups t"
                "  ON t.policy_domain = m.domain AND t.day = $1::date AND t.result_type = ''"
                " ORDER BY m.domain",
                format_day(day), static_cast<long long>(domains_limit));
            f.domains.reserve(rows.size());
            for (const auto& row : rows)
                f.domains.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>()});
        }
        return f;
    });
}

} // namespace stswatch
