// The analysis' queries (store/analysis_store.hpp; sql/0004_analysis.sql). The sums are
// made in SQL over the primary key of daily_rollups (policy_domain, day, counted, …): a
// year of one domain is a range scan of that index, never rows shipped to be added here.
#include "store/analysis_store.hpp"

#include "store/report_queries.hpp"

#include "store/connection.hpp"
#include "store/db_values.hpp"

#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace stswatch {

namespace {

using store_detail::array_literal;
using store_detail::text_array;

// A timestamptz column as RFC 3339 text in UTC, whole seconds (as store/monitor_store.cpp).
#define STSWATCH_RFC3339(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
// With microseconds: exact, so that the text compares equal to the stored value.
#define STSWATCH_RFC3339_US(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

utc_date day_of(const pqxx::field& f)
{
    const auto text = f.as<std::string>();
    const auto day = parse_day(text);
    if (!day)
        throw std::runtime_error("the database returned a date that is not one: " + text);
    return *day;
}

std::vector<std::string> strings_of(const pqxx::field& f)
{
    std::vector<std::string> out;
    auto parser = f.as_array();
    for (auto next = parser.get_next(); next.first != pqxx::array_parser::juncture::done;
         next = parser.get_next())
        if (next.first == pqxx::array_parser::juncture::string_value)
            out.push_back(std::move(next.second));
    return out;
}

std::string opt_day_text(const std::optional<utc_date>& d) { return d ? format_day(*d) : std::string(); }

// The columns of an incident as incident_of reads them.
constexpr const char* incident_columns =
    "id, domain, dimension, key, onset::text, last_day::text, coalesce(end_day::text, ''), status,"
    " failed_sessions, sessions, failure_rate, baseline_rate, p_value, mx, result_types, organizations,"
    " days::text, " STSWATCH_RFC3339("opened_at") ", " STSWATCH_RFC3339("updated_at") ","
    " " STSWATCH_RFC3339("acknowledged_at") ", acknowledged_by";

incident_row incident_of(const pqxx::row& row)
{
    incident_row i;
    i.id = row[0].as<long long>();
    i.domain = row[1].as<std::string>();
    i.dimension = row[2].as<std::string>();
    i.key = row[3].as<std::string>();
    i.onset = day_of(row[4]);
    i.last_day = day_of(row[5]);
    if (const auto end = row[6].as<std::string>(); !end.empty())
        i.end = day_of(row[6]);
    i.status = row[7].as<std::string>();
    i.failed_sessions = row[8].as<std::int64_t>();
    i.sessions = row[9].as<std::int64_t>();
    i.failure_rate = row[10].as<double>();
    i.baseline_rate = row[11].as<double>();
    i.p_value = row[12].as<double>();
    i.mx = strings_of(row[13]);
    i.result_types = strings_of(row[14]);
    i.organizations = strings_of(row[15]);
    i.days_json = row[16].as<std::string>();
    i.opened_at = row[17].as<std::string>();
    i.updated_at = row[18].as<std::string>();
    if (!row[19].is_null())
        i.acknowledged_at = row[19].as<std::string>();
    if (!row[20].is_null())
        i.acknowledged_by.emplace(row[20].as<std::string>());
    return i;
}

std::vector<incident_row> incidents_of(const pqxx::result& rows)
{
    std::vector<incident_row> out;
    out.reserve(rows.size());
    for (const auto& row : rows)
        out.push_back(incident_of(row));
    return out;
}

// The snapshots of [from, to] and the last one before from (usable only: not
// dns_unavailable, when `usable`), as a CTE "s" (id, checked_at).
std::string window_snapshots(bool usable)
{
    return std::string(
               "WITH s AS ("
               " SELECT id, checked_at FROM check_snapshots"
               " WHERE domain = $1 AND checked_at BETWEEN $2::timestamptz AND $3::timestamptz"
               " UNION ALL"
               " (SELECT id, checked_at FROM check_snapshots WHERE domain = $1 AND checked_at < $2::timestamptz") +
           (usable ? " AND NOT dns_unavailable" : "") + " ORDER BY checked_at DESC, id DESC LIMIT 1))";
}

} // namespace

struct analysis_store::impl {
    explicit impl(const std::string& url) : conn(open_connection(url)) {}
    std::unique_ptr<pqxx::connection> conn;
};

