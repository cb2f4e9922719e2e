// stswatch reports list [--domain D] [--since DATE] [--until DATE] [--limit N] [--json]
#include "app/cli.hpp"

#include "tlsrpt/report_json.hpp"
#include "store/report_store.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace stswatch::cli {

namespace {

utc_time date_option(const std::string& option, const std::string& value)
{
    auto t = parse_date_or_datetime(value);
    if (!t)
        throw usage_error("reports list: " + option + " takes a date (2025-07-08) or an RFC 3339 date-time, got \"" + value + "\"");
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

} // namespace

int run_reports(context& ctx)
{
    if (ctx.args.empty())
        throw usage_error("reports: needs a subcommand: list");
    std::string sub = ctx.args.front();
    ctx.args.erase(ctx.args.begin());
    if (sub == "list")
        return list_command(ctx);
    throw usage_error("reports: unknown subcommand \"" + sub + "\"");
}

} // namespace stswatch::cli
