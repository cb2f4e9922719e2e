// stswatch db migrate | db create-database NAME
#include "app/cli.hpp"

#include "store/migrations.hpp"

#include <pqxx/pqxx>

#include <iostream>

namespace stswatch::cli {

namespace {

pqxx::connection connect_or_fail(const std::string& url)
{
    try {
        return pqxx::connection(url);
    } catch (const pqxx::broken_connection& e) {
        throw command_error(unavailable, "stswatch: database: cannot connect: " + first_line(e.what()));
    }
}

int migrate_command(context& ctx)
{
    reject_unknown_options(ctx.args, "db migrate");
    if (!ctx.args.empty())
        throw usage_error("db migrate: unexpected argument \"" + ctx.args.front() + "\"");
    auto conn = connect_or_fail(require_db_url(ctx));
    migrate_result result;
    try {
        result = migrate(conn);
    } catch (const pqxx::broken_connection& e) {
        throw command_error(unavailable, "stswatch: database: connection lost: " + first_line(e.what()));
    } catch (const std::exception& e) {
        throw command_error(software, std::string("stswatch: db migrate: ") + e.what());
    }
    for (const auto& name : result.applied)
        std::cout << "applied " << name << "\n";
    std::cout << "schema at version " << result.version
              << (result.applied.empty() ? " (up to date)" : "") << "\n";
    return ok;
}

int create_database_command(context& ctx)
{
    reject_unknown_options(ctx.args, "db create-database");
    if (ctx.args.size() != 1)
        throw usage_error("db create-database: needs exactly one NAME");
    const std::string name = ctx.args.front();
    auto conn = connect_or_fail(require_db_url(ctx));
    pqxx::nontransaction tx(conn);
    auto exists = tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name);
    if (!exists.empty()) {
        std::cout << "database " << name << " exists\n";
        return ok;
    }
    // CREATE DATABASE takes no parameters: the name goes in as a quoted identifier.
    tx.exec0("CREATE DATABASE " + tx.quote_name(name));
    std::cout << "database " << name << " created\n";
    return ok;
}

} // namespace

int run_db(context& ctx)
{
    if (ctx.args.empty())
        throw usage_error("db: needs a subcommand: migrate or create-database");
    std::string sub = ctx.args.front();
    ctx.args.erase(ctx.args.begin());
    if (sub == "migrate")
        return migrate_command(ctx);
    if (sub == "create-database")
        return create_database_command(ctx);
    throw usage_error("db: unknown subcommand \"" + sub + "\"");
}

} // namespace stswatch::cli
