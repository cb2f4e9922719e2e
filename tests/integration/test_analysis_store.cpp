// The analysis' store against a real PostgreSQL: counted flags and the rollups, reported
// domains and the refresh queue as ingest keeps them, migration 0004 on a database that held
// reports before it, the trends' sums, incidents, the queue's claims and the domains' health.
#include "analyzer/trends.hpp"
#include "store/analysis_store.hpp"
#include "store/migrations.hpp"
#include "store/report_store.hpp"
#include "tlsrpt/report_parser.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace stswatch;
using namespace std::chrono_literals;

namespace {

utc_date day(int y, unsigned m, unsigned d)
{
    return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

utc_time at(int y, unsigned m, unsigned d, int hh = 0)
{
    return {static_cast<std::int64_t>(day(y, m, d).time_since_epoch().count()) * 86400 + hh * 3600, 0};
}

std::string replace_all(std::string s, const std::string& from, const std::string& to)
{
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
    return s;
}

// A report as a sender sent it (JSON), received at `received`.
incoming_report incoming(const std::string& json, utc_time received)
{
    incoming_report in;
    auto parsed = parse_report(json, in.metadata);
    in.report = std::move(parsed.report);
    in.warnings = std::move(parsed.warnings);
    in.raw = json;
    in.via = transport::https;
    in.source_address = "192.0.2.10";
    in.received_at = received;
    return in;
}

// Microsoft's sample (tests/data/reports/microsoft-tlsa.json) with its tlsa entry for the
// domain itself: a tlsa and an sts view of the same 310 sessions of example.net.
std::string microsoft_same_domain()
{
    return replace_all(test::data_file("reports/microsoft-tlsa.json"), "\"policy-domain\": \"mx.example.net\"",
                       "\"policy-domain\": \"example.net\"");
}

// A report whose tlsa view (40 sessions) is larger than its sts view (35, 5 of them failed
// with validation-failure at mx.example.org): the tlsa view counts, the sts one and its
// detail are kept uncounted.
std::string tlsa_larger_report()
{
    return R"({"organization-name":"Dane Sender","date-range":{"start-datetime":"2025-07-08T00:00:00Z",)"
           R"("end-datetime":"2025-07-08T23:59:59Z"},"contact-info":"tlsrpt@dane.example","report-id":"d-1",)"
           R"("policies":[{"policy":{"policy-type":"tlsa","policy-string":["3 1 1 AB"],"policy-domain":"example.org"},)"
           R"("summary":{"total-successful-session-count":40,"total-failure-session-count":0}},)"
           R"({"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx.example.org",)"
           R"("max_age: 86400"],"policy-domain":"example.org"},)"
           R"("summary":{"total-successful-session-count":30,"total-failure-session-count":5},)"
           R"("failure-details":[{"result-type":"validation-failure","sending-mta-ip":"203.0.113.7",)"
           R"("receiving-mx-hostname":"mx.example.org","failed-session-count":5}]}]})";
}

// example.com over 2025-07-08 and 07-09:
//   07-08 Google Inc. (google.json): no-policy-found 4/0, sts 120/0, sts 45/2 with
//         validation-failure 2 at mx2.example.com from 209.85.220.41;
//   07-08 Google Inc. (google_report g-2): sts 120/0;
//   07-08 Example Sender (e-1): sts 40/3, certificate-expired 3 at mx1.example.com from 198.51.100.9;
//   07-09 Example Sender (e-2): the same as e-1.
// example.net 2024-11-03 (Microsoft, tlsa and sts of 310 sessions each), example.org
// 2025-07-08 (tlsa_larger_report).
std::vector<incoming_report> sample_set()
{
    std::vector<incoming_report> v;
    v.push_back(incoming(test::data_file("reports/google.json"), at(2025, 7, 9, 1)));
    v.push_back(incoming(test::google_report("g-2"), at(2025, 7, 9, 2)));
    v.push_back(incoming(test::expired_cert_report("e-1"), at(2025, 7, 9, 3)));
    v.push_back(incoming(replace_all(test::expired_cert_report("e-2"), "2025-07-08", "2025-07-09"),
                         at(2025, 7, 10, 4)));
    v.push_back(incoming(microsoft_same_domain(), at(2024, 11, 4, 5)));
    v.push_back(incoming(tlsa_larger_report(), at(2025, 7, 9, 6)));
    return v;
}

std::vector<const incoming_report*> pointers(const std::vector<incoming_report>& v)
{
    std::vector<const incoming_report*> out;
    for (const auto& r : v)
        out.push_back(&r);
    return out;
}

// Every row of a query as text (one column per row, row(...)::text), in order.
std::vector<std::string> texts(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    std::vector<std::string> out;
    for (const auto& row : tx.exec(sql))
        out.push_back(row[0].is_null() ? "(null)" : row[0].as<std::string>());
    return out;
}

void exec(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
}

constexpr const char* rollups_sql =
    "SELECT row(policy_domain, day, counted, policy_type, result_type, receiving_mx, organization_name,"
    " successful_sessions, failed_sessions)::text FROM daily_rollups"
    " ORDER BY policy_domain, day, counted, policy_type, result_type, receiving_mx, organization_name";
constexpr const char* policy_flags_sql =
    "SELECT row(report, policy_index, policy_type, counted)::text FROM report_policies ORDER BY report, policy_index";
constexpr const char* detail_flags_sql =
    "SELECT row(report, policy_index, detail_index, counted)::text FROM failure_details"
    " ORDER BY report, policy_index, detail_index";
constexpr const char* reported_sql =
    "SELECT row(domain, first_day, last_day, last_received_at AT TIME ZONE 'UTC')::text FROM reported_domains"
    " ORDER BY domain";

struct stored_samples {
    stored_samples() : conn(db.url())
    {
        const auto set = sample_set();
        store_batch(conn, pointers(set));
    }
    test::scratch_database db;
    pqxx::connection conn;
};

struct group_expectation {
    std::string key;
    std::optional<std::int64_t> successful;
    std::int64_t failed;
    utc_date first, last;
};

void check_groups(const std::vector<group_row>& actual, const std::vector<group_expectation>& expected)
{
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("row " << i << " key " << expected[i].key);
        CHECK(actual[i].key == expected[i].key);
        CHECK(actual[i].successful == expected[i].successful);
        CHECK(actual[i].failed == expected[i].failed);
        CHECK(actual[i].first_seen == expected[i].first);
        CHECK(actual[i].last_seen == expected[i].last);
    }
}

} // namespace

