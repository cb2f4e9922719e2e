// Queries of the stored reports (store/report_queries.hpp).
#include "store/report_queries.hpp"

#include "store/connection.hpp"
#include "store/db_values.hpp"
#include "common/domain.hpp"

#include <pqxx/array>
#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction>

#include <set>

namespace stswatch {

using namespace store_detail;


namespace {

constexpr const char* report_columns =
    "SELECT r.id, r.organization_name, r.report_id,"
    " (extract(epoch FROM r.start_datetime) * 1000000)::bigint,"
    " (extract(epoch FROM r.end_datetime) * 1000000)::bigint,"
    " ARRAY(SELECT DISTINCT p.policy_domain FROM report_policies p WHERE p.report = r.id ORDER BY 1),"
    " r.total_successful_session_count, r.total_failure_session_count,"
    " ARRAY(SELECT t.transport FROM report_receipts t WHERE t.report = r.id ORDER BY t.received_at, t.transport),"
    " (extract(epoch FROM r.received_at) * 1000000)::bigint, coalesce(r.dkim_state, ''), coalesce(r.dkim_domain, '')";

report_row report_of(const pqxx::row& row)
{
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
    return r;
}

struct range_params {
    std::optional<std::string> domain;
    std::optional<std::int64_t> since, until;
};

range_params range_of(const report_query& q)
{
    range_params p;
    if (q.domain) {
        p.domain = *q.domain;
        if (!p.domain->empty() && p.domain->back() == '.')
            p.domain->pop_back();
    }
    if (q.since)
        p.since = epoch_micros(clamp_to_years(*q.since));
    if (q.until)
        p.until = epoch_micros(clamp_to_years(*q.until));
    return p;
}

constexpr const char* range_where =
    " WHERE ($1::text IS NULL OR r.id IN (SELECT p.report FROM report_policies p WHERE p.policy_domain = lower($1)))"
    "  AND ($2::bigint IS NULL OR r.end_datetime > 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')"
    "  AND ($3::bigint IS NULL OR r.start_datetime <= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond')";

} // namespace

std::vector<report_row> list_reports(pqxx::connection& conn, const report_query& q)
{
    const auto p = range_of(q);
    pqxx::read_transaction tx(conn, "list_reports");
    const auto rows = tx.exec_params(std::string(report_columns) + " FROM reports r" + range_where +
                                         " ORDER BY r.start_datetime DESC, r.id DESC LIMIT $4",
                                     p.domain, p.since, p.until, static_cast<std::int64_t>(q.limit));
    std::vector<report_row> out;
    out.reserve(rows.size());
    for (const auto& row : rows)
        out.push_back(report_of(row));
    return out;
}

report_page page_reports(pqxx::connection& conn, const report_query& q, std::optional<std::int64_t> before_id)
{
    const auto p = range_of(q);
    pqxx::read_transaction tx(conn, "page_reports");
    // Newest stored first, by id: a report stored while a client pages gets a higher id than
    // every cursor already handed out, so it never shifts or repeats a later page.
    const auto rows = tx.exec_params(std::string(report_columns) + " FROM reports r" + range_where +
                                         " AND ($4::bigint IS NULL OR r.id < $4::bigint)"
                                         " ORDER BY r.id DESC LIMIT $5",
                                     p.domain, p.since, p.until, before_id, static_cast<std::int64_t>(q.limit) + 1);
    report_page page;
    for (const auto& row : rows) {
        if (page.rows.size() == q.limit) {
            page.next_before_id = page.rows.back().key;
            break;
        }
        page.rows.push_back(report_of(row));
    }
    return page;
}

std::optional<stored_report> load_report(pqxx::connection& conn, std::int64_t id)
{
    pqxx::read_transaction tx(conn, "load_report");
    const auto rows = tx.exec_params(std::string(report_columns) +
                                         ", w.raw, w.raw_encoding, w.size, r.metadata::text, r.warnings, coalesce(r.contact_info, '')"
                                         " FROM reports r JOIN report_raw w ON w.report = r.id WHERE r.id = $1",
                                     id);
    if (rows.empty())
        return std::nullopt;
    const auto& row = rows[0];
    stored_report out;
    out.row = report_of(row);
    const pqxx::binarystring raw(row[12]);
    out.raw_gzip = raw.str();
    out.raw_encoding = row[13].as<std::string>();
    out.raw_size = row[14].as<std::int64_t>();
    out.metadata_json = row[15].as<std::string>();
    out.warnings = text_array_values(row[16]);
    out.contact_info = row[17].as<std::string>();
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
