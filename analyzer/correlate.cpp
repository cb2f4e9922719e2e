// Correlation of one incident with the evidence around it (analyzer/correlate.hpp). The
// rules and scores are those of docs/analysis.md "Causes"; keep the two equal.
#include "analyzer/correlate.hpp"

#include "analyzer/cause_map.hpp"
#include "common/domain.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "mtasts/sts_policy.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <limits>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

namespace stswatch::analysis {

namespace {

constexpr std::int64_t day_seconds = 86400;

// docs/analysis.md "Causes": the scores the ranking sorts on.
constexpr double score_finding_exact_at_onset = 100;
constexpr double score_finding_exact_later = 80;
constexpr double score_finding_exact_after_clean = 45;
constexpr double score_finding_other_at_onset = 40;
constexpr double score_finding_other_later = 35;
constexpr double score_finding_other_after_clean = 25;
constexpr double score_stale_split = 90;
constexpr double score_stale_uncovered = 65;
constexpr double score_stale = 45;
constexpr double score_change_exact = 60;     // + up to 15 the closer to the onset
constexpr double score_change_other = 30;     // + up to 5
constexpr double score_sender_organization = 80;
constexpr double score_sender = 20;
constexpr double one_sender_share = 0.9;

std::optional<std::int64_t> seconds_of(const std::string& rfc3339)
{
    const auto t = parse_rfc3339(rfc3339);
    if (!t.value)
        return std::nullopt;
    return t.value->seconds;
}

std::string time_text(std::int64_t seconds)
{
    return format_rfc3339(utc_time{seconds, 0});
}

std::int64_t day_start(utc_date d)
{
    return start_of(d).seconds;
}

// "3 d 4 h 12 min", "14 h 48 min", "0 min": a span as a reader takes it in.
std::string span_text(std::int64_t seconds)
{
    if (seconds < 0)
        seconds = -seconds;
    const std::int64_t minutes = seconds / 60;
    const std::int64_t d = minutes / (24 * 60), h = minutes / 60 % 24, m = minutes % 60;
    std::string out;
    auto add = [&](std::int64_t v, const char* unit) {
        if (v == 0)
            return;
        if (!out.empty())
            out += ' ';
        out += std::to_string(v) + ' ' + unit;
    };
    add(d, "d");
    add(h, "h");
    add(m, "min");
    return out.empty() ? std::string("0 min") : out;
}

std::string percent_text(double fraction)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f %%", fraction * 100);
    return buffer;
}

// "1 check", "3 checks".
std::string count_text(std::size_t n, const char* one, const char* many)
{
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string days_text(utc_date from, utc_date to)
{
    return from == to ? format_day(from) : format_day(from) + " to " + format_day(to);
}

std::string list_text(const std::vector<std::string>& items)
{
    return items.empty() ? std::string("none") : text::join(items, ", ");
}

std::string policy_key(const sts_policy& p)
{
    std::vector<std::string> mx = p.mx;
    std::sort(mx.begin(), mx.end());
    mx.erase(std::unique(mx.begin(), mx.end()), mx.end());
    return std::string(to_string(p.mode)) + "|" + std::to_string(p.max_age) + "|" + text::join(mx, ",");
}

std::string policy_text_of(const sts_policy& p)
{
    return std::string("mode ") + to_string(p.mode) + ", max_age " + std::to_string(p.max_age) + ", mx " +
           list_text(p.mx);
}

// What the incident is about, normalised once.
struct scope {
    std::string domain;
    std::set<std::string> mx;                 // the MX hosts of the failures
    std::vector<std::string> result_types;    // sorted, distinct
    std::set<std::string> domain_names;       // the domain, mta-sts.<domain>, _mta-sts.<domain>
    utc_date first_day{}, last_day{};         // the incident's days
    std::int64_t onset_start = 0, onset_end = 0, window_end = 0;
};

scope scope_of(const incident_row& incident)
{
    scope s;
    s.domain = normalize_domain(incident.domain);
    for (const auto& m : incident.mx)
        if (!m.empty())
            s.mx.insert(normalize_domain(m));
    if (incident.dimension == "mx" && !incident.key.empty())
        s.mx.insert(normalize_domain(incident.key));
    std::set<std::string> types(incident.result_types.begin(), incident.result_types.end());
    if ((incident.dimension == "result-type" || incident.dimension == "new-result-type") && !incident.key.empty())
        types.insert(incident.key);
    types.erase("");
    s.result_types.assign(types.begin(), types.end());
    s.domain_names = {s.domain, "mta-sts." + s.domain, "_mta-sts." + s.domain};
    s.first_day = incident.onset;
    s.last_day = std::max(incident.last_day, incident.end.value_or(incident.last_day));
    if (s.last_day < s.first_day)
        s.last_day = s.first_day;
    s.onset_start = day_start(incident.onset);
    s.onset_end = day_start(incident.onset + std::chrono::days{1});
    // An ongoing incident lasts to now: a check after its last reported day (reports come a
    // day late; monitoring may start after the onset) still sees what holds during it.
    s.window_end = incident.end ? day_start(s.last_day + std::chrono::days{1}) : std::numeric_limits<std::int64_t>::max();
    return s;
}

bool on_incident_days(const scope& s, utc_date d)
{
    return d >= s.first_day && d <= s.last_day;
}

// The result types of the incident whose mapping names code among its findings (or, with
// changes, among its change kinds).
std::vector<const cause_mapping*> mappings_naming(const scope& s, std::string_view code, bool changes)
{
    std::vector<const cause_mapping*> out;
    for (const auto& type : s.result_types) {
        const cause_mapping* m = mapping_for(type);
        if (!m)
            continue;
        const auto& list = changes ? m->changes : m->findings;
        if (std::find(list.begin(), list.end(), code) != list.end())
            out.push_back(m);
    }
    return out;
}

std::vector<std::string> why_sentences(const std::vector<const cause_mapping*>& mappings)
{
    std::vector<std::string> out;
    for (const auto* m : mappings)
        out.push_back("Why it matters: " + std::string(m->why) + ".");
    return out;
}

// MX findings and changes are about an MX host, the others about the domain's policy host or
// record (docs/findings.md). When the reports named no MX, every MX host matches.
bool about_mx(std::string_view code)
{
    return code.substr(0, 3) == "mx-";
}

bool exact_subject(const scope& s, std::string_view code, const std::string& subject)
{
    const std::string name = normalize_domain(subject);
    if (about_mx(code))
        return s.mx.empty() ? s.domain_names.count(name) == 0 : s.mx.count(name) > 0;
    return s.domain_names.count(name) > 0;
}

std::string subject_sentence(const scope& s, std::string_view code, const std::string& subject, bool exact)
{
    const std::string name = normalize_domain(subject);
    if (about_mx(code)) {
        if (s.mx.empty())
            return "The reports name no receiving MX, so " + subject + " may be the one the failures are at.";
        if (exact)
            return subject + " is a receiving MX of the failures.";
        return subject + " is not among the receiving MX of the failures (" +
               list_text(std::vector<std::string>(s.mx.begin(), s.mx.end())) + ").";
    }
    if (exact)
        return name == "mta-sts." + s.domain ? subject + " serves the domain's policy."
             : name == "_mta-sts." + s.domain ? subject + " is the domain's MTA-STS record."
                                              : subject + " is the domain itself.";
    return subject + " is neither an MX of the failures nor the domain's policy host or record.";
}

struct snapshot_view {
    const snapshot_facts* facts = nullptr;
    std::int64_t at = 0;
};

// The snapshots a sender's view can be judged by: in time order, those of a check whose
// resolver worked (a dns_unavailable check shows nothing of the domain, docs/monitoring.md).
std::vector<snapshot_view> usable_snapshots(const evidence& ev)
{
    std::vector<snapshot_view> out;
    for (const auto& s : ev.snapshots) {
        if (s.dns_unavailable)
            continue;
        if (auto t = seconds_of(s.checked_at))
            out.push_back({&s, *t});
    }
    std::stable_sort(out.begin(), out.end(), [](const snapshot_view& a, const snapshot_view& b) {
        return std::tie(a.at, a.facts->id) < std::tie(b.at, b.facts->id);
    });
    return out;
}

struct certificate_seen {
    std::string not_after, sha256;
    bool expired = false;
};

// The certificates an MX presented in a snapshot (docs/check.md: the first probe's, then the
// other addresses'), from the mx array.
std::vector<certificate_seen> certificates_of(const snapshot_facts& s, const std::string& host)
{
    std::vector<certificate_seen> out;
    try {
        const auto parsed = Poco::JSON::Parser().parse(s.mx_json);
        const auto mx = parsed.extract<Poco::JSON::Array::Ptr>();
        if (!mx)
            return out;
        auto take = [&](const Poco::JSON::Object::Ptr& o) {
            if (!o || !o->has("certificate") || !o->isObject("certificate"))
                return;
            const auto c = o->getObject("certificate");
            certificate_seen seen;
            seen.not_after = c->optValue<std::string>("not_after", "");
            seen.sha256 = c->optValue<std::string>("sha256", "");
            seen.expired = c->optValue<bool>("expired", false);
            out.push_back(seen);
        };
        for (std::size_t i = 0; i < mx->size(); ++i) {
            const auto entry = mx->getObject(static_cast<unsigned>(i));
            if (!entry || normalize_domain(entry->optValue<std::string>("host", "")) != normalize_domain(host))
                continue;
            take(entry);
            if (entry->has("other_probes") && entry->isArray("other_probes")) {
                const auto others = entry->getArray("other_probes");
                for (std::size_t j = 0; j < others->size(); ++j)
                    take(others->getObject(static_cast<unsigned>(j)));
            }
        }
    } catch (const Poco::Exception&) {
        // A snapshot whose mx array cannot be read dates nothing.
    } catch (const std::exception&) {
    }
    return out;
}

struct candidate {
    cause c;
    int kind_order = 0;   // finding, stale-policy, change, sender: ties broken in this order
};

// --- Findings -----------------------------------------------------------------------------

void finding_candidates(const scope& s, const evidence& ev, const std::vector<snapshot_view>& snaps,
                        std::vector<candidate>& out)
{
    // (code, subject) -> snapshot id -> the finding as the snapshot carries it.
    std::map<std::pair<std::string, std::string>, std::map<long long, const finding_row*>> carried;
    for (const auto& f : ev.findings)
        if (!mappings_naming(s, f.code, false).empty())
            carried[{f.code, f.subject}].emplace(f.snapshot_id, &f);

    // The last usable check at or before the end of the onset day.
    std::optional<std::size_t> at_onset;
    for (std::size_t i = 0; i < snaps.size(); ++i)
        if (snaps[i].at < s.onset_end)
            at_onset = i;

    for (const auto& [key, by_snapshot] : carried) {
        const auto& [code, subject] = key;
        auto carries = [&](std::size_t i) { return by_snapshot.count(snaps[i].facts->id) > 0; };
        std::optional<std::size_t> ref;
        if (at_onset && carries(*at_onset))
            ref = at_onset;
        for (std::size_t i = 0; !ref && i < snaps.size(); ++i)
            if (snaps[i].at >= s.onset_start && snaps[i].at < s.window_end && carries(i))
                ref = i;
        if (!ref)
            continue;   // not holding during the incident: it ended before, or came after
        std::size_t first = *ref, last = *ref;
        while (first > 0 && carries(first - 1))
            --first;
        while (last + 1 < snaps.size() && snaps[last + 1].at < s.window_end && carries(last + 1))
            ++last;

        const auto& first_check = snaps[first];
        std::int64_t since = first_check.at;
        std::vector<std::string> evidence;
        evidence.push_back("The check at " + time_text(first_check.at) + " (snapshot " +
                           std::to_string(first_check.facts->id) + ") first reported " + code + " on " + subject +
                           (last > first ? ", and the " + count_text(last - first, "check", "checks") + " after it up to " +
                                               time_text(snaps[last].at) + " reported it too."
                                         : "."));
        // docs/analysis.md: a certificate's not_after dates the expiry, whenever a check saw it.
        if (code == "mx-cert-expired") {
            for (const auto& cert : certificates_of(*first_check.facts, subject)) {
                const auto not_after = seconds_of(cert.not_after);
                if (!cert.expired || !not_after)
                    continue;
                if (*not_after < since) {
                    evidence.push_back("The certificate " + subject + " presented" +
                                       (cert.sha256.empty() ? std::string() : " (sha256 " + cert.sha256 + ")") +
                                       " expired at " + time_text(*not_after) + ", " +
                                       span_text(first_check.at - *not_after) +
                                       " before the first check that saw it expired: its not_after dates the expiry.");
                    since = *not_after;
                }
                break;
            }
        }
        const bool holds_at_onset = since < s.onset_end;
        const bool clean_after_onset = first > 0 && snaps[first - 1].at >= s.onset_start;
        if (since < s.onset_start)
            evidence.push_back("It holds since " + time_text(since) + ", " + span_text(s.onset_start - since) +
                               " before the onset day " + format_day(s.first_day) + " began.");
        else if (holds_at_onset)
            evidence.push_back("It holds since " + time_text(since) + ", on the onset day " + format_day(s.first_day) +
                               ", " + span_text(since - s.onset_start) + " after it began.");
        else
            evidence.push_back("It was first seen " + span_text(since - s.onset_start) + " after the onset day " +
                               format_day(s.first_day) + " began, so it may have begun later than the failures.");
        if (first > 0)
            evidence.push_back("The check before, at " + time_text(snaps[first - 1].at) + " (snapshot " +
                               std::to_string(snaps[first - 1].facts->id) + "), did not report it" +
                               (clean_after_onset ? ", although the failures had begun." : "."));
        const bool exact = exact_subject(s, code, subject);
        evidence.push_back(subject_sentence(s, code, subject, exact));
        for (auto& w : why_sentences(mappings_naming(s, code, false)))
            evidence.push_back(std::move(w));
        if (const finding_row* f = by_snapshot.at(snaps[*ref].facts->id); !f->message.empty())
            evidence.push_back("The check said: " + f->message);

        candidate c;
        c.kind_order = 0;
        c.c.kind = "finding";
        c.c.code = code;
        c.c.subject = subject;
        c.c.first_seen = time_text(since);
        c.c.evidence = std::move(evidence);
        if (holds_at_onset)
            c.c.score = exact ? score_finding_exact_at_onset : score_finding_other_at_onset;
        else if (!clean_after_onset)
            c.c.score = exact ? score_finding_exact_later : score_finding_other_later;
        else
            c.c.score = exact ? score_finding_exact_after_clean : score_finding_other_after_clean;
        out.push_back(std::move(c));
    }
}

// --- Changes ------------------------------------------------------------------------------

// A value of a change event for a sentence: a policy text on one line, its lines joined by "; ".
std::string value_text(const std::string& v)
{
    if (v.empty())
        return "none";
    std::string one_line;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\r' && i + 1 < v.size() && v[i + 1] == '\n')
            continue;
        if (v[i] == '\n') {
            if (i + 1 < v.size())
                one_line += "; ";
            continue;
        }
        one_line += v[i];
    }
    return quote_untrusted(one_line, 160);
}

void change_candidates(const scope& s, const evidence& ev, const std::vector<snapshot_view>& snaps,
                       const correlate_params& params, std::vector<candidate>& out)
{
    const std::int64_t from = s.onset_start - std::int64_t{params.change_window_days} * day_seconds;
    const double window = static_cast<double>(s.onset_end - from);
    for (const auto& change : ev.changes) {
        const auto& e = change.event;
        const auto at = seconds_of(change.detected_at);
        if (!at || *at < from || *at >= s.onset_end)
            continue;
        const auto mappings = mappings_naming(s, e.kind, true);
        if (mappings.empty())
            continue;
        const bool exact = exact_subject(s, e.kind, e.subject);
        std::vector<std::string> evidence;
        evidence.push_back(e.kind + " on " + e.subject + " was detected by the check at " + time_text(*at) +
                           " (snapshot " + std::to_string(change.snapshot_id) + "): before " + value_text(e.before) +
                           ", after " + value_text(e.after) + ".");
        // The change happened between this check and the one before it.
        const snapshot_view* before = nullptr;
        for (const auto& v : snaps)
            if (v.at < *at && v.facts->id != change.snapshot_id)
                before = &v;
        if (before)
            evidence.push_back("The check before it ran at " + time_text(before->at) +
                               ", so the change was made between the two.");
        if (*at >= s.onset_start)
            evidence.push_back("Detected on the onset day " + format_day(s.first_day) + ", " +
                               span_text(s.onset_end - *at) +
                               " before its end; reports count whole days, so the failures began some time that day.");
        else
            evidence.push_back("Detected " + span_text(s.onset_start - *at) + " before the onset day " +
                               format_day(s.first_day) + " began (" + span_text(s.onset_end - *at) +
                               " before its end).");
        evidence.push_back(subject_sentence(s, e.kind, e.subject, exact));
        for (auto& w : why_sentences(mappings))
            evidence.push_back(std::move(w));

        const double closeness = window > 0 ? 1.0 - static_cast<double>(s.onset_end - *at) / window : 1.0;
        candidate c;
        c.kind_order = 2;
        c.c.kind = "change";
        c.c.code = e.kind;
        c.c.subject = e.subject;
        c.c.at = time_text(*at);
        c.c.evidence = std::move(evidence);
        c.c.score = exact ? score_change_exact + 15 * closeness : score_change_other + 5 * closeness;
        out.push_back(std::move(c));
    }
}

// --- Stale policies -------------------------------------------------------------------------

// A policy as the domain published it over consecutive checks (docs/analysis.md "Causes").
struct policy_version {
    sts_policy policy;
    bool usable = false;                  // a text no sender can use is a version of its own
    std::string key;
    std::int64_t first = 0, last = 0;
    long long first_snapshot = 0;
    std::string first_id, last_id;
};

// Only the mx patterns a sender applies decide which MX it accepts, so a stale policy
// explains these result types and no others (docs/analysis.md "Causes").
bool stale_policy_matters(const scope& s)
{
    return std::any_of(s.result_types.begin(), s.result_types.end(), [](const std::string& t) {
        return t == "validation-failure" || t == "certificate-host-mismatch";
    });
}

std::vector<policy_version> published_versions(const scope& s, const std::vector<snapshot_view>& snaps)
{
    std::vector<policy_version> out;
    std::string previous_key;
    bool have_previous = false;
    for (const auto& v : snaps) {
        if (!v.facts->policy_text)
            continue;   // not fetched: nothing known of what was published
        const auto evaluated = evaluate_policy(s.domain, *v.facts->policy_text);
        const std::string key = evaluated.policy ? policy_key(*evaluated.policy) : std::string("unusable");
        if (!have_previous || key != previous_key) {
            policy_version pv;
            if (evaluated.policy) {
                pv.policy = *evaluated.policy;
                pv.usable = true;
            }
            pv.key = key;
            pv.first = v.at;
            pv.first_snapshot = v.facts->id;
            pv.first_id = v.facts->sts_id;
            out.push_back(pv);
        }
        out.back().last = v.at;
        out.back().last_id = v.facts->sts_id;
        previous_key = key;
        have_previous = true;
    }
    return out;
}

std::string version_name(const policy_version& v)
{
    return (v.first_id.empty() ? std::string("without an id") : "id " + v.first_id) + " (" +
           (v.usable ? policy_text_of(v.policy) : std::string("not usable by senders")) + ")";
}

struct applied_policy {
    const sender_policy_row* row = nullptr;
    std::optional<std::size_t> version;   // the published version it equals
    std::optional<std::size_t> current;   // the version published on its day
};

// RFC 8461 §5.1: senders fetch again when the id changes; otherwise a cached policy lives
// for its max_age, counted at worst from the last moment the old version was served.
struct refresh_due {
    std::int64_t at = 0;
    std::optional<std::int64_t> id_changed;
    std::string new_id;
};

refresh_due refresh_due_of(const std::vector<policy_version>& versions, std::size_t old_index,
                           const std::vector<snapshot_view>& snaps)
{
    const auto& old_version = versions[old_index];
    const auto& next = versions[old_index + 1];
    refresh_due due;
    due.at = next.first + static_cast<std::int64_t>(old_version.policy.max_age);
    for (const auto& v : snaps)
        if (v.at >= next.first && !v.facts->sts_id.empty() && v.facts->sts_id != old_version.last_id) {
            due.id_changed = v.at;
            due.new_id = v.facts->sts_id;
            break;
        }
    if (due.id_changed && *due.id_changed < due.at)
        due.at = *due.id_changed;
    return due;
}

void stale_candidates(const scope& s, const evidence& ev, const std::vector<snapshot_view>& snaps,
                      std::vector<candidate>& out)
{
    if (!stale_policy_matters(s))
        return;
    const auto versions = published_versions(s, snaps);
    if (versions.size() < 2)
        return;

    std::vector<applied_policy> applied;
    for (const auto& row : ev.sender_policies) {
        if (row.policy_type != "sts" || !row.counted || !on_incident_days(s, row.day))
            continue;
        std::string joined;
        for (std::size_t i = 0; i < row.policy_string.size(); ++i)
            joined += (i ? "\n" : "") + row.policy_string[i];
        const auto evaluated = evaluate_policy(s.domain, joined);
        if (!evaluated.policy)
            continue;
        const std::string key = policy_key(*evaluated.policy);
        const std::int64_t day_end = day_start(row.day + std::chrono::days{1});
        applied_policy a;
        a.row = &row;
        for (std::size_t i = 0; i < versions.size(); ++i) {
            if (versions[i].first >= day_end)
                break;
            a.current = i;
            if (versions[i].key == key)
                a.version = i;
        }
        applied.push_back(a);
    }
    auto stale = [&](const applied_policy& a) { return a.version && a.current && *a.version != *a.current; };
    auto current = [&](const applied_policy& a) { return a.version && a.current && *a.version == *a.current; };

    bool all_failing_stale = true, any_succeeding = false, succeeding_current = true;
    std::vector<std::string> succeeding_orgs;
    for (const auto& a : applied) {
        if (a.row->failed > 0) {
            all_failing_stale = all_failing_stale && stale(a);
        } else if (a.row->successful > 0) {
            any_succeeding = true;
            succeeding_current = succeeding_current && current(a);
            if (std::find(succeeding_orgs.begin(), succeeding_orgs.end(), a.row->organization) == succeeding_orgs.end())
                succeeding_orgs.push_back(a.row->organization);
        }
    }
    const bool split = all_failing_stale && any_succeeding && succeeding_current;

    // One cause per old version that failing senders still apply.
    std::map<std::size_t, std::vector<const applied_policy*>> by_version;
    for (const auto& a : applied)
        if (a.row->failed > 0 && stale(a))
            by_version[*a.version].push_back(&a);
    for (const auto& [index, rows] : by_version) {
        const auto& old_version = versions[index];
        const auto& next = versions[index + 1];
        const auto due = refresh_due_of(versions, index, snaps);
        std::vector<std::string> evidence;

        // Per organization: its days and failed sessions with the old version.
        std::map<std::string, std::tuple<utc_date, utc_date, std::int64_t>> per_org;
        for (const auto* a : rows) {
            auto [it, inserted] = per_org.try_emplace(a->row->organization, a->row->day, a->row->day, 0);
            auto& [from, to, failed] = it->second;
            from = std::min(from, a->row->day);
            to = std::max(to, a->row->day);
            failed += a->row->failed;
        }
        for (const auto& [org, figures] : per_org) {
            const auto& [from, to, failed] = figures;
            std::string sentence = org + " applied on " + days_text(from, to) + " the policy " +
                                   version_name(old_version) + ", which the checks saw published from " +
                                   time_text(old_version.first) + " to " + time_text(old_version.last) + "; " +
                                   std::to_string(failed) + " of its sessions failed.";
            const std::int64_t last_day_end = day_start(to + std::chrono::days{1});
            if (last_day_end > due.at)
                sentence += " On " + format_day(to) + " its cache was overdue: it should have refreshed by " +
                            time_text(due.at) + ".";
            else
                sentence += " Its cache may hold that version until " + time_text(due.at) + ".";
            evidence.push_back(std::move(sentence));
        }
        evidence.push_back("The domain publishes the policy " + version_name(next) + " since " + time_text(next.first) +
                           " (first seen by the check of snapshot " + std::to_string(next.first_snapshot) +
                           "; the last check that saw the old version ran at " + time_text(old_version.last) + ").");
        const bool same_id = !old_version.last_id.empty() && next.first_id == old_version.last_id;
        if (same_id) {
            std::string sentence = "The policy changed without a new id: the record kept id " + old_version.last_id +
                                   ", so senders that cached the old version keep it for up to its max_age (" +
                                   std::to_string(old_version.policy.max_age) + " s) and should have refreshed by " +
                                   time_text(next.first + static_cast<std::int64_t>(old_version.policy.max_age)) + " (" +
                                   time_text(next.first) + " + max_age).";
            if (due.id_changed)
                sentence += " The id changed at " + time_text(*due.id_changed) +
                            ", which tells senders to fetch the policy again.";
            evidence.push_back(std::move(sentence));
        } else if (due.id_changed) {
            const std::string old_id = old_version.last_id.empty() ? std::string("none") : old_version.last_id;
            evidence.push_back("The id changed from " + old_id + " to " + due.new_id +
                               " with the policy (first seen at " + time_text(*due.id_changed) +
                               "): senders fetch the policy again on a new id, so they should have refreshed by " +
                               time_text(due.at) + ".");
        }
        // The finding the monitor gave for this change (docs/findings.md), while the new version held.
        for (const auto& f : ev.findings)
            if (const auto t = seconds_of(f.checked_at);
                f.code == "sts-policy-changed-without-id" && t && *t >= next.first && *t <= next.last)
                evidence.push_back("The check at " + time_text(*t) + " reported " +
                                   f.code + " on " + f.subject + ".");
        bool uncovered = false;
        for (const auto& host : s.mx) {
            const auto old_match = covering_pattern(old_version.policy.mx, host);
            const auto new_match = covering_pattern(next.policy.mx, host);
            if (!old_match && new_match) {
                uncovered = true;
                evidence.push_back("The old version's mx patterns (" + list_text(old_version.policy.mx) +
                                   ") do not match " + host + ", which the current one covers (mx " + *new_match + ").");
            }
        }
        if (split)
            evidence.push_back("The senders that fail apply an old version; those that succeed (" +
                               list_text(succeeding_orgs) + ") apply the current one.");

        candidate c;
        c.kind_order = 1;
        c.c.kind = "stale-policy";
        c.c.code = "stale-policy";
        c.c.subject = s.domain;
        c.c.first_seen = time_text(next.first);
        c.c.evidence = std::move(evidence);
        c.c.score = split ? score_stale_split : uncovered ? score_stale_uncovered : score_stale;
        out.push_back(std::move(c));
    }
}

// --- The sender's side -----------------------------------------------------------------------

struct sender_figures {
    std::map<std::string, std::int64_t> failed;       // organization -> failed sessions of the incident
    std::map<std::string, std::int64_t> successful;   // organization -> successful sessions (summaries)
    std::int64_t total_failed = 0;
};

bool counts_for(const scope& s, const incident_row& incident, const rollup_row& r)
{
    if (!r.counted || !on_incident_days(s, r.day) || r.result_type.empty())
        return false;
    if (!s.result_types.empty() && !std::binary_search(s.result_types.begin(), s.result_types.end(), r.result_type))
        return false;
    if (incident.dimension == "mx" && normalize_domain(r.receiving_mx) != normalize_domain(incident.key))
        return false;
    return true;
}

sender_figures sender_figures_of(const scope& s, const incident_row& incident, const evidence& ev)
{
    sender_figures out;
    for (const auto& r : ev.rollups) {
        if (!r.counted || !on_incident_days(s, r.day))
            continue;
        if (r.result_type.empty() && r.receiving_mx.empty()) {
            out.successful[r.organization] += r.successful;
            continue;
        }
        if (counts_for(s, incident, r) && r.failed > 0) {
            out.failed[r.organization] += r.failed;
            out.total_failed += r.failed;
        }
    }
    return out;
}

void sender_candidates(const scope& s, const incident_row& incident, const evidence& ev, std::vector<candidate>& out)
{
    const auto figures = sender_figures_of(s, incident, ev);
    if (figures.total_failed <= 0)
        return;
    const auto top = std::max_element(figures.failed.begin(), figures.failed.end(),
                                      [](const auto& a, const auto& b) { return a.second < b.second; });
    const std::string& org = top->first;
    const double share = static_cast<double>(top->second) / static_cast<double>(figures.total_failed);
    if (share < one_sender_share)
        return;
    // The MX hosts where it failed, and whether anyone else failed there with those types.
    std::set<std::string> its_mx;
    for (const auto& r : ev.rollups)
        if (r.organization == org && counts_for(s, incident, r) && r.failed > 0)
            its_mx.insert(normalize_domain(r.receiving_mx));
    std::int64_t others_failed_there = 0;
    for (const auto& r : ev.rollups)
        if (r.organization != org && counts_for(s, incident, r) && its_mx.count(normalize_domain(r.receiving_mx)))
            others_failed_there += r.failed;
    std::vector<std::string> others;
    std::int64_t others_successful = 0;
    for (const auto& [other, successful] : figures.successful)
        if (other != org && successful > 0) {
            others.push_back(other + " (" + std::to_string(successful) + ")");
            others_successful += successful;
        }
    if (others.empty() || others_failed_there > 0)
        return;

    std::vector<std::string> mx_names;
    for (const auto& m : its_mx)
        mx_names.push_back(m.empty() ? std::string("an MX the reports do not name") : m);
    std::vector<std::string> evidence;
    evidence.push_back(org + " accounts for " + std::to_string(top->second) + " of the " +
                       std::to_string(figures.total_failed) + " failed sessions (" + percent_text(share) + ") of " +
                       list_text(s.result_types) + " on " + days_text(s.first_day, s.last_day) + ", at " +
                       list_text(mx_names) + ".");
    evidence.push_back(count_text(others.size(), "other organization", "other organizations") + " delivered " +
                       std::to_string(others_successful) + " sessions successfully on the same days (" +
                       list_text(others) + "); none of them reports a failure of those types at " + list_text(mx_names) +
                       " (reports count successful sessions per policy, not per MX).");
    evidence.push_back("What fails for one sender only points to its side (its trust store, resolver, TLS library or "
                       "cached policy), not to the domain.");
    candidate c;
    c.kind_order = 3;
    c.c.kind = "sender";
    c.c.code = "one-sender";
    c.c.subject = org;
    c.c.evidence = std::move(evidence);
    c.c.score = incident.dimension == "organization" ? score_sender_organization : score_sender;
    out.push_back(std::move(c));
}

// --- Nothing explains it ---------------------------------------------------------------------

cause unexplained(const scope& s, const incident_row& incident, const evidence& ev,
                  const std::vector<snapshot_view>& snaps, const correlate_params& params)
{
    cause c;
    c.kind = "unexplained";
    c.code = "unexplained";
    c.subject = incident.key;
    c.score = 0;
    std::vector<std::string> codes, kinds;
    for (const auto& type : s.result_types)
        if (const auto* m = mapping_for(type)) {
            for (auto code : m->findings)
                if (std::find(codes.begin(), codes.end(), code) == codes.end())
                    codes.emplace_back(code);
            for (auto kind : m->changes)
                if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
                    kinds.emplace_back(kind);
        }
    std::vector<std::string> subjects(s.mx.begin(), s.mx.end());
    subjects.push_back("mta-sts." + s.domain);
    subjects.push_back("_mta-sts." + s.domain);

    c.evidence.push_back(s.result_types.empty()
                             ? "Nothing that stswatch records explains the incident of " +
                                   days_text(s.first_day, s.last_day) + ": it names no result type to look for."
                             : "Nothing that stswatch records explains the failures of " + list_text(s.result_types) +
                                   " on " + days_text(s.first_day, s.last_day) + ".");
    for (const auto& type : s.result_types)
        if (const auto* m = mapping_for(type); m && m->findings.empty())
            c.evidence.push_back(std::string(m->why) + ".");
        else if (!m)
            c.evidence.push_back("No finding or change is known to cause " + type + ".");
    if (snaps.empty()) {
        c.evidence.push_back(ev.snapshots.empty()
                                 ? "The domain has no check history from before the onset to " +
                                       format_day(s.last_day) + ": no snapshot could be compared."
                                 : "The domain has no usable check from before the onset to " + format_day(s.last_day) +
                                       ": all " + std::to_string(ev.snapshots.size()) +
                                       " checks had an unavailable resolver.");
    } else {
        c.evidence.push_back(count_text(snaps.size(), "check", "checks") + " from " + time_text(snaps.front().at) + " to " +
                             time_text(snaps.back().at) + (snaps.size() == 1 ? " was" : " were") +
                             " looked at; none carries a finding of " +
                             list_text(codes) + " on " + list_text(subjects) + " holding during the incident.");
    }
    const std::int64_t from = s.onset_start - std::int64_t{params.change_window_days} * day_seconds;
    std::size_t changes_seen = 0;
    for (const auto& change : ev.changes)
        if (auto at = seconds_of(change.detected_at); at && *at >= from && *at < s.onset_end)
            ++changes_seen;
    c.evidence.push_back(count_text(changes_seen, "change event", "change events") + " detected from " +
                         time_text(from) + " to " + time_text(s.onset_end) + (changes_seen == 1 ? " was" : " were") +
                         " looked at; none is a change of " + list_text(kinds) + ".");
    std::size_t sts_rows = 0;
    std::set<std::string> policy_orgs;
    for (const auto& row : ev.sender_policies)
        if (row.policy_type == "sts" && on_incident_days(s, row.day)) {
            ++sts_rows;
            policy_orgs.insert(row.organization);
        }
    const std::size_t versions = published_versions(s, snaps).size();
    if (!stale_policy_matters(s))
        c.evidence.push_back("The policies senders applied were not compared with the published ones: a stale policy "
                             "explains only validation-failure and certificate-host-mismatch.");
    else if (sts_rows > 0 && versions < 2)
        c.evidence.push_back("The checks saw " + count_text(versions, "published policy version", "published policy versions") +
                             ", so no sender can apply one no longer published (" +
                             count_text(sts_rows, "sts policy", "sts policies") + " reported).");
    else
        c.evidence.push_back(sts_rows == 0
                             ? std::string("The reports of the incident's days carry no sts policy to compare with "
                                           "the published versions.")
                             : count_text(sts_rows, "sts policy", "sts policies") + " that " +
                                   count_text(policy_orgs.size(), "organization", "organizations") +
                                   " reported applying " + (sts_rows == 1 ? "was" : "were") +
                                   " compared with the published versions; none is a version no longer published.");
    const auto figures = sender_figures_of(s, incident, ev);
    std::vector<std::string> failing;
    for (const auto& [org, failed] : figures.failed)
        failing.push_back(org + " (" + std::to_string(failed) + ")");
    c.evidence.push_back(failing.empty()
                             ? std::string("The counted rollups of the incident's days hold no failed session of those types.")
                             : count_text(failing.size(), "organization reports ", "organizations report ") +
                                   count_text(static_cast<std::size_t>(figures.total_failed), "failed session",
                                              "failed sessions") +
                                   " (" + list_text(failing) +
                                   "): no single sender fails while the others succeed.");
    return c;
}

} // namespace