TEST_CASE("ingest flags the counted view of each report and domain")
{
    stored_samples s;
    const auto url = s.db.url();
    // example.net: tlsa and sts tie at 310, the sts view counts.
    CHECK(texts(url, "SELECT row(p.policy_type, p.counted)::text FROM report_policies p"
                     " WHERE policy_domain = 'example.net' ORDER BY policy_index") ==
          std::vector<std::string>{"(tlsa,f)", "(sts,t)"});
    // example.org: the tlsa view is larger; the sts entry and its detail are not counted.
    CHECK(texts(url, "SELECT row(p.policy_type, p.counted)::text FROM report_policies p"
                     " WHERE policy_domain = 'example.org' ORDER BY policy_index") ==
          std::vector<std::string>{"(tlsa,t)", "(sts,f)"});
    CHECK(texts(url, "SELECT row(result_type, counted)::text FROM failure_details WHERE policy_domain = 'example.org'") ==
          std::vector<std::string>{"(validation-failure,f)"});
    // example.com: Google's no-policy-found and two sts entries are different sessions, all counted.
    CHECK(test::query_count(url, "SELECT count(*) FROM report_policies WHERE policy_domain = 'example.com'"
                                 " AND counted") == 6);
    CHECK(test::query_count(url, "SELECT count(*) FROM report_policies WHERE policy_domain = 'example.com'"
                                 " AND NOT counted") == 0);
    CHECK(test::query_count(url, "SELECT count(*) FROM failure_details WHERE policy_domain = 'example.com'"
                                 " AND counted") == 3);

    CHECK(texts(url, rollups_sql) == std::vector<std::string>{
        R"((example.com,2025-07-08,t,no-policy-found,"","","Google Inc.",4,0))",
        R"((example.com,2025-07-08,t,sts,"","","Example Sender",40,3))",
        R"((example.com,2025-07-08,t,sts,"","","Google Inc.",285,2))",
        R"((example.com,2025-07-08,t,sts,certificate-expired,mx1.example.com,"Example Sender",0,3))",
        R"((example.com,2025-07-08,t,sts,validation-failure,mx2.example.com,"Google Inc.",0,2))",
        R"((example.com,2025-07-09,t,sts,"","","Example Sender",40,3))",
        R"((example.com,2025-07-09,t,sts,certificate-expired,mx1.example.com,"Example Sender",0,3))",
        R"((example.net,2024-11-03,f,tlsa,"","","Microsoft Corporation",310,0))",
        R"((example.net,2024-11-03,t,sts,"","","Microsoft Corporation",310,0))",
        R"((example.org,2025-07-08,f,sts,"","","Dane Sender",30,5))",
        R"((example.org,2025-07-08,f,sts,validation-failure,mx.example.org,"Dane Sender",0,5))",
        R"((example.org,2025-07-08,t,tlsa,"","","Dane Sender",40,0))",
    });
}

TEST_CASE("Microsoft's sample of two domains counts each domain's own view")
{
    test::scratch_database db;
    pqxx::connection conn(db.url());
    const auto in = incoming(test::data_file("reports/microsoft-tlsa.json"), at(2024, 11, 4));
    store_batch(conn, {&in});
    analysis_store a(db.url());
    for (const char* domain : {"example.net", "mx.example.net"}) {
        INFO(domain);
        const auto series = a.daily_series(domain, day(2024, 11, 1), day(2024, 11, 30));
        REQUIRE(series.size() == 1);
        CHECK(series[0].day == day(2024, 11, 3));
        CHECK(series[0].result_type.empty());
        CHECK(series[0].successful == 310);
        CHECK(series[0].failed == 0);
    }
    CHECK(test::query_count(db.url(), "SELECT count(*) FROM report_policies WHERE NOT counted") == 0);
}

TEST_CASE("daily series add the counted rows only")
{
    stored_samples s;
    analysis_store a(s.db.url());

    SECTION("tlsa and sts of one domain: the sessions once")
    {
        const auto series = a.daily_series("example.net", day(2024, 11, 1), day(2024, 11, 30));
        REQUIRE(series.size() == 1);
        CHECK(series[0].day == day(2024, 11, 3));
        CHECK(series[0].result_type.empty());
        CHECK(series[0].successful == 310);
        CHECK(series[0].failed == 0);
    }
    SECTION("the larger tlsa view counts, the sts failures are left out")
    {
        const auto series = a.daily_series("example.org", day(2025, 7, 1), day(2025, 7, 31));
        REQUIRE(series.size() == 1);
        CHECK(series[0].successful == 40);
        CHECK(series[0].failed == 0);
        const auto rows = a.rollups("example.org", day(2025, 7, 1), day(2025, 7, 31));
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].policy_type == "tlsa");
        CHECK(rows[0].organization == "Dane Sender");
        CHECK(rows[0].counted);
        CHECK(rows[0].successful == 40);
        CHECK(a.sending_ips("example.org", day(2025, 7, 1), day(2025, 7, 31)).empty());
    }
    SECTION("Google's no-policy-found and two sts entries, and other senders: added")
    {
        const auto series = a.daily_series("example.com", day(2025, 7, 8), day(2025, 7, 9));
        struct expected_row {
            utc_date d;
            const char* type;
            std::int64_t successful, failed;
        };
        const std::vector<expected_row> expected{
            {day(2025, 7, 8), "", 329, 5},
            {day(2025, 7, 8), "certificate-expired", 0, 3},
            {day(2025, 7, 8), "validation-failure", 0, 2},
            {day(2025, 7, 9), "", 40, 3},
            {day(2025, 7, 9), "certificate-expired", 0, 3},
        };
        REQUIRE(series.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            INFO("row " << i);
            CHECK(series[i].day == expected[i].d);
            CHECK(series[i].result_type == expected[i].type);
            CHECK(series[i].successful == expected[i].successful);
            CHECK(series[i].failed == expected[i].failed);
        }
        // The range's bounds are inclusive, and days outside it are left out.
        const auto second = a.daily_series("example.com", day(2025, 7, 9), day(2025, 7, 9));
        REQUIRE(second.size() == 2);
        CHECK(second[0].successful == 40);
        CHECK(a.daily_series("example.com", day(2025, 7, 10), day(2025, 8, 9)).empty());
    }
}

