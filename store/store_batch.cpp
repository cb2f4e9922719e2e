// The write transaction of a batch of reports (schema: sql/0001_create_reports.sql).
#include "store/store_batch.hpp"

#include "store/connection.hpp"
#include "store/partitions.hpp"
#include "common/metrics.hpp"

#include <pqxx/except>
#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

namespace stswatch::store_detail {

namespace {

// ---------------------------------------------------------------------------------------
// One transaction
//
// A constant number of round trips per batch, however many reports it holds: the reports
// in one INSERT … SELECT FROM unnest(…), their receipts in another, the raw bytes, policies
// and failure details by COPY, the rollups in one upsert, the domains seen (and queued for
// the analysis) in another. Every value travels as a parameter or as COPY data, never
// inside the SQL text.

struct statement {
    const char* name;
    const char* sql;
};

// A timestamptz from microseconds since the epoch: exact, with no dependence on text formats.
#define STSWATCH_TS(us) "('epoch'::timestamptz + " us " * interval '1 microsecond')"
// The receive time of a copy: its own when it has one (least() skips the NULL of a copy
// received now), never later than now: a spool written while the clock ran ahead cannot
// hold a report received after it was stored.
#define STSWATCH_RECEIVED(us) "least(" STSWATCH_TS(us) ", now())"

const statement statements[] = {
    // RFC 8460 §4.4: organization-name and report-id identify the report. Rows go in the
    // order of the arrays (identity order), so that concurrent writers take the identity
    // index's locks in one order.
    {"stswatch_insert_reports",
     "INSERT INTO reports (organization_name, report_id, start_datetime, end_datetime, contact_info,"
     " policy_count, total_successful_session_count, total_failure_session_count, warnings, metadata,"
     " dkim_state, dkim_domain, received_at)"
     " SELECT u.organization_name, u.report_id, " STSWATCH_TS("u.start_us") ", " STSWATCH_TS("u.end_us") ","
     " u.contact_info, u.policy_count, u.successful, u.failed, u.warnings::text[], u.metadata::jsonb,"
     " u.dkim_state, u.dkim_domain, " STSWATCH_RECEIVED("u.received_us")
     " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::integer[],"
     " $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[]) WITH ORDINALITY"
     " AS u(organization_name, report_id, start_us, end_us, contact_info, policy_count, successful, failed,"
     " warnings, metadata, dkim_state, dkim_domain, received_us, n)"
     " ORDER BY u.n"
     " ON CONFLICT (organization_name, report_id) DO NOTHING"
     " RETURNING id, organization_name, report_id"},
    {"stswatch_find_reports",
     "SELECT r.id, r.organization_name, r.report_id"
     " FROM unnest($1::text[], $2::text[]) AS u(organization_name, report_id)"
     " JOIN reports r ON r.organization_name = u.organization_name AND r.report_id = u.report_id"},
    {"stswatch_insert_receipts",
     "INSERT INTO report_receipts (report, transport, source_address, received_at)"
     " SELECT u.report, u.transport, u.source_address, " STSWATCH_RECEIVED("u.received_us")
     " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u(report, transport, source_address, received_us)"
     " ON CONFLICT (report, transport) DO NOTHING"},
    // A copy of a stored report can tell more than the stored row: a stronger DKIM verdict
    // (dkim_rank) or an earlier receive time (a copy that waited in the spool). $1..$4: per
    // report, the best of the batch's copies; $5: the verdicts, weakest first; $6..$9: per
    // receipt, the earliest time of a copy that came with one. Only rows that change are
    // locked, in key order, so that writers upgrading the same reports wait rather than
    // deadlock.
    {"stswatch_upgrade_duplicates",
     "WITH u AS ("
     "  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])"
     "  AS u(report, dkim_state, dkim_domain, received_us)),"
     " changed AS ("
     "  SELECT r.id, u.dkim_state, u.dkim_domain, " STSWATCH_RECEIVED("u.received_us") " AS received_at,"
     "  coalesce(array_position($5::text[], u.dkim_state), 0)"
     "   > coalesce(array_position($5::text[], r.dkim_state), 0) AS stronger"
     "  FROM reports r JOIN u ON r.id = u.report"
     "  WHERE coalesce(array_position($5::text[], u.dkim_state), 0)"
     "    > coalesce(array_position($5::text[], r.dkim_state), 0)"
     "   OR " STSWATCH_RECEIVED("u.received_us") " < r.received_at"
     "  ORDER BY r.id FOR NO KEY UPDATE OF r),"
     " receipts AS ("
     "  UPDATE report_receipts t SET received_at = " STSWATCH_RECEIVED("v.received_us") ","
     "  source_address = v.source_address"
     "  FROM unnest($6::bigint[], $7::text[], $8::bigint[], $9::text[])"
     "  AS v(report, transport, received_us, source_address)"
     "  WHERE t.report = v.report AND t.transport = v.transport"
     "   AND " STSWATCH_RECEIVED("v.received_us") " < t.received_at)"
     " UPDATE reports r SET"
     " dkim_state = CASE WHEN c.stronger THEN c.dkim_state ELSE r.dkim_state END,"
     " dkim_domain = CASE WHEN c.stronger THEN c.dkim_domain ELSE r.dkim_domain END,"
     " received_at = least(r.received_at, c.received_at)"
     " FROM changed c WHERE r.id = c.id"},
    // What a batch's newly stored reports add up to, in one statement (one round trip):
    // RFC 8460 §4.4 totals and failure counts, added to what other reports said of the same
    // key in daily_rollups ($1..$9) and, counted only, in daily_type_rollups ($10..$14, the
    // sums that trends read: sql/0004); and the domains of the reports, with their refresh
    // from the earliest day stored on ($15..$17: a late report moves since_day back). Rows
    // come sorted by key, so concurrent writers lock them in one order. A queued row a
    // refresher holds keeps its claim: its new queued_at tells finish() it came again.
    {"stswatch_add_batch_sums",
     "WITH rollups AS ("
     "  INSERT INTO daily_rollups AS d (policy_domain, day, counted, policy_type, result_type, receiving_mx,"
     "  organization_name, successful_sessions, failed_sessions)"
     "  SELECT * FROM unnest($1::text[], $2::date[], $3::boolean[], $4::text[], $5::text[], $6::text[],"
     "  $7::text[], $8::bigint[], $9::bigint[])"
     "  ON CONFLICT (policy_domain, day, counted, policy_type, result_type, receiving_mx, organization_name)"
     "  DO UPDATE SET successful_sessions = d.successful_sessions + excluded.successful_sessions,"
     "  failed_sessions = d.failed_sessions + excluded.failed_sessions),"
     " types AS ("
     "  INSERT INTO daily_type_rollups AS d (policy_domain, day, result_type, successful_sessions, failed_sessions)"
     "  SELECT * FROM unnest($10::text[], $11::date[], $12::text[], $13::bigint[], $14::bigint[])"
     "  ON CONFLICT (policy_domain, day, result_type)"
     "  DO UPDATE SET successful_sessions = d.successful_sessions + excluded.successful_sessions,"
     "  failed_sessions = d.failed_sessions + excluded.failed_sessions),"
     " u AS ("
     "  SELECT u.domain, u.day, " STSWATCH_RECEIVED("u.received_us") " AS received_at"
     "  FROM unnest($15::text[], $16::date[], $17::bigint[]) AS u(domain, day, received_us)),"
     " g AS (SELECT domain, min(day) AS first_day, max(day) AS last_day, max(received_at) AS received_at"
     "  FROM u GROUP BY domain),"
     " seen AS ("
     "  INSERT INTO reported_domains AS r (domain, first_day, last_day, last_received_at)"
     "  SELECT domain, first_day, last_day, received_at FROM g ORDER BY domain"
     "  ON CONFLICT (domain) DO UPDATE SET first_day = least(r.first_day, excluded.first_day),"
     "  last_day = greatest(r.last_day, excluded.last_day),"
     "  last_received_at = greatest(r.last_received_at, excluded.last_received_at))"
     " INSERT INTO analysis_queue AS q (domain, since_day, queued_at)"
     " SELECT domain, first_day, now() FROM g ORDER BY domain"
     " ON CONFLICT (domain) DO UPDATE SET since_day = least(q.since_day, excluded.since_day), queued_at = now()"},
};

#undef STSWATCH_RECEIVED
#undef STSWATCH_TS

} // namespace

void prepare_statements(pqxx::connection& conn)
{
    // Registering is local and repeatable; libpqxx prepares on first use, again after
    // it has reconnected.
    for (const auto& s : statements)
        conn.prepare(s.name, s.sql);
}

void add_batch_sums(pqxx::work& tx, const rollup_sums& sums, const std::set<reported_day>& seen)
{
    if (sums.empty() && seen.empty())
        return;
    // Array literals built in place: a batch has a few hundred keys.
    array_literal domains, days, counted, types, results, mxs, orgs, successful, failed;
    for (const auto& [key, s] : sums) {
        domains.text(key.policy_domain);
        days.plain(key.day);
        counted.plain(key.counted ? "t" : "f");
        types.text(key.policy_type);
        results.text(key.result_type);
        mxs.text(key.receiving_mx);
        orgs.text(key.organization_name);
        successful.number(s.successful);
        failed.number(s.failed);
    }
    array_literal t_domains, t_days, t_results, t_successful, t_failed;
    for (const auto& [key, s] : type_rollup_sums(sums)) {
        t_domains.text(std::get<0>(key));
        t_days.plain(std::get<1>(key));
        t_results.text(std::get<2>(key));
        t_successful.number(s.successful);
        t_failed.number(s.failed);
    }
    array_literal seen_domains, seen_days, seen_received;
    for (const auto& d : seen) {
        seen_domains.text(d.policy_domain);
        seen_days.plain(d.day);
        if (d.received_us)
            seen_received.number(*d.received_us);
        else
            seen_received.null();
    }
    tx.exec_prepared("stswatch_add_batch_sums", domains.str(), days.str(), counted.str(), types.str(), results.str(),
                     mxs.str(), orgs.str(), successful.str(), failed.str(), t_domains.str(), t_days.str(),
                     t_results.str(), t_successful.str(), t_failed.str(), seen_domains.str(), seen_days.str(),
                     seen_received.str());
}

namespace {

// A copy's receive time as the statements take it: microseconds, NULL for "now".
void append_received(array_literal& out, const incoming_report& in)
{
    if (in.received_at)
        out.number(epoch_micros(clamp_to_years(*in.received_at)));
    else
        out.null();
}

// Whether a came in before b; a copy without a time of its own came in now.
bool received_earlier(const incoming_report& a, const incoming_report& b)
{
    if (!a.received_at)
        return false;
    if (!b.received_at)
        return true;
    return epoch_micros(clamp_to_years(*a.received_at)) < epoch_micros(clamp_to_years(*b.received_at));
}

// What the copies of a report that were not stored by the batch (duplicates) can add to the
// stored row: the strongest DKIM verdict among them and the earliest receive time.
struct report_upgrade {
    const incoming_report* dkim = nullptr;       // the copy with the strongest verdict
    const incoming_report* earliest = nullptr;   // the earliest copy with a time of its own
};

void note_upgrade(std::map<std::int64_t, report_upgrade>& upgrades, std::int64_t key, const incoming_report& in)
{
    const int rank = dkim_rank(in.dkim_state);
    if (rank == 0 && !in.received_at)
        return;   // a copy received now and not checked: nothing to add (HTTPS retries)
    auto& u = upgrades[key];
    if (rank > 0 && (!u.dkim || rank > dkim_rank(u.dkim->dkim_state)))
        u.dkim = &in;
    if (in.received_at && (!u.earliest || received_earlier(in, *u.earliest)))
        u.earliest = &in;
}

// One statement for the whole batch, and none when no duplicate has anything to add.
void upgrade_duplicates(pqxx::work& tx, const std::map<std::int64_t, report_upgrade>& upgrades,
                        const std::map<std::pair<std::int64_t, transport>, const incoming_report*>& receipts,
                        const std::vector<bool>& stored, const std::vector<std::optional<std::int64_t>>& keys)
{
    std::set<std::int64_t> new_reports;   // their receipts are new too: nothing earlier to replace
    for (std::size_t i = 0; i < stored.size(); ++i)
        if (stored[i])
            new_reports.insert(*keys[i]);
    array_literal reports, dkim_states, dkim_domains, received;
    for (const auto& [key, u] : upgrades) {
        reports.number(key);
        if (u.dkim)
            dkim_states.text(u.dkim->dkim_state);
        else
            dkim_states.null();
        if (u.dkim && !u.dkim->dkim_domain.empty())
            dkim_domains.text(u.dkim->dkim_domain);
        else
            dkim_domains.null();
        if (u.earliest)
            append_received(received, *u.earliest);
        else
            received.null();
    }
    array_literal receipt_reports, receipt_transports, receipt_received, receipt_sources;
    bool earlier_receipts = false;
    for (const auto& [receipt, in] : receipts) {
        if (!in->received_at || new_reports.count(receipt.first))
            continue;
        earlier_receipts = true;
        receipt_reports.number(receipt.first);
        receipt_transports.text(to_string(receipt.second));
        append_received(receipt_received, *in);
        receipt_sources.text(in->source_address);
    }
    if (upgrades.empty() && !earlier_receipts)
        return;
    array_literal order;
    for (const auto verdict : dkim_verdicts_weakest_first)
        order.text(verdict);
    tx.exec_prepared("stswatch_upgrade_duplicates", reports.str(), dkim_states.str(), dkim_domains.str(),
                     received.str(), order.str(), receipt_reports.str(), receipt_transports.str(),
                     receipt_received.str(), receipt_sources.str());
}

// Stores items in one transaction; throws on any failure, leaving nothing stored.
std::vector<store_result> store_once(pqxx::connection& conn, const std::vector<batch_item>& items)
{
    // Reports are inserted in identity order: two writers whose batches share reports then
    // wait for each other instead of deadlocking. The sort is stable, so of two copies of a
    // report in one batch the first is stored and the second is its duplicate.
    std::vector<std::size_t> order(items.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const auto& ra = items[a].report->report;
        const auto& rb = items[b].report->report;
        return std::tie(ra.organization_name, ra.report_id) < std::tie(rb.organization_name, rb.report_id);
    });