analysis_store::analysis_store(const std::string& db_url) : impl_(std::make_unique<impl>(db_url)) {}
analysis_store::~analysis_store() = default;

// --- Trends ---

std::vector<day_type_row> analysis_store::daily_series(const std::string& domain, utc_date from, utc_date to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_daily_series");
        const auto rows = tx.exec_params(
            // sql/0004 daily_type_rollups: the counted rollups summed per result type at ingest.
            "SELECT day::text, result_type, successful_sessions, failed_sessions"
            " FROM daily_type_rollups WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date"
            " ORDER BY day, result_type",
            domain, format_day(from), format_day(to));
        std::vector<day_type_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows)
            out.push_back({day_of(row[0]), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                           row[3].as<std::int64_t>()});
        return out;
    });
}

std::vector<group_row> analysis_store::groups(const std::string& domain, utc_date from, utc_date to, trend_group by)
{
    return guarded("cannot connect", [&] {
        // key, successful (NULL where reports carry none for the key), failed, first, last.
        const char* sql = nullptr;
        switch (by) {
        case trend_group::result_type:
            sql = "SELECT result_type, NULL::bigint, sum(failed_sessions)::bigint, min(day)::text, max(day)::text"
                  " FROM daily_type_rollups WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date"
                  " AND result_type <> '' GROUP BY 1";
            break;
        case trend_group::mx:
            sql = "SELECT receiving_mx, NULL::bigint, sum(failed_sessions)::bigint, min(day)::text, max(day)::text"
                  " FROM daily_rollups WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date AND counted"
                  " AND result_type <> '' GROUP BY 1";
            break;
        case trend_group::organization:
            sql = "SELECT organization_name, sum(successful_sessions)::bigint, sum(failed_sessions)::bigint,"
                  " min(day)::text, max(day)::text"
                  " FROM daily_rollups WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date AND counted"
                  " AND result_type = '' GROUP BY 1";
            break;
        case trend_group::policy_type:
            // Every view under its own type: the tlsa and sts views of one report side by side.
            sql = "SELECT policy_type, sum(successful_sessions)::bigint, sum(failed_sessions)::bigint,"
                  " min(day)::text, max(day)::text"
                  " FROM daily_rollups WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date"
                  " AND result_type = '' GROUP BY 1";
            break;
        case trend_group::sending_ip:
            // The IP is not in the rollups: the counted details, by failure_details_domain_day_ip_all.
            sql = "SELECT coalesce(sending_mta_ip, ''), NULL::bigint, sum(failed_session_count)::bigint,"
                  " min(day)::text, max(day)::text"
                  " FROM failure_details WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date AND counted"
                  " GROUP BY 1";
            break;
        }
        if (!sql)
            throw std::invalid_argument("unknown trend grouping");
        pqxx::read_transaction tx(*impl_->conn, "analysis_groups");
        const auto rows = tx.exec_params(std::string(sql) + " ORDER BY 3 DESC, 1", domain, format_day(from),
                                         format_day(to));
        std::vector<group_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
            group_row g;
            g.key = row[0].as<std::string>();
            if (!row[1].is_null())
                g.successful = row[1].as<std::int64_t>();
            g.failed = row[2].as<std::int64_t>();
            g.first_seen = day_of(row[3]);
            g.last_seen = day_of(row[4]);
            out.push_back(std::move(g));
        }
        return out;
    });
}

// --- Detection ---

std::vector<rollup_row> analysis_store::rollups(const std::string& domain, utc_date from, utc_date to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_rollups");
        const auto rows = tx.exec_params(
            "SELECT day::text, policy_type, result_type, receiving_mx, organization_name, counted,"
            " successful_sessions, failed_sessions"
            " FROM daily_rollups WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date AND counted"
            " ORDER BY day, policy_type, result_type, receiving_mx, organization_name",
            domain, format_day(from), format_day(to));
        std::vector<rollup_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows)
            out.push_back({day_of(row[0]), row[1].as<std::string>(), row[2].as<std::string>(),
                           row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<bool>(),
                           row[6].as<std::int64_t>(), row[7].as<std::int64_t>()});
        return out;
    });
}

// --- Incidents ---