TEST_CASE("groups of each kind, with exact sums")
{
    stored_samples s;
    analysis_store a(s.db.url());
    const auto d8 = day(2025, 7, 8), d9 = day(2025, 7, 9);

    check_groups(a.groups("example.com", d8, d9, trend_group::result_type),
                 {{"certificate-expired", std::nullopt, 6, d8, d9}, {"validation-failure", std::nullopt, 2, d8, d8}});
    // trends build this grouping from the series' rows instead: the same groups.
    check_groups(analysis::result_type_groups(a.daily_series("example.com", d8, d9)),
                 {{"certificate-expired", std::nullopt, 6, d8, d9}, {"validation-failure", std::nullopt, 2, d8, d8}});
    check_groups(a.groups("example.com", d8, d9, trend_group::mx),
                 {{"mx1.example.com", std::nullopt, 6, d8, d9}, {"mx2.example.com", std::nullopt, 2, d8, d8}});
    check_groups(a.groups("example.com", d8, d9, trend_group::organization),
                 {{"Example Sender", 80, 6, d8, d9}, {"Google Inc.", 289, 2, d8, d8}});
    check_groups(a.groups("example.com", d8, d9, trend_group::policy_type),
                 {{"sts", 365, 8, d8, d9}, {"no-policy-found", 4, 0, d8, d8}});
    check_groups(a.groups("example.com", d8, d9, trend_group::sending_ip),
                 {{"198.51.100.9", std::nullopt, 6, d8, d9}, {"209.85.220.41", std::nullopt, 2, d8, d8}});
    check_groups(a.groups("example.com", d9, d9, trend_group::organization), {{"Example Sender", 40, 3, d9, d9}});

    // policy_type shows every view, counted or not; the others the counted rows only.
    const auto d = day(2024, 11, 3);
    check_groups(a.groups("example.net", d, d, trend_group::policy_type), {{"sts", 310, 0, d, d}, {"tlsa", 310, 0, d, d}});
    check_groups(a.groups("example.net", d, d, trend_group::organization), {{"Microsoft Corporation", 310, 0, d, d}});
    check_groups(a.groups("example.org", d8, d8, trend_group::policy_type), {{"sts", 30, 5, d8, d8}, {"tlsa", 40, 0, d8, d8}});
    CHECK(a.groups("example.org", d8, d8, trend_group::result_type).empty());
    CHECK(a.groups("example.org", d8, d8, trend_group::mx).empty());
    CHECK(a.groups("example.org", d8, d8, trend_group::sending_ip).empty());

    const auto ips = a.sending_ips("example.com", d8, d9);
    REQUIRE(ips.size() == 2);
    CHECK(ips[0].sending_ip == "198.51.100.9");
    CHECK(ips[0].organization == "Example Sender");
    CHECK(ips[0].result_type == "certificate-expired");
    CHECK(ips[0].receiving_mx == "mx1.example.com");
    CHECK(ips[0].failed == 6);
    CHECK(ips[1].sending_ip == "209.85.220.41");
    CHECK(ips[1].organization == "Google Inc.");
    CHECK(ips[1].receiving_mx == "mx2.example.com");
    CHECK(ips[1].failed == 2);
    CHECK(a.sending_ips("example.com", d8, d9, 1).size() == 1);
}

TEST_CASE("sender policies list every entry of the days, counted or not")
{
    stored_samples s;
    analysis_store a(s.db.url());
    const auto rows = a.sender_policies("example.net", day(2024, 11, 3), day(2024, 11, 3));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].organization == "Microsoft Corporation");
    CHECK(rows[0].day == day(2024, 11, 3));
    CHECK(rows[0].policy_type == "tlsa");
    CHECK_FALSE(rows[0].counted);
    CHECK(rows[0].successful == 310);
    REQUIRE(rows[0].policy_string.size() == 1);
    CHECK(rows[0].policy_string[0].rfind("[{\"Usage\":3", 0) == 0);
    CHECK(rows[1].policy_type == "sts");
    CHECK(rows[1].counted);
    CHECK(rows[1].policy_string ==
          std::vector<std::string>{"version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 1209600"});
    CHECK(rows[1].mx_host.empty());

    const auto google = a.sender_policies("example.com", day(2025, 7, 9), day(2025, 7, 9));
    REQUIRE(google.size() == 1);
    CHECK(google[0].organization == "Example Sender");
    CHECK(google[0].mx_host == std::vector<std::string>{"mx1.example.com"});
    CHECK(a.sender_policies("example.com", day(2025, 7, 8), day(2025, 7, 9)).size() == 6);
}

