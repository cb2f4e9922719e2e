// `stswatch serve` started while PostgreSQL is down (a reboot during an outage): with a spool
// it starts, takes reports into the spool (202), says so on /healthz and in the log, and once
// the database is back it migrates it, drains the spool and starts the rest.
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace stswatch::test;
namespace fs = std::filesystem;

namespace {

struct answer {
    std::string code, body;
};

answer get_health(const std::string& port)
{
    const auto r = run_program({"curl", "-sS", "--max-time", "5", "--cacert", tls_file("ca.pem"), "-w",
                                "\n%{http_code}", "https://localhost:" + port + "/healthz"});
    const auto cut = r.out.rfind('\n');
    if (cut == std::string::npos)
        return {r.out, ""};
    return {r.out.substr(cut + 1), r.out.substr(0, cut)};
}

std::string post(const std::string& port, const std::string& file)
{
    return run_program({"curl", "-sS", "--max-time", "20", "--cacert", tls_file("ca.pem"), "-o", "/dev/null", "-w",
                        "%{http_code}", "-H", "Content-Type: application/tlsrpt+json", "--data-binary", "@" + file,
                        "https://localhost:" + port + "/v1/tlsrpt"})
        .out;
}

std::vector<std::string> serve_args(const std::string& url, const std::string& port, const std::string& spool_dir)
{
    return {"serve", "--db", url, "--set", "collector.https.listen=127.0.0.1:" + port, "--set",
            "collector.https.cert=" + tls_file("server.pem"), "--set", "collector.https.key=" + tls_file("server.key"),
            "--set", "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()), "--set",
            "collector.https.rate_limit=0", "--set", "collector.spool_dir=" + spool_dir};
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::seconds limit)
{
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < give_up) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
}

// Reports waiting in the spool directory.
std::size_t spooled(const std::string& spool_dir)
{
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(spool_dir))
        n += e.path().extension() == ".report";
    return n;
}

// The ids of the stored reports; each may be stored once only.
std::set<std::string> stored_report_ids(const std::string& url)
{
    std::set<std::string> stored;
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec("SELECT report_id FROM reports"))
        CHECK(stored.insert(row[0].as<std::string>()).second);   // none twice
    return stored;
}

// The acknowledged reports that are not stored.
std::vector<std::string> missing(const std::set<std::string>& acked, const std::set<std::string>& stored)
{
    std::vector<std::string> lost;
    for (const auto& id : acked)
        if (!stored.count(id))
            lost.push_back(id);
    return lost;
}

long long stored_reports(const std::string& url)
{
    try {
        return query_count(url, "SELECT count(*) FROM reports");
    } catch (const std::exception&) {
        return -1;   // down, or not migrated yet
    }
}

} // namespace

TEST_CASE("serve starts during a database outage with a spool, spools, and catches up when it is back")
{
    private_cluster cluster;
    const std::string url = cluster.create_database("stswatch");   // empty: the migrations wait for serve
    cluster.stop();

    temp_dir dir;
    const auto spool_dir = (dir.path / "spool").string();
    const auto port = std::to_string(free_port());
    serve_process serve(serve_args(url, port, spool_dir));
    INFO(serve.log());

    // Up, and saying why it is degraded.
    REQUIRE(eventually([&] { return get_health(port).code == "200"; }, std::chrono::seconds(30)));
    const auto degraded = get_health(port);
    CHECK_THAT(degraded.body, Catch::Contains(R"("status":"degraded")"));
    CHECK_THAT(degraded.body, Catch::Contains(R"("database":"unavailable")"));
    CHECK_THAT(degraded.body, Catch::Contains("migrations pending"));

    const auto first = dir.write("first.json", expired_cert_report("outage-1", "example.com"));
    const auto second = dir.write("second.json", expired_cert_report("outage-2", "example.com"));
    CHECK(post(port, first) == "202");
    CHECK(post(port, second) == "202");
    CHECK(spooled(spool_dir) == 2);
    CHECK_THAT(serve.log(), Catch::Contains("cannot connect at start: reports go to the spool"));

    cluster.start();
    // Migrated, drained, and every part started: within the waiter's backoff and the drain.
    CHECK(eventually([&] { return stored_reports(url) == 2; }, std::chrono::seconds(60)));
    CHECK(eventually([&] { return get_health(port).body.find(R"("status":"ok")") != std::string::npos; },
                     std::chrono::seconds(30)));
    CHECK(post(port, first) == "200");   // stored already: the drain took it
    const auto log = serve.log();
    CHECK_THAT(log, Catch::Contains("database available: the spool drains"));
    CHECK_THAT(log, Catch::Contains("analyzer: started"));
    CHECK(serve.stop() == 0);
    CHECK(spooled(spool_dir) == 0);
}