std::vector<incident_row> analysis_store::incidents(const std::string& domain, std::optional<utc_date> from,
                                                    std::optional<utc_date> to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_incidents");
        // An ongoing incident (no end day) reaches every later day.
        return incidents_of(tx.exec_params(
            std::string("SELECT ") + incident_columns +
                " FROM incidents WHERE domain = $1 AND status <> 'retracted'"
                " AND ($3 = '' OR onset <= nullif($3, '')::date)"
                " AND ($2 = '' OR coalesce(end_day, 'infinity'::date) >= nullif($2, '')::date)"
                " ORDER BY onset DESC, id DESC",
            domain, opt_day_text(from), opt_day_text(to)));
    });
}

std::optional<incident_row> analysis_store::incident(long long id)
{
    return guarded("cannot connect", [&]() -> std::optional<incident_row> {
        pqxx::read_transaction tx(*impl_->conn, "analysis_incident");
        auto rows = tx.exec_params(std::string("SELECT ") + incident_columns + " FROM incidents WHERE id = $1"
                                   " AND status <> 'retracted'", id);
        if (rows.empty())
            return std::nullopt;
        return incident_of(rows[0]);
    });
}

std::optional<incident_row> analysis_store::acknowledge(long long id, const std::string& by)
{
    return guarded("cannot connect", [&]() -> std::optional<incident_row> {
        pqxx::work tx(*impl_->conn, "analysis_acknowledge");
        // The first acknowledgement stands; a second one changes nothing.
        auto rows = tx.exec_params(std::string("UPDATE incidents SET acknowledged_at = coalesce(acknowledged_at, now()),"
                                               " acknowledged_by = coalesce(acknowledged_by, $2)"
                                               " WHERE id = $1 AND status <> 'retracted' RETURNING ") + incident_columns,
                                   id, by);
        tx.commit();
        if (rows.empty())
            return std::nullopt;
        return incident_of(rows[0]);
    });
}

std::vector<incident_row> analysis_store::incidents_for_refresh(const std::string& domain, utc_date from)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_incidents_for_refresh");
        // An incident's last day: its end day once ended, else the last elevated day.
        return incidents_of(tx.exec_params(
            std::string("SELECT ") + incident_columns +
                " FROM incidents WHERE domain = $1 AND greatest(last_day, coalesce(end_day, last_day)) >= $2::date"
                " ORDER BY onset, id",
            domain, format_day(from)));
    });
}