TEST_CASE("reported domains and the queue: newly stored reports only")
{
    stored_samples s;
    const auto url = s.db.url();
    CHECK(texts(url, reported_sql) == std::vector<std::string>{
        R"((example.com,2025-07-08,2025-07-09,"2025-07-10 04:00:00"))",
        R"((example.net,2024-11-03,2024-11-03,"2024-11-04 05:00:00"))",
        R"((example.org,2025-07-08,2025-07-08,"2025-07-09 06:00:00"))",
    });
    const char* queue_sql = "SELECT row(domain, since_day, claimed_until IS NULL, queued_at)::text FROM analysis_queue"
                            " ORDER BY domain";
    const auto queue = texts(url, queue_sql);
    REQUIRE(queue.size() == 3);
    CHECK(queue[0].rfind("(example.com,2025-07-08,t,", 0) == 0);
    CHECK(queue[1].rfind("(example.net,2024-11-03,t,", 0) == 0);
    CHECK(queue[2].rfind("(example.org,2025-07-08,t,", 0) == 0);

    // The same reports again, in another batch: duplicates add nothing.
    const auto rollups_before = texts(url, rollups_sql);
    {
        const auto again = sample_set();
        const auto results = store_batch(s.conn, pointers(again));
        for (const auto& r : results)
            CHECK(r.outcome == store_outcome::duplicate);
    }
    CHECK(texts(url, rollups_sql) == rollups_before);
    CHECK(texts(url, queue_sql) == queue);
    CHECK(test::query_count(url, "SELECT count(*) FROM reported_domains") == 3);
    CHECK(test::query_text(url, "SELECT last_received_at AT TIME ZONE 'UTC' FROM reported_domains"
                                " WHERE domain = 'example.com'") == "2025-07-10 04:00:00");

    // A late report for an earlier day moves since_day and first_day back, and a later
    // receive time forward; last_day stays.
    const auto late = incoming(replace_all(test::expired_cert_report("e-late"), "2025-07-08", "2025-07-01"),
                               at(2025, 7, 12));
    store_batch(s.conn, {&late});
    CHECK(texts(url, "SELECT row(domain, first_day, last_day, last_received_at AT TIME ZONE 'UTC')::text"
                     " FROM reported_domains WHERE domain = 'example.com'") ==
          std::vector<std::string>{R"((example.com,2025-07-01,2025-07-09,"2025-07-12 00:00:00"))"});
    CHECK(test::query_text(url, "SELECT since_day FROM analysis_queue WHERE domain = 'example.com'") == "2025-07-01");
    CHECK(test::query_count(url, "SELECT count(*) FROM analysis_queue WHERE domain = 'example.com'"
                                 " AND queued_at > (SELECT max(queued_at) FROM analysis_queue WHERE domain <> 'example.com')") == 1);

    // A later day queues no earlier since_day.
    const auto later = incoming(replace_all(test::expired_cert_report("e-later"), "2025-07-08", "2025-07-20"),
                                at(2025, 7, 21));
    store_batch(s.conn, {&later});
    CHECK(test::query_text(url, "SELECT since_day FROM analysis_queue WHERE domain = 'example.com'") == "2025-07-01");
    CHECK(test::query_text(url, "SELECT last_day FROM reported_domains WHERE domain = 'example.com'") == "2025-07-20");
}

// The trends' table (sql/0004 daily_type_rollups), and the same sums from the counted rollups.
const char* const type_rollups_sql =
    "SELECT row(policy_domain, day, result_type, successful_sessions, failed_sessions)::text FROM daily_type_rollups"
    " ORDER BY 1";
const char* const type_rollups_from_rollups_sql =
    "SELECT row(policy_domain, day, result_type, sum(successful_sessions), sum(failed_sessions))::text"
    " FROM daily_rollups WHERE counted GROUP BY policy_domain, day, result_type ORDER BY 1";

TEST_CASE("ingest keeps the trends' per-type sums equal to the counted rollups")
{
    stored_samples samples;
    const auto url = samples.db.url();
    const auto by_type = texts(url, type_rollups_sql);
    CHECK(by_type == texts(url, type_rollups_from_rollups_sql));
    CHECK(by_type.size() >= 5);
    // A second copy of a stored report adds nothing; a new one adds to its day.
    pqxx::connection conn(url);
    const auto again = incoming(test::google_report("g-3"), at(2025, 7, 11));
    store_batch(conn, {&again});
    store_batch(conn, {&again});
    CHECK(texts(url, type_rollups_sql) == texts(url, type_rollups_from_rollups_sql));
    CHECK(texts(url, type_rollups_sql) != by_type);
}

