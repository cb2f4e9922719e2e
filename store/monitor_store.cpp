// The monitor's tables (store/monitor_store.hpp; sql/0002_monitoring.sql,
// sql/0003_monitor_known_policy.sql).
#include "store/monitor_store.hpp"

#include "store/connection.hpp"
#include "store/report_queries.hpp"
#include "common/domain.hpp"

#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace stswatch {

namespace {

double epoch_seconds(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A timestamptz column as RFC 3339 text in UTC, whole seconds.
#define STSWATCH_RFC3339(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

std::string checked_domain(const std::string& domain)
{
    std::string d = normalize_domain(domain);
    if (d.empty() || !is_valid_domain(d) || d.find('.') == std::string::npos)
        throw std::invalid_argument("\"" + domain + "\" is not a valid domain name");
    return d;
}

} // namespace

struct monitor_store::impl {
    explicit impl(const std::string& url) : conn(open_connection(url)) {}
    std::unique_ptr<pqxx::connection> conn;
};

monitor_store::monitor_store(const std::string& db_url) : impl_(std::make_unique<impl>(db_url)) {}
monitor_store::~monitor_store() = default;

bool monitor_store::add(const std::string& domain)
{
    return guarded("cannot connect", [&] {
        const std::string d = checked_domain(domain);
        pqxx::work tx(*impl_->conn, "monitor_add");
        auto r = tx.exec_params("INSERT INTO monitored_domains (domain) VALUES ($1) ON CONFLICT (domain) DO NOTHING", d);
        tx.commit();
        return r.affected_rows() == 1;
    });
}

bool monitor_store::remove(const std::string& domain)
{
    return guarded("cannot connect", [&] {
        // The history stays: the analyzer still explains past failures with it.
        pqxx::work tx(*impl_->conn, "monitor_remove");
        auto r = tx.exec_params("DELETE FROM monitored_domains WHERE domain = $1", normalize_domain(domain));
        tx.commit();
        return r.affected_rows() == 1;
    });
}

namespace {

#define STSWATCH_MONITORED_COLUMNS                                                                           \
    "SELECT m.domain, " STSWATCH_RFC3339("m.added_at") ", " STSWATCH_RFC3339("m.last_checked_at") ", "      \
    STSWATCH_RFC3339("m.next_check_at") ", coalesce(s.errors, 0), coalesce(s.warnings, 0),"               \
    " m.interval_s, m.alert_mode, m.quiet_period_s"                                                       \
    " FROM monitored_domains m LEFT JOIN check_snapshots s ON s.id = m.last_snapshot_id"

monitored_domain monitored_of(const pqxx::row& row)
{
    monitored_domain m;
    m.domain = row[0].as<std::string>();
    m.added_at = row[1].as<std::string>();
    if (!row[2].is_null())
        m.last_checked_at = row[2].as<std::string>();
    if (!row[3].is_null())
        m.next_check_at = row[3].as<std::string>();
    m.errors = row[4].as<unsigned>();
    m.warnings = row[5].as<unsigned>();
    if (!row[6].is_null())
        m.settings.interval_s = row[6].as<unsigned>();
    if (!row[7].is_null())
        m.settings.alert_mode.emplace(row[7].as<std::string>());
    if (!row[8].is_null())
        m.settings.quiet_period_s = row[8].as<unsigned>();
    return m;
}

} // namespace

std::vector<monitored_domain> monitor_store::list()
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "monitor_list");
        auto rows = tx.exec(STSWATCH_MONITORED_COLUMNS " ORDER BY m.domain");
        std::vector<monitored_domain> out;
        for (const auto& row : rows)
            out.push_back(monitored_of(row));
        return out;
    });
}

