// The spool drained into a real PostgreSQL: what waited is stored once, what no longer
// parses is set aside with its reason, and an unavailable database leaves files in place.
#include "tlsrpt/decode.hpp"
#include "collector/https_receiver.hpp"
#include "collector/spool.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace stswatch;
using stswatch::test::scratch_database;
using stswatch::test::temp_dir;

namespace {

spool_entry entry_for(const std::string& report_id)
{
    spool_entry e;
    e.raw = gzip_compress(
        R"({"organization-name":"Spool Sender","date-range":{"start-datetime":"2025-03-01T00:00:00Z",)"
        R"("end-datetime":"2025-03-01T23:59:59Z"},"report-id":")" + report_id +
        R"(","policies":[{"policy":{"policy-type":"no-policy-found"},)"
        R"("summary":{"total-successful-session-count":7,"total-failure-session-count":0}}]})");
    e.via = transport::smtp;
    e.source_address = "192.0.2.55";
    e.received_at = 1740787200;
    // Postfix's reporter (sys4) omits policy-domain for no-policy-found: the header fills it.
    e.metadata["tls-report-domain"] = "example.com";
    return e;
}

long count(const std::string& url, const std::string& sql)
{
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    return tx.exec1(sql)[0].as<long>();
}

} // namespace

TEST_CASE("drain stores spooled reports once and removes their files")
{
    scratch_database db;
    temp_dir dir;
    spool s(dir.path.string(), 0);
    REQUIRE(s.put(entry_for("spool-1")));
    REQUIRE(s.put(entry_for("spool-2")));
    REQUIRE(s.put(entry_for("spool-1")));   // the same report spooled twice

    store_options options;
    options.db_url = db.url();
    report_store store(options);
    auto r = s.drain(store, 1 << 20, 32);
    CHECK(r.stored == 2);
    CHECK(r.duplicates == 1);
    CHECK(r.rejected == 0);
    CHECK(r.remaining == 0);
    CHECK(s.count() == 0);
    CHECK(count(db.url(), "SELECT count(*) FROM reports") == 2);
    CHECK(count(db.url(), "SELECT count(*) FROM report_policies WHERE policy_domain = 'example.com'") == 2);
    CHECK(count(db.url(), "SELECT count(*) FROM report_receipts WHERE transport = 'smtp'") == 2);
}

TEST_CASE("a backlog drains through group commit, many reports to a transaction")
{
    scratch_database db;
    temp_dir dir;
    spool s(dir.path.string(), 0);
    constexpr std::size_t backlog = 300;
    for (std::size_t i = 0; i < backlog; ++i)
        REQUIRE(s.put(entry_for("backlog-" + std::to_string(i))));

    store_options options;
    options.db_url = db.url();
    report_store store(options);
    const auto r = s.drain(store, 1 << 20, 32);
    CHECK(r.stored == backlog);
    CHECK(r.remaining == 0);
    CHECK(s.count() == 0);
    CHECK(count(db.url(), "SELECT count(*) FROM reports") == static_cast<long>(backlog));
    // One report per transaction drained a day's outage in hours; chunks of 64 queued at once
    // go in a handful of transactions.
    const auto counters = store.counters();
    CHECK(counters.stored == backlog);
    CHECK(counters.batches <= backlog / 16);
}

TEST_CASE("a spooled file that no longer reads is set aside with its reason")
{
    scratch_database db;
    temp_dir dir;
    spool s(dir.path.string(), 0);
    REQUIRE(s.put(entry_for("spool-3")));
    std::ofstream(dir.path / "00000000000000000000-bad.report", std::ios::binary) << "some other file\n\nwith a body";

    store_options options;
    options.db_url = db.url();
    report_store store(options);
    auto r = s.drain(store, 1 << 20, 32);
    CHECK(r.stored == 1);
    CHECK(r.rejected == 1);
    CHECK(fs::exists(dir.path / "rejected" / "00000000000000000000-bad.report"));
    std::ifstream why(dir.path / "rejected" / "00000000000000000000-bad.report.why");
    std::string reason((std::istreambuf_iterator<char>(why)), {});
    CHECK(reason.find("not a spool file") != std::string::npos);
}

TEST_CASE("with the database unavailable, drain leaves every file waiting")
{
    temp_dir dir;
    spool s(dir.path.string(), 0);
    REQUIRE(s.put(entry_for("spool-4")));
    REQUIRE(s.put(entry_for("spool-5")));

    store_options options;
    options.db_url = "host=127.0.0.1 port=1 connect_timeout=1";
    options.enqueue_timeout = std::chrono::milliseconds(3000);
    report_store store(options);
    auto r = s.drain(store, 1 << 20, 32);
    CHECK(r.stored == 0);
    CHECK(r.remaining == 2);
    CHECK(s.count() == 2);
}