TEST_CASE("migration 0004 on reports stored under 0003: counted flags and rollups as ingest writes them")
{
    // The reference: the samples stored by today's ingest.
    stored_samples reference;
    const auto ref = reference.db.url();

    // A database at 0003 holding the same reports, with the rollups of 0003 (no flag: each
    // key summed over every entry).
    test::scratch_database old(false);
    {
        pqxx::connection conn(old.url());
        for (const auto& m : migrations()) {
            if (m.version > 3)
                break;
            pqxx::work tx(conn);
            tx.exec(m.sql);
            tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                           std::string(m.name));
            tx.commit();
        }
        pqxx::connection source(ref);
        pqxx::nontransaction read(source);
        pqxx::work tx(conn);
        for (const char* table : {"reports", "report_policies", "failure_details"})
            for (const auto& row : read.exec(std::string("SELECT row_to_json(t)::text FROM ") + table + " t"))
                tx.exec_params(std::string("INSERT INTO ") + table + " SELECT * FROM json_populate_record(NULL::" +
                                   table + ", $1::json)",
                               row[0].as<std::string>());
        for (const auto& row : read.exec(
                 "SELECT policy_domain, day::text, policy_type, result_type, receiving_mx, organization_name,"
                 " sum(successful_sessions)::bigint, sum(failed_sessions)::bigint FROM daily_rollups"
                 " GROUP BY 1, 2, 3, 4, 5, 6"))
            tx.exec_params("INSERT INTO daily_rollups (policy_domain, day, policy_type, result_type, receiving_mx,"
                           " organization_name, successful_sessions, failed_sessions)"
                           " VALUES ($1, $2::date, $3, $4, $5, $6, $7, $8)",
                           row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                           row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
                           row[6].as<std::int64_t>(), row[7].as<std::int64_t>());
        tx.exec("SELECT setval('reports_id_seq', (SELECT max(id) FROM reports))");   // ids were copied
        tx.commit();
        // Under 0003 the tied tlsa and sts views of example.net were one key each, the
        // domain's summaries 620 sessions in all.
        REQUIRE(test::query_count(old.url(), "SELECT sum(successful_sessions) FROM daily_rollups"
                                             " WHERE policy_domain = 'example.net' AND result_type = ''") == 620);

        const auto result = migrate(conn);
        REQUIRE(result.applied.size() == migrations().size() - 3);
        CHECK(result.applied.front() == "0004_analysis.sql");
    }
    CHECK(texts(old.url(), rollups_sql) == texts(ref, rollups_sql));
    CHECK(texts(old.url(), policy_flags_sql) == texts(ref, policy_flags_sql));
    CHECK(texts(old.url(), detail_flags_sql) == texts(ref, detail_flags_sql));
    CHECK(texts(old.url(), reported_sql) == texts(ref, reported_sql));
    CHECK(texts(old.url(), type_rollups_sql) == texts(ref, type_rollups_sql));
    CHECK(test::query_count(old.url(), "SELECT count(*) FROM report_policies WHERE NOT counted") == 2);
    CHECK(test::query_count(old.url(), "SELECT count(*) FROM failure_details WHERE NOT counted") == 1);
    // Every domain queued for its last 60 days of reports.
    CHECK(texts(old.url(), "SELECT row(domain, since_day, claimed_until)::text FROM analysis_queue ORDER BY domain") ==
          std::vector<std::string>{"(example.com,2025-07-08,)", "(example.net,2024-11-03,)", "(example.org,2025-07-08,)"});

    // Ingest goes on on the migrated database: a later report adds to the rebuilt rows.
    pqxx::connection conn(old.url());
    const auto more = incoming(test::google_report("g-3"), at(2025, 7, 11));
    store_batch(conn, {&more});
    CHECK(test::query_count(old.url(), "SELECT successful_sessions FROM daily_rollups WHERE policy_domain = 'example.com'"
                                       " AND day = '2025-07-08' AND counted AND policy_type = 'sts' AND result_type = ''"
                                       " AND organization_name = 'Google Inc.'") == 405);
}

TEST_CASE("the queue: claims are leases, finish keeps what was queued again")
{
    test::scratch_database db;
    analysis_store a(db.url());
    a.enqueue("a.example", day(2025, 7, 5));
    a.enqueue("b.example", day(2025, 7, 6));
    a.enqueue("c.example", day(2025, 7, 7));
    a.enqueue("a.example", day(2025, 7, 9));   // a later since: the earlier one stays
    CHECK(test::query_text(db.url(), "SELECT since_day FROM analysis_queue WHERE domain = 'a.example'") == "2025-07-05");

    const auto claimed = a.claim(2, 60s);
    REQUIRE(claimed.size() == 2);
    // Oldest queued first: a.example was queued again last, after b and c.
    CHECK(claimed[0].domain == "b.example");
    CHECK(claimed[0].since == day(2025, 7, 6));
    CHECK(claimed[1].domain == "c.example");
    CHECK(claimed[0].queued_at.size() == std::string("2025-07-06T00:00:00.000000Z").size());
    CHECK(claimed[0].queued_at ==
          test::query_text(db.url(), "SELECT to_char(queued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                                     " FROM analysis_queue WHERE domain = 'b.example'"));

    // Held: another claim gets the rest only.
    const auto rest = a.claim(10, 60s);
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].domain == "a.example");
    CHECK(a.claim(10, 60s).empty());

    // c.example is queued again while its refresh runs: finish keeps it, unclaimed, with
    // the earlier since_day.
    a.enqueue("c.example", day(2025, 7, 1));
    a.finish(claimed);
    CHECK(texts(db.url(), "SELECT row(domain, since_day, claimed_until IS NULL)::text FROM analysis_queue ORDER BY domain") ==
          std::vector<std::string>{"(a.example,2025-07-05,f)", "(c.example,2025-07-01,t)"});

    // A failed refresh: released, claimable again at once.
    a.release(rest);
    const auto again = a.claim(10, 60s);
    REQUIRE(again.size() == 2);
    CHECK(again[0].domain == "a.example");
    CHECK(again[1].domain == "c.example");
    a.finish(again);
    CHECK(test::query_count(db.url(), "SELECT count(*) FROM analysis_queue") == 0);

    // A lease that ran out (its refresher died): claimable again.
    a.enqueue("d.example", day(2025, 7, 2));
    REQUIRE(a.claim(10, 0s).size() == 1);
    std::this_thread::sleep_for(5ms);
    const auto expired = a.claim(10, 60s);
    REQUIRE(expired.size() == 1);
    CHECK(expired[0].domain == "d.example");
}

TEST_CASE("the queue: two refreshers claim disjoint rows")
{
    test::scratch_database db;
    analysis_store a(db.url()), b(db.url());
    for (int i = 0; i < 10; ++i)
        a.enqueue("d" + std::to_string(i) + ".example", day(2025, 7, 1));

    SECTION("rows being claimed by another are skipped, not waited for")
    {
        pqxx::connection other(db.url());
        pqxx::work holding(other);
        holding.exec("SELECT domain FROM analysis_queue WHERE domain IN ('d0.example', 'd1.example', 'd2.example')"
                     " FOR UPDATE");
        const auto got = b.claim(10, 60s);
        std::set<std::string> domains;
        for (const auto& q : got)
            domains.insert(q.domain);
        CHECK(domains.size() == 7);
        CHECK(domains.count("d0.example") == 0);
        CHECK(domains.count("d3.example") == 1);
        holding.abort();
        const auto remaining = a.claim(10, 60s);
        CHECK(remaining.size() == 3);
    }
    SECTION("concurrent claims")
    {
        std::vector<queued_domain> got_a, got_b;
        auto run = [](analysis_store& s, std::vector<queued_domain>& got) {
            for (;;) {
                const auto c = s.claim(2, 60s);
                if (c.empty())
                    return;
                got.insert(got.end(), c.begin(), c.end());
            }
        };
        std::thread ta(run, std::ref(a), std::ref(got_a)), tb(run, std::ref(b), std::ref(got_b));
        ta.join();
        tb.join();
        std::set<std::string> all;
        for (const auto* got : {&got_a, &got_b})
            for (const auto& q : *got)
                all.insert(q.domain);
        CHECK(got_a.size() + got_b.size() == 10);
        CHECK(all.size() == 10);
    }
}

