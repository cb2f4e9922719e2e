// Incidents as stored (docs/analysis.md "Incidents", "Stable ids").
#include "analyzer/incidents.hpp"

#include "analyzer/json_out.hpp"
#include "common/log.hpp"
#include "store/analysis_store.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>

namespace stswatch::analysis {

namespace {

utc_date today_utc()
{
    return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
}

// The last day an incident covers: its end, else (ongoing) its last elevated day.
utc_date covered_until(const incident_row& r) { return r.end ? *r.end : r.last_day; }

bool overlaps(const incident_row& stored, const detected_incident& d)
{
    const utc_date d_until = d.end ? *d.end : d.last_day;
    // An ongoing stored incident extends to whatever is found after it.
    const bool open_ended = !stored.end && stored.status != "retracted";
    return stored.onset <= d_until && (open_ended || covered_until(stored) >= d.onset);
}

std::string days_json(const std::vector<day_figure>& days)
{
    json_out j;
    j.begin_array();
    for (const auto& d : days) {
        j.begin_object();
        j.field("day", d.day).field("failed", d.failed).field("sessions", d.sessions);
        j.field("baseline_rate", d.baseline_rate).field("p_value", d.p_value).field("elevated", d.elevated);
        j.end_object();
    }
    j.end_array();
    return j.take();
}

// Whether a refresh found the stored incident as it is. days_json is left out: the store
// gives it back as PostgreSQL's jsonb text (its spacing and key order), and its figures are
// those compared here.
bool same_figures(const incident_row& a, const incident_row& b)
{
    auto close = [](double x, double y) { return std::abs(x - y) <= 1e-9 * std::max({1.0, std::abs(x), std::abs(y)}); };
    return a.onset == b.onset && a.last_day == b.last_day && a.end == b.end && a.status == b.status
        && a.failed_sessions == b.failed_sessions && a.sessions == b.sessions && a.mx == b.mx
        && a.result_types == b.result_types && a.organizations == b.organizations
        && close(a.failure_rate, b.failure_rate) && close(a.baseline_rate, b.baseline_rate);
}

} // namespace

incident_row to_row(const std::string& domain, const detected_incident& d)
{
    incident_row r;
    r.domain = domain;
    r.dimension = d.dimension;
    r.key = d.dimension == "domain" ? domain : d.key;   // detect() leaves the domain's own key empty
    r.onset = d.onset;
    r.last_day = d.last_day;
    r.end = d.end;
    r.status = d.end ? "ended" : "open";
    r.failed_sessions = d.failed_sessions;
    r.sessions = d.sessions;
    r.failure_rate = d.failure_rate;
    r.baseline_rate = d.baseline_rate;
    r.p_value = d.p_value;
    r.mx = d.mx;
    r.result_types = d.result_types;
    r.organizations = d.organizations;
    r.days_json = days_json(d.days);
    return r;
}

reconciliation reconcile(const std::string& domain, const std::vector<detected_incident>& detected,
                         const std::vector<incident_row>& stored, utc_date evaluate_from)
{
    reconciliation out;
    std::vector<bool> taken(stored.size(), false);
    for (const auto& d : detected) {
        // The stored incident this one is: same dimension and key, days overlapping; a live
        // one before a retracted one, then the earliest onset.
        incident_row row = to_row(domain, d);
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < stored.size(); ++i) {
            const auto& s = stored[i];
            if (taken[i] || s.dimension != d.dimension || s.key != row.key || !overlaps(s, d))
                continue;
            if (!best) {
                best = i;
                continue;
            }
            const auto& b = stored[*best];
            const bool s_live = s.status != "retracted", b_live = b.status != "retracted";
            if ((s_live && !b_live) || (s_live == b_live && s.onset < b.onset))
                best = i;
        }
        if (best) {
            taken[*best] = true;
            const auto& s = stored[*best];
            row.id = s.id;
            row.opened_at = s.opened_at;
            row.acknowledged_at = s.acknowledged_at;
            if (same_figures(row, s)) {
                ++out.unchanged;
                continue;
            }
        }
        out.save.push_back(std::move(row));
    }
    for (std::size_t i = 0; i < stored.size(); ++i) {
        const auto& s = stored[i];
        if (!taken[i] && s.status != "retracted" && s.onset >= evaluate_from)
            out.retract.push_back(s.id);
    }
    return out;
}

refresh_result refresh_incidents(analysis_store& store, const std::string& domain, utc_date since, utc_date today,
                                 const detect_params& params)
{
    using std::chrono::days;
    utc_date evaluate_from = since - days{refresh_overlap_days};
    // Evaluate every stored incident that reaches into the refreshed days from its onset,
    // so that it is found whole again and keeps its figures.
    auto stored = store.incidents_for_refresh(domain, evaluate_from);
    for (const auto& s : stored)
        if (s.status != "retracted")
            evaluate_from = std::min(evaluate_from, s.onset);
    if (evaluate_from > today)
        evaluate_from = today;
    const auto rows = store.rollups(domain, evaluate_from - days{2 * params.baseline_days}, today);
    const auto detected = detect(rows, evaluate_from, today, params);
    auto plan = reconcile(domain, detected, stored, evaluate_from);

    refresh_result result;
    result.unchanged = plan.unchanged;
    result.retracted = plan.retract.size();
    for (const auto& r : plan.save) {
        if (r.id == 0)
            ++result.opened;
        else if (r.end)
            ++result.ended;
        else
            ++result.updated;
    }
    if (!plan.save.empty() || !plan.retract.empty())
        store.save_incidents(std::move(plan.save), plan.retract);
    result.incidents = store.incidents(domain, evaluate_from, std::nullopt);
    return result;
}

