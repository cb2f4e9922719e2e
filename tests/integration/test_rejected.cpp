// Refused reports kept with their bytes (`stswatch reports rejected`) and taken again
// (`stswatch reports retry`): over HTTPS with curl against `stswatch serve`, and by import.
#include "tests/support/json_text.hpp"
#include "tests/support/sample_reports.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <thread>

using namespace stswatch::test;

namespace {

std::string bin() { return required_env("STSWATCH_BIN"); }

// A report nested deeper than collector.max_json_depth=3 allows: refused by a receiver so
// configured, as an older parser refused what this one reads.
const std::string depth_limit = "collector.max_json_depth=3";

// Not a report for any version: no date-range.
const std::string no_date_range = R"({"organization-name":"Broken Sender","report-id":"b-1","policies":[]})";

std::string post(const std::string& port, const std::string& file)
{
    return run_program({"curl", "-sS", "--cacert", tls_file("ca.pem"), "-o", "/dev/null", "-w", "%{http_code}",
                        "-H", "Content-Type: application/tlsrpt+json", "--data-binary", "@" + file,
                        "https://localhost:" + port + "/v1/tlsrpt"})
        .out;
}

std::map<std::string, Poco::JSON::Object::Ptr> by_source_and_transport(const std::string& json)
{
    std::map<std::string, Poco::JSON::Object::Ptr> out;
    const auto rows = json_array(json);
    for (std::size_t i = 0; i < rows->size(); ++i) {
        const auto o = rows->getObject(static_cast<unsigned>(i));
        out[o->getValue<std::string>("transport") + " " + o->getValue<std::string>("reason").substr(0, 28)] = o;
    }
    return out;
}

} // namespace

TEST_CASE("refused reports are kept with their reason and a retry stores those this configuration reads")
{
    scratch_database db;
    temp_dir dir;
    const auto deep = dir.write("deep.json", expired_cert_report("kept-1", "example.com"));
    const auto broken = dir.write("broken.json", no_date_range);
    const auto deep_file = dir.write("deep-import.json", expired_cert_report("kept-2", "example.com"));
    {
        const auto port = std::to_string(free_port());
        serve_process serve({"serve", "--db", db.url(), "--set", "collector.https.listen=127.0.0.1:" + port,
                             "--set", "collector.https.cert=" + tls_file("server.pem"), "--set",
                             "collector.https.key=" + tls_file("server.key"), "--set",
                             "collector.smtp.listen=127.0.0.1:" + std::to_string(free_port()), "--set",
                             "collector.https.rate_limit=0", "--set", depth_limit});
        bool up = false;
        for (int i = 0; i < 100 && !up; ++i) {
            up = run_program({"curl", "-sS", "--cacert", tls_file("ca.pem"), "-o", "/dev/null", "-w", "%{http_code}",
                              "https://localhost:" + port + "/healthz"})
                     .out == "200";
            if (!up)
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        REQUIRE(up);
        CHECK(post(port, deep) == "400");
        CHECK(post(port, deep) == "400");   // the sender retries: one row, counted twice
        CHECK(post(port, broken) == "400");
        INFO(serve.log());
        CHECK(serve.stop() == 0);
    }
    const auto imported = run_program({bin(), "import", "--db", db.url(), "--set", depth_limit, deep_file});
    CHECK(imported.exit_code == 65);

    auto listed = run_program({bin(), "reports", "rejected", "--db", db.url(), "--json"});
    INFO(listed.out << listed.err);
    REQUIRE(listed.exit_code == 0);
    CHECK(json_array(listed.out)->size() == 3);
    const auto rows = by_source_and_transport(listed.out);
    REQUIRE(rows.count("https not a valid TLS report: JSON") == 1);
    const auto https_deep = rows.at("https not a valid TLS report: JSON");
    CHECK(https_deep->getValue<int>("times") == 2);
    CHECK(https_deep->getValue<std::string>("status") == "pending");
    CHECK(https_deep->getValue<std::string>("source") == "127.0.0.1");
    REQUIRE(rows.count("https not a valid TLS report: date") == 1);
    REQUIRE(rows.count("import not a valid TLS report: JSON") == 1);

    // The bytes as received, and the metadata they came with.
    const auto id = std::to_string(https_deep->getValue<long>("id"));
    const auto raw = run_program({bin(), "reports", "rejected", "show", id, "--raw", "--db", db.url()});
    CHECK(raw.out == expired_cert_report("kept-1", "example.com"));
    const auto shown = run_program({bin(), "reports", "rejected", "show", id, "--db", db.url()});
    CHECK(shown.out.find("metadata content-type: application/tlsrpt+json") != std::string::npos);
    CHECK(shown.out.find("(2 times)") != std::string::npos);

    // Without the depth limit both deep ones are stored; the broken one is refused again.
    const auto retried = run_program({bin(), "reports", "retry", "--all", "--db", db.url()});
    INFO(retried.out << retried.err);
    CHECK(retried.exit_code == 65);
    CHECK(retried.out.find("reports retry: 2 taken, 1 still refused") != std::string::npos);
    CHECK(retried.out.find(": refused: not a valid TLS report: date-range") != std::string::npos);

    const auto stored = json_array(run_program({bin(), "reports", "list", "--db", db.url(), "--json"}).out);
    REQUIRE(stored->size() == 2);
    std::map<std::string, std::string> transport_of;
    for (unsigned i = 0; i < stored->size(); ++i)
        transport_of[stored->getObject(i)->getValue<std::string>("report-id")] =
            stored->getObject(i)->getArray("transports")->getElement<std::string>(0);
    CHECK(transport_of["kept-1"] == "https");
    CHECK(transport_of["kept-2"] == "import");

    // Only the broken one still waits; a second retry of a stored one changes nothing.
    const auto waiting = json_array(run_program({bin(), "reports", "rejected", "--db", db.url(), "--json"}).out);
    CHECK(waiting->size() == 1);
    const auto everything = json_array(run_program({bin(), "reports", "rejected", "--all", "--db", db.url(), "--json"}).out);
    CHECK(everything->size() == 3);
    const auto again = run_program({bin(), "reports", "retry", id, "--db", db.url()});
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("duplicate") != std::string::npos);
    CHECK(query_count(db.url(), "SELECT count(*) FROM reports") == 2);

    const auto bad = run_program({bin(), "reports", "retry", "--db", db.url()});
    CHECK(bad.exit_code == 2);
    const auto unknown = run_program({bin(), "reports", "rejected", "show", "999", "--db", db.url()});
    CHECK(unknown.exit_code == 66);
}