TEST_CASE("incidents: insert, update, retract, and the overlap of days")
{
    test::scratch_database db;
    analysis_store a(db.url());
    incident_row first;
    first.domain = "example.com";
    first.dimension = "mx";
    first.key = "mx1.example.com";
    first.onset = day(2025, 7, 1);
    first.last_day = day(2025, 7, 3);
    first.end = day(2025, 7, 3);
    first.status = "ended";
    first.failed_sessions = 12;
    first.sessions = 40;
    first.failure_rate = 0.3;
    first.baseline_rate = 0.01;
    first.p_value = 1e-9;
    first.mx = {"mx1.example.com"};
    first.result_types = {"certificate-expired", "validation-failure"};
    first.organizations = {"Google Inc."};
    first.days_json = R"([{"day":"2025-07-01","failed":4}])";
    incident_row second = first;
    second.dimension = "domain";
    second.key = "example.com";
    second.onset = day(2025, 7, 5);
    second.last_day = day(2025, 7, 6);
    second.end.reset();
    second.status = "open";
    second.mx.clear();

    const auto saved = a.save_incidents({first, second}, {});
    REQUIRE(saved.size() == 2);
    CHECK(saved[0].id > 0);
    CHECK(saved[1].id > saved[0].id);
    CHECK(saved[0].status == "ended");
    CHECK(saved[0].end == day(2025, 7, 3));
    CHECK(saved[0].mx == std::vector<std::string>{"mx1.example.com"});
    CHECK(saved[0].result_types == std::vector<std::string>{"certificate-expired", "validation-failure"});
    CHECK(saved[0].failed_sessions == 12);
    CHECK(saved[0].sessions == 40);
    CHECK(saved[0].p_value == 1e-9);
    CHECK(saved[0].days_json == R"([{"day": "2025-07-01", "failed": 4}])");   // as jsonb writes it
    CHECK(saved[1].mx.empty());
    CHECK_FALSE(saved[1].end);
    CHECK(saved[1].opened_at.size() == 20);
    CHECK_FALSE(saved[1].acknowledged_at);

    SECTION("overlap of [from, to], newest onset first")
    {
        auto ids = [&](std::optional<utc_date> from, std::optional<utc_date> to) {
            std::vector<long long> out;
            for (const auto& i : a.incidents("example.com", from, to))
                out.push_back(i.id);
            return out;
        };
        using v = std::vector<long long>;
        CHECK(ids(day(2025, 7, 3), day(2025, 7, 5)) == v{saved[1].id, saved[0].id});
        CHECK(ids(day(2025, 7, 4), day(2025, 7, 4)).empty());
        CHECK(ids(std::nullopt, day(2025, 7, 2)) == v{saved[0].id});
        CHECK(ids(day(2025, 8, 1), std::nullopt) == v{saved[1].id});   // ongoing
        CHECK(ids(std::nullopt, std::nullopt) == v{saved[1].id, saved[0].id});
        CHECK(a.incidents("example.net", std::nullopt, std::nullopt).empty());
    }
    SECTION("update keeps opened_at and acknowledged_at; retract keeps the row")
    {
        exec(db.url(), "UPDATE incidents SET opened_at = '2025-07-05T08:00:00Z',"
                       " acknowledged_at = '2025-07-05T09:00:00Z', updated_at = '2025-07-05T08:00:00Z'");
        incident_row changed = saved[1];
        changed.failed_sessions = 30;
        changed.last_day = day(2025, 7, 7);
        changed.end = day(2025, 7, 8);
        changed.status = "ended";
        changed.opened_at = "2030-01-01T00:00:00Z";   // the store's, not the caller's
        const auto updated = a.save_incidents({changed}, {saved[0].id});
        REQUIRE(updated.size() == 1);
        CHECK(updated[0].id == saved[1].id);
        CHECK(updated[0].failed_sessions == 30);
        CHECK(updated[0].status == "ended");
        CHECK(updated[0].end == day(2025, 7, 8));
        CHECK(updated[0].last_day == day(2025, 7, 7));
        CHECK(updated[0].opened_at == "2025-07-05T08:00:00Z");
        CHECK(updated[0].acknowledged_at == std::optional<std::string>("2025-07-05T09:00:00Z"));
        CHECK(updated[0].updated_at != "2025-07-05T08:00:00Z");
        CHECK(test::query_count(db.url(), "SELECT count(*) FROM incidents") == 2);

        const auto shown = a.incidents("example.com", std::nullopt, std::nullopt);
        REQUIRE(shown.size() == 1);
        CHECK(shown[0].id == saved[1].id);
        const auto all = a.incidents_for_refresh("example.com", day(2025, 7, 1));
        REQUIRE(all.size() == 2);
        CHECK(all[0].id == saved[0].id);
        CHECK(all[0].status == "retracted");
        CHECK(a.incidents_for_refresh("example.com", day(2025, 7, 4)).size() == 1);
        CHECK(a.incidents_for_refresh("example.com", day(2025, 7, 9)).empty());
    }
    SECTION("an update of an incident that is not stored saves nothing")
    {
        incident_row ghost = saved[0];
        ghost.id = saved[1].id + 100;
        incident_row fresh = first;
        CHECK_THROWS_AS(a.save_incidents({fresh, ghost}, {}), store_error);
        CHECK(test::query_count(db.url(), "SELECT count(*) FROM incidents") == 2);
    }
}