    // Everything that can be refused without the database, before the transaction: a
    // value out of range fails the batch as a data error (then each report on its own).
    std::vector<prepared_report> prepared(items.size());
    std::map<identity, std::size_t> first_copy;
    std::vector<std::size_t> distinct;   // batch indexes of first copies, in identity order
    std::set<int> months;
    for (std::size_t i : order) {
        const tls_report& r = items[i].report->report;
        check_in_range(r.start_datetime, "start-datetime");
        check_in_range(r.end_datetime, "end-datetime");
        auto& p = prepared[i];
        p.totals = report_totals(r);
        p.id = {db_text(r.organization_name), db_text(r.report_id)};
        const auto [it, first] = first_copy.try_emplace(p.id, i);
        p.first = it->second;
        if (!first)
            continue;
        distinct.push_back(i);
        for (const auto& policy : r.policies)
            if (!policy.failure_details.empty())
                months.insert(month_number(utc_day(r.start_datetime)));
    }
    ensure_partitions(conn, months);
    prepare_statements(conn);

    pqxx::work tx(conn, "store_batch");

    array_literal organizations, report_ids, starts, ends, contacts, policy_counts, successful, failed,
        warnings, metadata, dkim_states, dkim_domains, received;
    for (std::size_t i : distinct) {
        const incoming_report& in = *items[i].report;
        const tls_report& r = in.report;
        const auto& p = prepared[i];
        organizations.text(p.id.first);
        report_ids.text(p.id.second);
        starts.number(epoch_micros(r.start_datetime));
        ends.number(epoch_micros(r.end_datetime));
        if (r.contact_info)
            contacts.text(*r.contact_info);
        else
            contacts.null();
        policy_counts.number(static_cast<std::int64_t>(r.policies.size()));
        successful.number(p.totals.successful);
        failed.number(p.totals.failed);
        warnings.text(text_array(in.warnings));
        metadata.text(metadata_json(in.metadata, {}));
        // RFC 8460 §3: the DKIM verdict of a mailed report; NULL where nothing was checked.
        if (in.dkim_state.empty())
            dkim_states.null();
        else
            dkim_states.text(in.dkim_state);
        if (in.dkim_domain.empty())
            dkim_domains.null();
        else
            dkim_domains.text(in.dkim_domain);
        append_received(received, in);
    }
    const auto inserted = tx.exec_prepared(
        "stswatch_insert_reports", organizations.str(), report_ids.str(), starts.str(), ends.str(),
        contacts.str(), policy_counts.str(), successful.str(), failed.str(), warnings.str(), metadata.str(),
        dkim_states.str(), dkim_domains.str(), received.str());

