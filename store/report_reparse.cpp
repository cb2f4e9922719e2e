// Re-deriving a stored report's rows (store/report_reparse.hpp).
#include "store/report_reparse.hpp"

#include "store/connection.hpp"
#include "store/partitions.hpp"
#include "store/report_rows.hpp"
#include "store/store_batch.hpp"

#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>

namespace stswatch {

using namespace store_detail;

const char* to_string(reparse_result r)
{
    switch (r) {
    case reparse_result::unchanged: return "unchanged";
    case reparse_result::changed: return "changed";
    case reparse_result::identity_changed: return "identity-changed";
    case reparse_result::missing: return "missing";
    }
    return "unchanged";
}

namespace {

constexpr const char* selection_where =
    " WHERE ($1::timestamptz IS NULL OR r.end_datetime > $1::timestamptz)"
    " AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM report_policies p WHERE p.report = r.id AND p.policy_domain = $2))";

std::optional<std::string> since_text(const reparse_selection& s)
{
    if (!s.since)
        return std::nullopt;
    return timestamptz_text(*s.since);
}

// The rows a policy is stored as, in comparable text: what the database holds for it and
// what the report makes now, field by field.
struct policy_view {
    std::string type, domain;
    bool filled = false, counted = true;
    std::vector<std::string> strings, mx;
    std::int64_t successful = 0, failed = 0;
    std::vector<std::string> details;   // one line per failure detail, in the report's order
};

struct report_view {
    std::int64_t start_us = 0, end_us = 0;
    std::optional<std::string> contact;
    std::int64_t successful = 0, failed = 0;
    std::vector<std::string> warnings;
    std::vector<policy_view> policies;
};

void add_field(std::string& line, const std::optional<std::string>& value)
{
    line += '\x1f';
    if (value) {
        line += '"';
        line += *value;
        line += '"';
    } else {
        line += "null";
    }
}

std::string detail_line(const std::string& result_type, const std::optional<std::string>& sending_ip,
                        const std::optional<std::string>& mx, const std::optional<std::string>& helo,
                        const std::optional<std::string>& receiving_ip, std::int64_t failed,
                        const std::optional<std::string>& information, const std::optional<std::string>& code)
{
    std::string line = result_type;
    add_field(line, sending_ip);
    add_field(line, mx);
    add_field(line, helo);
    add_field(line, receiving_ip);
    line += '\x1f' + std::to_string(failed);
    add_field(line, information);
    add_field(line, code);
    return line;
}

std::optional<std::string> db_opt(const std::optional<std::string>& s)
{
    if (!s)
        return std::nullopt;
    return db_text(*s);
}

std::optional<std::string> opt_field(const pqxx::field& f)
{
    if (f.is_null())
        return std::nullopt;
    return f.as<std::string>();
}

report_view fresh_view(const incoming_report& in, const session_totals& totals)
{
    const tls_report& r = in.report;
    report_view v;
    v.start_us = epoch_micros(r.start_datetime);
    v.end_us = epoch_micros(r.end_datetime);
    v.contact = db_opt(r.contact_info);
    v.successful = totals.successful;
    v.failed = totals.failed;
    for (const auto& w : in.warnings)
        v.warnings.push_back(db_text(w));
    const auto counted = counted_policies(r);
    for (std::size_t i = 0; i < r.policies.size(); ++i) {
        const auto& p = r.policies[i];
        policy_view pv;
        pv.type = policy_type_name(p.type);
        pv.domain = db_text(p.policy_domain);
        pv.filled = p.policy_domain_filled;
        pv.counted = counted[i];
        for (const auto& s : p.policy_string)
            pv.strings.push_back(db_text(s));
        for (const auto& m : p.mx_host)
            pv.mx.push_back(db_text(m));
        pv.successful = p.total_successful_session_count;
        pv.failed = p.total_failure_session_count;
        for (const auto& d : p.failure_details)
            pv.details.push_back(detail_line(db_text(d.result_type), db_opt(d.sending_mta_ip),
                                             db_opt(d.receiving_mx_hostname), db_opt(d.receiving_mx_helo),
                                             db_opt(d.receiving_ip), d.failed_session_count,
                                             db_opt(d.additional_information), db_opt(d.failure_reason_code)));
        v.policies.push_back(std::move(pv));
    }
    return v;
}

struct stored_state {
    std::string organization, report_id;
    report_view view;
    bool same_metadata = true;
    std::string metadata;
};

std::optional<stored_state> load_state(pqxx::work& tx, std::int64_t key, const std::string& fresh_metadata)
{
    const auto rows = tx.exec_params(
        "SELECT organization_name, report_id,"
        " (extract(epoch FROM start_datetime) * 1000000)::bigint, (extract(epoch FROM end_datetime) * 1000000)::bigint,"
        " contact_info, total_successful_session_count, total_failure_session_count, warnings,"
        " metadata = $2::jsonb, metadata::text"
        " FROM reports WHERE id = $1 FOR UPDATE",
        key, fresh_metadata);
    if (rows.empty())
        return std::nullopt;
    const auto& row = rows[0];
    stored_state s;
    s.organization = row[0].as<std::string>();
    s.report_id = row[1].as<std::string>();
    s.view.start_us = row[2].as<std::int64_t>();
    s.view.end_us = row[3].as<std::int64_t>();
    s.view.contact = opt_field(row[4]);
    s.view.successful = row[5].as<std::int64_t>();
    s.view.failed = row[6].as<std::int64_t>();
    s.view.warnings = text_array_values(row[7]);
    s.same_metadata = row[8].as<bool>();
    s.metadata = row[9].as<std::string>();

    for (const auto& p : tx.exec_params("SELECT policy_type, policy_domain, policy_domain_filled, counted, policy_string,"
                                        " mx_host, total_successful_session_count, total_failure_session_count"
                                        " FROM report_policies WHERE report = $1 ORDER BY policy_index",
                                        key)) {
        policy_view pv;
        pv.type = p[0].as<std::string>();
        pv.domain = p[1].as<std::string>();
        pv.filled = p[2].as<bool>();
        pv.counted = p[3].as<bool>();
        pv.strings = text_array_values(p[4]);
        pv.mx = text_array_values(p[5]);
        pv.successful = p[6].as<std::int64_t>();
        pv.failed = p[7].as<std::int64_t>();
        s.view.policies.push_back(std::move(pv));
    }
    for (const auto& d : tx.exec_params("SELECT policy_index, result_type, sending_mta_ip, receiving_mx_hostname,"
                                        " receiving_mx_helo, receiving_ip, failed_session_count,"
                                        " additional_information, failure_reason_code"
                                        " FROM failure_details WHERE report = $1 ORDER BY policy_index, detail_index",
                                        key)) {
        const auto index = d[0].as<std::size_t>();
        if (index >= s.view.policies.size())
            continue;   // a detail without its policy: the replace below removes it
        s.view.policies[index].details.push_back(
            detail_line(d[1].as<std::string>(), opt_field(d[2]), opt_field(d[3]), opt_field(d[4]), opt_field(d[5]),
                        d[6].as<std::int64_t>(), opt_field(d[7]), opt_field(d[8])));
    }
    return s;
}

// Bounded lines of what differs.
class change_list {
public:
    explicit change_list(std::size_t max) : max_(max) {}