std::vector<incident_row> analysis_store::save_incidents(std::vector<incident_row> rows,
                                                         const std::vector<long long>& retract)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "analysis_save_incidents");
        // The alert outbox (sql/0006_alerts.sql, docs/alerts.md): an event of the incident in
        // row (incident_columns), in the transaction that stores it, once per kind and incident.
        const auto insert_incident_event = [&tx](const std::string& kind, const pqxx::row& row) {
            const auto id = row[0].as<long long>();
            const auto domain = row[1].as<std::string>(), dimension = row[2].as<std::string>();
            std::string summary = (kind == "incident-opened" ? "Incident opened for " : "Incident ended for ") +
                                  domain + ": " + dimension +
                                  (dimension == "domain" ? std::string() : " " + row[3].as<std::string>()) +
                                  ", failures since " + row[4].as<std::string>();
            if (kind == "incident-ended")
                summary += ", ended " + row[6].as<std::string>();
            tx.exec_params("INSERT INTO alert_events (event_key, kind, domain, incident_id, summary)"
                           " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_key) DO NOTHING",
                           kind + ":" + std::to_string(id), kind, domain, id, summary);
        };
        std::vector<incident_row> out;
        out.reserve(rows.size());
        for (const auto& r : rows) {
            const auto end = opt_day_text(r.end);
            const auto mx = text_array(r.mx);
            const auto result_types = text_array(r.result_types);
            const auto organizations = text_array(r.organizations);
            pqxx::result stored;
            if (r.id == 0) {
                stored = tx.exec_params(
                    std::string("INSERT INTO incidents (domain, dimension, key, onset, last_day, end_day, status,"
                                " failed_sessions, sessions, failure_rate, baseline_rate, p_value, mx, result_types,"
                                " organizations, days)"
                                " VALUES ($1, $2, $3, $4::date, $5::date, nullif($6, '')::date, $7, $8, $9, $10, $11,"
                                " $12, $13::text[], $14::text[], $15::text[], $16::jsonb) RETURNING ") +
                        incident_columns,
                    r.domain, r.dimension, r.key, format_day(r.onset), format_day(r.last_day), end, r.status,
                    r.failed_sessions, r.sessions, r.failure_rate, r.baseline_rate, r.p_value, mx, result_types,
                    organizations, r.days_json);
                // docs/alerts.md: an incident found already ended (an import of old reports)
                // is history, not news: no alert.
                if (stored[0][7].as<std::string>() == "open")
                    insert_incident_event("incident-opened", stored[0]);
            } else {
                // opened_at and acknowledged_at are the incident's, not the refresh's. The
                // status before the update (read under the row's lock) says whether it ends now.
                stored = tx.exec_params(
                    std::string("UPDATE incidents SET domain = $2, dimension = $3, key = $4, onset = $5::date,"
                                " last_day = $6::date, end_day = nullif($7, '')::date, status = $8,"
                                " failed_sessions = $9, sessions = $10, failure_rate = $11, baseline_rate = $12,"
                                " p_value = $13, mx = $14::text[], result_types = $15::text[],"
                                " organizations = $16::text[], days = $17::jsonb, updated_at = now()"
                                " FROM (SELECT id AS previous_id, status AS previous_status FROM incidents"
                                "  WHERE id = $1 FOR UPDATE) previous"
                                " WHERE id = $1 AND previous_id = $1 RETURNING ") +
                        incident_columns + ", previous_status",
                    r.id, r.domain, r.dimension, r.key, format_day(r.onset), format_day(r.last_day), end, r.status,
                    r.failed_sessions, r.sessions, r.failure_rate, r.baseline_rate, r.p_value, mx, result_types,
                    organizations, r.days_json);
                if (stored.empty())
                    throw store_rejected("incident " + std::to_string(r.id) + " is not stored (deleted meanwhile?)");
                if (stored[0][7].as<std::string>() == "ended" && stored[0][21].as<std::string>() == "open")
                    insert_incident_event("incident-ended", stored[0]);
            }
            out.push_back(incident_of(stored[0]));
        }
        if (!retract.empty()) {
            array_literal ids;
            for (const auto id : retract)
                ids.number(id);
            tx.exec_params("UPDATE incidents SET status = 'retracted', updated_at = now()"
                           " WHERE id = ANY($1::bigint[]) AND status <> 'retracted'",
                           ids.str());
        }
        tx.commit();
        return out;
    });
}

// --- The refresh queue ---

void analysis_store::enqueue(const std::string& domain, utc_date since)
{
    guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "analysis_enqueue");
        tx.exec_params("INSERT INTO analysis_queue AS q (domain, since_day, queued_at) VALUES ($1, $2::date, now())"
                       " ON CONFLICT (domain) DO UPDATE SET since_day = least(q.since_day, excluded.since_day),"
                       " queued_at = now()",
                       domain, format_day(since));
        tx.commit();
    });
}

std::size_t analysis_store::enqueue_all(utc_date since)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "analysis_enqueue_all");
        const auto r = tx.exec_params(
            "INSERT INTO analysis_queue AS q (domain, since_day, queued_at)"
            " SELECT domain, $1::date, now() FROM (SELECT domain FROM reported_domains"
            "  UNION SELECT domain FROM monitored_domains) k ORDER BY domain"
            " ON CONFLICT (domain) DO UPDATE SET since_day = least(q.since_day, excluded.since_day),"
            " queued_at = now()",
            format_day(since));
        tx.commit();
        return static_cast<std::size_t>(r.affected_rows());
    });
}

std::vector<queued_domain> analysis_store::claim(std::size_t limit, std::chrono::seconds lease)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "analysis_claim");
        // SKIP LOCKED: rows another refresher is claiming right now are its own; a claim
        // whose lease ran out (its process died) is free again.
        const auto rows = tx.exec_params(
            "UPDATE analysis_queue SET claimed_until = now() + make_interval(secs => $2)"
            " WHERE domain IN (SELECT domain FROM analysis_queue"
            "  WHERE claimed_until IS NULL OR claimed_until < now()"
            "  ORDER BY queued_at, domain LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " RETURNING domain, since_day::text, " STSWATCH_RFC3339_US("queued_at"),
            static_cast<long long>(limit), static_cast<double>(lease.count()));
        tx.commit();
        std::vector<queued_domain> out;
        out.reserve(rows.size());
        for (const auto& row : rows)
            out.push_back({row[0].as<std::string>(), day_of(row[1]), row[2].as<std::string>()});
        // The text has a fixed width: its order is the time's.
        std::sort(out.begin(), out.end(), [](const queued_domain& a, const queued_domain& b) {
            return std::tie(a.queued_at, a.domain) < std::tie(b.queued_at, b.domain);
        });
        return out;
    });
}

