// Incident detection (docs/analysis.md "Incidents"). Each dimension and key gets a daily
// series of failed sessions f and a denominator n; a day is flagged against the key's own
// Jeffreys-smoothed baseline by a one-sided binomial test, a minimum count and the Wilson
// lower bound; a flagged day opens an incident once confirmed (the next day with reports is
// flagged too, or two organizations fail on their own); the incident ends after clear_days
// quiet days with reports. Pure: the rows in, the incidents out.
#include "analyzer/detect.hpp"

#include "analyzer/stats.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <map>
#include <set>

namespace stswatch::analysis {

namespace {

struct org_day {
    std::int64_t failed = 0, sessions = 0;
};

// The domain's loaded days, first..today, indexed from 0.
struct domain_days {
    utc_date first{};
    std::size_t count = 0;
    std::vector<std::int64_t> failed, sessions;              // the domain's summaries
    std::vector<std::map<std::string, org_day>> orgs;        // the organizations that reported, with their summaries
    std::vector<std::vector<const rollup_row*>> details;     // the failure rows
    std::optional<std::size_t> first_report;                 // the first day with a summary
};

// One dimension's key: its daily failures and denominator, the failures per organization
// (for the confirmation by two senders; empty for the organization dimension) and the
// failure rows that belong to it (for the incident's MX, result types and senders).
struct key_series {
    std::string dimension, key;
    std::vector<std::int64_t> f, n;
    std::vector<std::map<std::string, std::int64_t>> org_failed;
    std::vector<std::vector<const rollup_row*>> rows;
    bool new_type = false;                 // the new-result-type rule
    std::size_t new_day = 0;               // its only possible onset
};

struct found {
    std::size_t onset = 0, last = 0;
    std::optional<std::size_t> end;
    double p0 = 0, p = 1;
    std::set<std::size_t> elevated;
};

domain_days load(const std::vector<rollup_row>& rows, utc_date today)
{
    domain_days dd;
    bool any = false;
    for (const auto& r : rows)
        if (r.counted && r.day <= today && (!any || r.day < dd.first)) {
            dd.first = r.day;
            any = true;
        }
    if (!any)
        return dd;
    dd.count = static_cast<std::size_t>((today - dd.first).count()) + 1;
    dd.failed.assign(dd.count, 0);
    dd.sessions.assign(dd.count, 0);
    dd.orgs.resize(dd.count);
    dd.details.resize(dd.count);
    for (const auto& r : rows) {
        if (!r.counted || r.day > today)
            continue;
        const auto d = static_cast<std::size_t>((r.day - dd.first).count());
        if (r.result_type.empty()) {
            dd.failed[d] += r.failed;
            dd.sessions[d] += r.successful + r.failed;
            auto& o = dd.orgs[d][r.organization];
            o.failed += r.failed;
            o.sessions += r.successful + r.failed;
            if (!dd.first_report || d < *dd.first_report)
                dd.first_report = d;
        } else {
            dd.details[d].push_back(&r);
        }
    }
    return dd;
}

key_series empty_series(const domain_days& dd, std::string dimension, std::string key)
{
    key_series s;
    s.dimension = std::move(dimension);
    s.key = std::move(key);
    s.f.assign(dd.count, 0);
    s.n.assign(dd.count, 0);
    s.org_failed.resize(dd.count);
    s.rows.resize(dd.count);
    return s;
}

// The series of every dimension but the silent reporters.
std::vector<key_series> build_series(const domain_days& dd, const detect_params& params)
{
    std::vector<key_series> out;

    auto domain = empty_series(dd, "domain", "");
    std::map<std::string, key_series> mx, types, orgs;
    for (std::size_t d = 0; d < dd.count; ++d) {
        domain.f[d] = dd.failed[d];
        domain.n[d] = dd.sessions[d];
        domain.rows[d] = dd.details[d];
        for (const auto& [org, figures] : dd.orgs[d]) {
            if (figures.failed > 0)
                domain.org_failed[d][org] += figures.failed;
            auto it = orgs.find(org);
            if (it == orgs.end())
                it = orgs.emplace(org, empty_series(dd, "organization", org)).first;
            it->second.f[d] += figures.failed;
            it->second.n[d] += figures.sessions;
        }
        for (const rollup_row* r : dd.details[d]) {
            auto add = [&](std::map<std::string, key_series>& m, const char* dimension, const std::string& key) {
                auto it = m.find(key);
                if (it == m.end())
                    it = m.emplace(key, empty_series(dd, dimension, key)).first;
                it->second.f[d] += r->failed;
                it->second.org_failed[d][r->organization] += r->failed;
                it->second.rows[d].push_back(r);
            };
            if (!r->receiving_mx.empty())
                add(mx, "mx", r->receiving_mx);
            add(types, "result-type", r->result_type);
            auto it = orgs.find(r->organization);
            if (it == orgs.end())
                it = orgs.emplace(r->organization, empty_series(dd, "organization", r->organization)).first;
            it->second.rows[d].push_back(r);
        }
    }
    // The domain's sessions are the denominator of its MX and result types on every day,
    // also on days without a failure of that key.
    for (auto* m : {&mx, &types})
        for (auto& [key, s] : *m)
            s.n = domain.n;
    for (auto& [key, s] : orgs)
        s.org_failed.assign(dd.count, {});   // one sender: no second sender confirms

    out.push_back(std::move(domain));
    for (auto& [key, s] : mx)
        out.push_back(std::move(s));
    for (auto& [key, s] : types) {
        // A result type whose first failure in the loaded history comes after a full
        // baseline of the domain's reports.
        std::optional<std::size_t> first_failure;
        for (std::size_t d = 0; d < dd.count && !first_failure; ++d)
            if (s.f[d] > 0)
                first_failure = d;
        if (first_failure && dd.first_report &&
            *first_failure >= *dd.first_report + static_cast<std::size_t>(params.baseline_days) &&
            s.f[*first_failure] >= params.min_new_type_failed) {
            key_series fresh = s;
            fresh.dimension = "new-result-type";
            fresh.new_type = true;
            fresh.new_day = *first_failure;
            out.push_back(std::move(s));
            out.push_back(std::move(fresh));
        } else {
            out.push_back(std::move(s));
        }
    }
    for (auto& [key, s] : orgs)
        out.push_back(std::move(s));
    // A denominator below the failures (inconsistent reports) would make every test fail
    // open; the failures are at least that many sessions.
    for (auto& s : out)
        for (std::size_t d = 0; d < dd.count; ++d)
            s.n[d] = std::max(s.n[d], s.f[d]);
    return out;
}

std::vector<found> run_key(const key_series& s, const domain_days& dd, const detect_params& params)
{
    const std::size_t days = s.f.size();
    const auto window = static_cast<std::size_t>(std::max(params.baseline_days, 1));
    std::vector<char> excluded(days, 0);

    auto baseline = [&](std::size_t d) {
        std::int64_t failed = 0, sessions = 0;
        for (std::size_t j = d > window ? d - window : 0; j < d; ++j)
            if (!excluded[j]) {
                failed += s.f[j];
                sessions += s.n[j];
            }
        return jeffreys_rate(failed, sessions);
    };
    auto flagged = [&](std::size_t d, double p0) {
        const std::int64_t f = s.f[d], n = s.n[d];
        if (n <= 0)
            return false;
        if (s.new_type)
            return f >= params.min_new_type_failed && binomial_upper_tail(f, n, p0) < params.alpha;
        if (f < params.min_failed)
            return false;
        if (wilson_lower_bound(f, n, params.wilson_z) < std::max(params.min_ratio * p0, p0 + params.min_excess))
            return false;
        return binomial_upper_tail(f, n, p0) < params.alpha;
    };
    // Senders whose own failures of the key are elevated, against the same baseline.
    auto supporting_senders = [&](std::size_t d, double p0, const std::map<std::string, org_day>& org_sessions) {
        int count = 0;
        for (const auto& [org, failed] : s.org_failed[d]) {
            if (failed < std::max<std::int64_t>(params.min_sender_failed, 1))
                continue;
            std::int64_t sessions = failed;
            if (auto it = org_sessions.find(org); it != org_sessions.end())
                sessions = std::max(sessions, it->second.sessions);
            if (binomial_upper_tail(failed, sessions, p0) < params.clear_alpha)
                ++count;
        }
        return count;
    };

    std::vector<found> out;
    std::optional<found> open;
    int quiet = 0;
    for (std::size_t d = 0; d < days; ++d) {
        if (open) {
            if (s.n[d] <= 0)
                continue;     // no report (yet): neither extends nor ends it
            const double p = binomial_upper_tail(s.f[d], s.n[d], open->p0);
            if (s.f[d] >= 1 && p < params.clear_alpha) {
                open->last = d;
                open->elevated.insert(d);
                excluded[d] = 1;
                quiet = 0;
            } else if (++quiet >= params.clear_days) {
                open->end = open->last;
                out.push_back(std::move(*open));
                open.reset();
            }
            continue;
        }
        if (s.n[d] <= 0 || (s.new_type && d != s.new_day))
            continue;
        const double p0 = baseline(d);
        if (!flagged(d, p0))
            continue;
        excluded[d] = 1;
        bool confirmed = false;
        if (!s.org_failed[d].empty())
            confirmed = supporting_senders(d, p0, dd.orgs[d]) >= 2;
        if (!confirmed) {
            std::size_t next = d + 1;
            while (next < days && s.n[next] <= 0)
                ++next;
            if (next < days)
                confirmed = flagged(next, baseline(next));
        }
        if (!confirmed)
            continue;
        open = found{};
        open->onset = open->last = d;
        open->p0 = p0;
        open->p = binomial_upper_tail(s.f[d], s.n[d], p0);
        open->elevated.insert(d);
        quiet = 0;
    }
    if (open)
        out.push_back(std::move(*open));
    return out;
}


std::vector<std::string> sorted(std::set<std::string> values)
{
    return {values.begin(), values.end()};
}

detected_incident to_incident(const key_series& s, const domain_days& dd, const found& x)
{
    detected_incident out;
    out.dimension = s.dimension;
    out.key = s.key;
    out.onset = dd.first + std::chrono::days(x.onset);
    out.last_day = dd.first + std::chrono::days(x.last);
    if (x.end)
        out.end = dd.first + std::chrono::days(*x.end);
    out.baseline_rate = x.p0;
    out.p_value = x.p;
    std::set<std::string> mx, types, orgs;
    for (std::size_t d = x.onset; d <= x.last; ++d) {
        day_figure fig;
        fig.day = dd.first + std::chrono::days(d);
        fig.failed = s.f[d];
        fig.sessions = s.n[d];
        fig.baseline_rate = x.p0;
        fig.p_value = s.n[d] > 0 ? binomial_upper_tail(s.f[d], s.n[d], x.p0) : 1.0;
        fig.elevated = x.elevated.count(d) > 0;
        out.days.push_back(fig);
        if (!fig.elevated)
            continue;
        out.failed_sessions += s.f[d];
        out.sessions += s.n[d];
        for (const rollup_row* r : s.rows[d]) {
            if (r->failed <= 0)
                continue;
            if (!r->receiving_mx.empty())
                mx.insert(r->receiving_mx);
            types.insert(r->result_type);
            orgs.insert(r->organization);
        }
        // Senders whose summaries count failures, also when their report gave no details.
        if (s.dimension == "domain")
            for (const auto& [org, figures] : dd.orgs[d])
                if (figures.failed > 0)
                    orgs.insert(org);
    }
    if (s.dimension == "organization")
        orgs = {s.key};
    out.failure_rate = out.sessions > 0 ? static_cast<double>(out.failed_sessions) / static_cast<double>(out.sessions) : 0;
    out.mx = sorted(std::move(mx));
    out.result_types = sorted(std::move(types));
    out.organizations = sorted(std::move(orgs));
    return out;
}

// Regular reporters that stop reporting while the others go on.
std::vector<detected_incident> silent_reporters(const domain_days& dd, const detect_params& params)
{
    std::vector<detected_incident> out;
    std::set<std::string> organizations;
    for (const auto& day : dd.orgs)
        for (const auto& [org, figures] : day)
            organizations.insert(org);
    const auto window = static_cast<std::size_t>(std::max(params.baseline_days, 1));
    for (const auto& org : organizations) {
        auto reported = [&](std::size_t d) { return dd.orgs[d].count(org) > 0; };
        auto others = [&](std::size_t d) { return dd.orgs[d].size() > (reported(d) ? 1u : 0u); };
        std::size_t d = 0;
        while (d < dd.count) {
            if (reported(d) || !others(d)) {
                ++d;
                continue;
            }
            // Missing while others report: was it a regular reporter until then?
            std::vector<std::int64_t> daily;
            std::int64_t failed = 0, sessions = 0;
            for (std::size_t j = d > window ? d - window : 0; j < d; ++j)
                if (auto it = dd.orgs[j].find(org); it != dd.orgs[j].end()) {
                    daily.push_back(it->second.sessions);
                    failed += it->second.failed;
                    sessions += it->second.sessions;
                }
            double median = 0;
            if (!daily.empty()) {
                std::sort(daily.begin(), daily.end());
                const std::size_t m = daily.size() / 2;
                median = daily.size() % 2 ? static_cast<double>(daily[m])
                                          : (static_cast<double>(daily[m - 1]) + static_cast<double>(daily[m])) / 2;
            }
            if (static_cast<int>(daily.size()) < params.regular_min_days ||
                median < static_cast<double>(params.silent_min_sessions)) {
                ++d;
                continue;
            }
            // Days on which nobody reported neither count nor break the silence.
            std::size_t e = d, last = d;
            int silent = 0;
            std::set<std::size_t> silent_days;
            for (; e < dd.count && !reported(e); ++e)
                if (others(e)) {
                    ++silent;
                    last = e;
                    silent_days.insert(e);
                }
            if (silent >= params.silent_days) {
                detected_incident inc;
                inc.dimension = "silent-reporter";
                inc.key = org;
                inc.onset = dd.first + std::chrono::days(d);
                inc.last_day = dd.first + std::chrono::days(last);
                if (e < dd.count)
                    inc.end = inc.last_day;
                inc.baseline_rate = jeffreys_rate(failed, sessions);
                // The chance of this many missing days for a sender that misses days at its
                // smoothed baseline frequency.
                const double miss = (static_cast<double>(window - daily.size()) + 0.5) / (static_cast<double>(window) + 1);
                inc.p_value = std::pow(miss, silent);
                inc.organizations = {org};
                for (std::size_t j = d; j <= last; ++j) {
                    day_figure fig;
                    fig.day = dd.first + std::chrono::days(j);
                    fig.baseline_rate = inc.baseline_rate;
                    fig.elevated = silent_days.count(j) > 0;
                    inc.days.push_back(fig);
                }
                out.push_back(std::move(inc));
            }
            d = e;
        }
    }
    return out;
}

int dimension_rank(const std::string& dimension)
{
    static const char* const order[] = {"domain", "mx", "result-type", "organization", "new-result-type", "silent-reporter"};
    for (int i = 0; i < 6; ++i)
        if (dimension == order[i])
            return i;
    return 6;
}

} // namespace

std::vector<detected_incident> detect(const std::vector<rollup_row>& rows, utc_date evaluate_from, utc_date today,
                                      const detect_params& params)
{
    const domain_days dd = load(rows, today);
    if (dd.count == 0)
        return {};
    std::vector<detected_incident> out;
    // An incident is returned when it touches the evaluated days: still open, or elevated
    // on one of them. Earlier ones are settled.
    auto keep = [&](const detected_incident& inc) { return !inc.end || inc.last_day >= evaluate_from; };
    for (const auto& s : build_series(dd, params))
        for (const auto& x : run_key(s, dd, params)) {
            auto inc = to_incident(s, dd, x);
            if (keep(inc))
                out.push_back(std::move(inc));
        }
    for (auto& inc : silent_reporters(dd, params))
        if (keep(inc))
            out.push_back(std::move(inc));
    std::stable_sort(out.begin(), out.end(), [](const detected_incident& a, const detected_incident& b) {
        if (a.onset != b.onset)
            return a.onset < b.onset;
        if (dimension_rank(a.dimension) != dimension_rank(b.dimension))
            return dimension_rank(a.dimension) < dimension_rank(b.dimension);
        return a.key < b.key;
    });
    return out;
}

} // namespace stswatch::analysis