    // The key of each first copy, and whether this batch stored it.
    std::vector<std::optional<std::int64_t>> keys(items.size());
    std::vector<bool> stored(items.size(), false);
    auto key_rows = [&](const pqxx::result& rows, bool new_rows) {
        for (const auto& row : rows) {
            const auto it = first_copy.find({row[1].as<std::string>(), row[2].as<std::string>()});
            if (it == first_copy.end())
                throw std::runtime_error("the database returned a report that is not in the batch");
            keys[it->second] = row[0].as<std::int64_t>();
            stored[it->second] = new_rows;
        }
    };
    key_rows(inserted, true);

    if (inserted.size() < distinct.size()) {
        // Already stored (earlier, or by another writer or instance): only the transport
        // is news.
        array_literal known_organizations, known_ids;
        for (std::size_t i : distinct) {
            if (keys[i])
                continue;
            known_organizations.text(prepared[i].id.first);
            known_ids.text(prepared[i].id.second);
        }
        key_rows(tx.exec_prepared("stswatch_find_reports", known_organizations.str(), known_ids.str()), false);
        for (std::size_t i : distinct)
            if (!keys[i])
                throw std::runtime_error("report " + prepared[i].id.first + " " + prepared[i].id.second +
                                         " conflicted but cannot be found (deleted meanwhile?)");
    }

