// The JSON API under /api/v1/ (analyzer/api.hpp, docs/api.md).
#include "analyzer/api.hpp"

#include "analyzer/api_contracts.hpp"
#include "analyzer/explain.hpp"
#include "analyzer/health.hpp"
#include "analyzer/incidents.hpp"
#include "analyzer/json_out.hpp"
#include "analyzer/report_view.hpp"
#include "analyzer/trends.hpp"
#include "common/domain.hpp"
#include "mtasts/findings.hpp"
#include "store/analysis_store.hpp"
#include "store/monitor_store.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <charconv>
#include <climits>
#include <stdexcept>

namespace stswatch::web {

namespace {

using analysis::json_out;
using std::chrono::days;

constexpr int default_range_days = 30;
constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 500;
constexpr const char* cursor_prefix = "r1.";

// A bad request: 400 with the reason.
struct bad_request : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string quoted(const std::string& value)
{
    std::string out;
    append_json_string(out, value.size() > 100 ? value.substr(0, 100) + "..." : value);
    return out;
}

std::vector<std::string> segments(std::string_view path)
{
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        const auto slash = path.find('/', i);
        const auto end = slash == std::string_view::npos ? path.size() : slash;
        out.emplace_back(path.substr(i, end - i));
        i = end + 1;
    }
    // A trailing slash names the same resource.
    if (!out.empty() && out.back().empty())
        out.pop_back();
    return out;
}

// Runs f on a leased store; a store error breaks the lease (its connection is not reused).
template <typename Lease, typename F>
auto with(Lease lease, F f)
{
    try {
        return f(*lease);
    } catch (const store_error&) {
        lease.broken();
        throw;
    }
}

std::optional<long long> positive_id(const std::string& text)
{
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v <= 0)
        return std::nullopt;
    return v;
}

std::string domain_of(const std::string& text, const char* what)
{
    std::string d = normalize_domain(text);
    if (d.empty() || !is_valid_domain(d))
        throw bad_request(std::string(what) + ": " + quoted(text) + " is not a domain name");
    return d;
}

utc_date day_param(const request& r, const char* name, utc_date fallback)
{
    const auto v = r.param(name);
    if (!v)
        return fallback;
    if (auto d = parse_day(*v))
        return *d;
    if (auto t = parse_date_or_datetime(*v))
        return utc_date_of(*t);
    throw bad_request(std::string(name) + ": " + quoted(*v) + " is not a UTC date (2026-11-17) or an RFC 3339 date-time");
}

struct day_range {
    utc_date since{}, until{};
    bool given = false;    // since or until was given
};

// since/until, defaulting to the last 30 days up to today (the CLI's defaults).
day_range range_params(const request& r, const services& s)
{
    day_range out;
    out.given = r.param("since") || r.param("until");
    out.until = day_param(r, "until", s.today());
    out.since = day_param(r, "since", out.until - days{default_range_days - 1});
    if (out.since > out.until)
        throw bad_request("since: " + format_day(out.since) + " is after until " + format_day(out.until));
    if (out.until - out.since > days{366 * 20})
        throw bad_request("since: the range " + format_day(out.since) + ".." + format_day(out.until) + " is over 20 years");
    return out;
}

std::optional<utc_time> time_param(const request& r, const char* name)
{
    const auto v = r.param(name);
    if (!v)
        return std::nullopt;
    if (auto t = parse_date_or_datetime(*v))
        return t;
    throw bad_request(std::string(name) + ": " + quoted(*v) + " is not a UTC date (2026-11-17) or an RFC 3339 date-time");
}

response method_not_allowed(const request& r, const char* allow)
{
    auto out = response::error(405, r.method + " is not allowed on " + r.path + " (allowed: " + allow + ")");
    out.headers.emplace_back("Allow", allow);
    return out;
}

bool is_get(const request& r) { return r.method == "GET" || r.method == "HEAD"; }

// --- JSON of the write side ---

void settings_json(json_out& w, const domain_settings& d)
{
    w.begin_object();
    w.key("interval");
    if (d.interval_s)
        w.value(static_cast<std::int64_t>(*d.interval_s));
    else
        w.null();
    w.field("alert_mode", d.alert_mode);
    w.key("quiet_period");
    if (d.quiet_period_s)
        w.value(static_cast<std::int64_t>(*d.quiet_period_s));
    else
        w.null();
    w.end_object();
}

