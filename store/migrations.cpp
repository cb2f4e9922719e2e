// Applying the numbered migrations of sql/ (embedded at build time) in order.
#include "store/migrations.hpp"

#include "store/connection.hpp"

#include <pqxx/result>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include <set>
#include <stdexcept>
#include <string>

namespace stswatch {

namespace {

// Key of the transaction-scoped advisory lock that serialises migrators of one database
// (advisory locks are per database), e.g. several `stswatch serve` starting together.
constexpr long long migration_lock_key = 0x73747377'6d696772LL;   // "stswmigr"

constexpr const char* create_schema_migrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

// Takes the lock, makes sure the bookkeeping table exists and returns the versions it
// lists. The lock is held until tx ends, so what is read stays true while tx lasts.
std::set<int> lock_and_read_applied(pqxx::work& tx)
{
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
    // Quiet the "already exists" notice that every later run would otherwise print.
    tx.exec("SET LOCAL client_min_messages = warning");
    tx.exec(create_schema_migrations);
    std::set<int> applied;
    for (const auto& row : tx.exec("SELECT version FROM schema_migrations"))
        applied.insert(row[0].as<int>());
    return applied;
}

} // namespace

migrate_result migrate(pqxx::connection& conn)
{
    const auto& known = migrations();
    const int newest_known = known.empty() ? 0 : known.back().version;
    migrate_result result;

    // Each migration runs in its own transaction, holding the lock, so that a failure
    // leaves the schema at the last migration that completed, recorded as such.
    auto check_not_newer = [&](const std::set<int>& applied) {
        if (!applied.empty() && *applied.rbegin() > newest_known)
            throw std::runtime_error(
                "database " + std::string(conn.dbname()) + " has schema version " +
                std::to_string(*applied.rbegin()) + ", newer than this stswatch knows (" +
                std::to_string(newest_known) + "): upgrade stswatch or use another database");
    };

    for (const auto& m : known) {
        pqxx::work tx(conn, "migrate");
        const auto applied = lock_and_read_applied(tx);
        check_not_newer(applied);
        if (applied.count(m.version))
            continue;   // tx aborts on scope exit: nothing to keep
        try {
            tx.exec(m.sql);
        } catch (const pqxx::sql_error& e) {
            throw std::runtime_error("migration " + std::string(m.name) + " failed: " + e.what());
        }
        tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                       m.version, std::string(m.name));
        tx.commit();
        result.applied.emplace_back(m.name);
    }

    pqxx::work tx(conn, "migrate");
    const auto applied = lock_and_read_applied(tx);
    check_not_newer(applied);
    tx.commit();
    result.version = applied.empty() ? 0 : *applied.rbegin();
    return result;
}

migrate_result migrate_database(const std::string& db_url)
{
    auto conn = open_connection(db_url);
    return guarded("connection lost", [&] { return migrate(*conn); });
}

bool create_database(const std::string& db_url, const std::string& name)
{
    auto conn = open_connection(db_url);
    return guarded("connection lost", [&] {
        pqxx::nontransaction tx(*conn);
        if (!tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty())
            return false;
        // CREATE DATABASE takes no parameters: the name goes in as a quoted identifier.
        tx.exec0("CREATE DATABASE " + tx.quote_name(name));
        return true;
    });
}

} // namespace stswatch
