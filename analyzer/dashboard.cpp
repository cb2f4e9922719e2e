// The dashboard (docs/dashboard.md): sign-in, the domain list and a page per domain, all
// server-rendered HTML with inline SVG charts; forms POST with the CSRF token and redirect.
// Every value from the database or a report is HTML-escaped: reports are untrusted input.
#include "analyzer/dashboard.hpp"

#include "analyzer/dashboard_assets.hpp"
#include "analyzer/dashboard_pages.hpp"
#include "analyzer/explain.hpp"
#include "analyzer/health.hpp"
#include "analyzer/svg_chart.hpp"
#include "analyzer/trends.hpp"
#include "common/domain.hpp"
#include "mtasts/findings.hpp"
#include "store/analysis_store.hpp"
#include "store/monitor_store.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

namespace stswatch::web {

namespace {

using namespace std::chrono;
using analysis::bucket;

std::string h(std::string_view s) { return html_escape(s); }

std::string percent(double rate)
{
    if (!std::isfinite(rate))
        rate = 0;
    char buf[32];
    std::snprintf(buf, sizeof buf, rate > 0 && rate < 0.0001 ? "%.3f%%" : "%.2f%%", rate * 100);
    return buf;
}

// "1 error", "2 errors".
std::string count_of(unsigned n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

std::string number(std::int64_t n) { return svg::compact_number(static_cast<double>(n)); }

// "2026-11-17T09:12:00Z" as "2026-11-17 09:12 UTC".
std::string when(const std::string& rfc3339)
{
    if (rfc3339.size() >= 16 && rfc3339[10] == 'T')
        return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 5) + " UTC";
    return rfc3339;
}

std::string time_element(const std::string& rfc3339)
{
    return "<time datetime=\"" + h(rfc3339) + "\">" + h(when(rfc3339)) + "</time>";
}

std::string domain_url(const std::string& domain) { return "/domains/" + percent_encode(domain); }

std::string csrf_input(const std::string& csrf)
{
    return "<input type=\"hidden\" name=\"" + std::string(csrf_field) + "\" value=\"" + h(csrf) + "\">";
}

std::optional<std::string> field(const std::vector<std::pair<std::string, std::string>>& form, std::string_view name)
{
    for (const auto& [k, v] : form)
        if (k == name)
            return v;
    return std::nullopt;
}

std::string table(const std::string& caption, const std::string& head, const std::string& rows)
{
    // The caption above the scrolling box, so that a narrow screen shows it whole.
    return (caption.empty() ? "" : "<p class=\"note\">" + caption + "</p>") + "<div class=\"table-wrap\"><table><thead><tr>" +
           head + "</tr></thead><tbody>" + rows + "</tbody></table></div>";
}

response method_not_allowed(const char* allow)
{
    auto r = html_page(405, "Method not allowed", "<h1>Method not allowed</h1><p>This address takes " +
                                                      std::string(allow) + " only.</p>", {});
    r.headers.emplace_back("Allow", allow);
    return r;
}

// The store leases of a request: a connection that failed is not reused.
template <typename Lease, typename F>
auto with(Lease&& lease, F&& f)
{
    try {
        return f(*lease);
    } catch (...) {
        lease.broken();
        throw;
    }
}

// --- assets ---

response serve_asset(const request& r, std::string_view name)
{
    if (r.method != "GET" && r.method != "HEAD")
        return method_not_allowed("GET, HEAD");
    const asset* a = find_asset(name);
    if (!a)
        return html_page(404, "Not found", "<h1>Not found</h1>", {});
    response out;
    out.headers.emplace_back("ETag", a->etag);
    out.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    if (const auto* inm = r.header("if-none-match"); inm && inm->find(a->etag) != std::string::npos) {
        out.status = 304;
        out.content_type = std::string(a->content_type);
        return out;
    }
    out.content_type = std::string(a->content_type);
    out.body = std::string(a->body);
    return out;
}

// --- sign-in ---

std::string signin_form(const std::string& error)
{
    std::string o = "<h1>Sign in</h1>";
    if (!error.empty())
        o += "<p class=\"alert error\" role=\"alert\">" + h(error) + "</p>";
    o += "<form class=\"stack\" method=\"post\" action=\"/signin\">"
         "<div><label for=\"token\">API token</label>"
         "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required "
         "aria-describedby=\"token-help\"></div>"
         "<p id=\"token-help\" class=\"note\">The value of <code>api.token</code> in the configuration of "
         "<code>stswatch serve</code>.</p>"
         "<div><button type=\"submit\">Sign in</button></div></form>";
    return o;
}

response signin(const request& r, services& s)
{
    if (r.method == "GET" || r.method == "HEAD") {
        const caller c = authenticate(r, s);
        if (c.authenticated && c.by_session)
            return response::redirect("/");
        return html_page(200, "Sign in", signin_form(""), {});
    }
    if (r.method != "POST")
        return method_not_allowed("GET, HEAD, POST");
    if (const auto wait = s.guessing(r.remote))
        return html_page(429, "Sign in",
                         signin_form("Too many wrong tokens from this address. Try again in "
                                     + std::to_string(wait->count()) + " seconds."),
                         {});
    const auto token = field(r.form(), "token").value_or("");
    if (!secret_equal(token, s.settings().api_token)) {
        s.wrong_token(r.remote);
        return html_page(401, "Sign in", signin_form("That token is not the API token. Try again."), {});
    }
    const std::string cookie = s.sessions().issue(system_clock::now());
    auto out = response::redirect("/");
    out.headers.emplace_back("Set-Cookie", s.sessions().set_cookie(cookie, r.secure || s.tls()));
    return out;
}

// --- the domain list ---

std::string state_badge(const std::string& state)
{
    static const std::map<std::string, std::string> words = {{"ok", "OK"},
                                                             {"failing", "Failing"},
                                                             {"incident", "Incident"},
                                                             {"no-reports", "No reports"},
                                                             {"check-errors", "Check errors"}};
    const auto it = words.find(state);
    return "<span class=\"badge state-" + h(state) + "\">" + h(it == words.end() ? state : it->second) + "</span>";
}

response domain_list(services& s, const page_context& ctx)
{
    const auto rows = with(s.reads(), [&](analysis_store& st) { return analysis::domains_health(st, s.today()); });
    std::string body = "<h1>Domains</h1>";
    if (rows.empty()) {
        body += "<p>No domain yet: add one below to monitor it. Domains also appear here when reports for them "
                "arrive.</p>";
    } else {
        std::string trs;
        for (const auto& d : rows) {
            const auto& row = d.row;
            const bool reports = row.recent_successful + row.recent_failed > 0;
            std::string findings;
            for (const auto& code : row.error_findings)
                findings += (findings.empty() ? "" : ", ") + ("<code>" + h(code) + "</code>");
            trs += "<tr><th scope=\"row\"><a href=\"" + h(domain_url(row.domain)) + "\">" + h(row.domain) + "</a>" +
                   (row.monitored ? "" : " <span class=\"muted\">(not monitored)</span>") + "</th><td>" +
                   state_badge(d.state) + "</td><td class=\"num\">" + (reports ? percent(d.recent_rate) : "—") +
                   "</td><td class=\"num\">" + percent(d.baseline_rate) + "</td><td class=\"num\">" +
                   std::to_string(row.open_incidents) + "</td><td>" + (findings.empty() ? "none" : findings) +
                   "</td><td>" + (row.last_report_day ? h(format_day(*row.last_report_day)) : "never") + "</td></tr>";
        }
        body += table("Failure rates are of the last " + std::to_string(analysis::health_recent_days) +
                          " days, against the " + std::to_string(analysis::health_baseline_days) + " days before.",
                      "<th scope=\"col\">Domain</th><th scope=\"col\">State</th><th scope=\"col\" class=\"num\">"
                      "Failure rate (7 days)</th><th scope=\"col\" class=\"num\">Baseline</th><th scope=\"col\" "
                      "class=\"num\">Open incidents</th><th scope=\"col\">Error findings</th><th scope=\"col\">"
                      "Last report</th>",
                      trs);
    }
    body += "<h2>Add a domain</h2><form class=\"row\" method=\"post\" action=\"/domains\">" + csrf_input(ctx.csrf) +
            "<div><label for=\"new-domain\">Domain name</label><input id=\"new-domain\" name=\"domain\" "
            "type=\"text\" inputmode=\"url\" autocomplete=\"off\" spellcheck=\"false\" required "
            "placeholder=\"example.com\"></div><div><button type=\"submit\">Add and check</button></div></form>";
    return html_page(200, "Domains", body, ctx);
}

std::optional<std::string> valid_domain(const std::string& text)
{
    std::string d = normalize_domain(text);
    if (d.empty() || !is_valid_domain(d) || d.find('.') == std::string::npos)
        return std::nullopt;
    return d;
}

response add_domain(const request& r, services& s, const page_context& ctx)
{
    const auto d = valid_domain(field(r.form(), "domain").value_or(""));
    if (!d)
        return html_page(400, "Not a domain name",
                         "<h1>Not a domain name</h1><p>“" + h(field(r.form(), "domain").value_or("")) +
                             "” is not a valid domain name.</p><p><a href=\"/\">Back to the domains</a></p>",
                         ctx);
    with(s.monitor(), [&](monitor_store& m) {
        if (!m.add(*d))
            m.check_soon(*d);
        return 0;
    });
    return response::redirect(domain_url(*d));
}

// --- the domain page ---

struct view {
    int range = 30;
    std::string group = "result-type";
    bucket by = bucket::day;
    utc_date since{}, until{};
};

view view_of(const request& r, utc_date today)
{
    view v;
    if (const auto p = r.param("range"); p && (*p == "7" || *p == "30" || *p == "90" || *p == "365"))
        v.range = std::stoi(*p);
    if (const auto g = r.param("group"); g && (*g == "result-type" || *g == "mx" || *g == "org"))
        v.group = *g;
    v.by = v.range <= 30 ? bucket::day : (v.range <= 90 ? bucket::week : bucket::month);
    v.until = today;
    v.since = today - days(v.range - 1);
    return v;
}

std::string view_url(const std::string& domain, int range, const std::string& group)
{
    return domain_url(domain) + "?range=" + std::to_string(range) + "&group=" + group;
}

utc_date bucket_end(utc_date start, bucket b)
{
    switch (b) {
    case bucket::day: return start + days(1);
    case bucket::week: return start + days(7);
    case bucket::month: return analysis::bucket_start(start + days(31), bucket::month);
    }
    return start + days(1);
}

double day_number(utc_date d) { return static_cast<double>(d.time_since_epoch().count()); }

double day_number(const std::string& rfc3339)
{
    const auto t = parse_rfc3339(rfc3339);
    return t.value ? static_cast<double>(t.value->seconds) / 86400.0 : 0;
}

std::string change_title(const stored_change& c)
{
    std::string t = c.event.kind + " " + c.event.subject + " at " + when(c.detected_at);
    if (!c.event.before.empty() || !c.event.after.empty())
        t += " (" + (c.event.before.empty() ? std::string("none") : c.event.before) + " → " +
             (c.event.after.empty() ? std::string("none") : c.event.after) + ")";
    return t;
}

std::string charts(const std::string& domain, const view& v, const analysis::trends_result& t,
                   const std::vector<stored_change>& changes)
{
    const char* unit = v.by == bucket::day ? "day" : (v.by == bucket::week ? "week" : "month");
    svg::stacked_chart sessions, failures;
    sessions.id = "chart-sessions";
    failures.id = "chart-failures";
    std::vector<std::string> types;
    {
        std::set<std::string> seen;
        for (const auto& p : t.series)
            for (const auto& [type, n] : p.result_types)
                if (n > 0 && seen.insert(type).second)
                    types.push_back(type);
        std::sort(types.begin(), types.end());
    }
    svg::layer ok{"successful", "#166534", {}}, failed{"failed", "#b3261e", {}};
    std::vector<svg::layer> by_type;
    for (std::size_t i = 0; i < types.size(); ++i)
        by_type.push_back({types[i], svg::palette(i), {}});
    for (const auto& p : t.series) {
        svg::bar b{day_number(p.start), day_number(bucket_end(p.start, v.by)), format_day(p.start)};
        sessions.bars.push_back(b);
        failures.bars.push_back(b);
        ok.values.push_back(static_cast<double>(p.successful));
        failed.values.push_back(static_cast<double>(p.failed));
        for (std::size_t i = 0; i < types.size(); ++i) {
            std::int64_t n = 0;
            for (const auto& [type, count] : p.result_types)
                if (type == types[i])
                    n = count;
            by_type[i].values.push_back(static_cast<double>(n));
        }
    }
    sessions.layers = {ok, failed};
    failures.layers = by_type;
    for (auto* c : {&sessions, &failures}) {
        c->x_min = t.series.empty() ? day_number(v.since) : sessions.bars.front().x0;
        c->x_max = t.series.empty() ? day_number(v.until + days(1)) : sessions.bars.back().x1;
        for (const auto& ch : changes)
            c->markers.push_back({day_number(ch.detected_at), change_title(ch)});
    }
    const std::string range = format_day(v.since) + " to " + format_day(v.until);
    sessions.title = "Sessions per " + std::string(unit) + " of " + domain + ", " + range;
    sessions.desc = number(t.successful) + " successful and " + number(t.failed) + " failed sessions; " +
                    std::to_string(changes.size()) + " change events marked.";
    failures.title = "Failed sessions per " + std::string(unit) + " by result type, " + range;
    failures.desc = types.empty() ? "No failed sessions in this range."
                                  : "Failures stacked by result type: " + [&] {
                                        std::string s;
                                        for (const auto& ty : types)
                                            s += (s.empty() ? "" : ", ") + ty;
                                        return s;
                                    }() + ".";

    std::string o = "<figure><figcaption id=\"sessions-caption\">Sessions per " + std::string(unit) + "</figcaption>" +
                    svg::render_stacked(sessions) + svg::render_legend(sessions.layers) + "</figure>";
    if (by_type.empty())
        o += "<p class=\"note\">No failed sessions in this range.</p>";
    else
        o += "<figure><figcaption>Failed sessions by result type</figcaption>" + svg::render_stacked(failures) +
             svg::render_legend(by_type) + "</figure>";
    if (!changes.empty())
        o += "<p class=\"note\">Dashed lines mark the change events of the checks (listed under Monitoring).</p>";

    // The same numbers as a table.
    std::string head = "<th scope=\"col\">" + std::string(unit == std::string("day") ? "Day" : "From") +
                       "</th><th scope=\"col\" class=\"num\">Successful</th><th scope=\"col\" class=\"num\">Failed"
                       "</th><th scope=\"col\" class=\"num\">Failure rate</th>";
    for (const auto& ty : types)
        head += "<th scope=\"col\" class=\"num\">" + h(ty) + "</th>";
    std::string rows;
    for (std::size_t i = 0; i < t.series.size(); ++i) {
        const auto& p = t.series[i];
        rows += "<tr><th scope=\"row\">" + h(format_day(p.start)) + "</th><td class=\"num\">" +
                std::to_string(p.successful) + "</td><td class=\"num\">" + std::to_string(p.failed) +
                "</td><td class=\"num\">" + percent(analysis::failure_rate(p.successful, p.failed)) + "</td>";
        for (const auto& l : by_type)
            rows += "<td class=\"num\">" + std::to_string(static_cast<long long>(l.values[i])) + "</td>";
        rows += "</tr>";
    }
    o += "<details><summary>The numbers as a table</summary>" + table("", head, rows) + "</details>";
    return o;
}

std::string switches(const std::string& domain, const view& v)
{
    std::string o = "<nav aria-label=\"Range\"><ul class=\"switch\"><li class=\"label\">Range:</li>";
    for (const int r : {7, 30, 90, 365})
        o += "<li><a href=\"" + h(view_url(domain, r, v.group)) + "\"" +
             (r == v.range ? " aria-current=\"page\"" : "") + ">" + std::to_string(r) + " days</a></li>";
    o += "</ul></nav>";
    return o;
}

std::string group_switch(const std::string& domain, const view& v)
{
    std::string o = "<nav aria-label=\"Grouping\"><ul class=\"switch\"><li class=\"label\">Group by:</li>";
    for (const auto& [g, name] : std::vector<std::pair<std::string, std::string>>{
             {"result-type", "Result type"}, {"mx", "MX"}, {"org", "Sender"}})
        o += "<li><a href=\"" + h(view_url(domain, v.range, g)) + "\"" +
             (g == v.group ? " aria-current=\"page\"" : "") + ">" + name + "</a></li>";
    o += "</ul></nav>";
    return o;
}

std::string groups_table(const view& v, const analysis::trends_result& t)
{
    const std::string key = v.group == "mx" ? "MX" : (v.group == "org" ? "Sender" : "Result type");
    if (t.groups.empty())
        return "<p>No failed sessions in this range.</p>";
    std::string rows;
    for (const auto& g : t.groups)
        rows += "<tr><th scope=\"row\">" + (g.key.empty() ? std::string("<span class=\"muted\">(none named)</span>")
                                                           : "<span class=\"mono\">" + h(g.key) + "</span>") +
                "</th><td class=\"num\">" + (g.successful ? std::to_string(*g.successful) : "—") +
                "</td><td class=\"num\">" + std::to_string(g.failed) + "</td><td>" + h(format_day(g.first_seen)) +
                "</td><td>" + h(format_day(g.last_seen)) + "</td></tr>";
    return table("", "<th scope=\"col\">" + key + "</th><th scope=\"col\" class=\"num\">Successful</th><th scope=\"col\" "
                     "class=\"num\">Failed</th><th scope=\"col\">First seen</th><th scope=\"col\">Last seen</th>",
                 rows);
}

std::string incident_title(const incident_row& i)
{
    static const std::map<std::string, std::string> words = {
        {"domain", "The whole domain"},         {"mx", "MX"},
        {"result-type", "Result type"},         {"organization", "Sender"},
        {"new-result-type", "New result type"}, {"silent-reporter", "Silent reporter"}};
    const auto it = words.find(i.dimension);
    std::string t = it == words.end() ? i.dimension : it->second;
    if (i.dimension != "domain")
        t += " " + i.key;
    return t;
}

std::string incidents_section(const std::string& domain, const analysis::explain_result& ex, const page_context& ctx)
{
    std::string o = "<h2 id=\"incidents\">Incidents</h2>";
    if (ex.incidents.empty())
        return o + "<p>No incident in this range.</p>";
    for (const auto& e : ex.incidents) {
        const auto& i = e.incident;
        o += "<section class=\"incident" + std::string(i.end ? " ended" : "") + "\" data-incident=\"" +
             std::to_string(i.id) + "\" aria-labelledby=\"incident-" + std::to_string(i.id) + "\">";
        o += "<h3 id=\"incident-" + std::to_string(i.id) + "\">" + h(incident_title(i)) + " <span class=\"badge " +
             (i.end ? "state-no-reports\">ended" : "state-incident\">ongoing") + "</span></h3>";
        o += "<p>" + h(analysis::incident_summary(i, e.causes)) + "</p>";
        o += "<p class=\"muted\">Onset " + h(format_day(i.onset)) + ", last elevated day " + h(format_day(i.last_day)) +
             (i.end ? ", ended " + h(format_day(*i.end)) : std::string()) + "; " + std::to_string(i.failed_sessions) +
             " of " + std::to_string(i.sessions) + " sessions failed (" + percent(i.failure_rate) + ", baseline " +
             percent(i.baseline_rate) + ").</p>";
        o += "<h4>Probable causes</h4><ol class=\"causes\">";
        for (const auto& c : e.causes) {
            o += "<li class=\"cause\" data-kind=\"" + h(c.kind) + "\" data-code=\"" + h(c.code) + "\"><strong><code>" +
                 h(c.code) + "</code></strong> " + (c.subject.empty() ? "" : "on <span class=\"mono\">" + h(c.subject) + "</span> ") +
                 "<span class=\"muted\">(" + h(c.kind);
            if (c.first_seen)
                o += ", since " + time_element(*c.first_seen);
            if (c.at)
                o += ", at " + time_element(*c.at);
            o += ")</span>";
            if (const auto* k = c.kind == "finding" ? find_finding_kind(c.code) : nullptr)
                o += "<br>Fix: " + h(k->fix);
            if (!c.evidence.empty()) {
                o += "<ul class=\"evidence\">";
                for (const auto& line : c.evidence)
                    o += "<li>" + h(line) + "</li>";
                o += "</ul>";
            }
            o += "</li>";
        }
        o += "</ol>";
        if (!e.related.empty()) {
            o += "<p class=\"muted\">Related: ";
            for (std::size_t k = 0; k < e.related.size(); ++k)
                o += (k ? ", " : "") + h(incident_title(e.related[k]));
            o += ".</p>";
        }
        if (i.acknowledged_at) {
            o += "<p class=\"muted\">Acknowledged " + time_element(*i.acknowledged_at) +
                 (i.acknowledged_by ? " by " + h(*i.acknowledged_by) : std::string()) + ".</p>";
        } else {
            o += "<form class=\"inline\" method=\"post\" action=\"" + h(domain_url(domain)) + "/acknowledge\">" +
                 csrf_input(ctx.csrf) + "<input type=\"hidden\" name=\"incident\" value=\"" + std::to_string(i.id) +
                 "\"><button type=\"submit\" class=\"secondary\">Acknowledge</button></form>";
        }
        o += "</section>";
    }
    return o;
}

struct latest_check {
    std::string checked_at;
    struct item {
        std::string code, severity, subject, message, rfc;
    };
    std::vector<item> findings;
    std::string mode, sts_id;
    std::vector<std::string> mx;
};

std::optional<latest_check> parse_latest(const std::string& json)
{
    try {
        Poco::JSON::Parser parser;
        const auto doc = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        latest_check l;
        l.checked_at = doc->optValue<std::string>("checked_at", "");
        if (const auto f = doc->getArray("findings"))
            for (unsigned i = 0; i < f->size(); ++i) {
                const auto o = f->getObject(i);
                if (!o)
                    continue;
                l.findings.push_back({o->optValue<std::string>("code", ""), o->optValue<std::string>("severity", ""),
                                      o->optValue<std::string>("subject", ""), o->optValue<std::string>("message", ""),
                                      o->optValue<std::string>("rfc", "")});
            }
        if (const auto sts = doc->getObject("sts")) {
            if (!sts->isNull("id"))
                l.sts_id = sts->optValue<std::string>("id", "");
            if (const auto p = sts->getObject("policy"))
                l.mode = p->optValue<std::string>("mode", "");
        }
        if (const auto mx = doc->getArray("mx"))
            for (unsigned i = 0; i < mx->size(); ++i)
                if (const auto o = mx->getObject(i))
                    l.mx.push_back(o->optValue<std::string>("host", ""));
        return l;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string findings_section(const std::string& domain, const std::optional<monitored_domain>& m,
                             const std::optional<latest_check>& latest, const page_context& ctx)
{
    std::string o = "<h2 id=\"findings\">Findings of the last check</h2>";
    if (m) {
        o += "<form class=\"inline\" method=\"post\" action=\"" + h(domain_url(domain)) + "/check\">" +
             csrf_input(ctx.csrf) + "<button type=\"submit\">Check now</button></form>";
    }
    if (!latest) {
        o += m ? "<p class=\"alert\" role=\"status\" id=\"first-check\">First check running… this page refreshes "
                 "itself until it is done.</p>"
               : "<p>This domain is not monitored: there is no check.</p>";
        return o;
    }
    o += "<p id=\"last-check\">Checked " + time_element(latest->checked_at) + (latest->mode.empty() ? "" : "; policy mode <code>" + h(latest->mode) + "</code>") +
         (latest->sts_id.empty() ? "" : ", id <code>" + h(latest->sts_id) + "</code>") +
         (latest->mx.empty() ? "" : "; MX: <span class=\"mono\">" + [&] {
             std::string s;
             for (const auto& x : latest->mx)
                 s += (s.empty() ? "" : ", ") + h(x);
             return s;
         }() + "</span>") + ".</p>";
    if (latest->findings.empty())
        return o + "<p>No findings: the deployment looks right.</p>";
    for (const auto& f : latest->findings) {
        const auto* kind = find_finding_kind(f.code);
        o += "<div class=\"finding\" data-code=\"" + h(f.code) + "\"><p><span class=\"badge sev-" + h(f.severity) + "\">" +
             h(f.severity) + "</span> <strong><code>" + h(f.code) + "</code></strong> on <span class=\"mono\">" +
             h(f.subject) + "</span> <span class=\"muted\">" + h(f.rfc) + "</span></p><p>" + h(f.message) + "</p>" +
             (kind ? "<p><strong>Fix:</strong> " + h(kind->fix) + "</p>" : "") + "</div>";
    }
    return o;
}

std::string monitoring_section(const std::optional<monitored_domain>& m, const std::vector<stored_change>& history,
                               const std::vector<snapshot_facts>& checks)
{
    std::string o = "<h2 id=\"monitoring\">Monitoring</h2>";
    if (m) {
        o += "<ul class=\"cards\"><li><span class=\"k\">Monitored since</span><span class=\"v\">" + h(when(m->added_at)) +
             "</span></li><li><span class=\"k\">Last check</span><span class=\"v\">" +
             (m->last_checked_at ? h(when(*m->last_checked_at)) : "not yet") +
             "</span></li><li><span class=\"k\">Next check</span><span class=\"v\">" +
             (m->next_check_at ? h(when(*m->next_check_at)) : "—") +
             "</span></li><li><span class=\"k\">Last check found</span><span class=\"v\">" +
             count_of(m->errors, "error") + ", " + count_of(m->warnings, "warning") + "</span></li></ul>";
    }
    o += "<h3>Changes</h3>";
    if (history.empty()) {
        o += "<p>No change seen between checks.</p>";
    } else {
        std::string rows;
        for (const auto& c : history)
            rows += "<tr><td>" + time_element(c.detected_at) + "</td><td><code>" + h(c.event.kind) +
                    "</code></td><td class=\"mono\">" + h(c.event.subject) + "</td><td class=\"mono wrap\">" +
                    h(c.event.before) + "</td><td class=\"mono wrap\">" + h(c.event.after) + "</td></tr>";
        o += table("", "<th scope=\"col\">Seen</th><th scope=\"col\">Change</th><th scope=\"col\">Subject</th>"
                       "<th scope=\"col\">Before</th><th scope=\"col\">After</th>",
                   rows);
    }
    o += "<h3>Last checks</h3>";
    if (checks.empty()) {
        o += "<p>No check in this range.</p>";
    } else {
        std::string rows;
        std::size_t n = 0;
        for (auto it = checks.rbegin(); it != checks.rend() && n < 10; ++it, ++n)
            rows += "<tr><td>" + time_element(it->checked_at) + "</td><td>" +
                    (it->dns_unavailable ? "DNS did not answer" : "done") + "</td><td class=\"mono\">" +
                    h(it->sts_id.empty() ? "—" : it->sts_id) + "</td></tr>";
        o += table("", "<th scope=\"col\">Checked</th><th scope=\"col\">Outcome</th><th scope=\"col\">Policy id</th>", rows);
    }
    return o;
}

std::string reports_section(const report_page& page)
{
    std::string o = "<h2 id=\"reports\">Reports</h2>";
    if (page.rows.empty())
        return o + "<p>No report in this range.</p>";
    std::string rows;
    for (const auto& r : page.rows) {
        const std::string id = std::to_string(r.key);
        rows += "<tr><td>" + h(r.organization_name) + "</td><td class=\"mono\">" + h(r.report_id) + "</td><td>" +
                h(format_date(r.start_datetime)) + (format_date(r.start_datetime) == format_date(r.end_datetime)
                                                        ? std::string()
                                                        : " – " + h(format_date(r.end_datetime))) +
                "</td><td class=\"num\">" + std::to_string(r.successful_sessions) + "</td><td class=\"num\">" +
                std::to_string(r.failed_sessions) + "</td><td>" + h(when(format_rfc3339(r.received_at))) + "</td><td>" +
                (r.dkim_state.empty() ? "—" : h(r.dkim_state)) + "</td><td><a href=\"/api/v1/reports/" + id +
                "\">JSON</a> · <a href=\"/api/v1/reports/" + id + "/raw\">raw</a></td></tr>";
    }
    o += table(page.next_before_id ? "The newest 50 reports of the range." : "",
               "<th scope=\"col\">Sender</th><th scope=\"col\">Report id</th><th scope=\"col\">Days</th>"
               "<th scope=\"col\" class=\"num\">Successful</th><th scope=\"col\" class=\"num\">Failed</th>"
               "<th scope=\"col\">Received</th><th scope=\"col\">DKIM</th><th scope=\"col\">Report</th>",
               rows);
    return o;
}

std::string settings_section(const std::string& domain, const std::optional<monitored_domain>& m, services& s,
                             const page_context& ctx)
{
    std::string o = "<h2 id=\"settings\">Settings</h2>";
    if (!m) {
        return o + "<form class=\"row\" method=\"post\" action=\"/domains\">" + csrf_input(ctx.csrf) +
               "<input type=\"hidden\" name=\"domain\" value=\"" + h(domain) +
               "\"><button type=\"submit\">Monitor this domain</button></form>";
    }
    const auto& st = m->settings;
    const std::string default_mode = s.settings().alerts_digest ? "digest" : "immediate";
    const std::string mode = st.alert_mode.value_or("");
    o += "<form class=\"stack\" method=\"post\" action=\"" + h(domain_url(domain)) + "/settings\">" + csrf_input(ctx.csrf);
    o += "<div><label for=\"interval\">Check interval (seconds)</label><input id=\"interval\" name=\"interval_s\" "
         "type=\"number\" min=\"60\" max=\"604800\" inputmode=\"numeric\" value=\"" +
         (st.interval_s ? std::to_string(*st.interval_s) : "") + "\" placeholder=\"" +
         std::to_string(s.settings().monitor_interval) + " (default)\" aria-describedby=\"interval-help\">"
         "<span id=\"interval-help\" class=\"note\">60 to 604800; empty for the default.</span></div>";
    o += "<div><label for=\"alert-mode\">Alerts</label><select id=\"alert-mode\" name=\"alert_mode\">";
    for (const auto& [value, name] : std::vector<std::pair<std::string, std::string>>{
             {"", "Default (" + default_mode + ")"}, {"immediate", "Immediate"}, {"digest", "Daily digest"}, {"off", "Off"}})
        o += "<option value=\"" + value + "\"" + (value == mode ? " selected" : "") + ">" + h(name) + "</option>";
    o += "</select></div>";
    o += "<div><label for=\"quiet\">Quiet period (seconds)</label><input id=\"quiet\" name=\"quiet_period_s\" "
         "type=\"number\" min=\"0\" max=\"604800\" inputmode=\"numeric\" value=\"" +
         (st.quiet_period_s ? std::to_string(*st.quiet_period_s) : "") + "\" placeholder=\"" +
         std::to_string(s.settings().alerts_quiet_period) + " (default)\" aria-describedby=\"quiet-help\">"
         "<span id=\"quiet-help\" class=\"note\">No second alert for the domain within this time; empty for the "
         "default.</span></div><div><button type=\"submit\">Save settings</button></div></form>";
    o += "<h3>Remove</h3><p class=\"note\">Stops the checks; the reports and the history stay.</p>"
         "<form method=\"post\" action=\"" + h(domain_url(domain)) + "/remove\" data-confirm=\"Stop monitoring " +
         h(domain) + "?\">" + csrf_input(ctx.csrf) + "<button type=\"submit\" class=\"danger\">Remove " + h(domain) +
         "</button></form>";
    return o;
}

response domain_page(const request& r, services& s, const std::string& domain, page_context ctx)
{
    const view v = view_of(r, s.today());
    const std::string from = format_rfc3339(start_of(v.since)), to = format_rfc3339(start_of(v.until + days(1)));
    analysis::trends_request tq;
    tq.domain = domain;
    tq.since = v.since;
    tq.until = v.until;
    tq.by = v.by;
    tq.group = analysis::parse_group(v.group == "org" ? "org" : v.group);

    struct reads_data {
        analysis::trends_result trends;
        std::vector<stored_change> changes;
        analysis::explain_result explained;
        std::vector<snapshot_facts> checks;
        report_page reports;
    };
    auto data = with(s.reads(), [&](analysis_store& st) {
        reads_data d{analysis::query_trends(st, tq), st.changes(domain, from, to),
                     analysis::explain(st, domain, v.since, v.until), st.snapshots(domain, from, to), {}};
        report_query q;
        q.domain = domain;
        q.since = start_of(v.since);
        q.until = start_of(v.until + days(1));
        q.limit = 50;
        d.reports = st.reports(q, std::nullopt);
        return d;
    });
    struct monitor_data {
        std::optional<monitored_domain> domain;
        std::optional<snapshot_text> latest;
        std::vector<stored_change> history;
    };
    auto mon = with(s.monitor(), [&](monitor_store& m) {
        return monitor_data{m.get(domain), m.latest(domain), m.change_history(domain, 50)};
    });
    std::optional<latest_check> latest;
    if (mon.latest)
        latest = parse_latest(mon.latest->json);
    ctx.refresh = mon.domain && !mon.latest;

    std::string body = "<h1>" + h(domain) + "</h1>";
    body += "<nav aria-label=\"On this page\"><ul class=\"switch\"><li class=\"label\">On this page:</li>"
            "<li><a href=\"#trends\">Trends</a></li><li><a href=\"#incidents\">Incidents</a></li>"
            "<li><a href=\"#findings\">Findings</a></li><li><a href=\"#monitoring\">Monitoring</a></li>"
            "<li><a href=\"#reports\">Reports</a></li><li><a href=\"#settings\">Settings</a></li></ul></nav>";
    const auto open = std::count_if(data.explained.incidents.begin(), data.explained.incidents.end(),
                                    [](const auto& e) { return !e.incident.end; });
    body += "<ul class=\"cards\"><li><span class=\"k\">Failure rate, " + std::to_string(v.range) +
            " days</span><span class=\"v\">" + percent(analysis::failure_rate(data.trends.successful, data.trends.failed)) +
            "</span></li><li><span class=\"k\">Sessions</span><span class=\"v\">" +
            number(data.trends.successful + data.trends.failed) + "</span></li><li><span class=\"k\">Ongoing incidents"
            "</span><span class=\"v\">" + std::to_string(open) + "</span></li><li><span class=\"k\">Findings</span>"
            "<span class=\"v\">" + (latest ? std::to_string(latest->findings.size()) : std::string("—")) + "</span></li></ul>";
    body += "<h2 id=\"trends\">Trends</h2>" + switches(domain, v) + charts(domain, v, data.trends, data.changes);
    body += "<h3>Failures by group</h3>" + group_switch(domain, v) + groups_table(v, data.trends);
    body += incidents_section(domain, data.explained, ctx);
    body += findings_section(domain, mon.domain, latest, ctx);
    body += monitoring_section(mon.domain, mon.history, data.checks);
    body += reports_section(data.reports);
    body += settings_section(domain, mon.domain, s, ctx);
    return html_page(200, domain, body, ctx);
}

std::optional<unsigned> unsigned_field(const std::vector<std::pair<std::string, std::string>>& form,
                                       std::string_view name, bool& bad)
{
    const auto v = field(form, name);
    if (!v || v->empty())
        return std::nullopt;
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size()) {
        bad = true;
        return std::nullopt;
    }
    return n;
}

response domain_action(const request& r, services& s, const std::string& domain, const std::string& action,
                       const caller& c, const page_context& ctx)
{
    const auto form = r.form();
    const std::string back = domain_url(domain);
    const auto problem = [&](int status, const std::string& text) {
        return html_page(status, "Not saved", "<h1>Not saved</h1><p>" + h(text) + "</p><p><a href=\"" + h(back) +
                                                  "\">Back to " + h(domain) + "</a></p>",
                         ctx);
    };
    if (action == "check") {
        const bool ok = with(s.monitor(), [&](monitor_store& m) { return m.check_soon(domain); });
        return ok ? response::redirect(back + "#findings") : problem(404, domain + " is not monitored.");
    }
    if (action == "acknowledge") {
        long long id = 0;
        const auto text = field(form, "incident").value_or("");
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
        if (ec != std::errc() || end != text.data() + text.size() || text.empty())
            return problem(400, "No incident was named.");
        const auto found = with(s.reads(), [&](analysis_store& st) { return st.incident(id); });
        if (!found || found->domain != domain)
            return problem(404, "There is no such incident of " + domain + ".");
        with(s.writes(), [&](analysis_store& st) { return st.acknowledge(id, "dashboard (" + c.who + ")"); });
        return response::redirect(back + "#incidents");
    }
    if (action == "settings") {
        bool bad = false;
        domain_settings st;
        st.interval_s = unsigned_field(form, "interval_s", bad);
        st.quiet_period_s = unsigned_field(form, "quiet_period_s", bad);
        if (const auto mode = field(form, "alert_mode"); mode && !mode->empty())
            st.alert_mode.emplace(*mode);
        if (bad)
            return problem(400, "The interval and the quiet period are whole numbers of seconds.");
        try {
            const bool ok = with(s.monitor(), [&](monitor_store& m) { return m.set_settings(domain, st); });
            if (!ok)
                return problem(404, domain + " is not monitored.");
        } catch (const std::invalid_argument& e) {
            return problem(400, e.what());
        }
        return response::redirect(back + "#settings");
    }
    if (action == "remove") {
        with(s.monitor(), [&](monitor_store& m) { return m.remove(domain); });
        return response::redirect("/");
    }
    return html_page(404, "Not found", "<h1>Not found</h1>", ctx);
}

} // namespace

response html_page(int status, const std::string& title, const std::string& main, const page_context& ctx)
{
    response r;
    r.status = status;
    r.content_type = "text/html; charset=utf-8";
    std::string o;
    o.reserve(main.size() + 2048);
    o += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
         "content=\"width=device-width, initial-scale=1\">";
    if (ctx.refresh)
        o += "<meta http-equiv=\"refresh\" content=\"2\">";
    o += "<title>" + html_escape(title) + " · stswatch</title><link rel=\"icon\" href=\"data:,\"><link "
         "rel=\"stylesheet\" href=\"" + asset_url("app.css") + "\"><script src=\"" + asset_url("app.js") +
         "\" defer></script></head><body><a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"site\">"
         "<a href=\"/\">stswatch</a>";
    if (!ctx.csrf.empty())
        o += "<nav aria-label=\"Main\"><a href=\"/\">Domains</a></nav><form method=\"post\" action=\"/signout\">" +
             csrf_input(ctx.csrf) + "<button type=\"submit\">Sign out</button></form>";
    o += "</header><main id=\"main\" tabindex=\"-1\">" + main + "</main></body></html>";
    r.body = std::move(o);
    return r;
}

response handle_dashboard(const request& r, services& s)
{
    if (r.path.rfind("/assets/", 0) == 0)
        return serve_asset(r, std::string_view(r.path).substr(8));
    if (r.path == "/signin")
        return signin(r, s);

    const bool read = r.method == "GET" || r.method == "HEAD";
    if (!read && r.method != "POST")
        return method_not_allowed("GET, HEAD, POST");
    const caller c = authenticate(r, s);
    if (!c.authenticated || !c.by_session)
        return response::redirect("/signin");
    if (!read && !c.csrf_ok)
        return html_page(403, "Form expired",
                         "<h1>Form expired</h1><p>The form was not sent with this session's token. Reload the page "
                         "and try again.</p><p><a href=\"/\">Back to the domains</a></p>",
                         {});
    page_context ctx;
    ctx.csrf = s.sessions().csrf_for(r.cookie(session_cookie_name).value_or(""));

    if (r.path == "/signout") {
        if (read)
            return method_not_allowed("POST");
        auto out = response::redirect("/signin");
        out.headers.emplace_back("Set-Cookie", sessions::clear_cookie(r.secure || s.tls()));
        return out;
    }
    if (r.path == "/")
        return read ? domain_list(s, ctx) : method_not_allowed("GET, HEAD");
    if (r.path == "/domains")
        return read ? response::redirect("/") : add_domain(r, s, ctx);
    if (r.path.rfind("/domains/", 0) == 0) {
        std::string rest = r.path.substr(9), action;
        if (const auto slash = rest.find('/'); slash != std::string::npos) {
            action = rest.substr(slash + 1);
            rest = rest.substr(0, slash);
        }
        const auto domain = valid_domain(rest);
        if (!domain)
            return html_page(404, "Not found", "<h1>Not found</h1><p>That is not a domain name.</p>", ctx);
        if (*domain != rest)
            return response::redirect(domain_url(*domain), read ? 302 : 303);
        if (action.empty())
            return read ? domain_page(r, s, *domain, ctx) : method_not_allowed("GET, HEAD");
        if (read)
            return method_not_allowed("POST");
        return domain_action(r, s, *domain, action, c, ctx);
    }
    return html_page(404, "Not found", "<h1>Not found</h1><p>There is no page at this address.</p><p><a href=\"/\">"
                                       "Back to the domains</a></p>", ctx);
}

} // namespace stswatch::web
