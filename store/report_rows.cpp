// The rows a stored report becomes (store/report_rows.hpp).
#include "store/report_rows.hpp"

#include "tlsrpt/decode.hpp"
#include "tlsrpt/report_json.hpp"

#include <Poco/SHA2Engine.h>

#include <algorithm>

namespace stswatch::store_detail {

// {"file-name": "…", "tls-report-domain": "…", …, "dkim-domain": "…", "filled": ["…"]}
// dkim_domain: the d= of the DKIM signature that passed (mail only), when there is one.
std::string metadata_json(const report_metadata& m, const std::string& dkim_domain)
{
    std::string out = "{";
    bool first = true;
    auto field = [&](std::string_view key, std::string_view value) {
        if (!first)
            out += ',';
        first = false;
        append_json_string(out, db_text(key));
        out += ':';
        append_json_string(out, db_text(value));
    };
    for (const auto& [key, value] : m.fields)
        field(key, value);
    if (!dkim_domain.empty() && m.fields.count("dkim-domain") == 0)
        field("dkim-domain", dkim_domain);
    if (!m.filled.empty()) {
        if (!first)
            out += ',';
        out += "\"filled\":[";
        for (std::size_t i = 0; i < m.filled.size(); ++i) {
            if (i)
                out += ',';
            append_json_string(out, db_text(m.filled[i]));
        }
        out += ']';
    }
    out += '}';
    return out;
}

// The database's names for policy types (the CHECK in report_policies).
const char* policy_type_name(policy_type t)
{
    switch (t) {
    case policy_type::sts: return "sts";
    case policy_type::tlsa: return "tlsa";
    case policy_type::no_policy_found: return "no-policy-found";
    }
    return "sts";
}

int dkim_rank(std::string_view state)
{
    const auto it = std::find(dkim_verdicts_weakest_first.begin(), dkim_verdicts_weakest_first.end(), state);
    return it == dkim_verdicts_weakest_first.end() ? 0
                                                   : static_cast<int>(it - dkim_verdicts_weakest_first.begin()) + 1;
}

std::int64_t add_sessions(std::int64_t a, std::int64_t b, const char* what)
{
    std::int64_t sum;
    if (a < 0 || b < 0)
        throw report_data_error(std::string(what) + " is negative");
    if (__builtin_add_overflow(a, b, &sum))
        throw report_data_error(std::string(what) + " out of range (sum over 2^63)");
    return sum;
}


namespace {

// Per policy domain of the report, its two views: the tlsa entries and the others (sts,
// no-policy-found), each summed.
struct domain_views {
    session_totals tlsa, other;
    bool has_tlsa = false, has_other = false;
    // The view that counts: the larger by sessions, the sts one on a tie.
    bool tlsa_counts() const { return tlsa.all() > other.all(); }
};

std::map<std::string, domain_views> views_by_domain(const tls_report& r)
{
    std::map<std::string, domain_views> by_domain;
    for (const auto& p : r.policies) {
        auto& views = by_domain[p.policy_domain];
        const bool tlsa = p.type == policy_type::tlsa;
        auto& view = tlsa ? views.tlsa : views.other;
        (tlsa ? views.has_tlsa : views.has_other) = true;
        view.successful = add_sessions(view.successful, p.total_successful_session_count,
                                       "total-successful-session-count");
        view.failed = add_sessions(view.failed, p.total_failure_session_count,
                                   "total-failure-session-count");
        add_sessions(view.successful, view.failed, "session count");
    }
    return by_domain;
}

} // namespace

// The report's own totals. Google sends several policies for one domain (no-policy-found
// and sts, or two sts policies when the policy changed during the day): those are different
// sessions and add up. Microsoft (2023): the tlsa and sts policies of one report count the
// same sessions, so per domain the DANE (tlsa) and the other policies are two views of the
// same traffic: the larger view counts, never their sum.
session_totals report_totals(const tls_report& r)
{
    session_totals total;
    for (const auto& [domain, views] : views_by_domain(r)) {
        const auto& view = views.tlsa_counts() ? views.tlsa : views.other;
        total.successful = add_sessions(total.successful, view.successful, "total-successful-session-count");
        total.failed = add_sessions(total.failed, view.failed, "total-failure-session-count");
    }
    add_sessions(total.successful, total.failed, "session count");
    return total;
}

// A domain with one view only counts all of its entries; with both, the view report_totals
// counts (docs/senders.md "Session counting").
std::vector<bool> counted_policies(const tls_report& r)
{
    const auto by_domain = views_by_domain(r);
    std::vector<bool> counted;
    counted.reserve(r.policies.size());
    for (const auto& p : r.policies) {
        const auto& views = by_domain.at(p.policy_domain);
        if (!views.has_tlsa || !views.has_other)
            counted.push_back(true);
        else
            counted.push_back((p.type == policy_type::tlsa) == views.tlsa_counts());
    }
    return counted;
}


kept_raw keep_raw(const incoming_report& in)
{
    kept_raw k;
    if (in.raw_is_gzip) {
        k.gzip = in.raw;
        k.encoding = "gzip";
    } else {
        k.compressed = gzip_compress(in.raw);
        k.gzip = k.compressed;
        k.encoding = "json";
    }
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(in.raw.data(), in.raw.size());
    const auto& digest = sha.digest();
    k.sha256.assign(digest.begin(), digest.end());
    k.size = static_cast<std::int64_t>(in.raw.size());
    return k;
}


const std::vector<std::string> raw_columns{"report", "raw", "raw_encoding", "sha256", "size"};
const std::vector<std::string> policy_columns{
    "report", "policy_index", "policy_type", "policy_domain", "policy_domain_filled", "policy_string",
    "mx_host", "total_successful_session_count", "total_failure_session_count", "report_start", "counted"};
const std::vector<std::string> detail_columns{
    "report", "policy_index", "detail_index", "day", "policy_domain", "organization_name", "result_type",
    "sending_mta_ip", "receiving_mx_hostname", "receiving_mx_helo", "receiving_ip", "failed_session_count",
    "additional_information", "failure_reason_code", "counted"};

void add_rollup(rollup_sums& sums, rollup_key key, std::int64_t successful, std::int64_t failed)
{
    auto& s = sums[std::move(key)];
    s.successful = add_sessions(s.successful, successful, "successful sessions of a day");
    s.failed = add_sessions(s.failed, failed, "failed sessions of a day");
}

type_sums type_rollup_sums(const rollup_sums& sums)
{
    type_sums by_type;
    for (const auto& [key, s] : sums) {
        if (!key.counted)
            continue;
        auto& t = by_type[{key.policy_domain, key.day, key.result_type}];
        t.successful = add_sessions(t.successful, s.successful, "successful sessions of a day");
        t.failed = add_sessions(t.failed, s.failed, "failed sessions of a day");
    }
    return by_type;
}


// Adds the rows of a newly stored report to the COPY data, its sessions to the rollups and
// its domains and day to days.
void add_report_rows(std::int64_t key, const batch_item& item, const identity& id, batch_rows& rows,
                     rollup_sums& rollups, std::set<reported_day>& days)
{
    const tls_report& r = item.report->report;
    const std::string& organization = id.first;
    const kept_raw& raw = *item.raw;
    rows.raws.number(key).bytes(raw.gzip).text(raw.encoding).bytes(raw.sha256).number(raw.size).end_row();

    const auto day = date_text(utc_day(r.start_datetime));   // rollups: the day the report starts
    const auto report_start = timestamptz_text(r.start_datetime);
    const auto counted = counted_policies(r);
    std::optional<std::int64_t> received_us;
    if (item.report->received_at)
        received_us = epoch_micros(clamp_to_years(*item.report->received_at));
    for (std::size_t pi = 0; pi < r.policies.size(); ++pi) {
        const report_policy& p = r.policies[pi];
        const auto domain = db_text(p.policy_domain);
        const char* type = policy_type_name(p.type);
        const bool is_counted = counted[pi];
        days.insert({domain, day, received_us});
        rows.policies.number(key).number(static_cast<std::int64_t>(pi)).text(type).text(domain)
            .boolean(p.policy_domain_filled).text(text_array(p.policy_string)).text(text_array(p.mx_host))
            .number(p.total_successful_session_count).number(p.total_failure_session_count).text(report_start)
            .boolean(is_counted).end_row();
        // The summary: result_type and receiving_mx '' (see daily_rollups).
        add_rollup(rollups, {domain, day, is_counted, type, "", "", organization},
                   p.total_successful_session_count, p.total_failure_session_count);

        for (std::size_t di = 0; di < p.failure_details.size(); ++di) {
            const failure_detail& d = p.failure_details[di];
            auto result_type = db_text(d.result_type);
            rows.details.number(key).number(static_cast<std::int64_t>(pi)).number(static_cast<std::int64_t>(di))
                .text(day).text(domain).text(organization).text(result_type).opt_text(d.sending_mta_ip)
                .opt_text(d.receiving_mx_hostname).opt_text(d.receiving_mx_helo).opt_text(d.receiving_ip)
                .number(d.failed_session_count).opt_text(d.additional_information).opt_text(d.failure_reason_code)
                .boolean(is_counted).end_row();
            // The MX the failure is about: its name, else its address (mail.ru and
            // Microsoft leave out one or both), else ''.
            std::string mx = d.receiving_mx_hostname ? db_text(*d.receiving_mx_hostname)
                           : d.receiving_ip ? db_text(*d.receiving_ip) : std::string();
            // '' is the summary's result type; an empty one from a sender must not
            // fold its failures into the summary.
            if (result_type.empty())
                result_type = "(empty)";
            add_rollup(rollups, {domain, day, is_counted, type, std::move(result_type), std::move(mx), organization},
                       0, d.failed_session_count);
        }
    }
}


} // namespace stswatch::store_detail