std::optional<monitored_domain> monitor_store::get(const std::string& domain)
{
    return guarded("cannot connect", [&]() -> std::optional<monitored_domain> {
        pqxx::read_transaction tx(*impl_->conn, "monitor_get");
        auto rows = tx.exec_params(STSWATCH_MONITORED_COLUMNS " WHERE m.domain = $1", normalize_domain(domain));
        if (rows.empty())
            return std::nullopt;
        return monitored_of(rows[0]);
    });
}

bool monitor_store::set_settings(const std::string& domain, const domain_settings& settings)
{
    if (settings.interval_s && (*settings.interval_s < 60 || *settings.interval_s > 604800))
        throw std::invalid_argument("interval: " + std::to_string(*settings.interval_s)
                                    + " seconds is out of range (60..604800)");
    if (settings.alert_mode && *settings.alert_mode != "immediate" && *settings.alert_mode != "digest"
        && *settings.alert_mode != "off")
        throw std::invalid_argument("alert_mode: \"" + *settings.alert_mode + "\" is not immediate, digest or off");
    if (settings.quiet_period_s && *settings.quiet_period_s > 604800)
        throw std::invalid_argument("quiet_period: " + std::to_string(*settings.quiet_period_s)
                                    + " seconds is out of range (0..604800)");
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "monitor_settings");
        // -1 and "" stand for NULL (the default).
        const long long interval = settings.interval_s ? static_cast<long long>(*settings.interval_s) : -1;
        const long long quiet = settings.quiet_period_s ? static_cast<long long>(*settings.quiet_period_s) : -1;
        // A shorter interval takes effect at once: the next check is not later than it.
        auto r = tx.exec_params("UPDATE monitored_domains SET interval_s = nullif($2::integer, -1),"
                                " alert_mode = nullif($3, ''), quiet_period_s = nullif($4::integer, -1),"
                                " next_check_at = CASE WHEN $2::integer = -1 THEN next_check_at"
                                " ELSE least(next_check_at, coalesce(last_checked_at, now()) + make_interval(secs => $2::integer)) END"
                                " WHERE domain = $1",
                                normalize_domain(domain), interval, settings.alert_mode.value_or(""), quiet);
        tx.commit();
        return r.affected_rows() == 1;
    });
}

bool monitor_store::check_soon(const std::string& domain)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "monitor_check_soon");
        auto r = tx.exec_params("UPDATE monitored_domains SET next_check_at = now() WHERE domain = $1",
                                normalize_domain(domain));
        tx.commit();
        return r.affected_rows() == 1;
    });
}

std::vector<std::string> monitor_store::due(std::size_t limit)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "monitor_due");
        auto rows = tx.exec_params("SELECT domain FROM monitored_domains WHERE next_check_at <= now()"
                                   " ORDER BY next_check_at, domain LIMIT $1",
                                   static_cast<long long>(limit));
        std::vector<std::string> out;
        for (const auto& row : rows)
            out.push_back(row[0].as<std::string>());
        return out;
    });
}

std::vector<std::string> monitor_store::claim_due(std::size_t limit, std::chrono::seconds lease)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "monitor_claim");
        // SKIP LOCKED: rows another scheduler is claiming right now are its own.
        auto rows = tx.exec_params(
            "WITH due AS (SELECT domain, next_check_at FROM monitored_domains WHERE next_check_at <= now()"
            "             ORDER BY next_check_at, domain LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " UPDATE monitored_domains m SET next_check_at = now() + make_interval(secs => $2)"
            " FROM due WHERE m.domain = due.domain"
            " RETURNING m.domain, due.next_check_at",
            static_cast<long long>(limit), static_cast<double>(lease.count()));
        tx.commit();
        std::vector<std::pair<std::string, std::string>> claimed;
        for (const auto& row : rows)
            claimed.emplace_back(row[1].as<std::string>(), row[0].as<std::string>());
        std::sort(claimed.begin(), claimed.end());   // oldest due first
        std::vector<std::string> out;
        for (auto& c : claimed)
            out.push_back(std::move(c.second));
        return out;
    });
}

