// `stswatch explain` (docs/analysis.md "Causes").
#include "analyzer/explain.hpp"

#include "analyzer/json_out.hpp"
#include "store/analysis_store.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace stswatch::analysis {

namespace {

using std::chrono::days;

// Snapshots before the onset that the evidence reads (the run of checks that carried a
// finding into the incident, the policy versions senders may still apply).
constexpr int evidence_lookback_days = 35;

utc_date until_of(const incident_row& r) { return r.end ? *r.end : r.last_day; }

std::string rfc3339_day_start(utc_date d) { return format_rfc3339(start_of(d)); }

// How specific an incident is to a cause: an MX or a sender names where to look.
int specificity(const std::string& dimension)
{
    if (dimension == "mx" || dimension == "organization")
        return 3;
    if (dimension == "result-type" || dimension == "new-result-type")
        return 2;
    if (dimension == "domain")
        return 1;
    return 0;
}

bool shares(const std::vector<std::string>& a, const std::vector<std::string>& b)
{
    for (const auto& x : a)
        if (std::find(b.begin(), b.end(), x) != b.end())
            return true;
    return false;
}

bool related(const incident_row& a, const incident_row& b)
{
    if (a.dimension == "silent-reporter" || b.dimension == "silent-reporter")
        return false;
    const auto gap = a.onset > b.onset ? a.onset - b.onset : b.onset - a.onset;
    if (gap > days{1})
        return false;
    if (a.dimension == "domain" || b.dimension == "domain")
        return true;
    return shares(a.mx, b.mx) || shares(a.result_types, b.result_types);
}

double top_score(const explained_incident& e)
{
    return e.causes.empty() || e.causes.front().kind == "unexplained" ? 0.0 : e.causes.front().score;
}

std::string percent(double rate)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, rate >= 0.1 ? "%.0f %%" : "%.1f %%", rate * 100.0);
    return buf;
}

} // namespace

std::vector<explained_incident> group_related(std::vector<explained_incident> incidents)
{
    // The primary of a group: the best-explained, then the most specific, then the most failures.
    std::sort(incidents.begin(), incidents.end(), [](const explained_incident& a, const explained_incident& b) {
        if (top_score(a) != top_score(b))
            return top_score(a) > top_score(b);
        const int sa = specificity(a.incident.dimension), sb = specificity(b.incident.dimension);
        if (sa != sb)
            return sa > sb;
        if (a.incident.failed_sessions != b.incident.failed_sessions)
            return a.incident.failed_sessions > b.incident.failed_sessions;
        return a.incident.id < b.incident.id;
    });
    std::vector<explained_incident> groups;
    std::vector<bool> used(incidents.size(), false);
    for (std::size_t i = 0; i < incidents.size(); ++i) {
        if (used[i])
            continue;
        used[i] = true;
        explained_incident primary = std::move(incidents[i]);
        for (std::size_t k = i + 1; k < incidents.size(); ++k)
            if (!used[k] && related(primary.incident, incidents[k].incident)) {
                used[k] = true;
                primary.related.push_back(std::move(incidents[k].incident));
            }
        groups.push_back(std::move(primary));
    }
    // Newest onset first; within one onset the order above (best explained first).
    std::stable_sort(groups.begin(), groups.end(), [](const explained_incident& a, const explained_incident& b) {
        return a.incident.onset > b.incident.onset;
    });
    return groups;
}

explain_result explain(analysis_store& store, const std::string& domain, utc_date since, utc_date until)
{
    explain_result result;
    result.domain = domain;
    result.since = since;
    result.until = until;
    auto rows = store.incidents(domain, since, until);
    if (rows.empty())
        return result;

    // One read of the evidence for every incident: from before the earliest onset to the day
    // after the latest end.
    utc_date first = rows.front().onset, last = until_of(rows.front());
    for (const auto& r : rows) {
        first = std::min(first, r.onset);
        last = std::max(last, until_of(r));
    }
    const correlate_params params;
    const std::string ev_from = rfc3339_day_start(first - days{evidence_lookback_days});
    // An ongoing incident's evidence reaches to the latest check.
    bool ongoing = false;
    for (const auto& r : rows)
        ongoing = ongoing || !r.end;
    const utc_date today = std::chrono::floor<days>(std::chrono::system_clock::now());
    const std::string ev_to = rfc3339_day_start(std::max(last, ongoing ? today : last) + days{2});
    evidence all;
    all.findings = store.findings(domain, ev_from, ev_to);
    all.snapshots = store.snapshots(domain, ev_from, ev_to);
    all.changes = store.changes(domain, rfc3339_day_start(first - days{params.change_window_days}), ev_to);
    all.sender_policies = store.sender_policies(domain, first, last);
    all.rollups = store.rollups(domain, first, last);

    std::vector<explained_incident> explained;
    for (auto& r : rows) {
        evidence ev;
        ev.findings = all.findings;
        ev.snapshots = all.snapshots;
        ev.changes = all.changes;
        const utc_date from = r.onset, to = until_of(r);
        for (const auto& p : all.sender_policies)
            if (p.day >= from && p.day <= to)
                ev.sender_policies.push_back(p);
        for (const auto& x : all.rollups)
            if (x.day >= from && x.day <= to)
                ev.rollups.push_back(x);
        explained_incident e;
        e.causes = correlate(r, ev, params);
        e.incident = std::move(r);
        explained.push_back(std::move(e));
    }
    result.incidents = group_related(std::move(explained));
    return result;
}