void analysis_store::finish(const std::vector<queued_domain>& done)
{
    if (done.empty())
        return;
    guarded("cannot connect", [&] {
        array_literal domains, queued;
        for (const auto& d : done) {
            domains.text(d.domain);
            queued.text(d.queued_at);
        }
        pqxx::work tx(*impl_->conn, "analysis_finish");
        // A row queued again during the refresh has a later queued_at: it stays, unclaimed.
        tx.exec_params("DELETE FROM analysis_queue q USING unnest($1::text[], $2::timestamptz[]) AS u(domain, queued_at)"
                       " WHERE q.domain = u.domain AND q.queued_at = u.queued_at",
                       domains.str(), queued.str());
        tx.exec_params("UPDATE analysis_queue SET claimed_until = NULL WHERE domain = ANY($1::text[])", domains.str());
        tx.commit();
    });
}

void analysis_store::release(const std::vector<queued_domain>& failed)
{
    if (failed.empty())
        return;
    guarded("cannot connect", [&] {
        array_literal domains;
        for (const auto& d : failed)
            domains.text(d.domain);
        pqxx::work tx(*impl_->conn, "analysis_release");
        tx.exec_params("UPDATE analysis_queue SET claimed_until = NULL WHERE domain = ANY($1::text[])", domains.str());
        tx.commit();
    });
}

// --- Evidence ---

std::vector<finding_row> analysis_store::findings(const std::string& domain, const std::string& from,
                                                  const std::string& to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_findings");
        const auto rows = tx.exec_params(
            window_snapshots(true) +
                " SELECT s.id, " STSWATCH_RFC3339("s.checked_at") ", f.code, f.severity, f.subject, f.message"
                " FROM s JOIN check_findings f ON f.snapshot_id = s.id"
                " ORDER BY s.checked_at, s.id, f.severity, f.code, f.subject",
            domain, from, to);
        std::vector<finding_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows)
            out.push_back({row[0].as<long long>(), row[1].as<std::string>(), row[2].as<std::string>(),
                           row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>()});
        return out;
    });
}

std::vector<snapshot_facts> analysis_store::snapshots(const std::string& domain, const std::string& from,
                                                      const std::string& to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_snapshots");
        // The snapshot JSON of docs/check.md: sts.policy_text, sts.policy (an object when
        // the policy parsed), mx (an array).
        const auto rows = tx.exec_params(
            window_snapshots(false) +
                " SELECT c.id, " STSWATCH_RFC3339("c.checked_at") ", c.dns_unavailable, coalesce(c.sts_id, ''),"
                " coalesce(c.policy_sha256, ''), c.snapshot->'sts'->>'policy_text',"
                " CASE WHEN jsonb_typeof(c.snapshot->'sts'->'policy') = 'object'"
                "  THEN (c.snapshot->'sts'->'policy')::text ELSE 'null' END,"
                " CASE WHEN jsonb_typeof(c.snapshot->'mx') = 'array' THEN (c.snapshot->'mx')::text ELSE '[]' END,"
                " coalesce(c.policy_source_id, 0), coalesce(c.carried_certificates::text, '')"
                " FROM s JOIN check_snapshots c ON c.id = s.id ORDER BY s.checked_at, s.id",
            domain, from, to);
        std::vector<snapshot_facts> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
            snapshot_facts f;
            f.id = row[0].as<long long>();
            f.checked_at = row[1].as<std::string>();
            f.dns_unavailable = row[2].as<bool>();
            f.sts_id = row[3].as<std::string>();
            f.policy_sha256 = row[4].as<std::string>();
            if (!row[5].is_null())
                f.policy_text = row[5].as<std::string>();
            f.policy_json = row[6].as<std::string>();
            f.mx_json = row[7].as<std::string>();
            f.policy_source_id = row[8].as<long long>();
            f.carried_certificates_json = row[9].as<std::string>();
            out.push_back(std::move(f));
        }
        return out;
    });
}