    std::vector<store_result> results(items.size());
    // Every transport a report came by, once: the earliest copy's time and source address
    // count (a copy without a time of its own is received now, after any that has one).
    std::map<std::pair<std::int64_t, transport>, const incoming_report*> receipts;
    std::map<std::int64_t, report_upgrade> upgrades;
    for (std::size_t i : order) {
        const auto& p = prepared[i];
        const auto key = *keys[p.first];
        const bool stored_here = p.first == i && stored[i];
        results[i] = {stored_here ? store_outcome::stored : store_outcome::duplicate, key};
        const incoming_report& in = *items[i].report;
        const auto [it, first] = receipts.try_emplace({key, in.via}, &in);
        if (!first && received_earlier(in, *it->second))
            it->second = &in;
        if (!stored_here)
            note_upgrade(upgrades, key, in);
    }
    array_literal receipt_reports, receipt_transports, receipt_sources, receipt_received;
    for (const auto& [receipt, in] : receipts) {
        receipt_reports.number(receipt.first);
        receipt_transports.text(to_string(receipt.second));
        receipt_sources.text(in->source_address);
        append_received(receipt_received, *in);
    }
    tx.exec_prepared("stswatch_insert_receipts", receipt_reports.str(), receipt_transports.str(),
                     receipt_sources.str(), receipt_received.str());
    upgrade_duplicates(tx, upgrades, receipts, stored, keys);