std::string incident_summary(const incident_row& r, const std::vector<cause>& causes)
{
    std::string s = "Since " + format_day(r.onset);
    if (r.end)
        s = "From " + format_day(r.onset) + " to " + format_day(*r.end);
    const auto n = r.organizations.size();
    s += ", " + std::to_string(n) + (n == 1 ? " sender" : " senders");
    s += r.end ? " failed" : " fail";
    if (r.dimension == "silent-reporter") {
        s = (r.end ? "From " + format_day(r.onset) + " to " + format_day(*r.end) + ", " : "Since " + format_day(r.onset) + ", ")
            + r.key + " sent no report while other senders did";
    } else {
        if (!r.mx.empty())
            s += " to deliver to " + r.mx.front() + (r.mx.size() > 1 ? " and " + std::to_string(r.mx.size() - 1) + " other MX" : "");
        else
            s += " to deliver";
        if (!r.result_types.empty())
            s += " with " + r.result_types.front()
                 + (r.result_types.size() > 1 ? " (and " + std::to_string(r.result_types.size() - 1) + " other result types)" : "");
        s += " (" + std::to_string(r.failed_sessions) + " failed sessions, " + percent(r.failure_rate) + " of "
             + std::to_string(r.sessions) + ", baseline " + percent(r.baseline_rate) + ")";
    }
    s += ".";
    if (!causes.empty()) {
        const auto& c = causes.front();
        if (c.kind == "unexplained")
            s += " No finding, change or sender explains it.";
        else
            s += " Probable cause: " + (c.evidence.empty() ? c.code + " (" + c.subject + ")" : c.evidence.front());
    }
    return s;
}

std::string explain_json(const explain_result& result)
{
    json_out j;
    j.begin_object();
    j.field("domain", result.domain).field("since", result.since).field("until", result.until);
    j.key("incidents").begin_array();
    for (const auto& e : result.incidents) {
        const auto& r = e.incident;
        j.begin_object();
        j.field("id", std::to_string(r.id));
        j.field("onset", r.onset);
        j.key("end");
        if (r.end)
            j.value(*r.end);
        else
            j.null();
        j.field("last_day", r.last_day).field("status", r.status);
        j.field("dimension", r.dimension).field("key", r.key);
        j.key("result_types").strings(r.result_types);
        j.key("mx").strings(r.mx);
        j.key("organizations").strings(r.organizations);
        j.field("failed_sessions", r.failed_sessions).field("sessions", r.sessions);
        j.field("failure_rate", r.failure_rate).field("baseline_rate", r.baseline_rate);
        j.field("summary", incident_summary(r, e.causes));
        j.key("causes").begin_array();
        for (const auto& c : e.causes) {
            j.begin_object();
            j.field("rank", c.rank).field("kind", c.kind).field("code", c.code).field("subject", c.subject);
            if (c.first_seen)
                j.field("first_seen", *c.first_seen);
            if (c.at)
                j.field("at", *c.at);
            j.key("evidence").strings(c.evidence);
            j.end_object();
        }
        j.end_array();
        j.key("related").begin_array();
        for (const auto& x : e.related) {
            j.begin_object();
            j.field("id", std::to_string(x.id)).field("dimension", x.dimension).field("key", x.key);
            j.field("onset", x.onset);
            j.key("end");
            if (x.end)
                j.value(*x.end);
            else
                j.null();
            j.field("failed_sessions", x.failed_sessions);
            j.end_object();
        }
        j.end_array();
        j.end_object();
    }
    j.end_array();
    j.end_object();
    return j.take() + "\n";
}

} // namespace stswatch::analysis
