// Queries of the stored reports (store/report_queries.hpp).
#include "store/report_queries.hpp"

#include "store/connection.hpp"
#include "store/db_values.hpp"
#include "common/domain.hpp"

#include <pqxx/array>
#include <pqxx/result>
#include <pqxx/transaction>

#include <set>

namespace stswatch {

using namespace store_detail;


namespace {

std::vector<std::string> text_array_values(const pqxx::field& f)
{
    std::vector<std::string> out;
    auto parser = f.as_array();
    for (;;) {
        const auto [what, value] = parser.get_next();
        if (what == pqxx::array_parser::done)
            break;
        if (what == pqxx::array_parser::string_value)
            out.push_back(value);
    }
    return out;
}

} // namespace

std::vector<report_row> list_reports(pqxx::connection& conn, const report_query& q)
{
    std::optional<std::string> domain;
    if (q.domain) {
        domain = *q.domain;
        if (!domain->empty() && domain->back() == '.')
            domain->pop_back();
    }
    std::optional<std::int64_t> since, until;
    if (q.since)
        since = epoch_micros(clamp_to_years(*q.since));
    if (q.until)
        until = epoch_micros(clamp_to_years(*q.until));

    pqxx::read_transaction tx(conn, "list_reports");
    const auto rows = tx.exec_params(
        "SELECT r.id, r.organization_name, r.report_id,"
        " (extract(epoch FROM r.start_datetime) * 1000000)::bigint,"
        " (extract(epoch FROM r.end_datetime) * 1000000)::bigint,"
        " ARRAY(SELECT DISTINCT p.policy_domain FROM report_policies p WHERE p.report = r.id ORDER BY 1),"
        " r.total_successful_session_count, r.total_failure_session_count,"
        " ARRAY(SELECT t.transport FROM report_receipts t WHERE t.report = r.id ORDER BY t.received_at, t.transport),"
        " (extract(epoch FROM r.received_at) * 1000000)::bigint, coalesce(r.dkim_state, ''), coalesce(r.dkim_domain, '')"
        " FROM reports r"
        " WHERE ($1::text IS NULL OR r.id IN (SELECT p.report FROM report_policies p WHERE p.policy_domain = lower($1)))"
        "  AND ($2::bigint IS NULL OR r.end_datetime > 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')"
        "  AND ($3::bigint IS NULL OR r.start_datetime <= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond')"
        " ORDER BY r.start_datetime DESC, r.id DESC"
        " LIMIT $4",
        domain, since, until, static_cast<std::int64_t>(q.limit));

    std::vector<report_row> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
        report_row r;
        r.key = row[0].as<std::int64_t>();
        r.organization_name = row[1].as<std::string>();
        r.report_id = row[2].as<std::string>();
        r.start_datetime = from_micros(row[3].as<std::int64_t>());
        r.end_datetime = from_micros(row[4].as<std::int64_t>());
        r.policy_domains = text_array_values(row[5]);
        r.successful_sessions = row[6].as<std::int64_t>();
        r.failed_sessions = row[7].as<std::int64_t>();
        r.transports = text_array_values(row[8]);
        r.received_at = from_micros(row[9].as<std::int64_t>());
        r.dkim_state = row[10].as<std::string>();
        r.dkim_domain = row[11].as<std::string>();
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<report_row> list_reports(const std::string& db_url, const report_query& q)
{
    auto conn = open_connection(db_url);
    return guarded("cannot connect", [&] { return list_reports(*conn, q); });
}

std::vector<std::string> reported_mx_hosts(pqxx::connection& conn, const std::string& domain)
{
    pqxx::read_transaction tx(conn, "reported_mx_hosts");
    auto rows = tx.exec_params("SELECT DISTINCT receiving_mx_hostname FROM failure_details"
                               " WHERE policy_domain = $1 AND receiving_mx_hostname IS NOT NULL",
                               normalize_domain(domain));
    std::set<std::string> hosts;
    for (const auto& row : rows) {
        std::string host = row[0].as<std::string>();
        const auto first = host.find_first_not_of(" \t");
        const auto last = host.find_last_not_of(" \t");
        host = first == std::string::npos ? "" : host.substr(first, last - first + 1);
        host = normalize_domain(host);
        // Senders put IPs, ports and garbage in this field: only host names are hosts.
        if (!host.empty() && is_valid_domain(host))
            hosts.insert(host);
    }
    return {hosts.begin(), hosts.end()};
}

} // namespace stswatch