    batch_rows rows(inserted.size());
    rollup_sums rollups;
    std::set<reported_day> seen;
    for (std::size_t i : distinct)
        if (stored[i])
            add_report_rows(*keys[i], items[i], prepared[i].id, rows, rollups, seen);
    rows.raws.send(tx, "report_raw", raw_columns);
    rows.policies.send(tx, "report_policies", policy_columns);
    rows.details.send(tx, "failure_details", detail_columns);
    add_batch_sums(tx, rollups, seen);
    tx.commit();
    return results;
}

// ---------------------------------------------------------------------------------------
// Failures: which are the report's fault, which the database's

enum class failure_class {
    connection,   // the connection broke: reconnect and try again, once
    transient,    // deadlock or serialization failure: the transaction can simply be retried
    data,         // a value of one report: the others can still be stored
    in_doubt,     // the commit may or may not have happened: never retry
    unavailable,  // anything else on the database's side: try later
};

// The store's policy (store/connection.hpp) as the write path applies it: a missing table,
// disk full or a bug of ours is no report's fault, so every failure that is not one
// report's value makes the database unavailable for the batch.
failure_class classify_for_write(const std::exception_ptr& error)
{
    try {
        std::rethrow_exception(error);
    } catch (const report_data_error&) {
        return failure_class::data;
    } catch (...) {
    }
    switch (classify(error)) {
    case db_failure::connection: return failure_class::connection;
    case db_failure::retry: return failure_class::transient;
    case db_failure::data: return failure_class::data;
    case db_failure::in_doubt: return failure_class::in_doubt;
    default: return failure_class::unavailable;
    }
}

std::exception_ptr unavailable(const std::exception_ptr& cause, const char* context = nullptr)
{
    std::string message = "database unavailable: ";
    if (context) {
        message += context;
        message += ": ";
    }
    return std::make_exception_ptr(store_unavailable(message + first_line(cause)));
}

std::exception_ptr rejected(const incoming_report& in, const std::exception_ptr& cause)
{
    // The identity is the sender's text: bounded, so that a hostile one cannot flood a log.
    auto bounded = [](const std::string& s) { return s.size() <= 200 ? s : s.substr(0, 200) + "…"; };
    return std::make_exception_ptr(store_rejected("report " + bounded(in.report.organization_name) + " " +
                                                  bounded(in.report.report_id) + " cannot be stored: " +
                                                  first_line(cause)));
}

// Runs store_once, retrying once after a broken connection (libpqxx reconnects on the next
// transaction) or a deadlock. Returns the results, or the error with its class.
struct once_outcome {
    std::vector<store_result> results;
    std::exception_ptr error;
    failure_class kind = failure_class::unavailable;
};

// docs/metrics.md: the time of one write transaction that committed, and its size.
void observe_commit(std::chrono::steady_clock::time_point began, std::size_t reports)
{
    static auto& duration = metrics::global().histogram(
        "stswatch_store_commit_duration_seconds", "Time of one write transaction of reports, to its commit.", {},
        metrics::latency_buckets());
    static auto& batch = metrics::global().histogram(
        "stswatch_store_batch_reports", "Reports in one committed write transaction (group commit).", {},
        metrics::batch_buckets());
    duration.with({}).observe(metrics::seconds_since(began));
    batch.with({}).observe(static_cast<double>(reports));
}

once_outcome store_with_retry(pqxx::connection& conn, const std::vector<batch_item>& items)
{
    once_outcome out;
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            const auto began = std::chrono::steady_clock::now();
            out.results = store_once(conn, items);
            observe_commit(began, items.size());
            out.error = nullptr;
            return out;
        } catch (...) {
            out.error = std::current_exception();
            out.kind = classify_for_write(out.error);
        }
        if (out.kind != failure_class::connection && out.kind != failure_class::transient)
            break;
    }
    return out;
}

} // namespace

