// stswatch monitor add DOMAIN… | remove DOMAIN… | list [--json] | changes DOMAIN [--limit N] [--json]
//
// The domains `stswatch serve` checks every monitor.interval, and what changed in them.
#include "app/cli.hpp"

#include "checks/monitor.hpp"
#include "tlsrpt/report_json.hpp"
#include "common/domain.hpp"
#include "store/migrations.hpp"
#include "common/utf8.hpp"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace stswatch::cli {

namespace {

// Connects and brings the schema up to date (the monitor's tables may be newer than the
// database), as serve does at start. An unreachable database is "unavailable" (69), as
// for the other interactive commands.
std::unique_ptr<monitor_store> open_store(const context& ctx)
{
    const std::string url = require_db_url(ctx);
    try {
        migrate_database(url);
        return std::make_unique<monitor_store>(url);
    } catch (const store_unavailable&) {
        throw;   // main: "stswatch: database: cannot connect: …", 69
    } catch (const store_error& e) {
        throw command_error(unavailable, "stswatch: database: " + first_line(e.what()));
    }
}

// Every argument checked before any is stored: a typo does not leave half the list added.
std::vector<std::string> domains_of(const std::vector<std::string>& args, const std::string& command)
{
    if (args.empty())
        throw usage_error("monitor " + command + ": needs at least one DOMAIN");
    std::vector<std::string> out;
    for (const auto& arg : args) {
        const std::string d = normalize_domain(arg);
        if (d.empty() || !is_valid_domain(d) || d.find('.') == std::string::npos)
            throw command_error(data_error, "stswatch: monitor " + command + ": \"" + arg + "\": not a valid domain name");
        out.push_back(d);
    }
    return out;
}

void no_more_options(context& ctx, const std::string& command)
{
    reject_unknown_options(ctx.args, "monitor " + command);
}

// add and remove: the domain names of the command line, then one line of outcome each.
template <typename Action>
int change_monitored(context& ctx, const std::string& command, Action outcome)
{
    no_more_options(ctx, command);
    const auto domains = domains_of(ctx.args, command);
    auto store = open_store(ctx);
    for (const auto& d : domains)
        std::cout << outcome(*store, d) << "\n";
    return ok;
}

int add_command(context& ctx)
{
    return change_monitored(ctx, "add", [&](monitor_store& store, const std::string& d) {
        return store.add(d) ? "added " + d + " (first check at the next poll of stswatch serve, then every " +
                                  std::to_string(ctx.settings.monitor_interval) + " s)"
                            : d + " was already monitored";
    });
}

int remove_command(context& ctx)
{
    return change_monitored(ctx, "remove", [](monitor_store& store, const std::string& d) {
        return store.remove(d) ? "removed " + d + " (its snapshots and change events are kept)"
                               : d + " was not monitored";
    });
}

std::string json_string(const std::string& s)
{
    std::string out;
    append_json_string(out, s);
    return out;
}

std::string json_optional(const std::optional<std::string>& s) { return s ? json_string(*s) : "null"; }

void print_table(const std::vector<std::vector<std::string>>& lines)
{
    std::vector<std::size_t> width;
    for (const auto& l : lines) {
        width.resize(std::max(width.size(), l.size()));
        for (std::size_t i = 0; i < l.size(); ++i)
            width[i] = std::max(width[i], l[i].size());
    }
    for (const auto& l : lines) {
        std::ostringstream row;
        for (std::size_t i = 0; i < l.size(); ++i)
            row << std::setw(static_cast<int>(width[i])) << std::left << l[i] << (i + 1 < l.size() ? "  " : "");
        std::string s = row.str();
        s.erase(s.find_last_not_of(' ') + 1);
        std::cout << s << "\n";
    }
}

int list_command(context& ctx)
{
    const bool json = take_flag(ctx.args, "--json");
    no_more_options(ctx, "list");
    if (!ctx.args.empty())
        throw usage_error("monitor list: unexpected argument \"" + ctx.args.front() + "\"");
    auto store = open_store(ctx);
    const auto domains = store->list();
    if (json) {
        std::string out = "[";
        for (std::size_t i = 0; i < domains.size(); ++i) {
            const auto& m = domains[i];
            out += i ? ",\n" : "\n";
            out += "{\"domain\":" + json_string(m.domain) + ",\"added_at\":" + json_string(m.added_at) +
                   ",\"last_checked_at\":" + json_optional(m.last_checked_at) +
                   ",\"next_check_at\":" + json_optional(m.next_check_at) +
                   ",\"errors\":" + std::to_string(m.errors) + ",\"warnings\":" + std::to_string(m.warnings) + "}";
        }
        out += domains.empty() ? "]\n" : "\n]\n";
        std::cout << out;
        return ok;
    }
    if (domains.empty()) {
        std::cout << "no monitored domains (add one with: stswatch monitor add DOMAIN)\n";
        return ok;
    }
    std::vector<std::vector<std::string>> lines = {{"DOMAIN", "ADDED", "LAST CHECK", "ERRORS", "WARNINGS", "NEXT CHECK"}};
    for (const auto& m : domains) {
        const bool checked = m.last_checked_at.has_value();
        lines.push_back({m.domain, m.added_at, m.last_checked_at.value_or("never"),
                         checked ? std::to_string(m.errors) : "-", checked ? std::to_string(m.warnings) : "-",
                         m.next_check_at.value_or("-")});
    }
    print_table(lines);
    std::cout << domains.size() << (domains.size() == 1 ? " domain\n" : " domains\n");
    return ok;
}

// A value on one table line: policy texts have several lines.
std::string one_line(const std::string& value)
{
    if (value.empty())
        return "-";
    std::string out;
    for (char c : value) {
        if (c == '\r')
            continue;
        if (c == '\n') {
            if (!out.empty() && out.back() != ' ')
                out += "; ";
            continue;
        }
        out += c;
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ';'))
        out.pop_back();
    // The domain's own text (policies, records): never raw to the terminal.
    out = terminal_safe(to_valid_utf8(out));
    constexpr std::size_t max_width = 72;
    if (out.size() > max_width)
        out = std::string(utf8_prefix(out, max_width - 3)) + "...";
    return out;
}

