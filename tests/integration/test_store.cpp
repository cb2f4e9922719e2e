// The report store against a real PostgreSQL: what is stored, idempotence, rollups,
// partitions, group commit under concurrency, and the database going away.
#include "tlsrpt/decode.hpp"
#include "store/report_store.hpp"
#include "store/migrations.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <pqxx/binarystring>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace stswatch;
using namespace std::chrono_literals;

namespace {

utc_time at(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0)
{
    const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
    return {static_cast<std::int64_t>(day.time_since_epoch().count()) * 86400 + hh * 3600 + mm * 60 + ss, 0};
}

utc_time plus(utc_time t, std::int64_t seconds) { return {t.seconds + seconds, t.micros}; }

failure_detail detail(std::string type, std::int64_t count, std::optional<std::string> mx = {},
                      std::optional<std::string> ip = {})
{
    failure_detail d;
    d.result_type = std::move(type);
    d.failed_session_count = count;
    d.receiving_mx_hostname = std::move(mx);
    d.receiving_ip = std::move(ip);
    return d;
}

report_policy policy(policy_type type, std::string domain, std::int64_t ok, std::int64_t failed,
                     std::vector<failure_detail> details = {})
{
    report_policy p;
    p.type = type;
    p.policy_domain = std::move(domain);
    p.total_successful_session_count = ok;
    p.total_failure_session_count = failed;
    p.failure_details = std::move(details);
    return p;
}

// A Google-like daily report: an sts policy with two failure details (one with every
// field, one with only the required ones) and a no-policy-found entry for the same domain.
tls_report sample_report(const std::string& org, const std::string& id, const std::string& domain = "example.com",
                         utc_time start = at(2025, 7, 8))
{
    tls_report r;
    r.organization_name = org;
    r.report_id = id;
    r.start_datetime = start;
    r.end_datetime = plus(start, 86399);
    r.contact_info = "smtp-tls-reporting@" + org;

    failure_detail full = detail("certificate-expired", 5, "mx1." + domain, "198.51.100.1");
    full.sending_mta_ip = "203.0.113.5";
    full.receiving_mx_helo = "mx1-helo." + domain;
    full.additional_information = "https://reports.example/why?a b";   // RFC 8460 example: spaces kept
    full.failure_reason_code = "X509_V_ERR_CERT_HAS_EXPIRED";
    report_policy sts = policy(policy_type::sts, domain, 100, 7, {full, detail("validation-failure", 2)});
    sts.policy_string = {"version: STSv1", "mode: enforce", "mx: mx1." + domain + " ", "max_age: 86400"};
    sts.mx_host = {"mx1." + domain};
    r.policies = {sts, policy(policy_type::no_policy_found, domain, 3, 0)};
    return r;
}

// A (year, month) relative to the current month, by the system clock: partitions are made
// only for months near it (store/partitions.hpp).
struct year_month {
    int year, month;
};
year_month months_from_now(int delta)
{
    const std::chrono::year_month_day today{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
    const int n = static_cast<int>(today.year()) * 12 + static_cast<int>(static_cast<unsigned>(today.month())) - 1 + delta;
    return {n / 12, n % 12 + 1};
}

std::string partition_name(year_month ym)
{
    char name[40];
    std::snprintf(name, sizeof name, "failure_details_%04d_%02d", ym.year, ym.month);
    return name;
}

std::string raw_json(const tls_report& r)
{
    return "{\"organization-name\":\"" + r.organization_name + "\",\"report-id\":\"" + r.report_id + "\"}";
}

incoming_report incoming(tls_report r, transport via = transport::https, std::string source = "192.0.2.10")
{
    incoming_report in;
    in.raw = raw_json(r);
    in.metadata.fields["tls-report-domain"] = r.policies.empty() ? "" : r.policies[0].policy_domain;
    in.metadata.filled = {"policies[1].policy.policy-domain from tls-report-domain"};
    in.warnings = {"policies[0].failure-details: sum exceeds total-failure-session-count"};
    in.report = std::move(r);
    in.via = via;
    in.source_address = std::move(source);
    return in;
}

// Queries on a connection of the test's own.
struct db_view {
    explicit db_view(const std::string& url) : conn(url) {}

    template <typename T = std::int64_t, typename... Args>
    T scalar(const std::string& sql, Args&&... args)
    {
        pqxx::nontransaction tx(conn);
        const auto row = tx.exec_params1(sql, std::forward<Args>(args)...);
        return row[0].template as<T>();
    }

    template <typename... Args>
    pqxx::result rows(const std::string& sql, Args&&... args)
    {
        pqxx::nontransaction tx(conn);
        return tx.exec_params(sql, std::forward<Args>(args)...);
    }

    pqxx::connection conn;
};

// Rows of the rollups that the stored rows do not explain, and the other way round.
constexpr const char* rollup_mismatches_sql =
    "WITH details AS ("
    "  SELECT f.policy_domain, f.day, p.policy_type, f.result_type,"
    "         coalesce(f.receiving_mx_hostname, f.receiving_ip, '') AS receiving_mx, f.organization_name,"
    "         0::bigint AS successful, sum(f.failed_session_count)::bigint AS failed"
    "  FROM failure_details f JOIN report_policies p ON p.report = f.report AND p.policy_index = f.policy_index"
    "  GROUP BY 1, 2, 3, 4, 5, 6"
    "), summaries AS ("
    "  SELECT p.policy_domain, (r.start_datetime AT TIME ZONE 'UTC')::date AS day, p.policy_type,"
    "         '' AS result_type, '' AS receiving_mx, r.organization_name,"
    "         sum(p.total_successful_session_count)::bigint, sum(p.total_failure_session_count)::bigint"
    "  FROM report_policies p JOIN reports r ON r.id = p.report"
    "  GROUP BY 1, 2, 3, 4, 5, 6"
    "), expected AS (SELECT * FROM details UNION ALL SELECT * FROM summaries"
    "), actual AS ("
    "  SELECT policy_domain, day, policy_type, result_type, receiving_mx, organization_name,"
    "         successful_sessions, failed_sessions FROM daily_rollups"
    ")"
    " SELECT count(*) FROM ((SELECT * FROM expected EXCEPT SELECT * FROM actual)"
    "                       UNION ALL (SELECT * FROM actual EXCEPT SELECT * FROM expected)) x";

// Every report row with everything that belongs to it: no half-stored report.
constexpr const char* incomplete_reports_sql =
    "SELECT count(*) FROM reports r"
    " WHERE NOT EXISTS (SELECT 1 FROM report_raw w WHERE w.report = r.id)"
    "    OR NOT EXISTS (SELECT 1 FROM report_receipts t WHERE t.report = r.id)"
    "    OR r.policy_count <> (SELECT count(*) FROM report_policies p WHERE p.report = r.id)";

std::vector<const incoming_report*> pointers(const std::vector<incoming_report>& v)
{
    std::vector<const incoming_report*> out;
    for (const auto& r : v)
        out.push_back(&r);
    return out;
}

} // namespace

TEST_CASE("a stored report matches the report field by field")
{
    test::scratch_database db;
    db_view v(db.url());
    const auto in = incoming(sample_report("google.com", "2025-07-08T00:00:00Z_example.com"));

    const auto results = store_batch(v.conn, {&in});
    REQUIRE(results.size() == 1);
    CHECK(results[0].outcome == store_outcome::stored);
    const auto key = results[0].report_key;

    const auto r = v.rows("SELECT organization_name, report_id,"
                          " to_char(start_datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
                          " to_char(end_datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
                          " contact_info, policy_count, total_successful_session_count, total_failure_session_count,"
                          " array_to_json(warnings)::text, metadata->>'tls-report-domain', metadata->'filled'->>0,"
                          " dkim_state IS NULL, abs(extract(epoch FROM now() - received_at)) < 60"
                          " FROM reports WHERE id = $1", key);
    REQUIRE(r.size() == 1);
    CHECK(r[0][0].as<std::string>() == "google.com");
    CHECK(r[0][1].as<std::string>() == "2025-07-08T00:00:00Z_example.com");
    CHECK(r[0][2].as<std::string>() == "2025-07-08T00:00:00.000000");
    CHECK(r[0][3].as<std::string>() == "2025-07-08T23:59:59.000000");
    CHECK(r[0][4].as<std::string>() == "smtp-tls-reporting@google.com");
    CHECK(r[0][5].as<int>() == 2);
    CHECK(r[0][6].as<std::int64_t>() == 103);
    CHECK(r[0][7].as<std::int64_t>() == 7);
    CHECK(r[0][8].as<std::string>() == "[\"policies[0].failure-details: sum exceeds total-failure-session-count\"]");
    CHECK(r[0][9].as<std::string>() == "example.com");
    CHECK(r[0][10].as<std::string>() == "policies[1].policy.policy-domain from tls-report-domain");
    CHECK(r[0][11].as<bool>());
    CHECK(r[0][12].as<bool>());

    const auto receipts = v.rows("SELECT transport, source_address FROM report_receipts WHERE report = $1", key);
    REQUIRE(receipts.size() == 1);
    CHECK(receipts[0][0].as<std::string>() == "https");
    CHECK(receipts[0][1].as<std::string>() == "192.0.2.10");

    // The raw body: gzip of what was received, with the digest and size of what was received.
    const auto raw = v.rows("SELECT raw, raw_encoding, size, sha256 = sha256($2) FROM report_raw WHERE report = $1",
                            key, pqxx::binarystring(in.raw));
    REQUIRE(raw.size() == 1);
    const std::string kept = pqxx::binarystring(raw[0][0]).str();
    CHECK(sniff_body(kept) == body_kind::gzip);
    CHECK(decode_body(kept, 1 << 20).json == in.raw);
    CHECK(raw[0][1].as<std::string>() == "json");
    CHECK(raw[0][2].as<std::int64_t>() == static_cast<std::int64_t>(in.raw.size()));
    CHECK(raw[0][3].as<bool>());

    const auto policies = v.rows("SELECT policy_index, policy_type, policy_domain, policy_domain_filled,"
                                 " array_to_json(policy_string)::text, array_to_json(mx_host)::text,"
                                 " total_successful_session_count, total_failure_session_count, report_start = $2::timestamptz"
                                 " FROM report_policies WHERE report = $1 ORDER BY policy_index",
                                 key, "2025-07-08T00:00:00Z");
    REQUIRE(policies.size() == 2);
    CHECK(policies[0][1].as<std::string>() == "sts");
    CHECK(policies[0][2].as<std::string>() == "example.com");
    CHECK_FALSE(policies[0][3].as<bool>());
    // Google: policy lines verbatim, the trailing space included.
    CHECK(policies[0][4].as<std::string>() ==
          "[\"version: STSv1\",\"mode: enforce\",\"mx: mx1.example.com \",\"max_age: 86400\"]");
    CHECK(policies[0][5].as<std::string>() == "[\"mx1.example.com\"]");
    CHECK(policies[0][6].as<std::int64_t>() == 100);
    CHECK(policies[0][7].as<std::int64_t>() == 7);
    CHECK(policies[0][8].as<bool>());
    CHECK(policies[1][1].as<std::string>() == "no-policy-found");
    CHECK(policies[1][4].as<std::string>() == "[]");
    CHECK(policies[1][5].as<std::string>() == "[]");
    CHECK(policies[1][6].as<std::int64_t>() == 3);

    const auto details = v.rows("SELECT policy_index, detail_index, day::text, policy_domain, organization_name,"
                                " result_type, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo,"
                                " receiving_ip, failed_session_count, additional_information, failure_reason_code"
                                " FROM failure_details WHERE report = $1 ORDER BY policy_index, detail_index", key);
    REQUIRE(details.size() == 2);
    const auto& full = details[0];
    CHECK(full[0].as<int>() == 0);
    CHECK(full[1].as<int>() == 0);
    CHECK(full[2].as<std::string>() == "2025-07-08");
    CHECK(full[3].as<std::string>() == "example.com");
    CHECK(full[4].as<std::string>() == "google.com");
    CHECK(full[5].as<std::string>() == "certificate-expired");
    CHECK(full[6].as<std::string>() == "203.0.113.5");
    CHECK(full[7].as<std::string>() == "mx1.example.com");
    CHECK(full[8].as<std::string>() == "mx1-helo.example.com");
    CHECK(full[9].as<std::string>() == "198.51.100.1");
    CHECK(full[10].as<std::int64_t>() == 5);
    CHECK(full[11].as<std::string>() == "https://reports.example/why?a b");
    CHECK(full[12].as<std::string>() == "X509_V_ERR_CERT_HAS_EXPIRED");
    const auto& bare = details[1];
    CHECK(bare[1].as<int>() == 1);
    CHECK(bare[5].as<std::string>() == "validation-failure");
    CHECK(bare[10].as<std::int64_t>() == 2);
    // Absent optional fields are NULL: never "null", never 0.
    for (int column : {6, 7, 8, 9, 11, 12})
        CHECK(bare[column].is_null());
}

TEST_CASE("a body received gzipped is kept byte for byte")
{
    test::scratch_database db;
    db_view v(db.url());
    auto in = incoming(sample_report("microsoft.com", "133810389004212345+example.com"));
    const std::string json = in.raw;
    in.raw = gzip_compress(json, 9) + "\r\n";   // stray bytes after the member are kept too
    in.raw_is_gzip = true;

    const auto key = store_batch(v.conn, {&in}).at(0).report_key;
    const auto raw = v.rows("SELECT raw, raw_encoding, size FROM report_raw WHERE report = $1", key);
    REQUIRE(raw.size() == 1);
    CHECK(pqxx::binarystring(raw[0][0]).str() == in.raw);
    CHECK(raw[0][1].as<std::string>() == "gzip");
    CHECK(raw[0][2].as<std::int64_t>() == static_cast<std::int64_t>(in.raw.size()));
}

TEST_CASE("the same report again is a duplicate and still one row")
{
    test::scratch_database db;
    db_view v(db.url());
    const auto in = incoming(sample_report("google.com", "r-1"));
    const auto first = store_batch(v.conn, {&in}).at(0);
    const auto failed_before = v.scalar("SELECT sum(failed_sessions)::bigint FROM daily_rollups");

    const auto again = store_batch(v.conn, {&in}).at(0);
    CHECK(again.outcome == store_outcome::duplicate);
    CHECK(again.report_key == first.report_key);
    CHECK(v.scalar("SELECT count(*) FROM reports") == 1);
    CHECK(v.scalar("SELECT count(*) FROM report_receipts") == 1);
    CHECK(v.scalar("SELECT count(*) FROM report_policies") == 2);
    CHECK(v.scalar("SELECT count(*) FROM failure_details") == 2);
    CHECK(v.scalar("SELECT count(*) FROM report_raw") == 1);
    // A duplicate adds nothing to the trends.
    CHECK(v.scalar("SELECT sum(failed_sessions)::bigint FROM daily_rollups") == failed_before);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("the same report by another transport is a duplicate with two receipts")
{
    test::scratch_database db;
    db_view v(db.url());
    const auto by_https = incoming(sample_report("google.com", "r-1"), transport::https, "192.0.2.10");
    const auto by_smtp = incoming(sample_report("google.com", "r-1"), transport::smtp, "192.0.2.25");
    const auto first = store_batch(v.conn, {&by_https}).at(0);
    const auto second = store_batch(v.conn, {&by_smtp}).at(0);
    CHECK(second.outcome == store_outcome::duplicate);
    CHECK(second.report_key == first.report_key);

    const auto receipts = v.rows("SELECT transport, source_address FROM report_receipts WHERE report = $1"
                                 " ORDER BY transport", first.report_key);
    REQUIRE(receipts.size() == 2);
    CHECK(receipts[0][0].as<std::string>() == "https");
    CHECK(receipts[0][1].as<std::string>() == "192.0.2.10");
    CHECK(receipts[1][0].as<std::string>() == "smtp");
    CHECK(receipts[1][1].as<std::string>() == "192.0.2.25");
    CHECK(v.scalar("SELECT count(*) FROM reports") == 1);

    // A third copy by a transport already listed adds no receipt.
    CHECK(store_batch(v.conn, {&by_smtp}).at(0).outcome == store_outcome::duplicate);
    CHECK(v.scalar("SELECT count(*) FROM report_receipts") == 2);
}

TEST_CASE("a report twice in one batch is stored once")
{
    test::scratch_database db;
    db_view v(db.url());
    const std::vector<incoming_report> batch = {
        incoming(sample_report("google.com", "z-1"), transport::https),
        incoming(sample_report("a-sender.example", "a-1"), transport::https),
        incoming(sample_report("google.com", "z-1"), transport::smtp),
        incoming(sample_report("google.com", "z-1"), transport::https),
    };
    const auto results = store_batch(v.conn, pointers(batch));
    REQUIRE(results.size() == 4);
    CHECK(results[0].outcome == store_outcome::stored);
    CHECK(results[1].outcome == store_outcome::stored);
    CHECK(results[2].outcome == store_outcome::duplicate);
    CHECK(results[3].outcome == store_outcome::duplicate);
    CHECK(results[2].report_key == results[0].report_key);
    CHECK(results[3].report_key == results[0].report_key);
    CHECK(results[1].report_key != results[0].report_key);
    CHECK(v.scalar("SELECT count(*) FROM reports") == 2);
    CHECK(v.scalar("SELECT count(*) FROM report_receipts WHERE report = $1", results[0].report_key) == 2);
    CHECK(v.scalar("SELECT count(*) FROM failure_details") == 4);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("rollups equal the stored failure details and summaries")
{
    test::scratch_database db;
    db_view v(db.url());
    const auto day1 = at(2025, 7, 8), day2 = at(2025, 7, 9);

    tls_report mailru = sample_report("mail.ru", "m-1", "example.net", day1);
    // mail.ru: failure details without IPs, free text reason; the range ends at midnight.
    mailru.end_datetime = at(2025, 7, 9);
    mailru.policies[0].failure_details.push_back(detail("sts-policy-fetch-error", 4));
    mailru.policies[0].failure_details.back().failure_reason_code = "bad https response code: 404";
    // Only the receiving IP: the rollup's MX is that address.
    mailru.policies[0].failure_details.push_back(detail("starttls-not-supported", 6, std::nullopt, "198.51.100.9"));

    tls_report microsoft = sample_report("microsoft.com", "ms-1", "example.com", day1);
    microsoft.policies.push_back(policy(policy_type::tlsa, "example.com", 100, 7, {detail("tlsa-invalid", 7, "mx1.example.com")}));

    std::vector<incoming_report> batch = {
        incoming(sample_report("google.com", "g-1", "example.com", day1)),
        incoming(sample_report("google.com", "g-2", "example.com", day1)),   // same keys: adds up
        incoming(sample_report("google.com", "g-3", "example.com", day2)),
        incoming(std::move(mailru)),
        incoming(std::move(microsoft)),
    };
    store_batch(v.conn, pointers(batch));

    REQUIRE(v.scalar("SELECT count(*) FROM daily_rollups") > 0);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);

    struct expectation {
        const char* domain;
        const char* day;
        const char* type;
        const char* result_type;
        const char* mx;
        const char* org;
        std::int64_t successful, failed;
    };
    const expectation expected[] = {
        {"example.com", "2025-07-08", "sts", "", "", "google.com", 200, 14},
        {"example.com", "2025-07-08", "sts", "certificate-expired", "mx1.example.com", "google.com", 0, 10},
        {"example.com", "2025-07-08", "sts", "validation-failure", "", "google.com", 0, 4},
        {"example.com", "2025-07-08", "no-policy-found", "", "", "google.com", 6, 0},
        {"example.com", "2025-07-09", "sts", "", "", "google.com", 100, 7},
        {"example.net", "2025-07-08", "sts", "sts-policy-fetch-error", "", "mail.ru", 0, 4},
        {"example.net", "2025-07-08", "sts", "starttls-not-supported", "198.51.100.9", "mail.ru", 0, 6},
        {"example.com", "2025-07-08", "tlsa", "tlsa-invalid", "mx1.example.com", "microsoft.com", 0, 7},
        {"example.com", "2025-07-08", "tlsa", "", "", "microsoft.com", 100, 7},
    };
    for (const auto& e : expected) {
        INFO(e.domain << " " << e.day << " " << e.type << " '" << e.result_type << "' '" << e.mx << "' " << e.org);
        const auto row = v.rows("SELECT successful_sessions, failed_sessions FROM daily_rollups"
                                " WHERE policy_domain = $1 AND day = $2::date AND policy_type = $3 AND result_type = $4"
                                " AND receiving_mx = $5 AND organization_name = $6",
                                e.domain, e.day, e.type, e.result_type, e.mx, e.org);
        REQUIRE(row.size() == 1);
        CHECK(row[0][0].as<std::int64_t>() == e.successful);
        CHECK(row[0][1].as<std::int64_t>() == e.failed);
    }

    // Storing more later keeps adding to the same rows.
    const auto later = incoming(sample_report("google.com", "g-4", "example.com", day1));
    store_batch(v.conn, {&later});
    CHECK(v.scalar("SELECT failed_sessions FROM daily_rollups WHERE policy_domain = 'example.com'"
                   " AND day = '2025-07-08' AND policy_type = 'sts' AND result_type = '' AND organization_name = 'google.com'") == 21);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("report totals count sessions once")
{
    struct totals_case {
        const char* why;
        std::vector<report_policy> policies;
        std::int64_t successful, failed;
    };
    const totals_case cases[] = {
        {"Microsoft: tlsa and sts of one domain count the same sessions",
         {policy(policy_type::tlsa, "example.com", 10, 1), policy(policy_type::sts, "example.com", 10, 1)}, 10, 1},
        {"Google: no-policy-found and two sts policies of one domain are different sessions",
         {policy(policy_type::no_policy_found, "example.com", 5, 0), policy(policy_type::sts, "example.com", 100, 2),
          policy(policy_type::sts, "example.com", 50, 1)}, 155, 3},
        {"different domains add up",
         {policy(policy_type::sts, "example.com", 10, 1), policy(policy_type::tlsa, "example.net", 20, 2)}, 30, 3},
        {"the larger view of a domain counts",
         {policy(policy_type::tlsa, "example.com", 40, 0), policy(policy_type::sts, "example.com", 30, 5)}, 40, 0},
        {"no policies", {}, 0, 0},
    };
    test::scratch_database db;
    db_view v(db.url());
    int n = 0;
    for (const auto& c : cases) {
        INFO(c.why);
        tls_report r = sample_report("sender.example", "t-" + std::to_string(n++));
        r.policies = c.policies;
        const auto in = incoming(std::move(r));
        const auto key = store_batch(v.conn, {&in}).at(0).report_key;
        CHECK(v.scalar("SELECT total_successful_session_count FROM reports WHERE id = $1", key) == c.successful);
        CHECK(v.scalar("SELECT total_failure_session_count FROM reports WHERE id = $1", key) == c.failed);
    }
}

TEST_CASE("many failure details go in by COPY and match field by field")
{
    test::scratch_database db;
    db_view v(db.url());
    tls_report r = sample_report("big.example", "big-1");
    auto& details = r.policies[0].failure_details;
    details.clear();
    for (int i = 0; i < 500; ++i) {
        auto d = detail(i % 2 ? "certificate-expired" : "validation-failure", i + 1,
                        "mx" + std::to_string(i % 3) + ".example.com", "198.51.100." + std::to_string(i % 250));
        d.sending_mta_ip = "203.0.113." + std::to_string(i % 250);
        if (i % 5 == 0)
            d.additional_information = "tab\there, newline\nthere, backslash \\ and \"quotes\"";
        details.push_back(std::move(d));
    }
    const auto in = incoming(std::move(r));
    const auto key = store_batch(v.conn, {&in}).at(0).report_key;

    CHECK(v.scalar("SELECT count(*) FROM failure_details WHERE report = $1", key) == 500);
    CHECK(v.scalar("SELECT sum(failed_session_count)::bigint FROM failure_details") == 500 * 501 / 2);
    CHECK(v.scalar("SELECT count(*) FROM failure_details WHERE additional_information = $1",
                   "tab\there, newline\nthere, backslash \\ and \"quotes\"") == 100);
    CHECK(v.scalar("SELECT count(*) FROM failure_details WHERE additional_information IS NULL") == 400);
    CHECK(v.scalar("SELECT count(*) FROM failure_details WHERE detail_index = 499 AND failed_session_count = 500"
                   " AND receiving_mx_hostname = 'mx1.example.com' AND sending_mta_ip = '203.0.113.249'") == 1);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("text the database cannot hold is kept with replacement characters")
{
    test::scratch_database db;
    db_view v(db.url());
    tls_report r = sample_report("sender.example", "bytes-1");
    const char with_nul[] = "bad \xC3 byte and a \0 NUL";
    r.policies[0].failure_details[0].additional_information = std::string(with_nul, sizeof with_nul - 1);
    r.policies[0].policy_string.push_back("overlong \xC0\xAF slash");
    const auto in = incoming(std::move(r));
    const auto key = store_batch(v.conn, {&in}).at(0).report_key;
    CHECK(v.scalar<std::string>("SELECT additional_information FROM failure_details WHERE report = $1"
                                " AND detail_index = 0", key) == "bad \xEF\xBF\xBD byte and a \xEF\xBF\xBD NUL");
    CHECK(v.scalar<std::string>("SELECT policy_string[5] FROM report_policies WHERE report = $1 AND policy_index = 0",
                                key) == "overlong \xEF\xBF\xBD\xEF\xBF\xBD slash");
}

TEST_CASE("one report the database refuses does not cost the others their place")
{
    test::scratch_database db;
    db_view v(db.url());

    struct bad_case {
        const char* why;
        tls_report report;
    };
    tls_report overflow = sample_report("bad.example", "overflow");
    overflow.policies = {policy(policy_type::sts, "example.com", std::numeric_limits<std::int64_t>::max(), 0),
                         policy(policy_type::sts, "example.com", std::numeric_limits<std::int64_t>::max(), 0)};
    tls_report far_future = sample_report("bad.example", "far-future");
    far_future.start_datetime = {9'300'000'000'000, 0};   // past year 9999 and PostgreSQL's range
    far_future.end_datetime = plus(far_future.start_datetime, 86399);
    // Refused by PostgreSQL itself: too long for the index on policy_domain.
    tls_report long_domain = sample_report("bad.example", "long-domain");
    std::string noise;
    std::uint32_t state = 12345;
    for (int i = 0; i < 12000; ++i) {
        state = state * 1103515245u + 12345u;
        noise += static_cast<char>('a' + (state >> 16) % 26);
    }
    long_domain.policies[1].policy_domain = noise + ".example";
    const bad_case cases[] = {
        {"session counts whose sum overflows", overflow},
        {"a date-time past year 9999", far_future},
        {"a value PostgreSQL cannot index", long_domain},
    };

    int n = 0;
    for (const auto& c : cases) {
        INFO(c.why);
        const std::string prefix = "case" + std::to_string(n++) + "-";
        const std::vector<incoming_report> batch = {
            incoming(sample_report("good.example", prefix + "1")),
            incoming(c.report),
            incoming(sample_report("good.example", prefix + "2")),
            incoming(sample_report("good.example", prefix + "1"), transport::smtp),
        };
        const auto attempts = store_batch_each(v.conn, pointers(batch));
        REQUIRE(attempts.size() == 4);
        REQUIRE(attempts[0].result);
        CHECK(attempts[0].result->outcome == store_outcome::stored);
        CHECK_FALSE(attempts[1].result);
        CHECK_THROWS_AS(std::rethrow_exception(attempts[1].error), store_rejected);
        REQUIRE(attempts[2].result);
        CHECK(attempts[2].result->outcome == store_outcome::stored);
        REQUIRE(attempts[3].result);
        CHECK(attempts[3].result->outcome == store_outcome::duplicate);
        CHECK(v.scalar("SELECT count(*) FROM reports WHERE organization_name = 'good.example' AND report_id LIKE $1",
                       prefix + "%") == 2);
        CHECK(v.scalar("SELECT count(*) FROM reports WHERE organization_name = 'bad.example'") == 0);

        // store_batch: the others are committed, then the report's error is thrown.
        const std::vector<incoming_report> again = {incoming(sample_report("good.example", prefix + "3")),
                                                    incoming(c.report)};
        try {
            store_batch(v.conn, pointers(again));
            FAIL("store_batch accepted a report the database refuses");
        } catch (const store_rejected& e) {
            CHECK_THAT(std::string(e.what()), Catch::Contains("bad.example") && Catch::Contains(c.report.report_id));
        }
        CHECK(v.scalar("SELECT count(*) FROM reports WHERE report_id = $1", prefix + "3") == 1);
    }
    CHECK(v.scalar(incomplete_reports_sql) == 0);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);

    // Through the group commit too.
    report_store store({db.url()});
    CHECK_THROWS_AS(store.store(incoming(overflow)), store_rejected);
    CHECK(store.store(incoming(sample_report("good.example", "after"))).outcome == store_outcome::stored);
}

TEST_CASE("64 threads storing 32 reports twice each store each once")
{
    test::scratch_database db;
    store_options options;
    options.db_url = db.url();
    options.writers = 3;
    options.batch_max = 8;
    options.batch_wait = 5ms;
    report_store store(options);

    constexpr int distinct = 32, threads = 64;
    std::vector<store_result> results(threads);
    std::vector<std::string> errors(threads);
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            const int i = t % distinct;
            auto in = incoming(sample_report("org" + std::to_string(i % 4) + ".example", "id-" + std::to_string(i),
                                             i % 2 ? "example.com" : "example.net", at(2025, 7, 1 + i % 5)),
                               t < distinct ? transport::https : transport::smtp);
            ++ready;
            while (ready.load() < threads)
                std::this_thread::yield();
            try {
                results[t] = store.store(std::move(in));
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& th : pool)
        th.join();

    for (int t = 0; t < threads; ++t) {
        INFO("thread " << t);
        CHECK(errors[t].empty());
    }
    for (int i = 0; i < distinct; ++i) {
        INFO("report " << i);
        const auto& a = results[i];
        const auto& b = results[i + distinct];
        CHECK(a.report_key == b.report_key);
        // Exactly one of the two stored it.
        CHECK((a.outcome == store_outcome::stored) != (b.outcome == store_outcome::stored));
    }
    const auto stats = store.counters();
    CHECK(stats.stored == distinct);
    CHECK(stats.duplicates == distinct);
    CHECK(stats.failures == 0);
    CHECK(stats.batches >= 1);
    CHECK(stats.batches <= threads);

    db_view v(db.url());
    CHECK(v.scalar("SELECT count(*) FROM reports") == distinct);
    CHECK(v.scalar("SELECT count(*) FROM report_receipts") == 2 * distinct);
    CHECK(v.scalar("SELECT count(*) FROM failure_details") == 2 * distinct);
    CHECK(v.scalar("SELECT sum(successful_sessions)::bigint FROM daily_rollups") == 103 * distinct);
    CHECK(v.scalar(incomplete_reports_sql) == 0);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("an unreachable database makes store fail quickly")
{
    store_options options;
    options.db_url = "host=127.0.0.1 port=" + std::to_string(test::free_port()) + " user=postgres dbname=postgres";
    report_store store(options);
    for (int attempt = 0; attempt < 3; ++attempt) {
        const auto started = std::chrono::steady_clock::now();
        try {
            store.store(incoming(sample_report("google.com", "r-" + std::to_string(attempt))));
            FAIL("stored without a database");
        } catch (const store_unavailable& e) {
            CHECK_THAT(std::string(e.what()), Catch::Contains("database unavailable"));
        }
        // Well under enqueue_timeout (10 s): it did not wait for a database that is not
        // there. Generous, so that a loaded CI machine does not make it flaky.
        CHECK(std::chrono::steady_clock::now() - started < 8s);
    }
    CHECK(store.counters().failures == 3);
    CHECK(store.counters().stored == 0);
}

TEST_CASE("a full queue refuses at once")
{
    test::scratch_database db;
    store_options options;
    options.db_url = db.url();
    options.queue_max = 0;
    report_store store(options);
    try {
        store.store(incoming(sample_report("google.com", "r-1")));
        FAIL("a report was queued beyond queue_max");
    } catch (const store_unavailable& e) {
        CHECK_THAT(std::string(e.what()), Catch::StartsWith("queue full"));
    }
    db_view v(db.url());
    CHECK(v.scalar("SELECT count(*) FROM reports") == 0);
}

TEST_CASE("a store that waits too long gives up and a retry is a duplicate")
{
    test::scratch_database db;
    store_options options;
    options.db_url = db.url();
    options.enqueue_timeout = 300ms;
    report_store store(options);
    CHECK(store.store(incoming(sample_report("google.com", "warm-up"))).outcome == store_outcome::stored);

    db_view blocker(db.url());
    {
        pqxx::work tx(blocker.conn);
        tx.exec("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE");
        const auto started = std::chrono::steady_clock::now();
        try {
            store.store(incoming(sample_report("google.com", "r-1")));
            FAIL("stored while the table was locked");
        } catch (const store_unavailable& e) {
            CHECK_THAT(std::string(e.what()), Catch::Contains("timed out"));
        }
        CHECK(std::chrono::steady_clock::now() - started < 2s);
        tx.abort();   // the writer that was waiting goes on and commits
    }
    // The abandoned report is still stored once its writer gets the lock; the caller's
    // retry races it, and whichever inserts second is the duplicate.
    bool retried = false;
    for (int i = 0; i < 50 && !retried; ++i) {
        try {
            store.store(incoming(sample_report("google.com", "r-1"), transport::smtp));
            retried = true;
        } catch (const store_unavailable&) {
            std::this_thread::sleep_for(100ms);
        }
    }
    REQUIRE(retried);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (store.counters().stored + store.counters().duplicates < 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    CHECK(store.counters().stored == 2);
    CHECK(store.counters().duplicates == 1);
    db_view v(db.url());
    CHECK(v.scalar("SELECT count(*) FROM reports WHERE report_id = 'r-1'") == 1);
    CHECK(v.scalar("SELECT count(*) FROM report_receipts t JOIN reports r ON r.id = t.report"
                   " WHERE r.report_id = 'r-1'") == 2);
}

TEST_CASE("the database going away and coming back")
{
    test::private_cluster cluster;
    {
        pqxx::connection admin(cluster.url("postgres"));
        pqxx::nontransaction tx(admin);
        tx.exec("CREATE DATABASE stswatch");
    }
    {
        pqxx::connection conn(cluster.url("stswatch"));
        migrate(conn);
    }
    store_options options;
    options.db_url = cluster.url("stswatch");
    options.enqueue_timeout = 5s;
    report_store store(options);
    REQUIRE(store.store(incoming(sample_report("google.com", "before"))).outcome == store_outcome::stored);

    // Reports keep arriving while the database stops and starts.
    std::mutex mutex;
    std::set<std::string> acknowledged;
    std::atomic<int> unavailable{0};
    std::atomic<bool> done{false};
    std::thread sender([&] {
        for (int n = 0; !done; ++n) {
            const auto id = "live-" + std::to_string(n);
            try {
                store.store(incoming(sample_report("google.com", id)));
                std::lock_guard lock(mutex);
                acknowledged.insert(id);
            } catch (const store_unavailable&) {
                ++unavailable;
            }
            std::this_thread::sleep_for(5ms);
        }
    });

    std::this_thread::sleep_for(300ms);
    cluster.stop();
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(store.store(incoming(sample_report("google.com", "while-down"))), store_unavailable);
    CHECK(std::chrono::steady_clock::now() - started < 6s);
    std::this_thread::sleep_for(300ms);

    cluster.start();
    bool stored_again = false;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!stored_again && std::chrono::steady_clock::now() < deadline) {
        try {
            stored_again = store.store(incoming(sample_report("google.com", "after"))).outcome == store_outcome::stored;
        } catch (const store_unavailable&) {
            std::this_thread::sleep_for(100ms);
        }
    }
    CHECK(stored_again);
    std::this_thread::sleep_for(100ms);
    done = true;
    sender.join();

    CHECK(unavailable.load() > 0);
    CHECK(store.counters().failures > 0);
    db_view v(cluster.url("stswatch"));
    {
        std::lock_guard lock(mutex);
        REQUIRE_FALSE(acknowledged.empty());
        for (const auto& id : acknowledged) {
            INFO(id);
            CHECK(v.scalar("SELECT count(*) FROM reports WHERE report_id = $1", id) == 1);
        }
    }
    CHECK(v.scalar("SELECT count(*) FROM reports WHERE report_id = 'while-down'") == 0);
    CHECK(v.scalar(incomplete_reports_sql) == 0);
    CHECK(v.scalar("SELECT count(*) FROM reports r WHERE (SELECT count(*) FROM failure_details f"
                   " WHERE f.report = r.id) <> 2") == 0);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("a partition for a new month is created on demand")
{
    test::scratch_database db;
    db_view v(db.url());
    // The month after this one, on its last second of March-like length: its own partition.
    const auto next = months_from_now(1);
    const auto after = months_from_now(2);
    const auto last_second = plus(at(after.year, after.month, 1), -1);
    const auto in = incoming(sample_report("google.com", "next-month", "example.com", last_second));
    store_batch(v.conn, {&in});
    const auto name = partition_name(next);
    CHECK(v.scalar("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                   " WHERE i.inhparent = 'failure_details'::regclass AND c.relname = $1", name) == 1);
    CHECK(v.scalar("SELECT count(*) FROM " + name) == 2);
    CHECK(v.scalar("SELECT count(*) FROM failure_details_default") == 0);
    // The bounds are the month's: the month after goes elsewhere.
    char bounds[80];
    std::snprintf(bounds, sizeof bounds, "FOR VALUES FROM ('%04d-%02d-01') TO ('%04d-%02d-01')", next.year, next.month,
                  after.year, after.month);
    CHECK(v.scalar<bool>("SELECT pg_get_expr(c.relpartbound, c.oid) = $1 FROM pg_class c WHERE c.relname = $2",
                         std::string(bounds), name));
}

TEST_CASE("reports dated far from now share the default partition instead of making their own")
{
    test::scratch_database db;
    db_view v(db.url());
    // A sender's clock, or a hostile one: reports of 1999, of 2090, and of last month.
    const auto recent = months_from_now(-1);
    std::vector<incoming_report> reports;
    reports.push_back(incoming(sample_report("skew.example", "past", "example.com", at(1999, 1, 15))));
    reports.push_back(incoming(sample_report("skew.example", "future", "example.com", at(2090, 6, 15))));
    reports.push_back(incoming(sample_report("skew.example", "recent", "example.com", at(recent.year, recent.month, 15))));
    std::vector<const incoming_report*> batch;
    for (const auto& r : reports)
        batch.push_back(&r);
    for (const auto& result : store_batch(v.conn, batch))
        CHECK(result.outcome == store_outcome::stored);
    CHECK(v.scalar("SELECT count(*) FROM pg_class WHERE relname IN ('failure_details_1999_01', 'failure_details_2090_06')") == 0);
    CHECK(v.scalar("SELECT count(*) FROM " + partition_name(recent)) == 2);
    CHECK(v.scalar("SELECT count(*) FROM failure_details_default") == 4);
    // Read as any other: the details of each report are there, in its day's rollups too.
    CHECK(v.scalar("SELECT count(*) FROM failure_details WHERE day = '1999-01-15'") == 2);
    CHECK(v.scalar("SELECT sum(failed_sessions)::bigint FROM daily_rollups WHERE day = '2090-06-15' AND result_type <> ''") == 7);
}

TEST_CASE("writers of two stores racing for new months all succeed")
{
    test::scratch_database db;
    std::vector<std::unique_ptr<report_store>> stores;
    for (int i = 0; i < 2; ++i) {
        store_options options;
        options.db_url = db.url();
        options.writers = 2;
        options.batch_max = 2;
        stores.push_back(std::make_unique<report_store>(options));
    }
    std::vector<std::thread> pool;
    std::atomic<int> failures{0};
    for (int t = 0; t < 24; ++t) {
        pool.emplace_back([&, t] {
            try {
                const auto ym = months_from_now(-(t % 12));
                stores[t % 2]->store(incoming(sample_report("org.example", "race-" + std::to_string(t), "example.com",
                                                            at(ym.year, ym.month, 15))));
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& th : pool)
        th.join();
    CHECK(failures == 0);
    db_view v(db.url());
    std::size_t partitions = 0;
    for (int m = 0; m < 12; ++m)
        partitions += v.scalar("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname = $1",
                               partition_name(months_from_now(-m)));
    CHECK(partitions == 12);
    CHECK(v.scalar("SELECT count(*) FROM failure_details_default") == 0);
    CHECK(v.scalar("SELECT count(*) FROM failure_details") == 48);
}

TEST_CASE("a month whose rows sit in the default partition stays there")
{
    test::scratch_database db;
    db_view v(db.url());
    // Rows of next month already in DEFAULT (its partition was dropped, say): a new partition
    // for that month cannot be created, and storing must go on regardless.
    const auto month = months_from_now(1);
    char day[16], next_day[16];
    std::snprintf(day, sizeof day, "%04d-%02d-10", month.year, month.month);
    std::snprintf(next_day, sizeof next_day, "%04d-%02d-11", month.year, month.month);
    v.rows("INSERT INTO reports (organization_name, report_id, start_datetime, end_datetime, policy_count,"
           " total_successful_session_count, total_failure_session_count)"
           " VALUES ('old.example', 'old-1', $1::timestamptz, $2::timestamptz, 1, 0, 1)",
           std::string(day), std::string(next_day));
    v.rows("INSERT INTO failure_details (report, policy_index, detail_index, day, policy_domain, organization_name,"
           " result_type, failed_session_count) SELECT id, 0, 0, $1::date, 'example.com', 'old.example',"
           " 'validation-failure', 1 FROM reports WHERE report_id = 'old-1'",
           std::string(day));
    const auto in = incoming(sample_report("google.com", "may", "example.com", at(month.year, month.month, 11)));
    CHECK(store_batch(v.conn, {&in}).at(0).outcome == store_outcome::stored);
    CHECK(v.scalar("SELECT count(*) FROM failure_details_default") == 3);
}

TEST_CASE("a report received earlier keeps its receive time")
{
    test::scratch_database db;
    db_view v(db.url());
    const auto received = at(2025, 7, 9, 6, 30, 15);
    auto waited = incoming(sample_report("google.com", "t-1"), transport::smtp, "192.0.2.25");
    waited.received_at = received;
    const auto stored = store_batch(v.conn, {&waited}).at(0);
    CHECK(stored.outcome == store_outcome::stored);
    const auto epoch_of = [&](const char* sql) { return v.scalar(sql, stored.report_key); };
    CHECK(epoch_of("SELECT extract(epoch FROM received_at)::bigint FROM reports WHERE id = $1") == received.seconds);
    CHECK(epoch_of("SELECT extract(epoch FROM received_at)::bigint FROM report_receipts WHERE report = $1")
          == received.seconds);

    // A copy received now changes nothing; one received even earlier is the first receipt,
    // of the report and of its transport, and its source address comes with it.
    const auto now_copy = incoming(sample_report("google.com", "t-1"), transport::smtp, "192.0.2.26");
    auto earlier = incoming(sample_report("google.com", "t-1"), transport::smtp, "192.0.2.27");
    earlier.received_at = plus(received, -3600);
    CHECK(store_batch(v.conn, {&now_copy}).at(0).outcome == store_outcome::duplicate);
    CHECK(epoch_of("SELECT extract(epoch FROM received_at)::bigint FROM reports WHERE id = $1") == received.seconds);
    CHECK(store_batch(v.conn, {&earlier}).at(0).outcome == store_outcome::duplicate);
    CHECK(epoch_of("SELECT extract(epoch FROM received_at)::bigint FROM reports WHERE id = $1")
          == received.seconds - 3600);
    const auto receipts = v.rows("SELECT extract(epoch FROM received_at)::bigint, source_address"
                                 " FROM report_receipts WHERE report = $1", stored.report_key);
    REQUIRE(receipts.size() == 1);
    CHECK(receipts[0][0].as<std::int64_t>() == received.seconds - 3600);
    CHECK(receipts[0][1].as<std::string>() == "192.0.2.27");

    // A receive time ahead of the clock is not believed: nothing is received after it is stored.
    auto ahead = incoming(sample_report("google.com", "t-2"));
    ahead.received_at = at(2999, 1, 1);
    store_batch(v.conn, {&ahead});
    CHECK(v.scalar("SELECT count(*) FROM reports WHERE report_id = 't-2' AND received_at <= now()") == 1);
}

TEST_CASE("a mailed copy with a stronger DKIM verdict upgrades the stored one, never the other way")
{
    test::scratch_database db;
    db_view v(db.url());
    const auto dkim_of = [&](const std::string& id) {
        const auto rows = v.rows("SELECT coalesce(dkim_state, '-'), coalesce(dkim_domain, '-') FROM reports"
                                 " WHERE report_id = $1", id);
        REQUIRE(rows.size() == 1);
        return rows[0][0].as<std::string>() + " " + rows[0][1].as<std::string>();
    };
    const auto mailed = [](const std::string& id, std::string state, std::string domain = {}) {
        auto in = incoming(sample_report("google.com", id), transport::smtp, "192.0.2.25");
        in.dkim_state = std::move(state);
        in.dkim_domain = std::move(domain);
        return in;
    };

    // First by HTTPS (not checked), then by mail with a signature that verifies.
    const auto by_https = incoming(sample_report("google.com", "d-1"));
    store_batch(v.conn, {&by_https});
    CHECK(dkim_of("d-1") == "- -");
    const auto pass = mailed("d-1", "pass", "google.com");
    CHECK(store_batch(v.conn, {&pass}).at(0).outcome == store_outcome::duplicate);
    CHECK(dkim_of("d-1") == "pass google.com");

    // Weaker verdicts and unchecked copies never lower it.
    const auto fail = mailed("d-1", "fail");
    const auto none = mailed("d-1", "none");
    store_batch(v.conn, {&fail});
    store_batch(v.conn, {&none, &by_https});
    CHECK(dkim_of("d-1") == "pass google.com");

    // Between the weaker ones the order holds too: none < temperror < permerror < fail.
    const auto unsigned_copy = mailed("d-2", "none");
    store_batch(v.conn, {&unsigned_copy});
    CHECK(dkim_of("d-2") == "none -");
    const auto temperror = mailed("d-2", "temperror");
    store_batch(v.conn, {&temperror});
    CHECK(dkim_of("d-2") == "temperror -");
    const auto fail2 = mailed("d-2", "fail");
    const auto permerror = mailed("d-2", "permerror");
    store_batch(v.conn, {&fail2, &permerror});
    CHECK(dkim_of("d-2") == "fail -");
    store_batch(v.conn, {&temperror});
    CHECK(dkim_of("d-2") == "fail -");

    // A pass by a key in testing mode (t=y) is above fail and below a real pass.
    const auto testing = mailed("d-2", "pass-testing", "google.com");
    store_batch(v.conn, {&testing});
    CHECK(dkim_of("d-2") == "pass-testing google.com");
    const auto real_pass = mailed("d-2", "pass", "google.com");
    store_batch(v.conn, {&real_pass});
    CHECK(dkim_of("d-2") == "pass google.com");
    store_batch(v.conn, {&testing});
    CHECK(dkim_of("d-2") == "pass google.com");

    // Copies in one batch: the strongest wins whichever comes first.
    const std::vector<incoming_report> batch = {
        incoming(sample_report("google.com", "d-3")), mailed("d-3", "fail"), mailed("d-3", "pass", "google.com"),
        mailed("d-3", "none")};
    const auto results = store_batch(v.conn, pointers(batch));
    CHECK(results[0].outcome == store_outcome::stored);
    CHECK(dkim_of("d-3") == "pass google.com");
    CHECK(v.scalar("SELECT count(*) FROM reports") == 3);
    CHECK(v.scalar(rollup_mismatches_sql) == 0);
}

TEST_CASE("list_reports filters by domain and date range")
{
    test::scratch_database db;
    db_view v(db.url());
    tls_report r1 = sample_report("a.example", "r1", "example.com", at(2025, 7, 1));
    tls_report r2 = sample_report("b.example", "r2", "example.net", at(2025, 7, 2));
    r2.policies.push_back(policy(policy_type::sts, "example.com", 50, 1));
    tls_report r3 = sample_report("a.example", "r3", "example.net", at(2025, 7, 3));
    tls_report r4 = sample_report("c.example", "r4", "example.com", at(2025, 7, 4));
    r4.end_datetime = at(2025, 7, 5);   // mail.ru: the range ends at the next midnight
    const std::vector<incoming_report> batch = {incoming(r1, transport::import, "/var/reports/r1.json"),
                                                incoming(r2), incoming(r3, transport::smtp), incoming(r4)};
    store_batch(v.conn, pointers(batch));
    const auto r2_by_smtp = incoming(r2, transport::smtp);
    store_batch(v.conn, {&r2_by_smtp});

    struct list_case {
        const char* why;
        report_query query;
        std::vector<std::string> ids;
    };
    auto q = [](std::optional<std::string> domain, std::optional<utc_time> since, std::optional<utc_time> until,
                std::size_t limit = 1000) {
        report_query query;
        query.domain = std::move(domain);
        query.since = since;
        query.until = until;
        query.limit = limit;
        return query;
    };
    const list_case cases[] = {
        {"everything, newest first", q({}, {}, {}), {"r4", "r3", "r2", "r1"}},
        {"by domain: any policy of the report", q("example.com", {}, {}), {"r4", "r2", "r1"}},
        {"domain case and trailing dot do not matter", q("EXAMPLE.NET.", {}, {}), {"r3", "r2"}},
        {"a domain never reported", q("example.org", {}, {}), {}},
        {"since: reports that end after it", q({}, at(2025, 7, 3), {}), {"r4", "r3"}},
        {"until: reports that start at or before it", q({}, {}, at(2025, 7, 2)), {"r2", "r1"}},
        {"a range and a domain", q("example.net", at(2025, 7, 2), at(2025, 7, 3)), {"r3", "r2"}},
        {"a range inside one report", q({}, at(2025, 7, 4, 12), at(2025, 7, 4, 13)), {"r4"}},
        {"since at a report's exclusive end", q("example.com", at(2025, 7, 5), {}), {}},
        {"limit", q({}, {}, {}, 2), {"r4", "r3"}},
    };
    for (const auto& c : cases) {
        INFO(c.why);
        std::vector<std::string> ids;
        for (const auto& row : list_reports(v.conn, c.query))
            ids.push_back(row.report_id);
        CHECK(ids == c.ids);
    }

    const auto rows = list_reports(v.conn, q("example.com", at(2025, 7, 2), at(2025, 7, 2)));
    REQUIRE(rows.size() == 1);
    const auto& row = rows[0];
    CHECK(row.organization_name == "b.example");
    CHECK(row.report_id == "r2");
    CHECK(row.start_datetime == at(2025, 7, 2));
    CHECK(row.end_datetime == plus(at(2025, 7, 2), 86399));
    CHECK(row.policy_domains == std::vector<std::string>{"example.com", "example.net"});
    CHECK(row.successful_sessions == 153);
    CHECK(row.failed_sessions == 8);
    CHECK(row.transports == std::vector<std::string>{"https", "smtp"});
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(std::abs(row.received_at.seconds - now) < 60);
    CHECK(row.key == v.scalar("SELECT id FROM reports WHERE report_id = 'r2'"));
}