void effective_json(json_out& w, const domain_settings& d, const stswatch::settings& s)
{
    w.begin_object();
    w.field("interval", static_cast<std::int64_t>(d.interval_s.value_or(s.monitor_interval)));
    w.field("alert_mode", d.alert_mode.value_or(s.alerts_digest ? "digest" : "immediate"));
    w.field("quiet_period", static_cast<std::int64_t>(d.quiet_period_s.value_or(s.alerts_quiet_period)));
    w.end_object();
}

// `stswatch monitor list --json`'s item, with the domain's settings.
void monitored_fields(json_out& w, const monitored_domain& m, const stswatch::settings& s)
{
    w.field("added_at", m.added_at);
    w.field("last_checked_at", m.last_checked_at);
    w.field("next_check_at", m.next_check_at);
    w.field("errors", static_cast<std::int64_t>(m.errors));
    w.field("warnings", static_cast<std::int64_t>(m.warnings));
    w.key("settings");
    settings_json(w, m.settings);
    w.key("effective");
    effective_json(w, m.settings, s);
}

std::string monitored_json(const monitored_domain& m, const stswatch::settings& s)
{
    json_out w;
    w.begin_object();
    w.field("domain", m.domain);
    monitored_fields(w, m, s);
    w.end_object();
    return w.take() + "\n";
}

// The body of a write: a JSON object, or form fields (application/x-www-form-urlencoded).
struct write_body {
    Poco::JSON::Object::Ptr json;
    std::vector<std::pair<std::string, std::string>> form;
    bool is_form = false;
};

write_body body_of(const request& r)
{
    write_body b;
    const std::string* type = r.header("content-type");
    if (type && type->rfind("application/x-www-form-urlencoded", 0) == 0) {
        b.is_form = true;
        b.form = r.form();
        return b;
    }
    try {
        Poco::JSON::Parser parser;
        const auto value = parser.parse(r.body.empty() ? std::string("{}") : r.body);
        if (value.type() != typeid(Poco::JSON::Object::Ptr))
            throw bad_request("the body is not a JSON object");
        b.json = value.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw bad_request("the body is not JSON: " + e.displayText());
    }
    return b;
}

const std::string* form_field(const write_body& b, std::string_view name)
{
    for (const auto& [k, v] : b.form)
        if (k == name)
            return &v;
    return nullptr;
}

// --- The read side ---

response domains_list(services& s)
{
    const auto today = s.today();
    return with(s.reads(), [&](analysis_store& store) {
        return response::json(200, analysis::domains_json(analysis::domains_health(store, today), today));
    });
}

response not_known(const std::string& domain)
{
    return response::error(404, "domain " + quoted(domain) + " is neither monitored nor named by a stored report");
}

response domain_read(const request& r, services& s, const std::string& domain, const std::string& what)
{
    if (what == "trends") {
        analysis::trends_request q;
        const auto range = range_params(r, s);
        q.domain = domain;
        q.since = range.since;
        q.until = range.until;
        if (auto by = r.param("by")) {
            auto b = analysis::parse_bucket(*by);
            if (!b)
                throw bad_request("by: " + quoted(*by) + " is not day, week or month");
            q.by = *b;
        }
        if (auto group = r.param("group")) {
            auto g = analysis::parse_group(*group);
            if (!g)
                throw bad_request("group: " + quoted(*group) + " is not result-type, mx, org, sending-ip or policy-type");
            q.group = *g;
        }
        return with(s.reads(), [&](analysis_store& store) {
            if (!store.domain_known(domain))
                return not_known(domain);
            return response::json(200, analysis::trends_json(analysis::query_trends(store, q)));
        });
    }
    if (what == "incidents") {
        const auto range = range_params(r, s);
        return with(s.reads(), [&](analysis_store& store) {
            if (!store.domain_known(domain))
                return not_known(domain);
            // Without a range: every stored incident (as `stswatch incidents`).
            const auto rows = range.given ? store.incidents(domain, range.since, range.until)
                                          : store.incidents(domain, std::nullopt, std::nullopt);
            return response::json(200, analysis::incidents_list_json(domain, rows));
        });
    }
    if (what == "explain") {
        const auto range = range_params(r, s);
        return with(s.reads(), [&](analysis_store& store) {
            if (!store.domain_known(domain))
                return not_known(domain);
            return response::json(200, analysis::explain_json(analysis::explain(store, domain, range.since, range.until)));
        });
    }
    // checks
    auto latest = with(s.reads(), [&](analysis_store& store) {
        std::pair<bool, std::optional<analysis_store::latest_check_row>> out{store.domain_known(domain), std::nullopt};
        if (out.first)
            out.second = store.latest_check(domain);
        return out;
    });
    if (!latest.first)
        return not_known(domain);
    std::optional<monitored_domain> monitored;
    std::vector<stored_change> history;
    with(s.monitor(), [&](monitor_store& m) {
        monitored = m.get(domain);
        history = m.change_history(domain);
        return 0;
    });
    json_out w;
    w.begin_object();
    w.field("domain", domain);
    w.field("monitored", monitored.has_value());
    w.key("monitor");
    if (monitored) {
        w.begin_object();
        monitored_fields(w, *monitored, s.settings());
        w.end_object();
    } else {
        w.null();
    }
    w.key("latest_check");
    if (const auto& c = latest.second) {
        w.begin_object();
        w.field("snapshot_id", static_cast<std::int64_t>(c->snapshot_id));
        w.field("checked_at", c->checked_at);
        w.field("dns_unavailable", c->dns_unavailable);
        w.field("errors", static_cast<std::int64_t>(c->errors));
        w.field("warnings", static_cast<std::int64_t>(c->warnings));
        w.key("findings").begin_array();
        for (const auto& f : c->findings) {
            const auto* kind = find_finding_kind(f.code);
            w.begin_object();
            w.field("code", f.code).field("severity", f.severity).field("subject", f.subject).field("message", f.message);
            w.field("rfc", !f.rfc.empty() || !kind ? f.rfc : std::string(kind->rfc));
            w.key("meaning");
            if (kind)
                w.value(kind->meaning);
            else
                w.null();
            w.key("fix");
            if (kind)
                w.value(kind->fix);
            else
                w.null();
            w.end_object();
        }
        w.end_array();
        w.end_object();
    } else {
        w.null();
    }
    w.key("changes").begin_array();
    for (const auto& c : history) {
        w.begin_object();
        w.field("detected_at", c.detected_at).field("kind", c.event.kind).field("subject", c.event.subject);
        w.field("before", c.event.before).field("after", c.event.after);
        w.field("snapshot_id", static_cast<std::int64_t>(c.snapshot_id));
        w.end_object();
    }
    w.end_array();
    w.end_object();
    return response::json(200, w.take() + "\n");
}