TEST_CASE("HTTPS intake with the database down answers 202 from the spool, the drain stores it later")
{
    temp_dir dir;
    spool s(dir.path.string(), 0);
    https_receiver_options options;
    options.spool = &s;
    std::string body = gzip_compress(
        R"({"organization-name":"Spool Sender","date-range":{"start-datetime":"2025-03-01T00:00:00Z",)"
        R"("end-datetime":"2025-03-01T23:59:59Z"},"report-id":"spool-https-1",)"
        R"("policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},)"
        R"("summary":{"total-successful-session-count":7,"total-failure-session-count":0}}]})");

    store_options down;
    down.db_url = "host=127.0.0.1 port=1 connect_timeout=1";
    down.enqueue_timeout = std::chrono::milliseconds(3000);
    {
        report_store unavailable(down);
        auto r = handle_report_body(options, unavailable, "application/tlsrpt+gzip", "", body, "192.0.2.8:4711");
        CHECK(r.status == 202);
        CHECK(s.count() == 1);

        // Without a spool the same request is told to come back later.
        https_receiver_options no_spool;
        auto r2 = handle_report_body(no_spool, unavailable, "application/tlsrpt+gzip", "", body, "192.0.2.8:4711");
        CHECK(r2.status == 503);
    }

    // A spool that is full gives 503 too: nothing is acknowledged that is not durable.
    {
        temp_dir tiny_dir;
        spool tiny(tiny_dir.path.string(), 10);
        https_receiver_options tiny_options;
        tiny_options.spool = &tiny;
        report_store unavailable(down);
        auto r = handle_report_body(tiny_options, unavailable, "application/tlsrpt+gzip", "", body, "192.0.2.8:4711");
        CHECK(r.status == 503);
        CHECK(tiny.count() == 0);
    }

    scratch_database db;
    store_options up;
    up.db_url = db.url();
    report_store store(up);
    auto drained = s.drain(store, 1 << 20, 32);
    CHECK(drained.stored == 1);
    CHECK(count(db.url(), "SELECT count(*) FROM reports WHERE report_id = 'spool-https-1'") == 1);
    CHECK(count(db.url(), "SELECT count(*) FROM report_receipts WHERE transport = 'https' AND source_address = '192.0.2.8'") == 1);
}

TEST_CASE("a drained report keeps the time it was received, not the time of the drain")
{
    scratch_database db;
    temp_dir dir;
    spool s(dir.path.string(), 0);
    auto waited = entry_for("spool-6");
    waited.received_at = 1740787200 + 3600;
    waited.received_micros = 250000;
    REQUIRE(s.put(waited));
    // A copy received now (a file without a time), then an older copy of the same report by
    // the same transport that waited longer: the older one is the first receipt.
    auto recent = entry_for("spool-7");
    recent.received_at = 0;
    recent.source_address = "192.0.2.77";
    REQUIRE(s.put(recent));
    auto older = entry_for("spool-7");
    older.received_at = 1740787200 + 7200;
    older.source_address = "192.0.2.66";
    REQUIRE(s.put(older));

    store_options options;
    options.db_url = db.url();
    report_store store(options);
    auto r = s.drain(store, 1 << 20, 32);
    CHECK(r.stored == 2);
    CHECK(r.duplicates == 1);
    CHECK(count(db.url(), "SELECT extract(epoch FROM received_at)::bigint FROM reports WHERE report_id = 'spool-6'")
          == waited.received_at);
    CHECK(count(db.url(), "SELECT extract(microseconds FROM received_at)::bigint % 1000000 FROM reports"
                          " WHERE report_id = 'spool-6'") == 250000);
    CHECK(count(db.url(), "SELECT extract(epoch FROM t.received_at)::bigint FROM report_receipts t"
                          " JOIN reports r ON r.id = t.report WHERE r.report_id = 'spool-6'") == waited.received_at);
    CHECK(count(db.url(), "SELECT extract(epoch FROM received_at)::bigint FROM reports WHERE report_id = 'spool-7'")
          == older.received_at);
    CHECK(count(db.url(), "SELECT extract(epoch FROM t.received_at)::bigint FROM report_receipts t"
                          " JOIN reports r ON r.id = t.report WHERE r.report_id = 'spool-7'"
                          " AND t.source_address = '192.0.2.66'") == older.received_at);
    CHECK(count(db.url(), "SELECT count(*) FROM report_receipts") == 2);
}

TEST_CASE("a drained mail copy with a passing signature upgrades the stored DKIM state")
{
    scratch_database db;
    temp_dir dir;
    spool s(dir.path.string(), 0);
    auto by_https = entry_for("spool-8");
    by_https.via = transport::https;
    REQUIRE(s.put(by_https));
    auto by_mail = entry_for("spool-8");
    by_mail.metadata["dkim-state"] = "pass";
    by_mail.metadata["dkim-domain"] = "spool-sender.example";
    REQUIRE(s.put(by_mail));

    store_options options;
    options.db_url = db.url();
    report_store store(options);
    auto r = s.drain(store, 1 << 20, 32);
    CHECK(r.stored == 1);
    CHECK(r.duplicates == 1);
    CHECK(count(db.url(), "SELECT count(*) FROM reports WHERE report_id = 'spool-8' AND dkim_state = 'pass'"
                          " AND dkim_domain = 'spool-sender.example'") == 1);
}