std::vector<stored_change> analysis_store::changes(const std::string& domain, const std::string& from,
                                                   const std::string& to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_changes");
        const auto rows = tx.exec_params(
            "SELECT kind, subject, before, after, " STSWATCH_RFC3339("detected_at") ", snapshot_id"
            " FROM change_events WHERE domain = $1 AND detected_at BETWEEN $2::timestamptz AND $3::timestamptz"
            " ORDER BY detected_at, id",
            domain, from, to);
        std::vector<stored_change> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
            stored_change c;
            c.event.kind = row[0].as<std::string>();
            c.event.subject = row[1].as<std::string>();
            c.event.before = row[2].as<std::string>();
            c.event.after = row[3].as<std::string>();
            c.detected_at = row[4].as<std::string>();
            c.snapshot_id = row[5].as<long long>();
            out.push_back(std::move(c));
        }
        return out;
    });
}

std::vector<sender_policy_row> analysis_store::sender_policies(const std::string& domain, utc_date from, utc_date to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_sender_policies");
        // The report's day is the UTC day of its start (report_policies_domain).
        const auto rows = tx.exec_params(
            "SELECT r.organization_name, (p.report_start AT TIME ZONE 'UTC')::date::text, p.policy_type,"
            " p.policy_string, p.mx_host, p.counted, p.total_successful_session_count, p.total_failure_session_count"
            " FROM report_policies p JOIN reports r ON r.id = p.report"
            " WHERE p.policy_domain = $1 AND p.report_start >= ($2::date)::timestamp AT TIME ZONE 'UTC'"
            " AND p.report_start < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'"
            " ORDER BY p.report_start, r.organization_name, p.report, p.policy_index",
            domain, format_day(from), format_day(to));
        std::vector<sender_policy_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
            sender_policy_row s;
            s.organization = row[0].as<std::string>();
            s.day = day_of(row[1]);
            s.policy_type = row[2].as<std::string>();
            s.policy_string = strings_of(row[3]);
            s.mx_host = strings_of(row[4]);
            s.counted = row[5].as<bool>();
            s.successful = row[6].as<std::int64_t>();
            s.failed = row[7].as<std::int64_t>();
            out.push_back(std::move(s));
        }
        return out;
    });
}

std::vector<sending_ip_row> analysis_store::sending_ips(const std::string& domain, utc_date from, utc_date to,
                                                        std::size_t limit)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_sending_ips");
        const auto rows = tx.exec_params(
            "SELECT coalesce(sending_mta_ip, ''), organization_name, result_type,"
            " coalesce(receiving_mx_hostname, receiving_ip, ''), sum(failed_session_count)::bigint"
            " FROM failure_details WHERE policy_domain = $1 AND day BETWEEN $2::date AND $3::date AND counted"
            " GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT $4",
            domain, format_day(from), format_day(to), static_cast<long long>(limit));
        std::vector<sending_ip_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows)
            out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                           row[3].as<std::string>(), row[4].as<std::int64_t>()});
        return out;
    });
}

// --- Domains ---