std::vector<store_attempt> store_items(pqxx::connection& conn, const std::vector<batch_item>& items)
{
    std::vector<store_attempt> attempts(items.size());
    if (items.empty())
        return attempts;

    auto whole = store_with_retry(conn, items);
    if (!whole.error) {
        for (std::size_t i = 0; i < items.size(); ++i)
            attempts[i].result = whole.results[i];
        return attempts;
    }
    if (whole.kind != failure_class::data || items.size() == 1) {
        for (std::size_t i = 0; i < items.size(); ++i)
            attempts[i].error = whole.kind == failure_class::data ? rejected(*items[i].report, whole.error)
                              : whole.kind == failure_class::in_doubt
                                  ? unavailable(whole.error, "commit outcome unknown")
                                  : unavailable(whole.error);
        return attempts;
    }

    // One report spoiled the batch: store them one by one so that it is the only one lost.
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto one = store_with_retry(conn, {items[i]});
        if (!one.error) {
            attempts[i].result = one.results[0];
            continue;
        }
        if (one.kind == failure_class::data) {
            attempts[i].error = rejected(*items[i].report, one.error);
            continue;
        }
        // The database itself failed: the rest cannot fare better now.
        const auto error = unavailable(one.error, one.kind == failure_class::in_doubt ? "commit outcome unknown" : nullptr);
        for (std::size_t j = i; j < items.size(); ++j)
            attempts[j].error = error;
        break;
    }
    return attempts;
}


} // namespace stswatch::store_detail

namespace stswatch {

using namespace store_detail;

std::vector<store_attempt> store_batch_each(pqxx::connection& conn,
                                           const std::vector<const incoming_report*>& batch)
{
    std::vector<kept_raw> raws;
    raws.reserve(batch.size());
    std::vector<batch_item> items;
    items.reserve(batch.size());
    for (const auto* in : batch) {
        raws.push_back(keep_raw(*in));
        items.push_back({in, &raws.back()});
    }
    return store_items(conn, items);
}

std::vector<store_result> store_batch(pqxx::connection& conn,
                                      const std::vector<const incoming_report*>& batch)
{
    auto attempts = store_batch_each(conn, batch);
    std::vector<store_result> results;
    results.reserve(attempts.size());
    for (auto& a : attempts) {
        if (a.error)
            std::rethrow_exception(a.error);
        results.push_back(*a.result);
    }
    return results;
}


} // namespace stswatch