TEST_CASE("the kept refusals are bounded in number and in bytes")
{
    scratch_database db;
    temp_dir dir;
    std::vector<std::string> files;
    for (int i = 0; i < 4; ++i)
        files.push_back(dir.write("r" + std::to_string(i) + ".json",
                                  R"({"organization-name":"Broken Sender","report-id":"b-)" + std::to_string(i) +
                                      R"(","policies":[]})"));
    for (const auto& f : files)
        CHECK(run_program({bin(), "import", "--db", db.url(), "--set", "collector.rejected.keep=2", f}).exit_code == 65);
    const auto kept = json_array(run_program({bin(), "reports", "rejected", "--db", db.url(), "--json"}).out);
    REQUIRE(kept->size() == 2);
    CHECK(query_count(db.url(), "SELECT count(*) FROM rejected_reports WHERE convert_from(raw, 'UTF8') LIKE '%b-3%'") == 1);
    CHECK(query_count(db.url(), "SELECT count(*) FROM rejected_reports WHERE convert_from(raw, 'UTF8') LIKE '%b-0%'") == 0);

    const auto large = dir.write("large.json", expired_cert_report("large-1", "example.com"));
    CHECK(run_program({bin(), "import", "--db", db.url(), "--set", depth_limit, "--set", "collector.rejected.max_bytes=64",
                       large})
              .exit_code == 65);
    CHECK(query_count(db.url(), "SELECT count(*) FROM rejected_reports WHERE truncated AND length(raw) = 64") == 1);
    const auto all = json_array(run_program({bin(), "reports", "rejected", "--all", "--db", db.url(), "--json"}).out);
    std::string truncated_id;
    for (unsigned i = 0; i < all->size(); ++i)
        if (all->getObject(i)->getValue<bool>("truncated"))
            truncated_id = std::to_string(all->getObject(i)->getValue<long>("id"));
    REQUIRE(!truncated_id.empty());
    const auto retry = run_program({bin(), "reports", "retry", truncated_id, "--db", db.url()});
    CHECK(retry.exit_code == 65);
    CHECK(retry.out.find("truncated: only the first 64 of its") != std::string::npos);

    // collector.rejected.keep=0: nothing kept.
    const auto none = dir.write("none.json", R"({"organization-name":"Broken Sender","report-id":"b-9","policies":[]})");
    const auto before = query_count(db.url(), "SELECT count(*) FROM rejected_reports");
    CHECK(run_program({bin(), "import", "--db", db.url(), "--set", "collector.rejected.keep=0", none}).exit_code == 65);
    CHECK(query_count(db.url(), "SELECT count(*) FROM rejected_reports") == before);
}
