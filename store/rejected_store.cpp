// Refused reports kept for another try (store/rejected_store.hpp).
#include "store/rejected_store.hpp"

#include "store/connection.hpp"
#include "store/db_values.hpp"
#include "store/report_rows.hpp"

#include <Poco/SHA2Engine.h>

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction>

namespace stswatch {

using namespace store_detail;

namespace {

constexpr const char* row_columns =
    "SELECT id, (extract(epoch FROM first_received_at) * 1000000)::bigint,"
    " (extract(epoch FROM last_received_at) * 1000000)::bigint, times, transport, source_address, reason, size,"
    " truncated, (extract(epoch FROM retried_at) * 1000000)::bigint, coalesce(retry_result, ''), report";

rejected_row row_of(const pqxx::row& r)
{
    rejected_row out;
    out.id = r[0].as<std::int64_t>();
    out.first_received_at = from_micros(r[1].as<std::int64_t>());
    out.last_received_at = from_micros(r[2].as<std::int64_t>());
    out.times = r[3].as<std::int64_t>();
    out.transport = r[4].as<std::string>();
    out.source_address = r[5].as<std::string>();
    out.reason = r[6].as<std::string>();
    out.size = r[7].as<std::int64_t>();
    out.truncated = r[8].as<bool>();
    if (!r[9].is_null())
        out.retried_at = from_micros(r[9].as<std::int64_t>());
    out.retry_result = r[10].as<std::string>();
    if (!r[11].is_null())
        out.report = r[11].as<std::int64_t>();
    return out;
}

} // namespace

void keep_rejected(pqxx::connection& conn, const rejected_input& in, const rejected_limits& limits)
{
    if (limits.keep == 0)
        return;
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(in.raw.data(), in.raw.size());
    const auto& digest = sha.digest();
    const std::string sha256(digest.begin(), digest.end());
    const bool truncated = in.raw.size() > limits.max_bytes;
    const std::string_view kept = truncated ? std::string_view(in.raw).substr(0, limits.max_bytes) : in.raw;
    report_metadata m;
    m.fields = in.metadata;
    guarded("cannot keep a refused report", [&] {
        pqxx::work tx(conn, "keep_rejected");
        tx.exec_params("INSERT INTO rejected_reports AS r (transport, source_address, reason, raw, size, truncated,"
                       " sha256, metadata)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
                       " ON CONFLICT (sha256) DO UPDATE SET last_received_at = now(), times = r.times + 1,"
                       " reason = excluded.reason, source_address = excluded.source_address,"
                       " transport = excluded.transport",
                       to_string(in.via), db_text(in.source_address), db_text(in.reason),
                       pqxx::binarystring(kept.data(), kept.size()), static_cast<std::int64_t>(in.raw.size()),
                       truncated, pqxx::binarystring(sha256.data(), sha256.size()), metadata_json(m, {}));
        // The oldest refusals go first; the newest keep rows stay.
        tx.exec_params("DELETE FROM rejected_reports WHERE id <= (SELECT id FROM rejected_reports"
                       " ORDER BY id DESC OFFSET $1 LIMIT 1)",
                       static_cast<std::int64_t>(limits.keep));
        tx.commit();
    });
}

std::vector<rejected_row> list_rejected(pqxx::connection& conn, bool pending_only, std::size_t limit)
{
    return guarded("cannot read the refused reports", [&] {
        pqxx::read_transaction tx(conn, "list_rejected");
        const auto rows = tx.exec_params(std::string(row_columns) +
                                             " FROM rejected_reports"
                                             " WHERE NOT $1 OR (NOT truncated AND report IS NULL"
                                             " AND coalesce(retry_result, '') NOT IN ('stored', 'duplicate'))"
                                             " ORDER BY last_received_at DESC, id DESC LIMIT $2",
                                         pending_only, static_cast<std::int64_t>(limit));
        std::vector<rejected_row> out;
        out.reserve(rows.size());
        for (const auto& r : rows)
            out.push_back(row_of(r));
        return out;
    });
}

std::optional<rejected_body> load_rejected(pqxx::connection& conn, std::int64_t id)
{
    return guarded("cannot read a refused report", [&]() -> std::optional<rejected_body> {
        pqxx::read_transaction tx(conn, "load_rejected");
        const auto rows = tx.exec_params(std::string(row_columns) + ", raw FROM rejected_reports WHERE id = $1", id);
        if (rows.empty())
            return std::nullopt;
        rejected_body out;
        out.row = row_of(rows[0]);
        out.raw = pqxx::binarystring(rows[0][12]).str();
        for (const auto& r : tx.exec_params("SELECT key, value FROM rejected_reports, jsonb_each_text(metadata)"
                                            " WHERE id = $1 AND jsonb_typeof(metadata -> key) = 'string'",
                                            id))
            out.metadata[r[0].as<std::string>()] = r[1].as<std::string>();
        return out;
    });
}

void note_retry(pqxx::connection& conn, std::int64_t id, const std::string& result, std::optional<std::int64_t> report)
{
    guarded("cannot note a retry", [&] {
        pqxx::work tx(conn, "note_retry");
        tx.exec_params("UPDATE rejected_reports SET retried_at = now(), retry_result = $2, report = $3 WHERE id = $1",
                       id, db_text(result), report);
        tx.commit();
    });
}

} // namespace stswatch
