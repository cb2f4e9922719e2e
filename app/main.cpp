// stswatch: receive SMTP TLS reports, check MTA-STS deployments, explain failures.
#include "app/cli.hpp"

#include <Poco/Exception.h>

#include <iostream>

namespace {

constexpr const char* usage_text = R"(usage: stswatch [--config FILE] [--db CONNINFO] [--log-level LEVEL] [--set KEY=VALUE] COMMAND ...

commands:
  serve                         run the report receivers (HTTPS, SMTP) and the monitor
  parse FILE...                 decode and validate reports (.json, .json.gz, .eml), print
                                canonical JSON, one line per report (no database)
  import [--jobs N] [--no-progress] PATH...
                                store reports from .json/.json.gz files, .eml messages, mbox
                                files and maildir folders; directories are read recursively
  ingest-mail                   store the reports of one message read on stdin (MTA pipe);
                                exit 0 stored or duplicate, 65 no report or refused, 75 try later
  db migrate                    apply the schema migrations in order
  db create-database NAME       create a database if it does not exist (for set-up scripts)
  check [--json] [--resolver IP:PORT] [--ca-file F] [--allow-private] [--no-probe]
        [--policy-file FILE] DOMAIN...
                                check MTA-STS, TLS-RPT, MX and STARTTLS; exit 0 no error
                                found, 1 errors found, 69 DNS unavailable
  monitor add|remove DOMAIN...  domains that serve checks every monitor.interval
  monitor list [--json]         monitored domains with their last check
  monitor changes DOMAIN [--limit N] [--json]
                                change events of a monitored domain, newest first
  reports list [--domain D] [--since DATE] [--until DATE] [--limit N] [--json]
                                stored reports
  trends DOMAIN [--since DATE] [--until DATE] [--by day|week|month]
         [--group result-type|mx|org|sending-ip|policy-type] [--json]
                                sessions and failures per day, week or month (UTC); the
                                range defaults to the last 30 days
  incidents DOMAIN [--since DATE] [--until DATE] [--no-refresh] [--json]
                                incidents: failures departing from the domain's baseline
  explain DOMAIN [--since DATE] [--until DATE] [--no-refresh] [--json]
                                incidents with their probable causes and the evidence
  domains [--json]              health of every known domain: last 7 days against the
                                baseline, open incidents, check errors, last report
  alerts test                   send a test alert to every configured output; exit 0 all
                                ok, 69 one failed, 78 none configured
  alerts list [--status S] [--limit N] [--json]
                                the alert outbox: pending, sent, failed, skipped

global options (before or after the command):
  --config FILE      properties file (default: config/stswatch.properties, then
                     /etc/stswatch/stswatch.properties)
  --db CONNINFO      libpq URI or key=value conninfo (also STSWATCH_DB; overrides db.url)
  --log-level LEVEL  debug, information, warning or error
  --set KEY=VALUE    override one configuration key

exit codes: 0 ok, 1 a check found errors, 2 usage, 65 bad input data, 66 input not found,
            69 service unavailable, 75 temporary failure, 78 configuration error
)";

} // namespace

int main(int argc, char** argv)
{
    using namespace stswatch::cli;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << usage_text;
        return args.empty() ? usage : ok;
    }
    if (args[0] == "--version") {
        std::cout << "stswatch 0.1.0\n";
        return ok;
    }
    try {
        std::string command;
        context ctx = make_context(args, command);
        if (command == "parse")
            return run_parse(ctx);
        if (command == "db")
            return run_db(ctx);
        if (command == "reports")
            return run_reports(ctx);
        if (command == "serve")
            return run_serve(ctx);
        if (command == "import")
            return run_import(ctx);
        if (command == "ingest-mail")
            return run_ingest_mail(ctx);
        if (command == "check")
            return run_check(ctx);
        if (command == "monitor")
            return run_monitor(ctx);
        if (command == "trends")
            return run_trends(ctx);
        if (command == "incidents")
            return run_incidents(ctx);
        if (command == "explain")
            return run_explain(ctx);
        if (command == "domains")
            return run_domains(ctx);
        if (command == "alerts")
            return run_alerts(ctx);
        throw usage_error("unknown command \"" + command + "\"");
    } catch (const usage_error& e) {
        std::cerr << "stswatch: " << e.what() << " (see stswatch --help)\n";
        return usage;
    } catch (const command_error& e) {
        std::cerr << e.what() << "\n";
        return e.code();
    } catch (const stswatch::store_unavailable& e) {
        return database_unavailable(e);
    } catch (const Poco::Exception& e) {
        std::cerr << "stswatch: " << e.displayText() << "\n";
        return software;
    } catch (const std::exception& e) {
        std::cerr << "stswatch: " << e.what() << "\n";
        return software;
    }
}