TEST_CASE("snapshots, findings and changes of a window, with the last usable check before it")
{
    test::scratch_database db;
    const auto url = db.url();
    exec(url,
         "INSERT INTO check_snapshots (id, domain, checked_at, dns_unavailable, sts_id, policy_sha256, snapshot) VALUES"
         " (1, 'example.com', '2025-07-01T10:00:00Z', false, '2025', 'aa',"
         "  '{\"sts\": {\"policy_text\": \"version: STSv1\\r\\nmode: enforce\\r\\n\","
         "   \"policy\": {\"mode\": \"enforce\"}}, \"mx\": [{\"host\": \"mx1.example.com\"}]}'),"
         " (2, 'example.com', '2025-07-02T10:00:00Z', true, NULL, NULL, '{}'),"
         " (3, 'example.com', '2025-07-05T10:00:00Z', false, '2026', NULL, '{\"sts\": {\"policy\": null}}'),"
         " (4, 'example.net', '2025-07-05T10:00:00Z', false, NULL, NULL, '{}');"
         "INSERT INTO check_findings (snapshot_id, domain, checked_at, code, severity, subject, message) VALUES"
         " (1, 'example.com', '2025-07-01T10:00:00Z', 'mx-cert-expired', 'error', 'mx1.example.com', 'expired'),"
         " (3, 'example.com', '2025-07-05T10:00:00Z', 'policy-fetch-failed', 'error', 'example.com', 'timeout');"
         "INSERT INTO change_events (domain, detected_at, snapshot_id, kind, subject, before, after) VALUES"
         " ('example.com', '2025-07-05T10:00:00Z', 3, 'sts-id-changed', 'example.com', '2025', '2026'),"
         " ('example.com', '2025-07-01T10:00:00Z', 1, 'mx-added', 'mx1.example.com', '', 'mx1.example.com');");
    analysis_store a(url);

    const auto facts = a.snapshots("example.com", "2025-07-03T00:00:00Z", "2025-07-06T00:00:00Z");
    REQUIRE(facts.size() == 2);
    CHECK(facts[0].id == 2);   // the last one before the window, whatever it was
    CHECK(facts[0].dns_unavailable);
    CHECK(facts[0].policy_json == "null");
    CHECK(facts[0].mx_json == "[]");
    CHECK(facts[1].id == 3);
    CHECK(facts[1].checked_at == "2025-07-05T10:00:00Z");
    CHECK(facts[1].sts_id == "2026");
    CHECK(facts[1].policy_sha256.empty());
    CHECK_FALSE(facts[1].policy_text);
    CHECK(facts[1].policy_json == "null");
    const auto early = a.snapshots("example.com", "2025-07-01T00:00:00Z", "2025-07-01T23:59:59Z");
    REQUIRE(early.size() == 1);
    CHECK(early[0].policy_text == std::optional<std::string>("version: STSv1\r\nmode: enforce\r\n"));
    CHECK(early[0].policy_json == R"({"mode": "enforce"})");
    CHECK(early[0].mx_json == R"([{"host": "mx1.example.com"}])");
    CHECK(early[0].policy_sha256 == "aa");

    // Findings: the last usable check before the window (1, not the dns_unavailable 2).
    const auto findings = a.findings("example.com", "2025-07-03T00:00:00Z", "2025-07-06T00:00:00Z");
    REQUIRE(findings.size() == 2);
    CHECK(findings[0].snapshot_id == 1);
    CHECK(findings[0].code == "mx-cert-expired");
    CHECK(findings[0].checked_at == "2025-07-01T10:00:00Z");
    CHECK(findings[1].snapshot_id == 3);
    CHECK(findings[1].severity == "error");
    CHECK(findings[1].subject == "example.com");
    CHECK(findings[1].message == "timeout");

    const auto changes = a.changes("example.com", "2025-07-01T00:00:00Z", "2025-07-31T00:00:00Z");
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].event.kind == "mx-added");
    CHECK(changes[0].snapshot_id == 1);
    CHECK(changes[1].event.kind == "sts-id-changed");
    CHECK(changes[1].event.before == "2025");
    CHECK(changes[1].event.after == "2026");
    CHECK(changes[1].detected_at == "2025-07-05T10:00:00Z");
    CHECK(a.changes("example.com", "2025-07-02T00:00:00Z", "2025-07-04T00:00:00Z").empty());
}

