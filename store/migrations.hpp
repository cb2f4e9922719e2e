// Schema migrations: the numbered files of sql/, embedded at build time.
#pragma once

#include <string>
#include <vector>

#include <pqxx/connection>

namespace stswatch {

struct migration {
    int version;
    const char* name;
    const char* sql;
};

// All migrations in version order (generated from sql/*.sql).
const std::vector<migration>& migrations();

struct migrate_result {
    std::vector<std::string> applied;   // names of the migrations applied now
    int version = 0;                    // schema version after the run
};

// Applies the pending migrations, each in its own transaction, recording it in
// schema_migrations. Concurrent callers are serialised with an advisory lock.
migrate_result migrate(pqxx::connection& conn);

// Connects to db_url (store/connection.hpp) and migrates. Throws store_unavailable
// ("cannot connect: …", "connection lost: …"), store_error, or std::runtime_error when a
// migration fails or the schema is newer than this stswatch.
migrate_result migrate_database(const std::string& db_url);

// CREATE DATABASE name unless it exists (for set-up scripts); true when it was created.
// Throws as migrate_database.
bool create_database(const std::string& db_url, const std::string& name);

} // namespace stswatch