std::string cursor_of(std::int64_t before_id) { return cursor_prefix + std::to_string(before_id); }

response reports_list(const request& r, services& s)
{
    report_query q;
    if (auto d = r.param("domain"))
        q.domain = domain_of(*d, "domain");
    q.since = time_param(r, "since");
    q.until = time_param(r, "until");
    if (q.since && q.until && *q.since > *q.until)
        throw bad_request("since: " + format_rfc3339(*q.since) + " is after until " + format_rfc3339(*q.until));
    q.limit = default_page;
    if (auto l = r.param("limit")) {
        const auto n = positive_id(*l);
        if (!n || *n > static_cast<long long>(max_page))
            throw bad_request("limit: " + quoted(*l) + " is not a number from 1 to " + std::to_string(max_page));
        q.limit = static_cast<std::size_t>(*n);
    }
    std::optional<std::int64_t> before;
    if (auto c = r.param("cursor")) {
        std::optional<long long> id;
        if (c->rfind(cursor_prefix, 0) == 0)
            id = positive_id(c->substr(std::string_view(cursor_prefix).size()));
        if (!id)
            throw bad_request("cursor: " + quoted(*c) + " is not a cursor of this API (use next_cursor as given)");
        before = *id;
    }
    const auto page = with(s.reads(), [&](analysis_store& store) { return store.reports(q, before); });
    std::string out = "{\"reports\":[";
    for (std::size_t i = 0; i < page.rows.size(); ++i) {
        if (i)
            out += ',';
        out += report_item_json(page.rows[i]);
    }
    out += "],\"limit\":" + std::to_string(q.limit) + ",\"next_cursor\":";
    if (page.next_before_id) {
        append_json_string(out, cursor_of(*page.next_before_id));
        std::string next = "/api/v1/reports?limit=" + std::to_string(q.limit) + "&cursor=" + cursor_of(*page.next_before_id);
        if (q.domain)
            next += "&domain=" + percent_encode(*q.domain);
        if (auto v = r.param("since"))
            next += "&since=" + percent_encode(*v);
        if (auto v = r.param("until"))
            next += "&until=" + percent_encode(*v);
        out += ",\"next\":";
        append_json_string(out, next);
    } else {
        out += "null,\"next\":null";
    }
    out += "}\n";
    return response::json(200, std::move(out));
}