TEST_CASE("domain health: monitored and reported domains with their windows")
{
    stored_samples s;
    const auto url = s.db.url();
    exec(url,
         "INSERT INTO check_snapshots (id, domain, checked_at, dns_unavailable, snapshot) VALUES"
         " (1, 'example.com', '2025-07-09T10:00:00Z', false, '{}'),"
         " (2, 'example.com', '2025-07-09T11:00:00Z', true, '{}');"
         "INSERT INTO check_findings (snapshot_id, domain, checked_at, code, severity, subject, message) VALUES"
         " (1, 'example.com', '2025-07-09T10:00:00Z', 'mx-not-covered', 'error', 'mx2.example.com', ''),"
         " (1, 'example.com', '2025-07-09T10:00:00Z', 'mx-cert-expired', 'error', 'mx1.example.com', ''),"
         " (1, 'example.com', '2025-07-09T10:00:00Z', 'mx-cert-expired', 'error', 'mx3.example.com', ''),"
         " (1, 'example.com', '2025-07-09T10:00:00Z', 'max-age-short', 'warning', 'example.com', ''),"
         " (2, 'example.com', '2025-07-09T11:00:00Z', 'dns-unavailable', 'error', 'example.com', '');"
         "INSERT INTO monitored_domains (domain, last_checked_at, last_snapshot_id) VALUES"
         " ('example.com', '2025-07-09T11:00:00Z', 2), ('quiet.example', NULL, NULL);"
         "INSERT INTO incidents (domain, dimension, key, onset, last_day, status) VALUES"
         " ('example.com', 'domain', 'example.com', '2025-07-08', '2025-07-09', 'open'),"
         " ('example.com', 'mx', 'mx1.example.com', '2025-07-08', '2025-07-09', 'open'),"
         " ('example.com', 'mx', 'mx2.example.com', '2025-07-01', '2025-07-02', 'ended'),"
         " ('example.org', 'domain', 'example.org', '2025-07-01', '2025-07-02', 'retracted');");
    analysis_store a(url);
    const auto health = a.domain_health(day(2025, 7, 1), day(2025, 7, 9), day(2025, 7, 9));
    REQUIRE(health.size() == 4);
    CHECK(health[0].domain == "example.com");
    CHECK(health[0].monitored);
    CHECK(health[0].recent_successful == 40);
    CHECK(health[0].recent_failed == 3);
    CHECK(health[0].baseline_successful == 329);
    CHECK(health[0].baseline_failed == 5);
    CHECK(health[0].open_incidents == 2);
    CHECK(health[0].error_findings == std::vector<std::string>{"mx-cert-expired", "mx-not-covered"});
    CHECK(health[0].last_checked_at == std::optional<std::string>("2025-07-09T11:00:00Z"));
    CHECK(health[0].last_report_day == day(2025, 7, 9));
    CHECK(health[0].last_report_received_at == std::optional<std::string>("2025-07-10T04:00:00Z"));

    CHECK(health[1].domain == "example.net");
    CHECK_FALSE(health[1].monitored);
    CHECK(health[1].recent_successful + health[1].recent_failed + health[1].baseline_successful +
              health[1].baseline_failed == 0);   // its reports are of 2024
    CHECK(health[1].last_report_day == day(2024, 11, 3));
    CHECK(health[1].error_findings.empty());
    CHECK_FALSE(health[1].last_checked_at);

    CHECK(health[2].domain == "example.org");
    CHECK(health[2].baseline_successful == 40);   // the counted tlsa view
    CHECK(health[2].baseline_failed == 0);
    CHECK(health[2].open_incidents == 0);

    CHECK(health[3].domain == "quiet.example");
    CHECK(health[3].monitored);
    CHECK_FALSE(health[3].last_report_day);
    CHECK_FALSE(health[3].last_report_received_at);
    CHECK(health[3].open_incidents == 0);

    // The whole known set: enqueue_all queues each once.
    CHECK(a.enqueue_all(day(2025, 6, 1)) == 4);
    CHECK(test::query_text(url, "SELECT string_agg(domain || ' ' || since_day, ', ' ORDER BY domain) FROM analysis_queue") ==
          "example.com 2025-06-01, example.net 2024-11-03, example.org 2025-06-01, quiet.example 2025-06-01");
}

TEST_CASE("domain health of a thousand domains is one quick query")
{
    test::scratch_database db;
    const auto url = db.url();
    // 1,000 domains with 90 days of summaries from three senders each.
    exec(url,
         "INSERT INTO reported_domains (domain, first_day, last_day, last_received_at)"
         " SELECT 'd' || i || '.example', '2025-04-01', '2025-06-29', '2025-06-30T00:00:00Z'"
         " FROM generate_series(1, 1000) i;"
         "INSERT INTO monitored_domains (domain) SELECT 'd' || i || '.example' FROM generate_series(1, 1000, 2) i;"
         "INSERT INTO daily_rollups (policy_domain, day, counted, policy_type, result_type, receiving_mx,"
         " organization_name, successful_sessions, failed_sessions)"
         " SELECT 'd' || i || '.example', '2025-04-01'::date + d, true, 'sts', '', '', 'org' || o, 10, 1"
         " FROM generate_series(1, 1000) i, generate_series(0, 89) d, generate_series(1, 3) o;"
         "ANALYZE daily_rollups;");
    analysis_store a(url);
    a.domain_health(day(2025, 5, 31), day(2025, 6, 23), day(2025, 6, 29));   // warm the cache
    const auto start = std::chrono::steady_clock::now();
    const auto health = a.domain_health(day(2025, 5, 31), day(2025, 6, 23), day(2025, 6, 29));
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(health.size() == 1000);
    auto find = [&](const std::string& domain) {
        const auto it = std::find_if(health.begin(), health.end(),
                                     [&](const domain_health_row& h) { return h.domain == domain; });
        REQUIRE(it != health.end());
        return *it;
    };
    const auto odd = find("d1.example"), even = find("d2.example");
    CHECK(odd.monitored);
    CHECK_FALSE(even.monitored);
    // 7 recent days and 23 baseline days, 3 senders of 10 + 1 sessions each.
    for (const auto& h : {odd, even}) {
        CHECK(h.recent_successful == 210);
        CHECK(h.recent_failed == 21);
        CHECK(h.baseline_successful == 690);
        CHECK(h.baseline_failed == 69);
        CHECK(h.last_report_day == day(2025, 6, 29));
    }
    // A loose bound for a shared test machine (about 70 ms on two busy cores): what it
    // catches is a plan that works per domain.
    CHECK(took < 1000ms);
}

TEST_CASE("a report stored while its domain is claimed queues it again, the claim kept")
{
    test::scratch_database db;
    pqxx::connection conn(db.url());
    const auto first = incoming(test::expired_cert_report("e-1"), at(2025, 7, 9));
    store_batch(conn, {&first});
    analysis_store a(db.url());
    const auto claimed = a.claim(10, 60s);
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].domain == "example.com");
    CHECK(claimed[0].since == day(2025, 7, 8));

    const auto late = incoming(replace_all(test::expired_cert_report("e-0"), "2025-07-08", "2025-07-02"),
                               at(2025, 7, 9, 5));
    store_batch(conn, {&late});
    // Still held by the refresher: another claim does not get it.
    CHECK(a.claim(10, 60s).empty());
    CHECK(test::query_text(db.url(), "SELECT since_day FROM analysis_queue") == "2025-07-02");

    a.finish(claimed);
    const auto again = a.claim(10, 60s);
    REQUIRE(again.size() == 1);
    CHECK(again[0].since == day(2025, 7, 2));
    CHECK(again[0].queued_at > claimed[0].queued_at);
    a.finish(again);
    CHECK(test::query_count(db.url(), "SELECT count(*) FROM analysis_queue") == 0);
}
