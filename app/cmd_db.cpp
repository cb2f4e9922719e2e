// stswatch db migrate | db create-database NAME
#include "app/cli.hpp"

#include "store/migrations.hpp"

#include <iostream>

namespace stswatch::cli {

namespace {

int migrate_command(context& ctx)
{
    reject_unknown_options(ctx.args, "db migrate");
    if (!ctx.args.empty())
        throw usage_error("db migrate: unexpected argument \"" + ctx.args.front() + "\"");
    const std::string url = require_db_url(ctx);
    migrate_result result;
    try {
        result = migrate_database(url);
    } catch (const store_unavailable&) {
        throw;   // main: "stswatch: database: cannot connect: …" or "…: connection lost: …", 69
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
    if (create_database(require_db_url(ctx), name))
        std::cout << "database " << name << " created\n";
    else
        std::cout << "database " << name << " exists\n";
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