response report_read(services& s, const std::string& id_text, bool raw)
{
    const auto id = positive_id(id_text);
    if (!id)
        throw bad_request("report id: " + quoted(id_text) + " is not a report id (a positive number)");
    const auto report = with(s.reads(), [&](analysis_store& store) { return store.report(*id); });
    if (!report)
        return response::error(404, "no report " + std::to_string(*id));
    const auto& st = s.settings();
    if (!raw)
        return response::json(200, report_view_json(*report, st.max_report_bytes, st.max_json_depth));
    auto d = report_raw_download(*report, st.max_report_bytes);
    response out;
    out.content_type = d.content_type;
    out.body = std::move(d.body);
    out.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + d.file_name + "\"");
    return out;
}

// --- The write side ---

response domain_add(const request& r, services& s)
{
    const auto b = body_of(r);
    std::string text;
    if (b.is_form) {
        const auto* v = form_field(b, "domain");
        if (!v)
            throw bad_request("domain: missing");
        text = *v;
    } else {
        if (!b.json->has("domain") || !b.json->get("domain").isString())
            throw bad_request("domain: missing, or not a string");
        text = b.json->getValue<std::string>("domain");
    }
    const std::string domain = domain_of(text, "domain");
    if (domain.find('.') == std::string::npos)
        throw bad_request("domain: " + quoted(text) + " is not a domain name with a dot");
    return with(s.monitor(), [&](monitor_store& m) {
        const bool added = m.add(domain);
        const auto got = m.get(domain);
        if (!got)
            throw std::runtime_error("the monitored domain " + domain + " is not found after adding it");
        auto out = response::json(added ? 201 : 200, monitored_json(*got, s.settings()));
        if (added)
            out.headers.emplace_back("Location", "/api/v1/domains/" + percent_encode(domain) + "/checks");
        return out;
    });
}

std::optional<unsigned> seconds_value(const Poco::Dynamic::Var& v, const char* name)
{
    if (v.isEmpty())
        return std::nullopt;
    if (!v.isInteger())
        throw bad_request(std::string(name) + ": " + quoted(v.toString()) + " is not a number of seconds or null");
    long long n = 0;
    try {
        n = v.convert<long long>();
    } catch (const Poco::Exception&) {
        throw bad_request(std::string(name) + ": " + quoted(v.toString()) + " is not a number of seconds or null");
    }
    if (n < 0 || n > UINT_MAX)
        throw bad_request(std::string(name) + ": " + std::to_string(n) + " seconds is out of range");
    return static_cast<unsigned>(n);
}

std::optional<unsigned> seconds_text(const std::string& v, const char* name)
{
    if (v.empty())
        return std::nullopt;
    const auto n = positive_id(v);
    if (v == "0")
        return 0u;
    if (!n || *n > UINT_MAX)
        throw bad_request(std::string(name) + ": " + quoted(v) + " is not a number of seconds");
    return static_cast<unsigned>(*n);
}

response domain_settings_put(const request& r, services& s, const std::string& domain)
{
    const auto b = body_of(r);
    return with(s.monitor(), [&](monitor_store& m) {
        const auto current = m.get(domain);
        if (!current)
            return response::error(404, "domain " + quoted(domain) + " is not monitored");
        // A key left out keeps its value; null (or an empty form field) is the default.
        domain_settings next = current->settings;
        if (b.is_form) {
            for (const auto& [k, v] : b.form) {
                if (k == "interval")
                    next.interval_s = seconds_text(v, "interval");
                else if (k == "quiet_period")
                    next.quiet_period_s = seconds_text(v, "quiet_period");
                else if (k == "alert_mode") {
                    if (v.empty())
                        next.alert_mode.reset();
                    else
                        next.alert_mode.emplace(v);
                }
            }
        } else {
            for (const auto& [k, v] : *b.json) {
                if (k == "interval")
                    next.interval_s = seconds_value(v, "interval");
                else if (k == "quiet_period")
                    next.quiet_period_s = seconds_value(v, "quiet_period");
                else if (k == "alert_mode") {
                    if (v.isEmpty())
                        next.alert_mode.reset();
                    else if (!v.isString())
                        throw bad_request("alert_mode: " + quoted(v.toString()) + " is not immediate, digest, off or null");
                    else
                        next.alert_mode.emplace(v.convert<std::string>());
                } else {
                    throw bad_request(k + ": not a setting (interval, alert_mode, quiet_period)");
                }
            }
        }
        try {
            if (!m.set_settings(domain, next))
                return response::error(404, "domain " + quoted(domain) + " is not monitored");
        } catch (const std::invalid_argument& e) {
            throw bad_request(e.what());
        }
        const auto got = m.get(domain);
        if (!got)
            return response::error(404, "domain " + quoted(domain) + " is not monitored");
        return response::json(200, monitored_json(*got, s.settings()));
    });
}