TEST_CASE("serve without a spool still refuses to start while the database is down")
{
    private_cluster cluster;
    const std::string url = cluster.url("postgres");
    cluster.stop();
    const auto port = std::to_string(free_port());
    const auto r = run_program({required_env("STSWATCH_BIN"), "serve", "--db", url, "--set",
                                "collector.https.listen=127.0.0.1:" + port, "--set",
                                "collector.https.cert=" + tls_file("server.pem"), "--set",
                                "collector.https.key=" + tls_file("server.key"), "--set",
                                "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port())},
                               {}, std::chrono::seconds(30));
    CHECK(r.exit_code == 69);
    CHECK_THAT(r.err, Catch::Contains("collector.spool_dir"));
}

TEST_CASE("the database stopped under load, then SIGTERM: a bounded stop, and every acknowledged report is stored once")
{
    private_cluster cluster;
    const std::string url = cluster.create_database("stswatch");
    temp_dir dir;
    const auto spool_dir = (dir.path / "spool").string();
    const auto port = std::to_string(free_port());

    std::mutex acked_mutex;
    std::set<std::string> acked;   // report ids answered 200, 201 or 202
    std::atomic<int> answered{0}, refused{0};
    std::atomic<bool> sending{true};
    {
        auto serve = std::make_unique<serve_process>(serve_args(url, port, spool_dir));
        INFO(serve->log());
        REQUIRE(eventually([&] { return get_health(port).body.find(R"("status":"ok")") != std::string::npos; },
                           std::chrono::seconds(30)));
        std::vector<std::thread> senders;
        for (int t = 0; t < 4; ++t)
            senders.emplace_back([&, t] {
                for (int i = 0; sending; ++i) {
                    const auto id = "load-" + std::to_string(t) + "-" + std::to_string(i);
                    const auto file = dir.write(id + ".json", expired_cert_report(id, "example.com"));
                    const auto code = post(port, file);
                    if (code == "200" || code == "201" || code == "202") {
                        std::lock_guard lock(acked_mutex);
                        acked.insert(id);
                        ++answered;
                    } else {
                        ++refused;   // 503 or no answer: the sender keeps it and retries
                    }
                }
            });
        REQUIRE(eventually([&] { return answered >= 40; }, std::chrono::seconds(60)));
        cluster.stop();   // mid-load: what follows goes to the spool
        const auto spooled_some = eventually([&] { return spooled(spool_dir) >= 10; }, std::chrono::seconds(60));
        CHECK(spooled_some);
        const auto stopping = std::chrono::steady_clock::now();
        CHECK(serve->stop() == 0);
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count();
        CHECK(took < 15.0);
        sending = false;
        for (auto& s : senders)
            s.join();
    }
    INFO("answered " << answered << ", refused " << refused);

    // The database back and serve again: the spool drains, and every acknowledged report is
    // there exactly once.
    cluster.start();
    serve_process again(serve_args(url, port, spool_dir));
    INFO(again.log());
    REQUIRE(eventually([&] { return spooled(spool_dir) == 0; }, std::chrono::seconds(60)));
    const auto stored = stored_report_ids(url);
    INFO("acknowledged " << acked.size() << ", stored " << stored.size());
    CHECK(missing(acked, stored).empty());
    CHECK(acked.size() >= 40);
    CHECK(again.stop() == 0);
}

TEST_CASE("kill -9 of serve mid-load, three times over: every acknowledged report is stored, none twice")
{
    private_cluster cluster;
    const std::string url = cluster.create_database("stswatch");
    temp_dir dir;
    const auto spool_dir = (dir.path / "spool").string();
    const auto port = std::to_string(free_port());

    std::set<std::string> acked;
    int next = 0;
    for (int round = 0; round < 3; ++round) {
        serve_process serve(serve_args(url, port, spool_dir));
        INFO(serve.log());
        REQUIRE(eventually([&] { return get_health(port).code == "200"; }, std::chrono::seconds(30)));
        std::mutex acked_mutex;
        std::atomic<int> answered{0};
        std::atomic<bool> sending{true};
        std::vector<std::thread> senders;
        for (int t = 0; t < 4; ++t) {
            const int first = next + t * 100000;
            senders.emplace_back([&, first] {
                for (int i = first; sending; ++i) {
                    const auto id = "kill-" + std::to_string(round) + "-" + std::to_string(i);
                    const auto file = dir.write(id + ".json", expired_cert_report(id, "example.com"));
                    const auto code = post(port, file);
                    if (code == "200" || code == "201" || code == "202") {
                        std::lock_guard lock(acked_mutex);
                        acked.insert(id);
                        ++answered;
                    }
                }
            });
        }
        REQUIRE(eventually([&] { return answered >= 25; }, std::chrono::seconds(60)));
        serve.kill();   // SIGKILL mid-load: requests in flight get no answer, and are not counted
        sending = false;
        for (auto& s : senders)
            s.join();
        next += 1000;
    }

    serve_process last(serve_args(url, port, spool_dir));
    INFO(last.log());
    REQUIRE(eventually([&] { return get_health(port).code == "200"; }, std::chrono::seconds(30)));
    REQUIRE(eventually([&] { return spooled(spool_dir) == 0; }, std::chrono::seconds(60)));
    const auto stored = stored_report_ids(url);
    INFO("acknowledged " << acked.size() << ", stored " << stored.size());
    CHECK(acked.size() >= 75);
    CHECK(missing(acked, stored).empty());
    CHECK(last.stop() == 0);
}
