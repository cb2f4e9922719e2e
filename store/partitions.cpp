// Monthly partitions of failure_details (store/partitions.hpp).
#include "store/partitions.hpp"

#include "common/log.hpp"

#include <pqxx/except>
#include <pqxx/transaction>

#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace stswatch::store_detail {

int month_number(std::chrono::sys_days day)   // year * 12 + month - 1
{
    const std::chrono::year_month_day ymd{day};
    return static_cast<int>(ymd.year()) * 12 + static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
}

namespace {

// Serialises partition creation between writers and instances: CREATE TABLE IF NOT EXISTS
// alone is not atomic against a concurrent twin.
constexpr long long partition_lock_key = 0x73747377'70617274LL;   // "stswpart"


// The months known to have a partition, per database, shared by all connections of this
// process. Only a hint: a month missing here costs one CREATE … IF NOT EXISTS.
class partition_months {
public:
    bool contains(const std::string& database, int month) const
    {
        std::lock_guard lock(mutex_);
        return known_.count({database, month}) != 0;
    }
    void add(const std::string& database, int month)
    {
        std::lock_guard lock(mutex_);
        known_.insert({database, month});
    }
private:
    mutable std::mutex mutex_;
    std::set<std::pair<std::string, int>> known_;
};

partition_months& known_partitions()
{
    static partition_months months;
    return months;
}

std::string database_key(pqxx::connection& conn)
{
    auto str = [](const char* s) { return std::string(s ? s : ""); };
    return str(conn.hostname()) + ":" + str(conn.port()) + "/" + str(conn.dbname());
}

} // namespace

// Creates the partitions for these months, each in its own short transaction before the
// batch's: DDL on failure_details inside the batch would hold its exclusive lock until
// commit and order-deadlock against the other writers.
bool month_gets_partition(int month, std::chrono::sys_days today)
{
    const int current = month_number(today);
    return month >= current - partition_months_back && month <= current + partition_months_ahead;
}

void ensure_partitions(pqxx::connection& conn, const std::set<int>& months)
{
    if (months.empty())
        return;
    const auto database = database_key(conn);
    const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    for (int month : months) {
        if (!month_gets_partition(month, today))
            continue;   // its rows go to failure_details_default
        if (known_partitions().contains(database, month))
            continue;
        const int year = month / 12, mon = month % 12 + 1;
        const int next_year = (month + 1) / 12, next_mon = (month + 1) % 12 + 1;
        char name[80], from[40], to[40];
        std::snprintf(name, sizeof name, "failure_details_%04d_%02d", year, mon);
        std::snprintf(from, sizeof from, "%04d-%02d-01", year, mon);
        std::snprintf(to, sizeof to, "%04d-%02d-01", next_year, next_mon);
        try {
            pqxx::work tx(conn, "partition");
            tx.exec_params("SELECT pg_advisory_xact_lock($1)", partition_lock_key);
            if (!tx.exec_params1("SELECT to_regclass($1) IS NULL", std::string(name))[0].as<bool>()) {
                known_partitions().add(database, month);
                continue;   // made by another writer or instance
            }
            // Better to wait a little and fall back to the DEFAULT partition than to hold
            // every writer behind a long read of failure_details.
            tx.exec("SET LOCAL lock_timeout = '5s'");
            tx.exec("CREATE TABLE IF NOT EXISTS " + tx.quote_name(name) +
                    " PARTITION OF failure_details FOR VALUES FROM (" + tx.quote(from) +
                    ") TO (" + tx.quote(to) + ")");
            tx.commit();
        } catch (const pqxx::sql_error& e) {
            const auto& state = e.sqlstate();
            if (state == "55P03") {
                // Lock timeout: this batch's rows go to DEFAULT; the next batch tries again.
                log::warning("store", "partition not created yet", {{"partition", name}, {"reason", "lock timeout"}});
                continue;
            } else if (state == "42P07" || state == "23505") {
                // duplicate: made meanwhile by something that does not take the lock
            } else if (state == "42P17") {
                // an operator's partition already covers (part of) the month: rows go there
            } else if (state == "23514") {
                // The DEFAULT partition already holds rows of this month (its partition was
                // dropped); they would violate the new one. Rows keep going to DEFAULT.
                log::warning("store", "month stays in failure_details_default", {{"partition", name}});
            } else {
                throw;
            }
        }
        known_partitions().add(database, month);
    }
}

} // namespace stswatch::store_detail
