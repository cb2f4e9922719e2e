// The `stswatch` command line: global options, configuration, exit codes, error output.
#pragma once

#include "common/settings.hpp"
#include "store/errors.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Util/LayeredConfiguration.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace stswatch::cli {

// sysexits(3) codes, as the CLI contract (docs/contracts.md) uses them.
enum exit_code : int {
    ok = 0,
    check_errors = 1,
    usage = 2,
    data_error = 65,      // EX_DATAERR
    no_input = 66,        // EX_NOINPUT: a named file does not exist or cannot be read
    unavailable = 69,     // EX_UNAVAILABLE
    software = 70,        // EX_SOFTWARE: a bug
    config_error = 78,    // EX_CONFIG
    temp_failure = 75,    // EX_TEMPFAIL
};

// Raised for a malformed command line; main prints it with a hint and exits 2.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Raised with the exit code to use and the one-line message "stswatch: <what>: <why>".
class command_error : public std::runtime_error {
public:
    command_error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }
private:
    int code_;
};

struct context {
    Poco::AutoPtr<Poco::Util::LayeredConfiguration> conf;
    stswatch::settings settings;
    std::string config_path;            // the file read, or "" when none
    std::vector<std::string> args;      // after the command word(s), global options removed
};

// Splits global options (--config, --db, --log-level, --set KEY=VALUE, before or after the
// subcommand) from the rest; loads the configuration. Throws usage_error, command_error.
context make_context(const std::vector<std::string>& argv_without_command, std::string& command_out);

// Command-local options: takes "--name VALUE" or "--name=VALUE" out of args.
// Returns true and sets value when present. Throws usage_error when the value is missing.
bool take_option(std::vector<std::string>& args, const std::string& name, std::string& value);
// Takes a flag ("--json") out of args.
bool take_flag(std::vector<std::string>& args, const std::string& name);
// Throws usage_error naming the first remaining "--option" (call after taking the known ones).
void reject_unknown_options(const std::vector<std::string>& args, const std::string& command);

// The database URL from --db, STSWATCH_DB or db.url; command_error(78) when none is set.
std::string require_db_url(const context& ctx);

// The one answer to a database that cannot serve now (store_unavailable, wherever it comes
// from): prints "stswatch: database: <what>" to stderr and returns 69 (EX_UNAVAILABLE).
int database_unavailable(const store_unavailable& e);

// The first line of a (libpq) message, without its trailing newline.
std::string first_line(const std::string& message);

// For the commands that store mail (import, ingest-mail): connects to db_url and applies
// pending migrations, as serve does at start; command_error(75) when the database cannot
// be reached (the MTA or the user tries again later).
void prepare_database(const std::string& db_url);

// DKIM key lookups (RFC 6376 §3.6.2) through checks.resolver, cached for the run;
// command_error(78) for a malformed checks.resolver.
std::function<std::vector<std::string>(const std::string&)> dkim_lookup_for(const context& ctx);

// Commands.
int run_parse(context& ctx);
int run_db(context& ctx);
int run_reports(context& ctx);
int run_serve(context& ctx);
int run_import(context& ctx);
int run_ingest_mail(context& ctx);
int run_check(context& ctx);     // app/cmd_check.cpp
int run_monitor(context& ctx);   // app/cmd_monitor.cpp
int run_trends(context& ctx);    // app/cmd_analysis.cpp
int run_incidents(context& ctx);
int run_explain(context& ctx);
int run_domains(context& ctx);
int run_alerts(context& ctx);     // app/cmd_alerts.cpp

} // namespace stswatch::cli
