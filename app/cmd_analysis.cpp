// The analysis commands (docs/analysis.md):
//   stswatch trends DOMAIN [--since DATE] [--until DATE] [--by day|week|month]
//                          [--group result-type|mx|org|sending-ip|policy-type] [--json]
//   stswatch incidents DOMAIN [--since DATE] [--until DATE] [--no-refresh] [--json]
//   stswatch explain DOMAIN [--since DATE] [--until DATE] [--no-refresh] [--json]
//   stswatch domains [--json]
// Dates are UTC days; without --since/--until, the last 30 days up to today.
#include "app/cli.hpp"

#include "analyzer/api_contracts.hpp"
#include "analyzer/explain.hpp"
#include "analyzer/health.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/trends.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"
#include "store/analysis_store.hpp"
#include "tlsrpt/report_json.hpp"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace stswatch::cli {

namespace {

using namespace stswatch::analysis;
using std::chrono::days;

constexpr int default_range_days = 30;

utc_date today_utc()
{
    return std::chrono::floor<days>(std::chrono::system_clock::now());
}

utc_date day_option(const std::string& command, const std::string& option, const std::string& value)
{
    if (auto d = parse_day(value))
        return *d;
    if (auto t = parse_date_or_datetime(value))
        return utc_date_of(*t);
    throw usage_error(command + ": " + option + " takes a UTC date (2026-11-17) or an RFC 3339 date-time, got \"" + value + "\"");
}

struct range {
    utc_date since{}, until{};
};

// --since/--until, defaulting to the last 30 days up to today.
range take_range(context& ctx, const std::string& command)
{
    std::string value;
    std::optional<utc_date> since, until;
    if (take_option(ctx.args, "--since", value))
        since = day_option(command, "--since", value);
    if (take_option(ctx.args, "--until", value))
        until = day_option(command, "--until", value);
    range r;
    r.until = until ? *until : today_utc();
    r.since = since ? *since : r.until - days{default_range_days - 1};
    if (r.since > r.until)
        throw usage_error(command + ": --since " + format_day(r.since) + " is after --until " + format_day(r.until));
    if (r.until - r.since > days{366 * 20})
        throw usage_error(command + ": the range " + format_day(r.since) + ".." + format_day(r.until) + " is over 20 years");
    return r;
}

std::string take_domain(context& ctx, const std::string& command)
{
    reject_unknown_options(ctx.args, command);
    if (ctx.args.empty())
        throw usage_error(command + ": needs a DOMAIN");
    if (ctx.args.size() > 1)
        throw usage_error(command + ": unexpected argument \"" + ctx.args[1] + "\"");
    std::string domain = normalize_domain(ctx.args.front());
    if (!is_valid_domain(domain))
        throw usage_error(command + ": \"" + ctx.args.front() + "\" is not a domain name");
    return domain;
}

// Reads go to analyzer.db.url (a replica) when set; refreshes write, to db.url.
std::string read_url(const context& ctx)
{
    return ctx.settings.analyzer_db_url.empty() ? require_db_url(ctx) : ctx.settings.analyzer_db_url;
}

std::string percent(double rate)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %%", rate * 100.0);
    return buf;
}

std::string bar(double fraction, std::size_t width)
{
    // Eighths of a block, so that small rates still show.
    static const char* const parts[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    const double cells = std::clamp(fraction, 0.0, 1.0) * static_cast<double>(width);
    const auto whole = static_cast<std::size_t>(cells);
    const auto eighth = static_cast<std::size_t>((cells - static_cast<double>(whole)) * 8.0);
    std::string out;
    for (std::size_t i = 0; i < whole; ++i)
        out += "█";
    if (whole < width)
        out += parts[eighth];
    return out;
}

// A table: columns left-aligned except those marked numeric.
void print_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& numeric)
{
    std::vector<std::size_t> width(numeric.size(), 0);
    auto display_width = [](const std::string& s) {
        std::size_t n = 0;
        for (unsigned char c : s)
            n += (c & 0xC0) != 0x80;   // code points, for the bars
        return n;
    };
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], display_width(r[i]));
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            const std::size_t pad = width[i] - display_width(r[i]);
            if (i)
                line += "  ";
            if (numeric[i])
                line += std::string(pad, ' ') + r[i];
            else
                line += r[i] + (i + 1 < r.size() ? std::string(pad, ' ') : "");
        }
        line.erase(line.find_last_not_of(' ') + 1);
        std::cout << line << "\n";
    }
}