std::vector<domain_health_row> analysis_store::domain_health(utc_date baseline_from, utc_date recent_from, utc_date to)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_domain_health");
        // One grouped pass over the days' summaries for every domain; the last usable
        // check of each by check_snapshots_domain_time.
        const auto rows = tx.exec_params(
            "WITH known AS ("
            "  SELECT coalesce(m.domain, r.domain) AS domain, m.domain IS NOT NULL AS monitored,"
            "         m.last_checked_at, r.last_day, r.last_received_at"
            "  FROM monitored_domains m FULL JOIN reported_domains r ON r.domain = m.domain),"
            " sums AS ("
            "  SELECT policy_domain,"
            "   coalesce(sum(successful_sessions) FILTER (WHERE day >= $2::date), 0)::bigint AS rs,"
            "   coalesce(sum(failed_sessions) FILTER (WHERE day >= $2::date), 0)::bigint AS rf,"
            "   coalesce(sum(successful_sessions) FILTER (WHERE day < $2::date), 0)::bigint AS bs,"
            "   coalesce(sum(failed_sessions) FILTER (WHERE day < $2::date), 0)::bigint AS bf"
            "  FROM daily_rollups WHERE day BETWEEN $1::date AND $3::date AND counted AND result_type = ''"
            "  GROUP BY policy_domain),"
            " open AS (SELECT domain, count(*) AS n FROM incidents WHERE status = 'open' GROUP BY domain)"
            " SELECT k.domain, k.monitored, coalesce(s.rs, 0), coalesce(s.rf, 0), coalesce(s.bs, 0),"
            "  coalesce(s.bf, 0), coalesce(o.n, 0),"
            "  coalesce((SELECT array_agg(DISTINCT f.code ORDER BY f.code) FROM check_findings f"
            "            WHERE f.snapshot_id = c.id AND f.severity = 'error'), '{}'),"
            "  " STSWATCH_RFC3339("coalesce(k.last_checked_at, c.checked_at)") ", k.last_day::text,"
            "  " STSWATCH_RFC3339("k.last_received_at")
            " FROM known k LEFT JOIN sums s ON s.policy_domain = k.domain LEFT JOIN open o ON o.domain = k.domain"
            " LEFT JOIN LATERAL (SELECT id, checked_at FROM check_snapshots"
            "  WHERE domain = k.domain AND NOT dns_unavailable ORDER BY checked_at DESC, id DESC LIMIT 1) c ON true"
            " ORDER BY k.domain",
            format_day(baseline_from), format_day(recent_from), format_day(to));
        std::vector<domain_health_row> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
            domain_health_row h;
            h.domain = row[0].as<std::string>();
            h.monitored = row[1].as<bool>();
            h.recent_successful = row[2].as<std::int64_t>();
            h.recent_failed = row[3].as<std::int64_t>();
            h.baseline_successful = row[4].as<std::int64_t>();
            h.baseline_failed = row[5].as<std::int64_t>();
            h.open_incidents = row[6].as<long long>();
            h.error_findings = strings_of(row[7]);
            if (!row[8].is_null())
                h.last_checked_at = row[8].as<std::string>();
            if (!row[9].is_null())
                h.last_report_day = day_of(row[9]);
            if (!row[10].is_null())
                h.last_report_received_at = row[10].as<std::string>();
            out.push_back(std::move(h));
        }
        return out;
    });
}

#undef STSWATCH_RFC3339_US
#undef STSWATCH_RFC3339

// --- Reports ---

report_page analysis_store::reports(const report_query& q, std::optional<std::int64_t> before_id)
{
    return guarded("cannot connect", [&] { return page_reports(*impl_->conn, q, before_id); });
}

std::optional<stored_report> analysis_store::report(std::int64_t id)
{
    return guarded("cannot connect", [&] { return load_report(*impl_->conn, id); });
}

// --- The API's look-ups ---

bool analysis_store::domain_known(const std::string& domain)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_domain_known");
        const auto rows = tx.exec_params("SELECT EXISTS (SELECT 1 FROM monitored_domains WHERE domain = $1)"
                                         " OR EXISTS (SELECT 1 FROM reported_domains WHERE domain = $1)",
                                         domain);
        return rows[0][0].as<bool>();
    });
}

std::optional<analysis_store::latest_check_row> analysis_store::latest_check(const std::string& domain)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "analysis_latest_check");
        const auto snap = tx.exec_params(
            "SELECT id, to_char(checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), dns_unavailable,"
            " errors, warnings FROM check_snapshots WHERE domain = $1 ORDER BY checked_at DESC, id DESC LIMIT 1",
            domain);
        std::optional<latest_check_row> out;
        if (snap.empty())
            return out;
        latest_check_row c;
        c.snapshot_id = snap[0][0].as<long long>();
        c.checked_at = snap[0][1].as<std::string>();
        c.dns_unavailable = snap[0][2].as<bool>();
        c.errors = snap[0][3].as<unsigned>();
        c.warnings = snap[0][4].as<unsigned>();
        const auto rows = tx.exec_params(
            "SELECT code, severity, subject, message, rfc FROM check_findings WHERE snapshot_id = $1"
            " ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, code, subject",
            c.snapshot_id);
        for (const auto& row : rows)
            c.findings.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                                  row[3].as<std::string>(), row[4].as<std::string>()});
        out.emplace(std::move(c));
        return out;
    });
}

} // namespace stswatch