response domain_write(const request& r, services& s, const std::string& domain, const std::string& what)
{
    if (what == "delete") {
        return with(s.monitor(), [&](monitor_store& m) {
            if (!m.remove(domain))
                return response::error(404, "domain " + quoted(domain) + " is not monitored");
            response out;
            out.status = 204;
            out.content_type = "application/json";
            return out;
        });
    }
    if (what == "check") {
        return with(s.monitor(), [&](monitor_store& m) {
            if (!m.check_soon(domain))
                return response::error(404, "domain " + quoted(domain) + " is not monitored");
            const auto got = m.get(domain);
            if (!got)
                return response::error(404, "domain " + quoted(domain) + " is not monitored");
            return response::json(202, monitored_json(*got, s.settings()));
        });
    }
    return domain_settings_put(r, s, domain);
}

response acknowledge(const request& r, services& s, const caller& c, const std::string& id_text)
{
    (void)r;
    const auto id = positive_id(id_text);
    if (!id)
        throw bad_request("incident id: " + quoted(id_text) + " is not an incident id (a positive number)");
    const auto row = with(s.writes(), [&](analysis_store& store) { return store.acknowledge(*id, c.who); });
    if (!row)
        return response::error(404, "no incident " + std::to_string(*id));
    return response::json(200, analysis::incident_json(*row) + "\n");
}

response no_endpoint(const request& r) { return response::error(404, "no such endpoint: " + r.path); }

response route(const request& r, services& s, const caller& c)
{
    if (r.path != "/api/v1" && r.path.rfind("/api/v1/", 0) != 0)
        return no_endpoint(r);
    const auto parts = segments(std::string_view(r.path).substr(std::string_view("/api/v1").size()));
    // parts[0] is "" (the slash after v1).
    std::vector<std::string> p(parts.size() > 1 ? parts.begin() + 1 : parts.end(), parts.end());
    const bool write = r.method == "POST" || r.method == "PUT" || r.method == "DELETE";
    auto csrf = [&]() -> std::optional<response> {
        if (write && !c.csrf_ok)
            return response::error(403, "a write with the dashboard session needs its CSRF token (X-CSRF-Token header)");
        return std::nullopt;
    };
    if (p.size() == 1 && p[0] == "domains") {
        if (is_get(r))
            return domains_list(s);
        if (r.method == "POST") {
            if (auto e = csrf())
                return *e;
            return domain_add(r, s);
        }
        return method_not_allowed(r, "GET, HEAD, POST");
    }
    if (p.size() >= 2 && p.size() <= 3 && p[0] == "domains") {
        const std::string what = p.size() == 3 ? p[2] : "";
        const char* allow = nullptr;
        bool reading = false;
        if (what.empty())
            allow = "DELETE";
        else if (what == "trends" || what == "incidents" || what == "explain" || what == "checks") {
            allow = "GET, HEAD";
            reading = true;
        } else if (what == "check")
            allow = "POST";
        else if (what == "settings")
            allow = "PUT, POST";
        else
            return no_endpoint(r);
        const bool allowed = reading ? is_get(r)
                             : what.empty() ? r.method == "DELETE"
                             : what == "check" ? r.method == "POST"
                                               : r.method == "PUT" || r.method == "POST";
        if (!allowed)
            return method_not_allowed(r, allow);
        const std::string domain = domain_of(p[1], "domain");
        if (reading)
            return domain_read(r, s, domain, what);
        if (auto e = csrf())
            return *e;
        return domain_write(r, s, domain, what.empty() ? "delete" : what);
    }
    if (!p.empty() && p[0] == "reports" && p.size() <= 3) {
        if (p.size() == 3 && p[2] != "raw")
            return no_endpoint(r);
        if (!is_get(r))
            return method_not_allowed(r, "GET, HEAD");
        if (p.size() == 1)
            return reports_list(r, s);
        return report_read(s, p[1], p.size() == 3);
    }
    if (p.size() == 3 && p[0] == "incidents" && p[2] == "acknowledge") {
        if (r.method != "POST")
            return method_not_allowed(r, "POST");
        if (auto e = csrf())
            return *e;
        return acknowledge(r, s, c, p[1]);
    }
    return no_endpoint(r);
}

} // namespace

response handle_api(const request& r, services& s)
{
    const auto c = authenticate(r, s);
    if (auto refused = refuse_guessing(r, s, c))
        return *refused;
    if (!c.authenticated)
        return unauthorized();
    try {
        return route(r, s, c);
    } catch (const bad_request& e) {
        return response::error(400, e.what());
    }
}

} // namespace stswatch::web
