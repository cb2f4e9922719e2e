// The alert outbox's queries (store/alert_store.hpp; sql/0006_alerts.sql).
#include "store/alert_store.hpp"

#include "store/connection.hpp"
#include "store/db_values.hpp"

#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>

namespace stswatch {

namespace {

using store_detail::array_literal;

#define STSWATCH_ALERT_RFC3339(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

// The columns of a delivery with its event, as delivery_of reads them (d: alert_deliveries,
// e: alert_events).
constexpr const char* delivery_columns =
    "d.id, d.output, d.mode, d.quiet_period_s, d.status, coalesce(d.batch, ''), d.attempts,"
    " extract(epoch FROM d.created_at)::bigint, extract(epoch FROM d.next_attempt_at)::bigint,"
    " coalesce(" STSWATCH_ALERT_RFC3339("d.sent_at") ", ''), coalesce(d.last_error, ''),"
    " e.id, e.event_key, e.kind, e.domain, " STSWATCH_ALERT_RFC3339("e.occurred_at") ", e.incident_id,"
    " coalesce(e.finding::text, ''), e.summary";

alert_delivery_row delivery_of(const pqxx::row& row)
{
    alert_delivery_row d;
    d.id = row[0].as<long long>();
    d.output = row[1].as<std::string>();
    d.mode = row[2].as<std::string>();
    d.quiet_period_s = row[3].as<int>();
    d.status = row[4].as<std::string>();
    d.batch = row[5].as<std::string>();
    d.attempts = row[6].as<int>();
    d.created_at = row[7].as<std::int64_t>();
    d.next_attempt_at = row[8].as<std::int64_t>();
    d.sent_at = row[9].as<std::string>();
    d.last_error = row[10].as<std::string>();
    d.event.id = row[11].as<long long>();
    d.event.event_key = row[12].as<std::string>();
    d.event.kind = row[13].as<std::string>();
    d.event.domain = row[14].as<std::string>();
    d.event.occurred_at = row[15].as<std::string>();
    if (!row[16].is_null())
        d.event.incident_id = row[16].as<long long>();
    d.event.finding_json = row[17].as<std::string>();
    d.event.summary = row[18].as<std::string>();
    return d;
}

std::string id_array(const std::vector<long long>& ids)
{
    array_literal a;
    for (const auto id : ids)
        a.number(id);
    return a.str();
}

} // namespace

struct alert_store::impl {
    explicit impl(const std::string& url) : conn(open_connection(url)) {}
    std::unique_ptr<pqxx::connection> conn;
};

alert_store::alert_store(const std::string& db_url) : impl_(std::make_unique<impl>(db_url)) {}
alert_store::~alert_store() = default;

std::size_t alert_store::create_deliveries(const std::vector<std::string>& outputs, const alert_delivery_defaults& d)
{
    if (outputs.empty())
        return 0;
    return guarded("cannot connect", [&] {
        array_literal names;
        for (const auto& o : outputs)
            names.text(o);
        pqxx::work tx(*impl_->conn, "alerts_create_deliveries");
        const auto r = tx.exec_params(
            "INSERT INTO alert_deliveries (event_id, output, mode, quiet_period_s, status, last_error)"
            " SELECT e.id, o.output, m.mode, coalesce(md.quiet_period_s, $3),"
            "  CASE WHEN m.mode = 'off' THEN 'skipped' ELSE 'pending' END,"
            "  CASE WHEN m.mode = 'off' THEN 'alert_mode off' END"
            " FROM alert_events e CROSS JOIN unnest($1::text[]) AS o(output)"
            " LEFT JOIN monitored_domains md ON md.domain = e.domain"
            " CROSS JOIN LATERAL (SELECT coalesce(md.alert_mode, $2) AS mode) m"
            " WHERE e.occurred_at > now() - make_interval(secs => $4)"
            " AND NOT EXISTS (SELECT 1 FROM alert_deliveries x WHERE x.event_id = e.id AND x.output = o.output)"
            " ORDER BY e.id"
            " ON CONFLICT (event_id, output) DO NOTHING",
            names.str(), d.mode, d.quiet_period_s, static_cast<double>(d.max_age.count()));
        tx.commit();
        return static_cast<std::size_t>(r.affected_rows());
    });
}

std::vector<alert_delivery_row> alert_store::claim(const chooser& choose, std::chrono::seconds lease)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "alerts_claim");
        const auto now = tx.exec("SELECT extract(epoch FROM now())::bigint")[0][0].as<std::int64_t>();
        // SKIP LOCKED: what another dispatcher is claiming right now is its own; a claim whose
        // lease ran out (its process died) is free again.
        const auto rows = tx.exec(std::string("SELECT ") + delivery_columns +
                                  " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
                                  " WHERE d.status = 'pending' AND (d.claimed_until IS NULL OR d.claimed_until < now())"
                                  " ORDER BY d.id LIMIT 10000 FOR UPDATE OF d SKIP LOCKED");
        std::vector<alert_delivery_row> pending;
        pending.reserve(rows.size());
        for (const auto& row : rows)
            pending.push_back(delivery_of(row));
        if (pending.empty())
            return std::vector<alert_delivery_row>{};
        // The quiet period counts from the last immediate alert sent, or being sent now.
        const auto last_rows = tx.exec(
            "SELECT d.output, e.domain, max(CASE WHEN d.status = 'sent' THEN extract(epoch FROM d.sent_at)"
            "  ELSE extract(epoch FROM now()) END)::bigint"
            " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
            " WHERE d.mode = 'immediate' AND ((d.status = 'sent' AND d.sent_at > now() - interval '8 days')"
            "  OR (d.status = 'pending' AND d.claimed_until > now()))"
            " GROUP BY d.output, e.domain");
        std::vector<alert_last_sent> last;
        for (const auto& row : last_rows)
            last.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>()});

        const auto chosen = choose(now, pending, last);
        std::vector<alert_delivery_row> out;
        for (const auto& b : chosen) {
            if (b.deliveries.empty())
                continue;
            tx.exec_params("UPDATE alert_deliveries SET batch = $2, claimed_until = now() + make_interval(secs => $3)"
                           " WHERE id = ANY($1::bigint[])",
                           id_array(b.deliveries), b.batch, static_cast<double>(lease.count()));
            for (const auto& p : pending)
                if (std::find(b.deliveries.begin(), b.deliveries.end(), p.id) != b.deliveries.end()) {
                    out.push_back(p);
                    out.back().batch = b.batch;
                }
        }
        tx.commit();
        return out;
    });
}

