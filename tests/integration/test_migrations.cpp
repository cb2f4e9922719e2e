// Migrations against a real PostgreSQL: order, idempotence, concurrency, refusal to
// downgrade.
#include "store/migrations.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <atomic>
#include <set>
#include <thread>

using namespace stswatch;

namespace {

int count_rows(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    return tx.exec(sql)[0][0].as<int>();
}

std::set<std::string> tables(const std::string& url)
{
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    std::set<std::string> names;
    for (const auto& row : tx.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names.insert(row[0].as<std::string>());
    return names;
}

} // namespace

TEST_CASE("the embedded migrations are numbered in order from 1")
{
    const auto& all = migrations();
    REQUIRE_FALSE(all.empty());
    CHECK(all.front().version == 1);
    CHECK(std::string(all.front().name) == "0001_create_reports.sql");
    for (std::size_t i = 1; i < all.size(); ++i)
        CHECK(all[i].version > all[i - 1].version);
}

TEST_CASE("a fresh database gets every migration and a second run none")
{
    test::scratch_database db(false);
    const auto& all = migrations();

    pqxx::connection conn(db.url());
    const auto first = migrate(conn);
    REQUIRE(first.applied.size() == all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        CHECK(first.applied[i] == all[i].name);
    CHECK(first.version == all.back().version);

    const auto names = tables(db.url());
    for (const char* t : {"schema_migrations", "reports", "report_receipts", "report_raw",
                          "report_policies", "failure_details_default", "daily_rollups"})
        CHECK(names.count(t) == 1);
    CHECK(count_rows(db.url(), "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
                               " WHERE c.relname = 'failure_details'") == 1);
    CHECK(count_rows(db.url(), "SELECT count(*) FROM schema_migrations") == static_cast<int>(all.size()));

    const auto second = migrate(conn);
    CHECK(second.applied.empty());
    CHECK(second.version == all.back().version);
    CHECK(count_rows(db.url(), "SELECT count(*) FROM schema_migrations") == static_cast<int>(all.size()));
}

TEST_CASE("two migrators at once both succeed and each migration is applied once")
{
    test::scratch_database db(false);
    const auto& all = migrations();

    for (int round = 0; round < 3; ++round) {
        // A fresh schema each round: the race is over the first migration.
        if (round > 0) {
            pqxx::connection conn(db.url());
            pqxx::nontransaction tx(conn);
            tx.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        }
        std::atomic<int> ready{0};
        migrate_result results[2];
        std::string errors[2];
        std::thread threads[2];
        for (int i = 0; i < 2; ++i) {
            threads[i] = std::thread([&, i] {
                try {
                    pqxx::connection conn(db.url());
                    ++ready;
                    while (ready.load() < 2) {
                    }
                    results[i] = migrate(conn);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
        }
        for (auto& t : threads)
            t.join();
        CHECK(errors[0].empty());
        CHECK(errors[1].empty());
        CHECK(results[0].applied.size() + results[1].applied.size() == all.size());
        CHECK(results[0].version == all.back().version);
        CHECK(results[1].version == all.back().version);
        CHECK(count_rows(db.url(), "SELECT count(*) FROM schema_migrations") == static_cast<int>(all.size()));
    }
}

TEST_CASE("a database migrated by a newer stswatch is refused")
{
    test::scratch_database db;
    const int newer = migrations().back().version + 1;
    {
        pqxx::connection conn(db.url());
        pqxx::work tx(conn);
        tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')", newer);
        tx.commit();
    }
    pqxx::connection conn(db.url());
    try {
        migrate(conn);
        FAIL("migrate accepted a schema newer than it knows");
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("newer than this stswatch knows"));
        CHECK_THAT(what, Catch::Contains(std::to_string(newer)));
        CHECK_THAT(what, Catch::Contains(db.name()));
    }
}

TEST_CASE("the schema refuses negative counts and unknown transports")
{
    test::scratch_database db;
    pqxx::connection conn(db.url());
    struct bad_insert {
        const char* sql;
        const char* why;
    };
    const bad_insert cases[] = {
        {"INSERT INTO reports (organization_name, report_id, start_datetime, end_datetime, policy_count,"
         " total_successful_session_count, total_failure_session_count) VALUES ('o', 'r', now(), now(), 0, -1, 0)",
         "negative successful sessions"},
        {"INSERT INTO daily_rollups (policy_domain, day, policy_type, organization_name, failed_sessions)"
         " VALUES ('example.com', '2025-01-01', 'sts', 'o', -5)",
         "negative failed sessions in a rollup"},
        {"INSERT INTO reports (organization_name, report_id, start_datetime, end_datetime, policy_count,"
         " total_successful_session_count, total_failure_session_count) VALUES ('o', 'r2', now(), now(), 0, 0, 0);"
         " INSERT INTO report_receipts (report, transport) SELECT id, 'ftp' FROM reports WHERE report_id = 'r2'",
         "unknown transport"},
    };
    for (const auto& c : cases) {
        INFO(c.why);
        pqxx::work tx(conn);
        CHECK_THROWS_AS(tx.exec(c.sql), pqxx::check_violation);
    }
}
