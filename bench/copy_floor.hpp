// The COPY floor of the benchmarks: the rows the collector stores for a set of reports
// (reports, report_receipts, report_raw, report_policies, failure_details), loaded straight
// into scratch tables made LIKE the real ones with COPY (pqxx::stream_to), over as many
// sessions as the collector has store writers. What PostgreSQL alone needs to take them,
// durably: the figure each intake path is set beside (bench/README.md).
#pragma once

#include "bench/bench_support.hpp"
#include "bench/report_gen.hpp"

#include <pqxx/pqxx>

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <exception>
#include <iostream>
#include <latch>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

namespace stswatch::bench {

inline std::string utc_text(std::int64_t seconds, const char* format)
{
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

inline std::string hex_bytes(std::string_view bytes)
{
    static constexpr char digit[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const unsigned char c : bytes) {
        out += digit[c >> 4];
        out += digit[c & 0xf];
    }
    return out;
}

inline std::string sha256(std::string_view bytes)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), md, &length, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    return std::string(reinterpret_cast<const char*>(md), length);
}

// A PostgreSQL array literal of text: {"a","b"}.
inline std::string text_array(const std::vector<std::string>& items)
{
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ',';
        out += '"';
        for (const char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

inline const char* policy_type_text(policy_type t)
{
    switch (t) {
    case policy_type::sts: return "sts";
    case policy_type::tlsa: return "tlsa";
    case policy_type::no_policy_found: return "no-policy-found";
    }
    return "sts";
}

// Sessions of the report as a whole, as reports.total_*_session_count holds them.
inline std::pair<std::int64_t, std::int64_t> report_sessions(const tls_report& r)
{
    // Microsoft (2023): the tlsa and sts policies of one report count the same sessions, so
    // the tlsa ones are left out when the report also has sts policies.
    const bool has_sts = std::any_of(r.policies.begin(), r.policies.end(),
                                     [](const report_policy& p) { return p.type == policy_type::sts; });
    std::int64_t ok = 0, failed = 0;
    for (const auto& p : r.policies) {
        if (p.type == policy_type::tlsa && has_sts) continue;
        ok += p.total_successful_session_count;
        failed += p.total_failure_session_count;
    }
    return {ok, failed};
}

// Scratch tables made LIKE the real ones (columns, defaults, checks, indexes), plus the
// foreign keys to reports that the real ones have and the partitioning of failure_details,
// in a schema of their own that is dropped afterwards.
class scratch_schema {
public:
    explicit scratch_schema(pqxx::connection& conn)
        : conn_(conn), name_("stswatch_bench_floor_" + std::to_string(::getpid()))
    {
        pqxx::work tx(conn_);
        if (tx.exec1("SELECT to_regclass('public.reports') IS NOT NULL AND to_regclass('public.failure_details') IS NOT NULL")[0].as<bool>() == false)
            throw std::runtime_error("the COPY floor needs a migrated stswatch database (--db): public.reports is missing");
        const std::string s = tx.quote_name(name_);
        tx.exec0("DROP SCHEMA IF EXISTS " + s + " CASCADE");
        tx.exec0("CREATE SCHEMA " + s);
        tx.exec0("CREATE TABLE " + s + ".reports (LIKE public.reports INCLUDING ALL)");
        for (const char* table : {"report_receipts", "report_raw", "report_policies"})
            tx.exec0("CREATE TABLE " + s + "." + table + " (LIKE public." + table + " INCLUDING ALL)");
        tx.exec0("CREATE TABLE " + s + ".failure_details (LIKE public.failure_details INCLUDING ALL) PARTITION BY RANGE (day)");
        tx.exec0("CREATE TABLE " + s + ".failure_details_default PARTITION OF " + s + ".failure_details DEFAULT");
        // The foreign keys to reports that the real tables have (sql/0009 dropped the one of
        // failure_details), so that the floor pays for the same checks as the store.
        for (const char* table : {"report_receipts", "report_raw", "report_policies", "failure_details"}) {
            const bool has_key = tx.exec_params1("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f'"
                                                 " AND conrelid = $1::regclass AND confrelid = 'public.reports'::regclass)",
                                                 std::string("public.") + table)[0]
                                     .as<bool>();
            if (has_key)
                tx.exec0("ALTER TABLE " + s + "." + table + " ADD FOREIGN KEY (report) REFERENCES " + s +
                         ".reports (id) ON DELETE CASCADE");
        }
        tx.commit();
    }
    ~scratch_schema()
    {
        try {
            pqxx::work tx(conn_);
            tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(name_) + " CASCADE");
            tx.commit();
        } catch (const std::exception& e) {
            std::cerr << "bench: could not drop the scratch schema " << name_ << ": " << e.what() << '\n';
        }
    }
    scratch_schema(const scratch_schema&) = delete;
    scratch_schema& operator=(const scratch_schema&) = delete;

    std::string table(const char* name) const { return name_ + '.' + name; }

private:
    pqxx::connection& conn_;
    std::string name_;
};

struct floor_result {
    unsigned connections = 0;
    std::size_t rows = 0;
    double seconds = 0;
    double client_cpu_seconds = 0;   // this program's share: formatting and escaping rows
    std::vector<std::pair<std::string, double>> table_seconds;   // first connection's split
};

// What one connection loads: a contiguous share of the reports, in one transaction.
struct floor_share {
    std::size_t first = 0, last = 0;
    std::size_t rows = 0;
    std::vector<std::pair<std::string, double>> table_seconds;
    std::exception_ptr error;
};

struct floor_input {
    const std::vector<generated_report>& reports;
    const std::vector<std::string>& bodies;
    std::vector<std::string> raw_hex, raw_sha;   // bytea text for COPY
    std::string transport = "https";             // report_receipts.transport
    std::string source_address = "127.0.0.1";    // report_receipts.source_address
};

inline void copy_share(pqxx::connection& conn, const scratch_schema& schema, const floor_input& in, floor_share& share)
{
    auto lap = bench_clock::now();
    auto split = [&](const char* what) {
        const auto now = bench_clock::now();
        share.table_seconds.emplace_back(what, seconds_between(lap, now));
        lap = now;
    };
    auto key = [](std::size_t i) { return static_cast<std::int64_t>(i + 1); };
    pqxx::work tx(conn);
    {
        pqxx::stream_to out(tx, schema.table("reports"),
                            std::vector<std::string>{"id", "organization_name", "report_id", "start_datetime",
                                                     "end_datetime", "contact_info", "policy_count",
                                                     "total_successful_session_count", "total_failure_session_count"});
        for (std::size_t i = share.first; i < share.last; ++i) {
            const tls_report& r = in.reports[i].report;
            const auto [ok, failed] = report_sessions(r);
            out << std::make_tuple(key(i), r.organization_name, r.report_id,
                                   utc_text(r.start_datetime.seconds, "%Y-%m-%dT%H:%M:%SZ"),
                                   utc_text(r.end_datetime.seconds, "%Y-%m-%dT%H:%M:%SZ"), r.contact_info,
                                   static_cast<int>(r.policies.size()), ok, failed);
            ++share.rows;
        }
        out.complete();
        split("reports");
    }
    {
        pqxx::stream_to out(tx, schema.table("report_receipts"),
                            std::vector<std::string>{"report", "transport", "source_address"});
        for (std::size_t i = share.first; i < share.last; ++i) {
            out << std::make_tuple(key(i), in.transport, in.source_address);
            ++share.rows;
        }
        out.complete();
        split("receipts");
    }
    {
        pqxx::stream_to out(tx, schema.table("report_raw"),
                            std::vector<std::string>{"report", "raw", "raw_encoding", "sha256", "size"});
        for (std::size_t i = share.first; i < share.last; ++i) {
            out << std::make_tuple(key(i), in.raw_hex[i], std::string("gzip"), in.raw_sha[i],
                                   static_cast<std::int64_t>(in.bodies[i].size()));
            ++share.rows;
        }
        out.complete();
        split("raw");
    }
    {
        pqxx::stream_to out(tx, schema.table("report_policies"),
                            std::vector<std::string>{"report", "policy_index", "policy_type", "policy_domain",
                                                     "policy_string", "mx_host", "total_successful_session_count",
                                                     "total_failure_session_count", "report_start"});
        for (std::size_t i = share.first; i < share.last; ++i) {
            const tls_report& r = in.reports[i].report;
            const std::string start = utc_text(r.start_datetime.seconds, "%Y-%m-%dT%H:%M:%SZ");
            for (std::size_t p = 0; p < r.policies.size(); ++p) {
                const report_policy& policy = r.policies[p];
                out << std::make_tuple(key(i), static_cast<int>(p), std::string(policy_type_text(policy.type)),
                                       policy.policy_domain, text_array(policy.policy_string),
                                       text_array(policy.mx_host), policy.total_successful_session_count,
                                       policy.total_failure_session_count, start);
                ++share.rows;
            }
        }
        out.complete();
        split("policies");
    }
    {
        pqxx::stream_to out(tx, schema.table("failure_details"),
                            std::vector<std::string>{"report", "policy_index", "detail_index", "day", "policy_domain",
                                                     "organization_name", "result_type", "sending_mta_ip",
                                                     "receiving_mx_hostname", "receiving_mx_helo", "receiving_ip",
                                                     "failed_session_count", "additional_information",
                                                     "failure_reason_code"});
        for (std::size_t i = share.first; i < share.last; ++i) {
            const tls_report& r = in.reports[i].report;
            const std::string day = utc_text(r.start_datetime.seconds, "%Y-%m-%d");
            for (std::size_t p = 0; p < r.policies.size(); ++p) {
                const report_policy& policy = r.policies[p];
                for (std::size_t d = 0; d < policy.failure_details.size(); ++d) {
                    const failure_detail& f = policy.failure_details[d];
                    out << std::make_tuple(key(i), static_cast<int>(p), static_cast<int>(d), day,
                                           policy.policy_domain, r.organization_name, f.result_type,
                                           f.sending_mta_ip, f.receiving_mx_hostname, f.receiving_mx_helo,
                                           f.receiving_ip, f.failed_session_count, f.additional_information,
                                           f.failure_reason_code);
                    ++share.rows;
                }
            }
        }
        out.complete();
        split("failure details");
    }
    tx.commit();
    split("commit");
}

// The same rows the collector stores for these reports, loaded over `connections` sessions
// at once (as many as the collector's store writers), each its share in one transaction.
inline floor_result copy_floor(const std::string& db_url, const std::vector<generated_report>& reports,
                               const std::vector<std::string>& bodies, unsigned connections,
                               const std::string& transport = "https", const std::string& source_address = "127.0.0.1")
{
    pqxx::connection admin(db_url);
    const scratch_schema schema(admin);

    // Digests and hex are computed first: the floor is what PostgreSQL takes.
    floor_input in{reports, bodies, {}, {}, transport, source_address};
    in.raw_hex.reserve(bodies.size());
    in.raw_sha.reserve(bodies.size());
    for (const auto& body : bodies) {
        in.raw_hex.push_back("\\x" + hex_bytes(body));
        in.raw_sha.push_back("\\x" + hex_bytes(sha256(body)));
    }

    connections = static_cast<unsigned>(std::clamp<std::size_t>(connections, 1, reports.size()));
    std::vector<std::unique_ptr<pqxx::connection>> sessions;
    std::vector<floor_share> shares(connections);
    for (unsigned c = 0; c < connections; ++c) {
        sessions.push_back(std::make_unique<pqxx::connection>(db_url));
        shares[c].first = reports.size() * c / connections;
        shares[c].last = reports.size() * (c + 1) / connections;
    }

    floor_result result;
    result.connections = connections;
    std::latch start(static_cast<std::ptrdiff_t>(connections) + 1);
    std::vector<std::thread> loaders;
    for (unsigned c = 0; c < connections; ++c) {
        loaders.emplace_back([&, c] {
            start.arrive_and_wait();
            try {
                copy_share(*sessions[c], schema, in, shares[c]);
            } catch (...) {
                shares[c].error = std::current_exception();
            }
        });
    }
    const double cpu_before = own_cpu_seconds();
    start.arrive_and_wait();
    const auto begin = bench_clock::now();
    for (auto& t : loaders) t.join();
    result.seconds = seconds_between(begin, bench_clock::now());
    result.client_cpu_seconds = own_cpu_seconds() - cpu_before;
    for (const auto& share : shares) {
        if (share.error) std::rethrow_exception(share.error);
        result.rows += share.rows;
    }
    result.table_seconds = shares.front().table_seconds;
    return result;
}

} // namespace stswatch::bench