void alert_store::mark_sent(const std::vector<long long>& ids)
{
    guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "alerts_mark_sent");
        tx.exec_params("UPDATE alert_deliveries SET status = 'sent', sent_at = now(), attempts = attempts + 1,"
                       " claimed_until = NULL, last_error = NULL WHERE id = ANY($1::bigint[])",
                       id_array(ids));
        tx.commit();
    });
}

void alert_store::mark_retry(const std::vector<long long>& ids, const std::string& error, std::chrono::seconds delay)
{
    guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "alerts_mark_retry");
        tx.exec_params("UPDATE alert_deliveries SET attempts = attempts + 1, claimed_until = NULL, last_error = $2,"
                       " next_attempt_at = now() + make_interval(secs => $3) WHERE id = ANY($1::bigint[])",
                       id_array(ids), store_detail::db_text(error), static_cast<double>(delay.count()));
        tx.commit();
    });
}

void alert_store::mark_failed(const std::vector<long long>& ids, const std::string& error)
{
    guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "alerts_mark_failed");
        tx.exec_params("UPDATE alert_deliveries SET status = 'failed', attempts = attempts + 1, claimed_until = NULL,"
                       " last_error = $2 WHERE id = ANY($1::bigint[])",
                       id_array(ids), store_detail::db_text(error));
        tx.commit();
    });
}

void alert_store::mark_skipped(const std::vector<long long>& ids, const std::string& reason)
{
    guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "alerts_mark_skipped");
        tx.exec_params("UPDATE alert_deliveries SET status = 'skipped', claimed_until = NULL, last_error = $2"
                       " WHERE id = ANY($1::bigint[])",
                       id_array(ids), store_detail::db_text(reason));
        tx.commit();
    });
}

std::vector<alert_delivery_row> alert_store::deliveries(const std::string& status, std::size_t limit)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "alerts_deliveries");
        const auto rows = tx.exec_params(std::string("SELECT ") + delivery_columns +
                                             " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
                                             " WHERE ($1 = '' OR d.status = $1) ORDER BY d.id DESC LIMIT $2",
                                         status, static_cast<long long>(limit));
        std::vector<alert_delivery_row> out;
        for (const auto& row : rows)
            out.push_back(delivery_of(row));
        return out;
    });
}

} // namespace stswatch