std::vector<cause> correlate(const incident_row& incident, const evidence& ev, const correlate_params& params)
{
    const scope s = scope_of(incident);
    const auto snaps = usable_snapshots(ev);
    std::vector<candidate> candidates;
    finding_candidates(s, ev, snaps, candidates);
    stale_candidates(s, ev, snaps, candidates);
    change_candidates(s, ev, snaps, params, candidates);
    sender_candidates(s, incident, ev, candidates);

    std::vector<cause> out;
    if (candidates.empty()) {
        out.push_back(unexplained(s, incident, ev, snaps, params));
        out.front().rank = 1;
        return out;
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const candidate& a, const candidate& b) {
        if (a.c.score != b.c.score)
            return a.c.score > b.c.score;
        const std::string ta = a.c.first_seen ? *a.c.first_seen : a.c.at.value_or("");
        const std::string tb = b.c.first_seen ? *b.c.first_seen : b.c.at.value_or("");
        return std::tie(a.kind_order, a.c.code, a.c.subject, ta) < std::tie(b.kind_order, b.c.code, b.c.subject, tb);
    });
    for (auto& c : candidates) {
        c.c.rank = static_cast<int>(out.size()) + 1;
        out.push_back(std::move(c.c));
    }
    return out;
}

} // namespace stswatch::analysis