int changes_command(context& ctx)
{
    std::size_t limit = 100;
    std::string value;
    if (take_option(ctx.args, "--limit", value)) {
        try {
            std::size_t used = 0;
            const long long n = std::stoll(value, &used);
            if (used != value.size() || n <= 0)
                throw std::invalid_argument(value);
            limit = static_cast<std::size_t>(n);
        } catch (const std::exception&) {
            throw usage_error("monitor changes: --limit takes a positive number, got \"" + value + "\"");
        }
    }
    const bool json = take_flag(ctx.args, "--json");
    no_more_options(ctx, "changes");
    if (ctx.args.size() != 1)
        throw usage_error("monitor changes: needs exactly one DOMAIN");
    const std::string domain = domains_of(ctx.args, "changes").front();
    auto store = open_store(ctx);
    const auto changes = store->change_history(domain, limit);
    if (json) {
        std::string out = "[";
        for (std::size_t i = 0; i < changes.size(); ++i) {
            const auto& c = changes[i];
            out += i ? ",\n" : "\n";
            out += "{\"detected_at\":" + json_string(c.detected_at) + ",\"kind\":" + json_string(c.event.kind) +
                   ",\"subject\":" + json_string(c.event.subject) + ",\"before\":" + json_string(c.event.before) +
                   ",\"after\":" + json_string(c.event.after) + ",\"snapshot_id\":" + std::to_string(c.snapshot_id) + "}";
        }
        out += changes.empty() ? "]\n" : "\n]\n";
        std::cout << out;
        return ok;
    }
    if (changes.empty()) {
        std::cout << "no changes recorded for " << domain << "\n";
        return ok;
    }
    std::vector<std::vector<std::string>> lines = {{"DETECTED (UTC)", "KIND", "SUBJECT", "BEFORE", "AFTER"}};
    for (const auto& c : changes)
        lines.push_back({c.detected_at, c.event.kind, c.event.subject, one_line(c.event.before), one_line(c.event.after)});
    print_table(lines);
    return ok;
}

} // namespace

int run_monitor(context& ctx)
{
    if (ctx.args.empty())
        throw usage_error("monitor: needs a subcommand: add, remove, list or changes");
    const std::string sub = ctx.args.front();
    ctx.args.erase(ctx.args.begin());
    if (sub == "add")
        return add_command(ctx);
    if (sub == "remove")
        return remove_command(ctx);
    if (sub == "list")
        return list_command(ctx);
    if (sub == "changes")
        return changes_command(ctx);
    throw usage_error("monitor: unknown subcommand \"" + sub + "\" (add, remove, list or changes)");
}

} // namespace stswatch::cli
