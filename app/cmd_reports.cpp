// stswatch reports list [--domain D] [--since DATE] [--until DATE] [--limit N] [--json]
// stswatch reports reparse [--since DATE] [--domain D] [--dry-run] [--json]
#include "app/cli.hpp"

#include "collector/reparse.hpp"
#include "store/connection.hpp"

#include "tlsrpt/report_json.hpp"
#include "store/report_store.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace stswatch::cli {

namespace {

utc_time date_option(const std::string& option, const std::string& value, const char* command = "reports list")
{
    auto t = parse_date_or_datetime(value);
    if (!t)
        throw usage_error(std::string(command) + ": " + option + " takes a date (2025-07-08) or an RFC 3339 date-time, got \"" + value + "\"");
    return *t;
}

void print_json(const std::vector<report_row>& rows)
{
    std::string out = "[";
    bool first = true;
    for (const auto& r : rows) {
        if (!first)
            out += ",";
        first = false;
        out += "\n{\"organization-name\":";
        append_json_string(out, r.organization_name);
        out += ",\"report-id\":";
        append_json_string(out, r.report_id);
        out += ",\"start-datetime\":\"" + format_rfc3339(r.start_datetime) + "\"";
        out += ",\"end-datetime\":\"" + format_rfc3339(r.end_datetime) + "\"";
        out += ",\"policy-domains\":[";
        for (std::size_t i = 0; i < r.policy_domains.size(); ++i) {
            if (i)
                out += ",";
            append_json_string(out, r.policy_domains[i]);
        }
        out += "],\"total-successful-session-count\":" + std::to_string(r.successful_sessions);
        out += ",\"total-failure-session-count\":" + std::to_string(r.failed_sessions);
        out += ",\"transports\":[";
        for (std::size_t i = 0; i < r.transports.size(); ++i) {
            if (i)
                out += ",";
            append_json_string(out, r.transports[i]);
        }
        out += "],\"received-at\":\"" + format_rfc3339(r.received_at) + "\"";
        if (!r.dkim_state.empty()) {
            out += ",\"dkim\":";
            append_json_string(out, r.dkim_state);
            if (!r.dkim_domain.empty()) {
                out += ",\"dkim-domain\":";
                append_json_string(out, r.dkim_domain);
            }
        }
        out += "}";
    }
    out += rows.empty() ? "]\n" : "\n]\n";
    std::cout << out;
}

void print_table(const std::vector<report_row>& rows)
{
    if (rows.empty()) {
        std::cout << "no reports\n";
        return;
    }
    struct line { std::string cols[8]; };
    std::vector<line> lines;
    lines.push_back({{"RANGE (UTC)", "ORGANIZATION", "REPORT-ID", "DOMAINS", "SUCCESS", "FAILURE", "VIA", "DKIM"}});
    for (const auto& r : rows) {
        std::string range = format_date(r.start_datetime);
        if (format_date(r.end_datetime) != range && r.end_datetime.seconds - r.start_datetime.seconds > 86400)
            range += ".." + format_date(r.end_datetime);
        lines.push_back({{range, r.organization_name, r.report_id, text::join(r.policy_domains, ","),
                          std::to_string(r.successful_sessions), std::to_string(r.failed_sessions),
                          text::join(r.transports, ","),
                          r.dkim_state.empty() ? "-"
                          : r.dkim_domain.empty() ? r.dkim_state : r.dkim_state + " (" + r.dkim_domain + ")"}});
    }
    std::size_t width[8] = {};
    for (const auto& l : lines)
        for (int i = 0; i < 8; ++i)
            width[i] = std::max(width[i], l.cols[i].size());
    for (const auto& l : lines) {
        std::ostringstream row;
        for (int i = 0; i < 8; ++i) {
            bool numeric = (i == 4 || i == 5);
            if (numeric)
                row << std::setw(static_cast<int>(width[i])) << std::right << l.cols[i];
            else
                row << std::setw(static_cast<int>(width[i])) << std::left << l.cols[i];
            row << (i < 7 ? "  " : "");
        }
        std::string s = row.str();
        s.erase(s.find_last_not_of(' ') + 1);
        std::cout << s << "\n";
    }
    std::cout << rows.size() << (rows.size() == 1 ? " report\n" : " reports\n");
}

int list_command(context& ctx)
{
    report_query q;
    std::string value;
    if (take_option(ctx.args, "--domain", value))
        q.domain = normalize_domain(value);
    if (take_option(ctx.args, "--since", value))
        q.since = date_option("--since", value);
    if (take_option(ctx.args, "--until", value))
        q.until = date_option("--until", value);
    if (take_option(ctx.args, "--limit", value)) {
        try {
            std::size_t used = 0;
            long long n = std::stoll(value, &used);
            if (used != value.size() || n <= 0)
                throw std::invalid_argument(value);
            q.limit = static_cast<std::size_t>(n);
        } catch (const std::exception&) {
            throw usage_error("reports list: --limit takes a positive number, got \"" + value + "\"");
        }
    }
    bool json = take_flag(ctx.args, "--json");
    reject_unknown_options(ctx.args, "reports list");
    if (!ctx.args.empty())
        throw usage_error("reports list: unexpected argument \"" + ctx.args.front() + "\"");

    // A database down or without schema: store_unavailable, answered by main (69).
    const auto rows = list_reports(require_db_url(ctx), q);
    if (json)
        print_json(rows);
    else
        print_table(rows);
    return ok;
}

// Re-derives the stored rows of the selected reports from their kept bytes. One line per
// report that changes (or would), is refused now, or names another report; a summary last.
int reparse_command(context& ctx)
{
    reparse_options options;
    std::string value;
    if (take_option(ctx.args, "--domain", value))
        options.selection.domain = normalize_domain(value);
    if (take_option(ctx.args, "--since", value))
        options.selection.since = date_option("--since", value, "reports reparse");
    options.dry_run = take_flag(ctx.args, "--dry-run");
    const bool json = take_flag(ctx.args, "--json");
    reject_unknown_options(ctx.args, "reports reparse");
    if (!ctx.args.empty())
        throw usage_error("reports reparse: unexpected argument \"" + ctx.args.front() + "\"");
    options.max_report_bytes = ctx.settings.max_report_bytes;
    options.limits.max_depth = ctx.settings.max_json_depth;

    auto conn = open_connection(require_db_url(ctx));
    auto last_progress = std::chrono::steady_clock::now();
    const auto each = [&](const reparsed_report& r, const reparse_totals& totals) {
        if (r.result == reparse_result::unchanged && r.refusal.empty()) {
            // Long runs say how far they are, on stderr, every few seconds.
            const auto now = std::chrono::steady_clock::now();
            if (now - last_progress >= std::chrono::seconds(5)) {
                last_progress = now;
                std::cerr << "reports reparse: " << totals.examined << " of " << totals.selected << " reports\n";
            }
            return;
        }
        const char* what = !r.refusal.empty() ? "refused"
                         : r.result == reparse_result::changed ? (options.dry_run ? "would-change" : "changed")
                                                               : to_string(r.result);
        if (json) {
            std::string out = "{\"key\":" + std::to_string(r.key) + ",\"organization-name\":";
            append_json_string(out, r.organization);
            out += ",\"report-id\":";
            append_json_string(out, r.report_id);
            out += ",\"result\":\"" + std::string(what) + "\"";
            if (!r.refusal.empty()) {
                out += ",\"reason\":";
                append_json_string(out, r.refusal);
            }
            out += ",\"changes\":[";
            for (std::size_t i = 0; i < r.changes.size(); ++i) {
                if (i)
                    out += ",";
                append_json_string(out, r.changes[i]);
            }
            std::cout << out << "]}\n";
            return;
        }
        std::cout << what << " " << r.organization << " " << r.report_id << " (key " << r.key << ")";
        if (!r.refusal.empty())
            std::cout << ": " << r.refusal << "; left as stored";
        std::cout << "\n";
        for (const auto& c : r.changes)
            std::cout << "  " << c << "\n";
    };
    const auto totals = guarded("connection lost", [&] { return reparse_reports(*conn, options, each); });
    if (json) {
        std::cout << "{\"summary\":{\"examined\":" << totals.examined << ",\"changed\":" << totals.changed
                  << ",\"unchanged\":" << totals.unchanged << ",\"refused\":" << totals.refused
                  << ",\"identity-changed\":" << totals.identity_changed << ",\"missing\":" << totals.missing
                  << ",\"dry-run\":" << (options.dry_run ? "true" : "false") << "}}\n";
    } else {
        std::cout << "reports reparse: " << totals.examined << (totals.examined == 1 ? " report" : " reports")
                  << " examined, " << totals.changed << (options.dry_run ? " would change, " : " changed, ")
                  << totals.unchanged << " unchanged";
        if (totals.refused)
            std::cout << ", " << totals.refused << " refused by this version (left as stored)";
        if (totals.identity_changed)
            std::cout << ", " << totals.identity_changed << " naming another report (left as stored)";
        if (totals.missing)
            std::cout << ", " << totals.missing << " deleted meanwhile";
        std::cout << (options.dry_run ? "; dry run: nothing written\n" : "\n");
    }
    // A report this version refuses, or that names another: something for the operator to see.
    return totals.refused || totals.identity_changed ? data_error : ok;
}

} // namespace

int run_reports(context& ctx)
{
    if (ctx.args.empty())
        throw usage_error("reports: needs a subcommand: list, reparse");
    std::string sub = ctx.args.front();
    ctx.args.erase(ctx.args.begin());
    if (sub == "list")
        return list_command(ctx);
    if (sub == "reparse")
        return reparse_command(ctx);
    throw usage_error("reports: unknown subcommand \"" + sub + "\"");
}

} // namespace stswatch::cli