void print_trends(const trends_result& t)
{
    const auto& q = t.request;
    std::cout << q.domain << ": " << format_day(q.since) << " .. " << format_day(q.until) << " (UTC), by " << bucket_name(q.by)
              << "; counted sessions (docs/analysis.md)\n";
    double max_rate = 0;
    for (const auto& p : t.series)
        max_rate = std::max(max_rate, failure_rate(p.successful, p.failed));
    std::vector<std::vector<std::string>> rows;
    rows.push_back({std::string(q.by == bucket::day ? "DAY" : q.by == bucket::week ? "WEEK" : "MONTH"), "SUCCESS", "FAILED",
                    "RATE", "", "TOP RESULT TYPES"});
    for (const auto& p : t.series) {
        auto types = p.result_types;
        std::sort(types.begin(), types.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        std::string top;
        for (std::size_t i = 0; i < types.size() && i < 2; ++i)
            top += (i ? ", " : "") + types[i].first + " " + std::to_string(types[i].second);
        if (types.size() > 2)
            top += ", …";
        const double rate = failure_rate(p.successful, p.failed);
        rows.push_back({format_day(p.start), std::to_string(p.successful), std::to_string(p.failed),
                        p.successful + p.failed ? percent(rate) : "-", max_rate > 0 ? bar(rate / max_rate, 20) : "", top});
    }
    rows.push_back({"total", std::to_string(t.successful), std::to_string(t.failed),
                    t.successful + t.failed ? percent(failure_rate(t.successful, t.failed)) : "-", "", ""});
    print_table(rows, {false, true, true, true, false, false});
    if (q.group) {
        std::cout << "\nby " << group_name(*q.group) << ":\n";
        if (t.groups.empty()) {
            std::cout << "nothing reported\n";
            return;
        }
        std::vector<std::vector<std::string>> g;
        g.push_back({"KEY", "SUCCESS", "FAILED", "RATE", "FIRST", "LAST"});
        for (const auto& x : t.groups)
            g.push_back({x.key.empty() ? "(none)" : x.key, x.successful ? std::to_string(*x.successful) : "-",
                         std::to_string(x.failed), x.successful ? percent(failure_rate(*x.successful, x.failed)) : "-",
                         format_day(x.first_seen), format_day(x.last_seen)});
        print_table(g, {false, true, true, true, false, false});
        if (*q.group == trend_group::result_type || *q.group == trend_group::mx || *q.group == trend_group::sending_ip)
            std::cout << "(reports count successful sessions per policy only, not per " << group_name(*q.group) << ")\n";
    }
}

int trends_command(context& ctx)
{
    const std::string command = "trends";
    const auto r = take_range(ctx, command);
    trends_request q;
    q.since = r.since;
    q.until = r.until;
    std::string value;
    if (take_option(ctx.args, "--by", value)) {
        auto b = parse_bucket(value);
        if (!b)
            throw usage_error("trends: --by takes day, week or month, got \"" + value + "\"");
        q.by = *b;
    }
    if (take_option(ctx.args, "--group", value)) {
        auto g = parse_group(value);
        if (!g)
            throw usage_error("trends: --group takes result-type, mx, org, sending-ip or policy-type, got \"" + value + "\"");
        q.group = *g;
    }
    const bool json = take_flag(ctx.args, "--json");
    q.domain = take_domain(ctx, command);
    analysis_store store(read_url(ctx));
    const auto t = query_trends(store, q);
    if (json)
        std::cout << trends_json(t);
    else
        print_trends(t);
    return ok;
}

// Incidents are computed by `stswatch serve` as reports arrive; a command run without it
// (after `stswatch import`) computes the domain's first, unless told not to.
void maybe_refresh(analysis_store& store, const std::string& domain, const range& r, bool refresh)
{
    if (!refresh)
        return;
    const utc_date today = today_utc();
    refresh_incidents(store, domain, std::min(r.since, today), today);
}

void print_incidents(const std::vector<incident_row>& rows)
{
    if (rows.empty()) {
        std::cout << "no incidents\n";
        return;
    }
    std::vector<std::vector<std::string>> t;
    t.push_back({"ID", "ONSET", "END", "DIMENSION", "KEY", "FAILED", "RATE", "BASELINE", "STATUS"});
    for (const auto& r : rows)
        t.push_back({std::to_string(r.id), format_day(r.onset), r.end ? format_day(*r.end) : "ongoing", r.dimension,
                     r.key, std::to_string(r.failed_sessions), percent(r.failure_rate), percent(r.baseline_rate),
                     r.acknowledged_at ? r.status + " (acknowledged)" : r.status});
    print_table(t, {true, false, false, false, false, true, true, true, false});
}

int incidents_command(context& ctx)
{
    const std::string command = "incidents";
    const bool has_range = std::find_if(ctx.args.begin(), ctx.args.end(), [](const std::string& a) {
        return a.rfind("--since", 0) == 0 || a.rfind("--until", 0) == 0;
    }) != ctx.args.end();
    const auto r = take_range(ctx, command);
    const bool json = take_flag(ctx.args, "--json");
    const bool refresh = !take_flag(ctx.args, "--no-refresh");
    const auto domain = take_domain(ctx, command);
    analysis_store store(require_db_url(ctx));
    maybe_refresh(store, domain, r, refresh);
    // Without a range: every stored incident.
    const auto rows = has_range ? store.incidents(domain, r.since, r.until) : store.incidents(domain, std::nullopt, std::nullopt);
    if (json) {
        std::cout << incidents_list_json(domain, rows);
    } else {
        print_incidents(rows);
    }
    return ok;
}

void print_explain(const explain_result& e)
{
    std::cout << e.domain << ": incidents " << format_day(e.since) << " .. " << format_day(e.until) << " (UTC)\n";
    if (e.incidents.empty()) {
        std::cout << "no incidents\n";
        return;
    }
    for (const auto& x : e.incidents) {
        const auto& r = x.incident;
        std::cout << "\n#" << r.id << " " << r.dimension << " " << r.key << ", " << format_day(r.onset) << " .. "
                  << (r.end ? format_day(*r.end) : "ongoing") << "\n";
        std::cout << "  " << incident_summary(r, x.causes) << "\n";
        for (const auto& c : x.causes) {
            std::cout << "  " << c.rank << ". " << c.kind << " " << c.code << " (" << c.subject << ")";
            if (c.first_seen)
                std::cout << ", since " << *c.first_seen;
            if (c.at)
                std::cout << ", at " << *c.at;
            std::cout << "\n";
            for (const auto& line : c.evidence)
                std::cout << "     - " << line << "\n";
        }
        if (!x.related.empty()) {
            std::cout << "  related:";
            for (const auto& rel : x.related)
                std::cout << " #" << rel.id << " " << rel.dimension << " " << rel.key;
            std::cout << "\n";
        }
    }
}

int explain_command(context& ctx)
{
    const std::string command = "explain";
    const auto r = take_range(ctx, command);
    const bool json = take_flag(ctx.args, "--json");
    const bool refresh = !take_flag(ctx.args, "--no-refresh");
    const auto domain = take_domain(ctx, command);
    analysis_store store(require_db_url(ctx));
    maybe_refresh(store, domain, r, refresh);
    const auto e = explain(store, domain, r.since, r.until);
    if (json)
        std::cout << explain_json(e);
    else
        print_explain(e);
    return ok;
}

void print_domains(const std::vector<domain_health>& rows)
{
    if (rows.empty()) {
        std::cout << "no domains: none monitored (stswatch monitor add DOMAIN), no report stored\n";
        return;
    }
    std::vector<std::vector<std::string>> t;
    t.push_back({"DOMAIN", "STATE", "7 DAYS", "BASELINE", "SESSIONS", "INCIDENTS", "CHECK ERRORS", "LAST REPORT"});
    for (const auto& h : rows) {
        const auto& r = h.row;
        const auto n = r.recent_successful + r.recent_failed;
        t.push_back({r.domain, h.state, n ? percent(h.recent_rate) : "-",
                     r.baseline_successful + r.baseline_failed ? percent(h.baseline_rate) : "-", std::to_string(n),
                     std::to_string(r.open_incidents), r.error_findings.empty() ? "-" : text::join(r.error_findings, ","),
                     r.last_report_day ? format_day(*r.last_report_day) : "never"});
    }
    print_table(t, {false, false, true, true, true, true, false, false});
}

int domains_command(context& ctx)
{
    const bool json = take_flag(ctx.args, "--json");
    reject_unknown_options(ctx.args, "domains");
    if (!ctx.args.empty())
        throw usage_error("domains: unexpected argument \"" + ctx.args.front() + "\"");
    analysis_store store(read_url(ctx));
    const utc_date today = today_utc();
    const auto rows = domains_health(store, today);
    if (json)
        std::cout << domains_json(rows, today);
    else
        print_domains(rows);
    return ok;
}

} // namespace

int run_trends(context& ctx) { return trends_command(ctx); }
int run_incidents(context& ctx) { return incidents_command(ctx); }
int run_explain(context& ctx) { return explain_command(ctx); }
int run_domains(context& ctx) { return domains_command(ctx); }

} // namespace stswatch::cli
