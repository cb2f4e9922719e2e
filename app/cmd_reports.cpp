// stswatch reports list [--domain D] [--since DATE] [--until DATE] [--limit N] [--json]
// stswatch reports reparse [--since DATE] [--domain D] [--dry-run] [--json]
// stswatch reports rejected [--all] [--limit N] [--json]; reports rejected show ID [--raw]
// stswatch reports retry ID…|--all [--json]
#include "app/cli.hpp"

#include "collector/reparse.hpp"
#include "store/connection.hpp"

#include "tlsrpt/report_json.hpp"
#include "store/report_store.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <array>
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

std::int64_t id_argument(const std::string& value, const char* command)
{
    try {
        std::size_t used = 0;
        const long long n = std::stoll(value, &used);
        if (used == value.size() && n > 0)
            return n;
    } catch (const std::exception&) {
    }
    throw usage_error(std::string(command) + ": takes the ID of a refused report (a positive number, as "
                      "`stswatch reports rejected` lists them), got \"" + value + "\"");
}

std::string status_of(const rejected_row& r)
{
    if (r.report)
        return r.retry_result + " (report " + std::to_string(*r.report) + ")";
    if (r.truncated)
        return "truncated";
    if (r.retried_at)
        return "refused again";
    return "pending";
}

void print_rejected_json(const std::vector<rejected_row>& rows)
{
    std::string out = "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        out += i ? ",\n{" : "\n{";
        out += "\"id\":" + std::to_string(r.id);
        out += ",\"first-received-at\":\"" + format_rfc3339(r.first_received_at) + "\"";
        out += ",\"last-received-at\":\"" + format_rfc3339(r.last_received_at) + "\"";
        out += ",\"times\":" + std::to_string(r.times) + ",\"transport\":";
        append_json_string(out, r.transport);
        out += ",\"source\":";
        append_json_string(out, r.source_address);
        out += ",\"reason\":";
        append_json_string(out, r.reason);
        out += ",\"size\":" + std::to_string(r.size) + ",\"truncated\":" + (r.truncated ? "true" : "false");
        out += ",\"status\":";
        append_json_string(out, status_of(r));
        if (r.retried_at)
            out += ",\"retried-at\":\"" + format_rfc3339(*r.retried_at) + "\"";
        if (r.report)
            out += ",\"report\":" + std::to_string(*r.report);
        out += "}";
    }
    out += rows.empty() ? "]\n" : "\n]\n";
    std::cout << out;
}

int rejected_command(context& ctx)
{
    if (!ctx.args.empty() && ctx.args.front() == "show") {
        ctx.args.erase(ctx.args.begin());
        const bool raw = take_flag(ctx.args, "--raw");
        reject_unknown_options(ctx.args, "reports rejected show");
        if (ctx.args.size() != 1)
            throw usage_error("reports rejected show: takes one ID");
        const auto id = id_argument(ctx.args.front(), "reports rejected show");
        auto conn = open_connection(require_db_url(ctx));
        const auto kept = load_rejected(*conn, id);
        if (!kept) {
            std::cerr << "stswatch: reports rejected show: no refused report " << id << " is kept\n";
            return no_input;
        }
        if (raw) {
            // The bytes as received, for `stswatch parse -` or a bug report.
            std::cout.write(kept->raw.data(), static_cast<std::streamsize>(kept->raw.size()));
            return ok;
        }
        const auto& r = kept->row;
        std::cout << "id: " << r.id << "\nstatus: " << status_of(r) << "\nreason: " << r.reason
                  << "\nfirst refused: " << format_rfc3339(r.first_received_at)
                  << "\nlast refused: " << format_rfc3339(r.last_received_at) << " (" << r.times
                  << (r.times == 1 ? " time)" : " times)") << "\nvia: " << r.transport << " from " << r.source_address
                  << "\nsize: " << r.size << " bytes" << (r.truncated ? ", of which the first " + std::to_string(kept->raw.size()) + " are kept" : "")
                  << "\n";
        if (r.retried_at)
            std::cout << "retried: " << format_rfc3339(*r.retried_at) << ": " << r.retry_result << "\n";
        for (const auto& [key, value] : kept->metadata)
            std::cout << "metadata " << key << ": " << value << "\n";
        return ok;
    }
    const bool all = take_flag(ctx.args, "--all");
    const bool json = take_flag(ctx.args, "--json");
    std::size_t limit = 100;
    std::string value;
    if (take_option(ctx.args, "--limit", value))
        limit = static_cast<std::size_t>(id_argument(value, "reports rejected --limit"));
    reject_unknown_options(ctx.args, "reports rejected");
    if (!ctx.args.empty())
        throw usage_error("reports rejected: unexpected argument \"" + ctx.args.front() + "\" (show ID?)");
    auto conn = open_connection(require_db_url(ctx));
    const auto rows = list_rejected(*conn, !all, limit);
    if (json) {
        print_rejected_json(rows);
        return ok;
    }
    if (rows.empty()) {
        std::cout << (all ? "no refused reports kept\n" : "no refused reports waiting for a retry\n");
        return ok;
    }
    std::vector<std::array<std::string, 7>> lines{{"ID", "LAST REFUSED (UTC)", "TIMES", "VIA", "SOURCE", "STATUS", "REASON"}};
    for (const auto& r : rows)
        lines.push_back({std::to_string(r.id), format_rfc3339(r.last_received_at), std::to_string(r.times), r.transport,
                         r.source_address, status_of(r), r.reason});
    std::size_t width[7] = {};
    for (const auto& l : lines)
        for (int i = 0; i < 7; ++i)
            width[i] = std::max(width[i], l[static_cast<std::size_t>(i)].size());
    for (const auto& l : lines) {
        std::string s;
        for (int i = 0; i < 7; ++i) {
            s += l[static_cast<std::size_t>(i)];
            if (i < 6)
                s += std::string(width[i] - l[static_cast<std::size_t>(i)].size() + 2, ' ');
        }
        std::cout << s << "\n";
    }
    std::cout << rows.size() << (rows.size() == 1 ? " refused report" : " refused reports")
              << (all ? "" : " waiting for a retry (`stswatch reports retry ID` or `--all`)") << "\n";
    return ok;
}

int retry_command(context& ctx)
{
    const bool all = take_flag(ctx.args, "--all");
    const bool json = take_flag(ctx.args, "--json");
    reject_unknown_options(ctx.args, "reports retry");
    if (all == !ctx.args.empty())
        throw usage_error("reports retry: takes the IDs of refused reports, or --all (every one waiting)");
    std::vector<std::int64_t> ids;
    for (const auto& a : ctx.args)
        ids.push_back(id_argument(a, "reports retry"));
    retry_options options;
    options.max_report_bytes = ctx.settings.max_report_bytes;
    options.limits.max_depth = ctx.settings.max_json_depth;
    options.accept_domains = ctx.settings.accept_domains;

    const auto db_url = require_db_url(ctx);
    prepare_database(db_url);   // storing: the schema of this version first, as import does
    auto conn = open_connection(db_url);
    if (all)
        for (const auto& r : list_rejected(*conn, true, 1000000))
            ids.push_back(r.id);
    std::size_t taken = 0, again = 0;
    for (const auto id : ids) {
        const auto r = guarded("connection lost", [&] { return retry_rejected(*conn, id, options); });
        const bool took = r.result == "stored" || r.result == "duplicate";
        ++(took ? taken : again);
        if (json) {
            std::string out = "{\"id\":" + std::to_string(r.id) + ",\"result\":\"" + r.result + "\"";
            if (!r.reason.empty()) {
                out += ",\"reason\":";
                append_json_string(out, r.reason);
            }
            if (!r.report_id.empty()) {
                out += ",\"organization-name\":";
                append_json_string(out, r.organization);
                out += ",\"report-id\":";
                append_json_string(out, r.report_id);
            }
            if (r.report)
                out += ",\"report\":" + std::to_string(*r.report);
            std::cout << out << "}\n";
            continue;
        }
        std::cout << r.id << ": " << r.result;
        if (!r.report_id.empty())
            std::cout << " " << r.organization << " " << r.report_id;
        if (r.report)
            std::cout << " (report " << *r.report << ")";
        if (!r.reason.empty())
            std::cout << ": " << r.reason;
        std::cout << "\n";
    }
    if (!json)
        std::cout << "reports retry: " << taken << " taken, " << again << " still refused\n";
    return again ? data_error : ok;
}

} // namespace

int run_reports(context& ctx)
{
    if (ctx.args.empty())
        throw usage_error("reports: needs a subcommand: list, reparse, rejected, retry");
    std::string sub = ctx.args.front();
    ctx.args.erase(ctx.args.begin());
    if (sub == "list")
        return list_command(ctx);
    if (sub == "reparse")
        return reparse_command(ctx);
    if (sub == "rejected")
        return rejected_command(ctx);
    if (sub == "retry")
        return retry_command(ctx);
    throw usage_error("reports: unknown subcommand \"" + sub + "\"");
}

} // namespace stswatch::cli