void monitor_store::reschedule(const std::string& domain, std::chrono::system_clock::time_point next_check)
{
    return guarded("cannot connect", [&] {
        pqxx::work tx(*impl_->conn, "monitor_reschedule");
        tx.exec_params("UPDATE monitored_domains SET next_check_at = to_timestamp($2) WHERE domain = $1",
                       normalize_domain(domain), epoch_seconds(next_check));
        tx.commit();
    });
}

long long monitor_store::save(const snapshot_row& s, const std::vector<change_event>& changes,
                              std::chrono::system_clock::time_point next_check)
{
    return guarded("cannot connect", [&] {
        const std::string domain = normalize_domain(s.domain);
        pqxx::work tx(*impl_->conn, "monitor_save");
        // A check_result without a time (hand-made) is stamped with the transaction's.
        const auto snapshot = tx.exec_params1(
            "INSERT INTO check_snapshots (domain, checked_at, dns_unavailable, sts_id, policy_sha256, snapshot,"
            " errors, warnings, policy_source_id, carried_certificates)"
            " VALUES ($1, coalesce(nullif($2, '')::timestamptz, now()), $3, nullif($4, ''), nullif($5, ''),"
            " $6::jsonb, $7, $8, nullif($9::bigint, 0), nullif($10, '')::jsonb)"
            " RETURNING id, checked_at",
            domain, s.checked_at, s.dns_unavailable, s.sts_id, s.policy_sha256, s.snapshot_json, s.errors,
            s.warnings, s.policy_source_id, s.carried_certificates_json);
        const long long id = snapshot[0].as<long long>();
        const std::string checked_at = snapshot[1].as<std::string>();

        for (const auto& f : s.findings)
            tx.exec_params("INSERT INTO check_findings (snapshot_id, domain, checked_at, code, severity, subject,"
                           " message, rfc) VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8)",
                           id, domain, checked_at, f.code, std::string(to_string(f.level)), f.subject, f.message,
                           f.rfc);
        for (const auto& c : changes)
            tx.exec_params("INSERT INTO change_events (domain, detected_at, snapshot_id, kind, subject, before, after)"
                           " VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7)",
                           domain, checked_at, id, c.kind, c.subject, c.before, c.after);
        // The alert outbox (sql/0006_alerts.sql, docs/alerts.md): an error finding (code and
        // subject) that the domain's previous usable snapshot did not have is news, in this
        // transaction. A check without DNS saw nothing new; a domain's first check has no
        // previous snapshot, so each of its errors is new.
        if (!s.dns_unavailable)
            tx.exec_params(
                "INSERT INTO alert_events (event_key, kind, domain, occurred_at, finding, summary)"
                " SELECT 'finding-error:' || f.snapshot_id || ':' || f.code || ':' || f.subject, 'finding-error',"
                "  f.domain, f.checked_at,"
                "  jsonb_build_object('code', f.code, 'severity', f.severity, 'subject', f.subject,"
                "   'message', f.message, 'rfc', f.rfc, 'snapshot_id', f.snapshot_id, 'checked_at',"
                "   to_char(f.checked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')),"
                "  'Check error for ' || f.domain || ': ' || f.code || coalesce(nullif(' ' || f.subject, ' '), '')"
                "   || ': ' || f.message"
                " FROM check_findings f WHERE f.snapshot_id = $1 AND f.severity = 'error'"
                " AND NOT EXISTS (SELECT 1 FROM check_findings p WHERE p.code = f.code AND p.subject = f.subject"
                "  AND p.snapshot_id = (SELECT id FROM check_snapshots WHERE domain = $2 AND id <> $1"
                "   AND NOT dns_unavailable ORDER BY checked_at DESC, id DESC LIMIT 1))"
                " ON CONFLICT (event_key) DO NOTHING",
                id, domain);
        // A domain removed while it was being checked stays removed (no row to update).
        // A domain with its own interval (sql/0005) is due that long after this check.
        tx.exec_params("UPDATE monitored_domains SET last_checked_at = $2::timestamptz, last_snapshot_id = $3,"
                       " next_check_at = CASE WHEN interval_s IS NULL THEN to_timestamp($4)"
                       " ELSE $2::timestamptz + make_interval(secs => interval_s) END WHERE domain = $1",
                       domain, checked_at, id, epoch_seconds(next_check));
        tx.commit();
        return id;
    });
}