    void add(std::string line)
    {
        if (lines_.size() < max_)
            lines_.push_back(bounded(std::move(line)));
        else
            ++more_;
    }
    template <typename T>
    void compare(const std::string& field, const T& before, const T& after)
    {
        if (before != after)
            add(field + ": " + show(before) + " -> " + show(after));
    }
    std::vector<std::string> take()
    {
        if (more_)
            lines_.push_back("… and " + std::to_string(more_) + " more");
        return std::move(lines_);
    }
    bool empty() const { return lines_.empty() && more_ == 0; }

    static std::string show(const std::string& s) { return "\"" + s + "\""; }
    static std::string show(std::int64_t n) { return std::to_string(n); }
    static std::string show(bool b) { return b ? "true" : "false"; }
    static std::string show(const std::optional<std::string>& s) { return s ? show(*s) : "null"; }
    static std::string show(const std::vector<std::string>& v)
    {
        std::string out = "[";
        for (std::size_t i = 0; i < v.size(); ++i)
            out += (i ? ", " : "") + show(v[i]);
        return out + "]";
    }

private:
    static std::string bounded(std::string s)
    {
        for (auto& c : s)
            if (c == '\x1f')
                c = ' ';
        if (s.size() > 300) {
            s.resize(300);
            s += "…";
        }
        return s;
    }
    std::size_t max_;
    std::size_t more_ = 0;
    std::vector<std::string> lines_;
};

void compare_views(const stored_state& old, const report_view& now, const std::string& fresh_metadata,
                   change_list& changes)
{
    changes.compare("start-datetime", format_rfc3339(from_micros(old.view.start_us)), format_rfc3339(from_micros(now.start_us)));
    changes.compare("end-datetime", format_rfc3339(from_micros(old.view.end_us)), format_rfc3339(from_micros(now.end_us)));
    changes.compare("contact-info", old.view.contact, now.contact);
    changes.compare("total-successful-session-count", old.view.successful, now.successful);
    changes.compare("total-failure-session-count", old.view.failed, now.failed);
    for (const auto& w : old.view.warnings)
        if (std::find(now.warnings.begin(), now.warnings.end(), w) == now.warnings.end())
            changes.add("warning gone: " + w);
    for (const auto& w : now.warnings)
        if (std::find(old.view.warnings.begin(), old.view.warnings.end(), w) == old.view.warnings.end())
            changes.add("warning new: " + w);
    if (!old.same_metadata)
        changes.add("metadata: " + old.metadata + " -> " + fresh_metadata);
    const auto& before = old.view.policies;
    const auto& after = now.policies;
    changes.compare("policies", static_cast<std::int64_t>(before.size()), static_cast<std::int64_t>(after.size()));
    for (std::size_t i = 0; i < std::max(before.size(), after.size()); ++i) {
        const std::string at = "policies[" + std::to_string(i) + "]";
        if (i >= before.size()) {
            changes.add(at + ": new, " + after[i].type + " for \"" + after[i].domain + "\"");
            continue;
        }
        if (i >= after.size()) {
            changes.add(at + ": gone, " + before[i].type + " for \"" + before[i].domain + "\"");
            continue;
        }
        const auto& b = before[i];
        const auto& a = after[i];
        changes.compare(at + ".policy.policy-type", b.type, a.type);
        changes.compare(at + ".policy.policy-domain", b.domain, a.domain);
        changes.compare(at + ".policy.policy-domain filled", b.filled, a.filled);
        changes.compare(at + ".policy.policy-string", b.strings, a.strings);
        changes.compare(at + ".policy.mx-host", b.mx, a.mx);
        changes.compare(at + ".summary.total-successful-session-count", b.successful, a.successful);
        changes.compare(at + ".summary.total-failure-session-count", b.failed, a.failed);
        changes.compare(at + " counted", b.counted, a.counted);
        changes.compare(at + ".failure-details", static_cast<std::int64_t>(b.details.size()),
                        static_cast<std::int64_t>(a.details.size()));
        for (std::size_t j = 0; j < std::max(b.details.size(), a.details.size()); ++j) {
            const std::string dat = at + ".failure-details[" + std::to_string(j) + "]";
            if (j >= b.details.size())
                changes.add(dat + ": new: " + a.details[j]);
            else if (j >= a.details.size())
                changes.add(dat + ": gone: " + b.details[j]);
            else if (b.details[j] != a.details[j])
                changes.add(dat + ": " + b.details[j] + " -> " + a.details[j]);
        }
    }
}

// The report's share of the rollups as its stored rows make it (the formulas of
// sql/0004_analysis.sql, which the write path keeps).
rollup_sums stored_contribution(pqxx::work& tx, std::int64_t key)
{
    rollup_sums sums;
    const auto rows = tx.exec_params(
        "SELECT p.policy_domain, ((p.report_start AT TIME ZONE 'UTC')::date)::text, p.counted, p.policy_type,"
        " '', '', r.organization_name,"
        " sum(p.total_successful_session_count)::bigint, sum(p.total_failure_session_count)::bigint"
        " FROM report_policies p JOIN reports r ON r.id = p.report WHERE p.report = $1"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7"
        " UNION ALL"
        " SELECT d.policy_domain, d.day::text, d.counted, p.policy_type,"
        " CASE WHEN d.result_type = '' THEN '(empty)' ELSE d.result_type END,"
        " coalesce(d.receiving_mx_hostname, d.receiving_ip, ''), d.organization_name,"
        " 0::bigint, sum(d.failed_session_count)::bigint"
        " FROM failure_details d JOIN report_policies p ON p.report = d.report AND p.policy_index = d.policy_index"
        " WHERE d.report = $1"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7",
        key);
    for (const auto& row : rows)
        add_rollup(sums,
                   {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<bool>(), row[3].as<std::string>(),
                    row[4].as<std::string>(), row[5].as<std::string>(), row[6].as<std::string>()},
                   row[7].as<std::int64_t>(), row[8].as<std::int64_t>());
    return sums;
}

struct key_arrays {
    array_literal domains, days, counted, types, results, mxs, orgs, successful, failed;
};

key_arrays arrays_of(const rollup_sums& sums)
{
    key_arrays a;
    for (const auto& [key, s] : sums) {
        a.domains.text(key.policy_domain);
        a.days.plain(key.day);
        a.counted.plain(key.counted ? "t" : "f");
        a.types.text(key.policy_type);
        a.results.text(key.result_type);
        a.mxs.text(key.receiving_mx);
        a.orgs.text(key.organization_name);
        a.successful.number(s.successful);
        a.failed.number(s.failed);
    }
    return a;
}

constexpr const char* rollup_key_match =
    " d.policy_domain = u.policy_domain AND d.day = u.day AND d.counted = u.counted AND d.policy_type = u.policy_type"
    " AND d.result_type = u.result_type AND d.receiving_mx = u.receiving_mx AND d.organization_name = u.organization_name";

constexpr const char* rollup_unnest =
    " unnest($1::text[], $2::date[], $3::boolean[], $4::text[], $5::text[], $6::text[], $7::text[])"
    " AS u(policy_domain, day, counted, policy_type, result_type, receiving_mx, organization_name)";

// Takes the report's old share out of both rollup tables. Rows in key order, as the write
// path locks them.
void subtract_rollups(pqxx::work& tx, const rollup_sums& sums)
{
    if (sums.empty())
        return;
    auto a = arrays_of(sums);
    tx.exec_params(std::string("UPDATE daily_rollups d SET successful_sessions = d.successful_sessions - u.successful,"
                               " failed_sessions = d.failed_sessions - u.failed FROM"
                               " unnest($1::text[], $2::date[], $3::boolean[], $4::text[], $5::text[], $6::text[],"
                               " $7::text[], $8::bigint[], $9::bigint[])"
                               " AS u(policy_domain, day, counted, policy_type, result_type, receiving_mx,"
                               " organization_name, successful, failed) WHERE") + rollup_key_match,
                   a.domains.str(), a.days.str(), a.counted.str(), a.types.str(), a.results.str(), a.mxs.str(),
                   a.orgs.str(), a.successful.str(), a.failed.str());
    const auto by_type = type_rollup_sums(sums);
    if (by_type.empty())
        return;
    array_literal domains, days, results, successful, failed;
    for (const auto& [key, s] : by_type) {
        domains.text(std::get<0>(key));
        days.plain(std::get<1>(key));
        results.text(std::get<2>(key));
        successful.number(s.successful);
        failed.number(s.failed);
    }
    tx.exec_params("UPDATE daily_type_rollups d SET successful_sessions = d.successful_sessions - u.successful,"
                   " failed_sessions = d.failed_sessions - u.failed"
                   " FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::bigint[])"
                   " AS u(policy_domain, day, result_type, successful, failed)"
                   " WHERE d.policy_domain = u.policy_domain AND d.day = u.day AND d.result_type = u.result_type",
                   domains.str(), days.str(), results.str(), successful.str(), failed.str());
}

// Rows of the old keys that hold nothing now and that no stored report contributes to: a
// fresh ingest would not have made them. A row of zeros that some report still makes stays
// (a report of no sessions makes one).
void drop_orphaned_rollups(pqxx::work& tx, const rollup_sums& old_sums)
{
    if (old_sums.empty())
        return;
    auto a = arrays_of(old_sums);
    tx.exec_params(
        std::string("DELETE FROM daily_rollups d USING") + rollup_unnest + " WHERE" + rollup_key_match +
            " AND d.successful_sessions = 0 AND d.failed_sessions = 0"
            " AND CASE WHEN d.result_type = '' THEN NOT EXISTS ("
            "  SELECT 1 FROM report_policies p JOIN reports r ON r.id = p.report"
            "  WHERE p.policy_domain = d.policy_domain"
            "  AND p.report_start >= (d.day::timestamp AT TIME ZONE 'UTC')"
            "  AND p.report_start < ((d.day + 1)::timestamp AT TIME ZONE 'UTC')"
            "  AND p.counted = d.counted AND p.policy_type = d.policy_type AND r.organization_name = d.organization_name)"
            " ELSE NOT EXISTS ("
            "  SELECT 1 FROM failure_details f JOIN report_policies p ON p.report = f.report AND p.policy_index = f.policy_index"
            "  WHERE f.policy_domain = d.policy_domain AND f.day = d.day AND f.counted = d.counted"
            "  AND (CASE WHEN f.result_type = '' THEN '(empty)' ELSE f.result_type END) = d.result_type"
            "  AND coalesce(f.receiving_mx_hostname, f.receiving_ip, '') = d.receiving_mx"
            "  AND f.organization_name = d.organization_name AND p.policy_type = d.policy_type) END",
        a.domains.str(), a.days.str(), a.counted.str(), a.types.str(), a.results.str(), a.mxs.str(), a.orgs.str());
    array_literal domains, days, results;
    for (const auto& [key, s] : type_rollup_sums(old_sums)) {
        domains.text(std::get<0>(key));
        days.plain(std::get<1>(key));
        results.text(std::get<2>(key));
    }
    tx.exec_params("DELETE FROM daily_type_rollups t USING unnest($1::text[], $2::date[], $3::text[])"
                   " AS u(policy_domain, day, result_type)"
                   " WHERE t.policy_domain = u.policy_domain AND t.day = u.day AND t.result_type = u.result_type"
                   " AND t.successful_sessions = 0 AND t.failed_sessions = 0"
                   " AND NOT EXISTS (SELECT 1 FROM daily_rollups r WHERE r.policy_domain = t.policy_domain"
                   "  AND r.day = t.day AND r.result_type = t.result_type AND r.counted)",
                   domains.str(), days.str(), results.str());
}

reparse_outcome reparse_once(pqxx::connection& conn, std::int64_t key, const incoming_report& fresh, bool apply)
{
    const tls_report& r = fresh.report;
    check_in_range(r.start_datetime, "start-datetime");
    check_in_range(r.end_datetime, "end-datetime");
    const auto totals = report_totals(r);
    const auto metadata = metadata_json(fresh.metadata, {});
    const identity id{db_text(r.organization_name), db_text(r.report_id)};
    std::set<int> months;
    for (const auto& p : r.policies)
        if (!p.failure_details.empty())
            months.insert(month_number(utc_day(r.start_datetime)));
    if (apply)
        ensure_partitions(conn, months);
    prepare_statements(conn);

    pqxx::work tx(conn, "reparse_report");
    reparse_outcome out;
    const auto old = load_state(tx, key, metadata);
    if (!old) {
        out.result = reparse_result::missing;
        return out;
    }
    if (old->organization != id.first || old->report_id != id.second) {
        out.result = reparse_result::identity_changed;
        out.changes.push_back("the body now names report \"" + id.second + "\" of \"" + id.first +
                              "\", stored as \"" + old->report_id + "\" of \"" + old->organization + "\"");
        return out;
    }
    change_list changes(40);
    compare_views(*old, fresh_view(fresh, totals), metadata, changes);
    if (changes.empty())
        return out;
    out.result = reparse_result::changed;
    out.changes = changes.take();
    if (!apply)
        return out;

    const auto old_sums = stored_contribution(tx, key);
    subtract_rollups(tx, old_sums);
    tx.exec_params("DELETE FROM failure_details WHERE report = $1", key);
    tx.exec_params("DELETE FROM report_policies WHERE report = $1", key);

    // The new rows as the write path makes them; the raw bytes stay as they are.
    const kept_raw unused_raw;
    batch_rows rows(1);
    rollup_sums new_sums;
    std::set<reported_day> days;
    add_report_rows(key, {&fresh, &unused_raw}, id, rows, new_sums, days);
    rows.policies.send(tx, "report_policies", policy_columns);
    rows.details.send(tx, "failure_details", detail_columns);
    add_batch_sums(tx, new_sums, {});
    drop_orphaned_rollups(tx, old_sums);

    tx.exec_params("UPDATE reports SET start_datetime = ('epoch'::timestamptz + $2 * interval '1 microsecond'),"
                   " end_datetime = ('epoch'::timestamptz + $3 * interval '1 microsecond'), contact_info = $4,"
                   " policy_count = $5, total_successful_session_count = $6, total_failure_session_count = $7,"
                   " warnings = $8::text[], metadata = $9::jsonb WHERE id = $1",
                   key, epoch_micros(r.start_datetime), epoch_micros(r.end_datetime), db_opt(r.contact_info),
                   static_cast<std::int64_t>(r.policies.size()), totals.successful, totals.failed,
                   text_array(fresh.warnings), metadata);

    // The analysis looks again at the days the report was and is on, for every domain it
    // named before and names now.
    const auto received = tx.exec_params("SELECT (extract(epoch FROM received_at) * 1000000)::bigint FROM reports WHERE id = $1", key);
    const auto received_us = received[0][0].as<std::int64_t>();
    std::set<reported_day> noted;
    for (const auto& d : days)
        noted.insert({d.policy_domain, d.day, received_us});
    for (const auto& [k, s] : old_sums)
        noted.insert({k.policy_domain, k.day, received_us});
    add_batch_sums(tx, {}, noted);
    tx.commit();
    return out;
}

} // namespace

std::vector<std::int64_t> select_stored_reports(pqxx::connection& conn, const reparse_selection& s,
                                                std::int64_t after_key, std::size_t limit)
{
    return guarded("cannot read the stored reports", [&] {
        pqxx::read_transaction tx(conn, "select_stored_reports");
        const auto rows = tx.exec_params(std::string("SELECT r.id FROM reports r") + selection_where +
                                             " AND r.id > $3 ORDER BY r.id LIMIT $4",
                                         since_text(s), s.domain, after_key, static_cast<std::int64_t>(limit));
        std::vector<std::int64_t> keys;
        keys.reserve(rows.size());
        for (const auto& row : rows)
            keys.push_back(row[0].as<std::int64_t>());
        return keys;
    });
}

std::int64_t count_stored_reports(pqxx::connection& conn, const reparse_selection& s)
{
    return guarded("cannot read the stored reports", [&] {
        pqxx::read_transaction tx(conn, "count_stored_reports");
        return tx.exec_params(std::string("SELECT count(*) FROM reports r") + selection_where, since_text(s), s.domain)[0][0]
            .as<std::int64_t>();
    });
}

reparse_outcome reparse_stored_report(pqxx::connection& conn, std::int64_t key, const incoming_report& fresh,
                                      bool apply)
{
    for (int attempt = 0;; ++attempt) {
        try {
            return reparse_once(conn, key, fresh, apply);
        } catch (const report_data_error& e) {
            throw store_rejected(std::string("report cannot be stored again: ") + e.what());
        } catch (...) {
            const auto failure = classify(std::current_exception());
            if (attempt == 0 && (failure == db_failure::retry || failure == db_failure::connection))
                continue;   // a deadlock with a writer, or a connection libpqxx reopens: once more
            rethrow_as_store_error(std::current_exception(), "reparse");
        }
    }
}

} // namespace stswatch