std::string incident_json(const incident_row& r)
{
    json_out j;
    j.begin_object();
    j.field("id", std::to_string(r.id));
    j.field("domain", r.domain);
    j.field("dimension", r.dimension).field("key", r.key);
    j.field("onset", r.onset);
    j.key("end");
    if (r.end)
        j.value(*r.end);
    else
        j.null();
    j.field("last_day", r.last_day);
    j.field("status", r.status);
    j.key("result_types").strings(r.result_types);
    j.key("mx").strings(r.mx);
    j.key("organizations").strings(r.organizations);
    j.field("failed_sessions", r.failed_sessions).field("sessions", r.sessions);
    j.field("failure_rate", r.failure_rate).field("baseline_rate", r.baseline_rate).field("p_value", r.p_value);
    j.field("opened_at", r.opened_at).field("updated_at", r.updated_at);
    j.field("acknowledged_at", r.acknowledged_at);
    j.key("days").raw(r.days_json.empty() ? "[]" : r.days_json);
    j.end_object();
    return j.take();
}

struct incident_refresher::impl {
    refresher_options options;
    std::mutex mutex;
    std::condition_variable_any wake;
    bool poked = false;
    std::atomic<std::size_t> refreshed{0};
    worker thread;

    void run(std::stop_token stop)
    {
        std::unique_ptr<analysis_store> store;
        std::optional<utc_date> queued_day;   // the UTC day of the last full enqueue
        bool unavailable_logged = false;
        while (!stop.stop_requested()) {
            try {
                if (!store)
                    store = std::make_unique<analysis_store>(options.db_url);
                const utc_date today = today_utc();
                if (queued_day != today) {
                    // At start and when the UTC day turns: every domain, so that days without
                    // reports (a silent reporter, the quiet days that end an incident) count.
                    const auto n = store->enqueue_all(today - std::chrono::days{3});
                    log::debug("analyzer", "queued every domain", {{"domains", std::to_string(n)}});
                    queued_day = today;
                }
                drain(*store, stop, today);
                if (unavailable_logged)
                    log::info("analyzer", "database available again");
                unavailable_logged = false;
            } catch (const store_unavailable& e) {
                store.reset();
                if (!unavailable_logged)
                    log::warning("analyzer", "database unavailable; incidents refresh later", {{"error", e.what()}});
                unavailable_logged = true;
            } catch (const std::exception& e) {
                store.reset();
                log::error("analyzer", "incident refresh failed", {{"error", e.what()}});
            }
            std::unique_lock lock(mutex);
            wake.wait_for(lock, stop, options.poll, [this] { return poked; });
            poked = false;
        }
    }

    void drain(analysis_store& store, std::stop_token& stop, utc_date today)
    {
        while (!stop.stop_requested()) {
            auto claimed = store.claim(options.batch, std::chrono::seconds(300));
            if (claimed.empty())
                return;
            // A domain whose refresh fails for a reason of its own (not the database) leaves
            // the queue too, logged: claiming it again at once would loop. The next report or
            // the next day queues it again.
            std::vector<queued_domain> done, left;
            for (const auto& q : claimed) {
                if (stop.stop_requested()) {
                    left.push_back(q);
                    continue;
                }
                try {
                    auto r = refresh_incidents(store, q.domain, q.since, today);
                    if (r.opened || r.ended || r.retracted)
                        log::info("analyzer", "incidents refreshed",
                                  {{"domain", q.domain}, {"opened", std::to_string(r.opened)},
                                   {"ended", std::to_string(r.ended)}, {"retracted", std::to_string(r.retracted)}});
                    ++refreshed;
                } catch (const store_unavailable&) {
                    throw;   // the claim's lease runs out; retried when the database is back
                } catch (const std::exception& e) {
                    log::error("analyzer", "incident refresh failed", {{"domain", q.domain}, {"error", e.what()}});
                }
                done.push_back(q);
            }
            store.finish(done);
            if (!left.empty())
                store.release(left);
        }
    }
};

incident_refresher::incident_refresher(refresher_options options) : impl_(std::make_unique<impl>())
{
    impl_->options = std::move(options);
}

incident_refresher::~incident_refresher() { stop(); }

void incident_refresher::start()
{
    impl_->thread = worker("analyzer", [this](std::stop_token stop) { impl_->run(stop); });
}

void incident_refresher::stop() { impl_->thread.stop(); }

void incident_refresher::poke()
{
    {
        std::lock_guard lock(impl_->mutex);
        impl_->poked = true;
    }
    impl_->wake.notify_all();
}

std::size_t incident_refresher::refreshed() const { return impl_->refreshed.load(); }

} // namespace stswatch::analysis