std::optional<snapshot_text> monitor_store::latest(const std::string& domain)
{
    return guarded("cannot connect", [&]() -> std::optional<snapshot_text> {
        pqxx::read_transaction tx(*impl_->conn, "monitor_latest");
        auto rows = tx.exec_params("SELECT id, snapshot::text FROM check_snapshots"
                                   " WHERE domain = $1 AND NOT dns_unavailable"
                                   " ORDER BY checked_at DESC, id DESC LIMIT 1",
                                   normalize_domain(domain));
        if (rows.empty())
            return std::nullopt;
        return snapshot_text{rows[0][0].as<long long>(), rows[0][1].as<std::string>()};
    });
}

std::optional<comparison_rows> monitor_store::comparison(const std::string& domain)
{
    return guarded("cannot connect", [&]() -> std::optional<comparison_rows> {
        pqxx::read_transaction tx(*impl_->conn, "monitor_comparison_base");
        // A policy source removed with old history (ON DELETE SET NULL) leaves the snapshot's
        // own policy, unknown: nothing is said about the policy until it is fetched again.
        auto rows = tx.exec_params("SELECT s.id, s.snapshot::text, s.carried_certificates::text, p.id, p.snapshot::text"
                                   " FROM check_snapshots s LEFT JOIN check_snapshots p ON p.id = s.policy_source_id"
                                   " WHERE s.domain = $1 AND NOT s.dns_unavailable"
                                   " ORDER BY s.checked_at DESC, s.id DESC LIMIT 1",
                                   normalize_domain(domain));
        if (rows.empty())
            return std::nullopt;
        const auto& row = rows[0];
        comparison_rows out;
        out.previous = {row[0].as<long long>(), row[1].as<std::string>()};
        if (!row[2].is_null())
            out.carried_certificates_json = row[2].as<std::string>();
        if (!row[3].is_null())
            out.policy_source = snapshot_text{row[3].as<long long>(), row[4].as<std::string>()};
        return out;
    });
}

std::vector<stored_change> monitor_store::change_history(const std::string& domain, std::size_t limit)
{
    return guarded("cannot connect", [&] {
        pqxx::read_transaction tx(*impl_->conn, "monitor_changes");
        auto rows = tx.exec_params("SELECT kind, subject, before, after, " STSWATCH_RFC3339("detected_at") ", snapshot_id"
                                   " FROM change_events WHERE domain = $1"
                                   " ORDER BY detected_at DESC, snapshot_id DESC, id LIMIT $2",
                                   normalize_domain(domain), static_cast<long long>(limit));
        std::vector<stored_change> out;
        for (const auto& row : rows) {
            stored_change c;
            c.event = {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                       row[3].as<std::string>()};
            c.detected_at = row[4].as<std::string>();
            c.snapshot_id = row[5].as<long long>();
            out.push_back(std::move(c));
        }
        return out;
    });
}

std::vector<change_event> monitor_store::changes(const std::string& domain, std::size_t limit)
{
    std::vector<change_event> out;
    for (auto& c : change_history(domain, limit))
        out.push_back(std::move(c.event));
    return out;
}

std::vector<std::string> monitor_store::reported_mx_hosts(const std::string& domain)
{
    return guarded("cannot connect", [&] { return stswatch::reported_mx_hosts(*impl_->conn, domain); });
}

#undef STSWATCH_RFC3339

} // namespace stswatch
